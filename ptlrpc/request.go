package ptlrpc

import (
	"context"
	"fmt"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// Request is one request as a handler sees it. It is valid until the
// handler returns.
type Request struct {
	svc      *Service
	in       *buf   // the request's copy of the message
	data     []byte // the message as received (in.b)
	rlen     uint32 // its length as sent
	peer     lnet.ProcessID
	arrival  time.Time
	started  time.Time // when its handler was called (zero: none was)
	msg      wire.Msg
	body     []byte
	exp      *Export
	tgt      *Target
	tracked  bool      // in svc.active; owned by the request's goroutine
	deadline time.Time // the client's deadline; guarded by svc.activeMu
	// early holds the envelope fields an early reply echoes (opcode, xid,
	// handle, conn cnt), copied before the request joins svc.active and
	// never written after: the early-reply loop reads them while a
	// handler thread decodes msg.
	early wire.Msg

	bop       *bulkOp    // kept across the Request's pooled lives (see release)
	inl       *inlineRun // likewise (threads.go)
	rep       *buf       // the reply being built: MsgSize reserved, then the body
	transno   uint64
	opFlags   uint32
	bulkMoved uint32
}

// Msg returns the request's envelope.
func (r *Request) Msg() *wire.Msg { return &r.msg }

// Opcode returns the request's opcode.
func (r *Request) Opcode() wire.Opcode { return r.msg.Opcode }

// Body returns the request body. It aliases the request buffer: copy what
// must outlive the handler.
func (r *Request) Body() []byte { return r.body }

// DecodeBody decodes the request body into b.
func (r *Request) DecodeBody(b wire.Body) error { return wire.DecodeBody(r.body, b) }

// Export returns the client's export, nil for a connectionless request.
func (r *Request) Export() *Export { return r.exp }

// Peer returns the address the request came from.
func (r *Request) Peer() lnet.ProcessID { return r.peer }

// Arrival returns when the request arrived.
func (r *Request) Arrival() time.Time { return r.arrival }

// IsReplay reports whether the request is a replay after a server restart;
// its original transno is Msg().Transno and the handler must reuse it.
func (r *Request) IsReplay() bool { return r.msg.Flags&wire.FlagReplay != 0 }

// IsResent reports whether the client sent the request before without
// seeing a reply (and the server has no saved reply for it).
func (r *Request) IsResent() bool { return r.msg.Flags&wire.FlagResent != 0 }

// Creds returns the caller's credentials as the envelope carries them.
func (r *Request) Creds() Creds {
	return Creds{UID: r.msg.UID, GID: r.msg.GID, FSUID: r.msg.FSUID, FSGID: r.msg.FSGID, JobID: r.msg.JobID.String()}
}

func (r *Request) replyBuf() *buf {
	if r.rep == nil {
		r.rep = r.svc.replyPool.get(wire.MsgSize)
	}
	return r.rep
}

// Reply sets the reply body (copied).
func (r *Request) Reply(body []byte) {
	b := r.replyBuf()
	b.b = append(b.b[:wire.MsgSize], body...)
}

// ReplyBody encodes body as the reply body.
func (r *Request) ReplyBody(body wire.Body) {
	b := r.replyBuf()
	b.b = wire.AppendBody(b.b[:wire.MsgSize], body)
}

// SetTransno records the transaction number the handler's change got; the
// reply carries it, and the client keeps the request for replay until
// last_committed passes it.
func (r *Request) SetTransno(t uint64) { r.transno = t }

// BulkLen returns the size of the client's bulk buffer (0: none).
func (r *Request) BulkLen() int { return int(r.msg.BulkLen) }

// BulkGet fetches the client's bulk data (a write) into dst: at most
// min(len(dst), BulkLen()) bytes, by an LNet GET from the client's buffer.
// It returns the number of bytes that arrived.
func (r *Request) BulkGet(ctx context.Context, dst []byte) (int, error) {
	if r.msg.BulkLen == 0 || r.svc.cfg.BulkPortal == 0 {
		return 0, ErrNoBulk
	}
	if len(dst) > int(r.msg.BulkLen) {
		dst = dst[:r.msg.BulkLen]
	}
	n, err := r.bulk(ctx, dst, false)
	r.bulkMoved += uint32(n)
	return n, err
}

// BulkPut sends src into the client's bulk buffer (a read) by an LNet PUT,
// and returns once the client acknowledged it. A src larger than the
// client's buffer is refused with ErrBulkTooBig and nothing is sent.
func (r *Request) BulkPut(ctx context.Context, src []byte) error {
	if r.msg.BulkLen == 0 || r.svc.cfg.BulkPortal == 0 {
		return ErrNoBulk
	}
	if len(src) > int(r.msg.BulkLen) {
		return fmt.Errorf("%w: %d bytes for a buffer of %d", ErrBulkTooBig, len(src), r.msg.BulkLen)
	}
	n, err := r.bulk(ctx, src, true)
	r.bulkMoved += uint32(n)
	return err
}

// bulkOp is a request's server-side bulk transfer state, set by its MD
// handler. A Request keeps one across its pooled lives (its channels and
// handler are made once), so a bulk transfer allocates only LNet's MD and
// message; a Request runs one transfer at a time. BulkTimeout is kept by
// the service's early-reply loop (Service.bulks), not by a timer per
// transfer.
type bulkOp struct {
	done    chan struct{}    // cap 1: signalled after the MD's last event
	expired chan struct{}    // cap 1: signalled when BulkTimeout passed
	handle  func(lnet.Event) // op.onEvent
	n       uint32
	got     bool // the REPLY (GET) or ACK (PUT) arrived
	err     error
}

func newBulkOp() *bulkOp {
	op := &bulkOp{done: make(chan struct{}, 1), expired: make(chan struct{}, 1)}
	op.handle = op.onEvent
	return op
}

func (op *bulkOp) onEvent(ev lnet.Event) {
	switch ev.Type {
	case lnet.EventReply, lnet.EventAck:
		if ev.Err == nil {
			op.n, op.got = ev.MLength, true
		}
	}
	if ev.Err != nil && op.err == nil {
		op.err = ev.Err
		ev.MD.Unlink()
	}
	if ev.Unlinked {
		op.done <- struct{}{}
	}
}

func (r *Request) bulk(ctx context.Context, b []byte, put bool) (int, error) {
	s := r.svc
	if r.bop == nil {
		r.bop = newBulkOp()
	}
	op := r.bop
	op.n, op.got, op.err = 0, false, nil
	md, err := s.ln.Bind(lnet.MD{Buf: b, Threshold: 2, Handler: op.handle})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBulk, err)
	}
	if put {
		err = s.ln.Put(md, lnet.PutArgs{Target: r.peer, Portal: s.cfg.BulkPortal, MatchBits: r.msg.MatchBits, Ack: true})
	} else {
		err = s.ln.Get(md, lnet.GetArgs{Target: r.peer, Portal: s.cfg.BulkPortal, MatchBits: r.msg.MatchBits})
	}
	if err != nil {
		md.Unlink()
		<-op.done
		return 0, fmt.Errorf("%w: %w", ErrBulk, err)
	}
	// Its REPLY or ACK may come over the connection this request came in
	// on: that connection must not wait for this handler (threads.go).
	r.detach()
	var why error
	select {
	case <-op.expired: // from an earlier transfer
	default:
	}
	s.watchBulk(op, time.Now().Add(s.cfg.BulkTimeout))
	select {
	case <-op.done:
	case <-op.expired:
		why = context.DeadlineExceeded
	case <-ctx.Done():
		why = ctx.Err()
	}
	s.unwatchBulk(op)
	if why != nil {
		md.Unlink()
		<-op.done
	}
	// op's fields were written before done was signalled.
	switch {
	case op.got:
		return int(op.n), nil
	case op.err != nil:
		return 0, fmt.Errorf("%w: %w", ErrBulk, op.err)
	default:
		return 0, fmt.Errorf("%w: %w", ErrBulk, why)
	}
}
