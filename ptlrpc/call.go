package ptlrpc

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// Req is one request to send.
type Req struct {
	Opcode wire.Opcode
	// Body is the request body; or Encode, when set, is encoded straight
	// into the send buffer instead.
	Body   []byte
	Encode wire.Body
	// BulkOut is data the server fetches (a write: the server GETs it);
	// BulkIn a buffer the server fills (a read: the server PUTs into it).
	// At most one of them; neither may be touched until Call returns.
	BulkOut []byte
	BulkIn  []byte
	// Replayable keeps a request that got a transno until last_committed
	// passes it, and replays it if the server restarts before.
	Replayable bool
	// ReplayBody, for CallKeep, returns from the reply the body to
	// replay the request with (nil: its own), set before the request is
	// kept, so that no replay sends the original. It must not keep rep.
	ReplayBody func(rep *Reply) []byte
	// ReplySize is the size of the reply buffer, envelope included
	// (default ImportConfig.MaxReplySize). A longer reply is not lost: the
	// call is resent with a buffer that fits, and the server answers it
	// from its saved reply.
	ReplySize int
	// Portal sends this request to another service of the same target
	// (0: ImportConfig.RequestPortal), as Lustre's osc sends reads and
	// writes to OST_IO and everything else to OST_REQUEST.
	Portal uint32
}

// Reply is a reply. Body aliases a pooled buffer: call Release when done
// with it (a Reply that is never released is only garbage).
type Reply struct {
	Msg  wire.Msg
	Body []byte
	b    *buf
}

// Decode decodes the reply body into body. Byte-slice fields of the
// decoded body alias the reply's pooled buffer, so they are valid only
// until Release: a caller that keeps them copies them first (or decodes
// from a copy of Body).
func (r *Reply) Decode(body wire.Body) error { return wire.DecodeBody(r.Body, body) }

// BulkLen returns the number of bulk bytes the server moved.
func (r *Reply) BulkLen() int { return int(r.Msg.BulkLen) }

// Release returns the reply's buffer. Safe on a nil Reply.
func (r *Reply) Release() {
	if r == nil || r.b == nil {
		return
	}
	r.b.unref()
	r.b, r.Body = nil, nil
}

// call is one request in progress (and, once replied, possibly kept for
// replay). Its LNet MDs name it in UserData; their handlers update the
// fields under mu and wake the caller.
type call struct {
	imp       *Import
	xid       uint64
	send      *buf     // envelope + body
	msg       wire.Msg // the envelope, stamped per attempt
	replySize int
	portal    uint32 // request portal of this call
	bulkOut   []byte
	bulkIn    []byte
	replay    bool // Req.Replayable
	evictions uint64
	transno   uint64
	// order is its place among replays: its transno, or for a kept call
	// without one the last_committed of its reply.
	order  uint64
	wake   chan struct{} // capacity 1: something below changed
	parkFn func() bool   // c.park, made once
	// Guarded by imp.mu, for calls on the replay list.
	replaying bool // being replayed: not to be released
	dropped   bool // committed while replaying: release after
	// Guarded by imp.mu while an attempt waits (Import.waiting).
	deadline     time.Time
	wprev, wnext *call

	mu            sync.Mutex
	sending       int   // sends whose last event has not come
	sendErr       error // the current attempt's send failed
	rbuf          *buf  // the current attempt's reply buffer
	replyUnlinked bool
	final         bool
	finalLen      uint32
	finalRLen     uint32
	earlyExtra    time.Duration // extension asked by the latest early reply, not yet applied
	timedOut      bool          // the import's deadline timer found the attempt overdue
	pw            *pollWaiter   // the attempt's waiter, while pwParked
	pwParked      bool          // the attempt sleeps on pw: signal wakes it there (wait.go)
	bulkMD        *lnet.MDHandle
	bulkUnlinked  bool
}

// maxReplySize bounds the reply buffer a call grows to.
const maxReplySize = 16 << 20

type outcome int

const (
	outReply       outcome = iota // a reply arrived
	outTimeout                    // no reply in time, or a malformed one
	outSendFailed                 // the request could not be sent
	outReconnected                // the import reconnected meanwhile: resend
	outCtx                        // the caller's context ended
	outClosed                     // the import (or LNet) closed
	outTruncated                  // the reply did not fit: resend with a larger buffer
	outFatal                      // an error that resending will not cure
)

// getCall prepares a call for req. Its XID is assigned by Call, under
// imp.mu, together with its entry in inflight: LastXID must never pass an
// XID that is not yet in flight. Calls that are not in inflight (connect,
// disconnect) take one with newXID.
func (imp *Import) getCall(req *Req, cr Creds) *call {
	c := imp.callPool.Get().(*call)
	c.replySize = req.ReplySize
	if c.replySize <= 0 {
		c.replySize = imp.cfg.MaxReplySize
	}
	c.bulkOut, c.bulkIn, c.replay = req.BulkOut, req.BulkIn, req.Replayable
	c.portal = req.Portal
	if c.portal == 0 {
		c.portal = imp.cfg.RequestPortal
	}
	c.send = imp.sendPool.get(wire.MsgSize)
	if req.Encode != nil {
		c.send.b = wire.AppendBody(c.send.b, req.Encode)
	} else {
		c.send.b = append(c.send.b, req.Body...)
	}
	c.msg = wire.Msg{Type: wire.MsgRequest, Opcode: req.Opcode}
	cr.stamp(&c.msg)
	return c
}

func (c *call) setXID(xid uint64) {
	c.xid = xid
	c.msg.XID = xid
}

// putCall returns a finished call to the pool once its last send completed
// (attempt and detachBulk already waited for its MDs to unlink), so that no
// LNet event can reach it again.
func (imp *Import) putCall(c *call) {
	c.waitFor(func() bool { return c.sending == 0 })
	if c.send != nil {
		c.send.unref()
	}
	// Reset field by field: mu and wake are reused as they are.
	c.xid, c.send, c.msg, c.replySize = 0, nil, wire.Msg{}, 0
	c.bulkOut, c.bulkIn, c.replay, c.evictions, c.transno, c.order = nil, nil, false, 0, 0, 0
	c.replaying, c.dropped = false, false
	c.sending, c.sendErr, c.rbuf, c.replyUnlinked = 0, nil, nil, false
	c.final, c.finalLen, c.finalRLen, c.earlyExtra, c.timedOut = false, 0, 0, 0, false
	c.bulkMD, c.bulkUnlinked = nil, false
	imp.callPool.Put(c)
}

// signal wakes the call's goroutine: through its waiter when it sleeps on
// one, else through c.wake. Handlers call it with c.mu held, so that once
// the waiter has seen the condition under c.mu, no handler touches c any
// more.
func (c *call) signal() {
	if c.pwParked {
		c.pwParked = false
		c.pw.wake()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// park is the pollWaiter's park function of an attempt's wait: unless a
// signal came since the attempt last looked (it went to c.wake), it
// publishes that the attempt sleeps on c.pw.
func (c *call) park() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.wake:
		return false
	default:
	}
	c.pwParked = true
	return true
}

// waitFor waits, without a deadline, until cond holds under c.mu. It is
// used only for LNet completions, which always come.
func (c *call) waitFor(cond func() bool) {
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		<-c.wake
	}
}

func (imp *Import) onReply(ev lnet.Event) {
	c := ev.UserData.(*call)
	c.mu.Lock()
	if ev.Type == lnet.EventPut && ev.Err == nil {
		switch ev.Offset {
		case 0:
			var m wire.Msg
			if ev.MLength == wire.MsgSize && m.DecodeHeader(c.rbuf.b[:wire.MsgSize]) == nil &&
				m.Flags&wire.FlagEarly != 0 && m.XID == c.xid {
				c.earlyExtra = max(msDur(m.Timeout), time.Millisecond)
			}
		case earlyArea:
			c.final, c.finalLen, c.finalRLen = true, ev.MLength, ev.RLength
		}
	}
	if ev.Unlinked {
		c.replyUnlinked = true
	}
	c.signal()
	c.mu.Unlock()
}

func (imp *Import) onSend(ev lnet.Event) {
	c := ev.UserData.(*call)
	c.mu.Lock()
	if ev.Err != nil && c.sendErr == nil {
		c.sendErr = ev.Err
	}
	if ev.Unlinked {
		c.sending--
	}
	c.signal()
	c.mu.Unlock()
}

func (imp *Import) onBulk(ev lnet.Event) {
	c := ev.UserData.(*call)
	if ev.Unlinked {
		c.mu.Lock()
		c.bulkUnlinked = true
		c.signal()
		c.mu.Unlock()
	}
}

// attachBulk posts the call's bulk buffer on the bulk portal, matched by the
// call's XID, before the request is first sent.
func (c *call) attachBulk() error {
	imp := c.imp
	b, opt := c.bulkOut, lnet.MDOpGet
	if len(c.bulkIn) > 0 {
		b, opt = c.bulkIn, lnet.MDOpPut
	}
	if len(b) == 0 {
		return nil
	}
	md, err := imp.ln.Attach(imp.cfg.BulkPortal, lnet.MatchSpec{MatchBits: c.xid}, lnet.MD{
		Buf: b, Threshold: lnet.ThresholdInf, Options: opt | lnet.MDManageRemote,
		Handler: imp.onBulkFn, UserData: c,
	}, lnet.InsertAfter)
	if err != nil {
		return fmt.Errorf("ptlrpc: post bulk buffer: %w", err)
	}
	c.mu.Lock()
	c.bulkMD, c.bulkUnlinked = md, false
	c.mu.Unlock()
	c.msg.BulkLen, c.msg.MatchBits = uint32(len(b)), c.xid
	return nil
}

// detachBulk unlinks the bulk buffer and waits until LNet no longer uses it.
func (c *call) detachBulk() {
	c.mu.Lock()
	md := c.bulkMD
	c.bulkMD = nil
	c.mu.Unlock()
	if md == nil {
		return
	}
	md.Unlink()
	c.waitFor(func() bool { return c.bulkUnlinked })
}

// attempt sends the request once on conn and waits for its reply, an early
// reply pushing the deadline out, a timeout, or (with watch) a reconnect.
func (c *call) attempt(ctx context.Context, conn connState, flags wire.MsgFlags, timeout time.Duration, watch bool) (outcome, *Reply, error) {
	imp := c.imp
	c.waitFor(func() bool { return c.sending == 0 })
	rb := imp.replyPool.get(earlyArea + c.replySize)
	c.mu.Lock()
	c.rbuf, c.replyUnlinked, c.final, c.sendErr, c.earlyExtra, c.timedOut = rb, false, false, nil, 0, false
	c.mu.Unlock()
	md, err := imp.ln.Attach(imp.cfg.ReplyPortal, lnet.MatchSpec{Source: lnet.ProcessID{NID: conn.peer.NID}, MatchBits: c.xid},
		lnet.MD{Buf: rb.b, Threshold: lnet.ThresholdInf, Handler: imp.onReplyFn, UserData: c,
			Options: lnet.MDOpPut | lnet.MDManageRemote | lnet.MDTruncate | lnet.MDAckDisable}, lnet.InsertAfter)
	if err != nil {
		rb.unref()
		return outClosed, nil, fmt.Errorf("ptlrpc: post reply buffer: %w", err)
	}

	m := c.msg
	m.Flags |= flags
	m.Handle, m.ConnCnt, m.Timeout = conn.handle, conn.connCnt, durMS(timeout)
	if flags&wire.FlagReplay != 0 {
		m.Transno = c.transno
	}
	sent := time.Now()
	imp.mu.Lock()
	m.LastXID = imp.lastXIDLocked()
	seq := imp.stateSeq.Load()
	// A call that waits alone sleeps on a pollWaiter; with other calls
	// waiting, the process is busy and c.wake costs less (wait.go).
	noPoll := imp.waitHead != nil
	imp.addWaitingLocked(c, sent.Add(timeout))
	imp.mu.Unlock()
	m.Seal(c.send.b)
	if smd, err := imp.ln.Bind(lnet.MD{Buf: c.send.b, Threshold: 1, Handler: imp.onSendFn, UserData: c}); err != nil {
		c.mu.Lock()
		c.sendErr = err
		c.mu.Unlock()
	} else {
		c.mu.Lock()
		c.sending++
		c.mu.Unlock()
		if err := imp.ln.Put(smd, lnet.PutArgs{Target: conn.peer, Portal: c.portal, MatchBits: c.xid}); err != nil {
			c.mu.Lock()
			c.sendErr = err
			c.mu.Unlock()
			smd.Unlink()
		}
	}

	// The wait ends on a reply, a failed send, the import's deadline timer
	// (which an early reply puts off), the import closing or (with watch)
	// reconnecting, or ctx: every one signals the call (ctx through
	// stopCtx's function when the call sleeps on a pollWaiter, wait.go).
	out, oerr := outTimeout, error(nil)
	var pw *pollWaiter
	var stopCtx func() bool
wait:
	for {
		c.mu.Lock()
		final, sendErr, extra, late := c.final, c.sendErr, c.earlyExtra, c.timedOut
		c.earlyExtra = 0
		c.mu.Unlock()
		switch {
		case final:
			out = outReply
			break wait
		case sendErr != nil:
			out, oerr = outSendFailed, sendErr
			break wait
		case late:
			out, oerr = outTimeout, fmt.Errorf("%w: no reply to xid %d after %v", syscall.ETIMEDOUT, c.xid, time.Since(sent))
			break wait
		case extra > 0:
			now := time.Now()
			imp.mu.Lock()
			c.deadline = now.Add(extra + imp.netAT.get(now))
			imp.armLocked(c.deadline)
			imp.stats.early++
			imp.mu.Unlock()
		}
		if s := imp.stateSeq.Load(); s != seq {
			seq = s
			imp.mu.Lock()
			st, gen := imp.state, imp.conn.gen
			imp.mu.Unlock()
			if st == StateClosed {
				out, oerr = outClosed, ErrClosed
				break wait
			}
			if watch && gen != conn.gen {
				out = outReconnected
				break wait
			}
		}
		if err := ctx.Err(); err != nil {
			out, oerr = outCtx, err
			break wait
		}
		if pw == nil && !noPoll {
			if pw = imp.waiters.get(); pw == nil {
				noPoll = true
			} else if ctx.Done() != nil {
				stopCtx = context.AfterFunc(ctx, func() {
					c.mu.Lock()
					c.signal()
					c.mu.Unlock()
				})
			}
		}
		if pw != nil {
			c.pw = pw         // signal uses it once park sets pwParked
			pw.wait(c.parkFn) // the signal that woke it cleared pwParked
			continue
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			out, oerr = outCtx, ctx.Err()
			break wait
		}
	}
	if pw != nil {
		if stopCtx != nil {
			stopCtx()
		}
		c.mu.Lock()
		c.pw = nil
		c.mu.Unlock()
		imp.waiters.put(pw)
	}
	imp.mu.Lock()
	imp.removeWaitingLocked(c)
	imp.mu.Unlock()
	md.Unlink()
	c.waitFor(func() bool { return c.replyUnlinked })
	c.mu.Lock()
	final, flen, frlen := c.final, c.finalLen, c.finalRLen
	c.rbuf = nil
	c.mu.Unlock()
	if out == outCtx || out == outClosed || !final {
		rb.unref()
		return out, nil, oerr
	}
	// A reply that arrived is taken even if something else happened too.
	if frlen > flen {
		rb.unref()
		err := fmt.Errorf("%w: %d bytes for a buffer of %d", ErrReplyTooBig, frlen, c.replySize)
		if frlen > maxReplySize {
			return outFatal, nil, err
		}
		c.replySize = int(frlen)
		return outTruncated, nil, err
	}
	rep := &Reply{b: rb}
	body, err := rep.Msg.Decode(rb.b[earlyArea : earlyArea+flen])
	if err == nil && (rep.Msg.XID != c.xid || rep.Msg.Type == wire.MsgRequest) {
		err = fmt.Errorf("reply for xid %d (%v) to xid %d", rep.Msg.XID, rep.Msg.Type, c.xid)
	}
	if err != nil {
		rb.unref()
		imp.log.Warn("ptlrpc: malformed reply dropped", zap.Stringer("nid", conn.peer.NID), zap.Uint64("xid", c.xid), zap.Error(err))
		return outTimeout, nil, fmt.Errorf("%w: %w", ErrBadReply, err)
	}
	rep.Body = body
	now := time.Now()
	if rep.Msg.Type == wire.MsgReply {
		imp.svcAT.add(msDur(rep.Msg.Timeout), now)
		imp.netAT.add(max(now.Sub(sent)-msDur(rep.Msg.ServiceTime), 0), now)
	}
	return outReply, rep, nil
}

// addWaitingLocked registers an attempt that waits for its reply until
// deadline, for the import's deadline timer and state changes.
func (imp *Import) addWaitingLocked(c *call, deadline time.Time) {
	c.deadline = deadline
	c.wprev, c.wnext = imp.waitTail, nil
	if imp.waitTail != nil {
		imp.waitTail.wnext = c
	} else {
		imp.waitHead = c
	}
	imp.waitTail = c
	imp.armLocked(deadline)
}

func (imp *Import) removeWaitingLocked(c *call) {
	if c.wprev != nil {
		c.wprev.wnext = c.wnext
	} else {
		imp.waitHead = c.wnext
	}
	if c.wnext != nil {
		c.wnext.wprev = c.wprev
	} else {
		imp.waitTail = c.wprev
	}
	c.wprev, c.wnext = nil, nil
}

// armLocked makes the deadline timer fire by t. The timer is moved only to
// an earlier time: one timer serves every call of the import, and a call
// arms nothing as long as an earlier deadline is pending (arming a timer
// can cost a thread wake-up, more than the rest of a small call).
func (imp *Import) armLocked(t time.Time) {
	if imp.dlArmed.IsZero() || t.Before(imp.dlArmed) {
		imp.dlArmed = t
		imp.dlTimer.Reset(time.Until(t))
	}
}

// onDeadline is the deadline timer: it times out the overdue attempts and
// arms itself for the earliest deadline left.
func (imp *Import) onDeadline() {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	imp.dlArmed = time.Time{}
	now := time.Now()
	var next time.Time
	for c := imp.waitHead; c != nil; c = c.wnext {
		switch {
		case !now.Before(c.deadline):
			c.mu.Lock()
			c.timedOut = true
			c.signal()
			c.mu.Unlock()
		case next.IsZero() || c.deadline.Before(next):
			next = c.deadline
		}
	}
	if !next.IsZero() && imp.state != StateClosed {
		imp.armLocked(next)
	}
}

// Call sends req and waits for its reply. It waits while the import is not
// connected, resends (same XID, flagged RESENT) after a timeout or a
// reconnect, and returns the reply, or an error: a *wire.RemoteError for a
// status the server returned (with its Reply, whose body may explain more),
// ErrEvicted, ErrClosed, or ctx's error.
func (imp *Import) Call(ctx context.Context, req *Req) (*Reply, error) {
	rep, _, err := imp.call(ctx, req, false)
	return rep, err
}

// call is Call, and with keep CallKeep.
func (imp *Import) call(ctx context.Context, req *Req, keep bool) (*Reply, *Kept, error) {
	switch {
	case len(req.BulkOut) > 0 && len(req.BulkIn) > 0:
		return nil, nil, fmt.Errorf("%w: bulk in both directions", ErrBadRequest)
	case (len(req.BulkOut) > 0 || len(req.BulkIn) > 0) && imp.cfg.BulkPortal == 0:
		return nil, nil, fmt.Errorf("%w: bulk without a bulk portal", ErrBadRequest)
	case req.Portal >= lnet.MaxPortal:
		return nil, nil, fmt.Errorf("%w: portal %d", ErrBadRequest, req.Portal)
	case (req.Replayable || keep) && (len(req.BulkOut) > 0 || len(req.BulkIn) > 0):
		return nil, nil, fmt.Errorf("%w: a replayable request cannot carry bulk", ErrBadRequest)
	case len(req.BulkOut) > 1<<32-1 || len(req.BulkIn) > 1<<32-1:
		return nil, nil, fmt.Errorf("%w: bulk of more than 4 GiB", ErrBadRequest)
	}
	cr, _ := CredsFrom(ctx)
	c := imp.getCall(req, cr)
	c.replay = c.replay || keep
	imp.mu.Lock()
	if imp.state == StateClosed {
		imp.mu.Unlock()
		imp.putCall(c)
		return nil, nil, ErrClosed
	}
	imp.calls.Add(1)
	c.setXID(imp.xid.Add(1))
	imp.inflight[c.xid] = c
	c.evictions = imp.evictions
	imp.mu.Unlock()
	defer imp.calls.Done()

	var rep *Reply
	err := c.attachBulk()
	if err == nil {
		rep, err = c.run(ctx)
		c.detachBulk()
	}
	c.waitFor(func() bool { return c.sending == 0 })
	if keep && err == nil && req.ReplayBody != nil {
		// Not sent again unless replayed: the replay sends this.
		if b := req.ReplayBody(rep); b != nil {
			c.send.b = append(c.send.b[:wire.MsgSize], b...)
		}
	}
	imp.mu.Lock()
	delete(imp.inflight, c.xid)
	live := err == nil && c.replay && imp.state != StateClosed && rep.Msg.Handle == imp.conn.handle
	var kept *Kept
	switch {
	case live && keep:
		c.transno, c.order = rep.Msg.Transno, rep.Msg.Transno
		if c.order == 0 {
			c.order = rep.Msg.LastCommitted
		}
		imp.keptSeq++
		kept = &Kept{imp: imp, id: imp.keptSeq}
		imp.kept[kept.id] = c
	case live && rep.Msg.Transno > imp.lastCommitted:
		c.transno, c.order = rep.Msg.Transno, rep.Msg.Transno
		imp.addReplayLocked(c)
	default:
		live = false
	}
	imp.mu.Unlock()
	if !live {
		imp.putCall(c)
	}
	if rep != nil {
		imp.noteReply(rep)
	}
	return rep, kept, err
}

// run sends c until it has a reply or a reason to give up.
func (c *call) run(ctx context.Context) (*Reply, error) {
	imp := c.imp
	busy := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		conn, err := imp.waitFull(ctx, c)
		if err != nil {
			return nil, err
		}
		var flags wire.MsgFlags
		if attempt > 0 {
			flags = wire.FlagResent
			imp.mu.Lock()
			imp.stats.resends++
			imp.mu.Unlock()
		}
		out, rep, err := c.attempt(ctx, conn, flags, imp.timeout(), true)
		switch out {
		case outReply:
			m := &rep.Msg
			if m.Type == wire.MsgErr {
				switch syscall.Errno(m.Status) {
				case syscall.ENOTCONN:
					rep.Release()
					imp.disconnected(conn.gen, fmt.Errorf("server: %w", syscall.ENOTCONN))
					continue
				case syscall.EBUSY:
					rep.Release()
					imp.mu.Lock()
					imp.stats.busy++
					imp.mu.Unlock()
					if err := sleepCtx(ctx, imp.closed, busy); err != nil {
						return nil, err
					}
					busy = min(2*busy, time.Second)
					continue
				}
			}
			return rep, m.Status.Err()
		case outTimeout, outSendFailed:
			imp.mu.Lock()
			imp.stats.timeouts++
			imp.mu.Unlock()
			imp.log.Info("ptlrpc: request failed, reconnecting", zap.Uint64("xid", c.xid),
				zap.Stringer("opc", c.msg.Opcode), zap.Stringer("nid", conn.peer.NID), zap.Error(err))
			imp.disconnected(conn.gen, err)
		case outReconnected, outTruncated:
		default:
			return nil, err
		}
	}
}

// waitFull waits until the import is FULL and returns its connection.
func (imp *Import) waitFull(ctx context.Context, c *call) (connState, error) {
	for {
		imp.mu.Lock()
		st, conn, ch, ev := imp.state, imp.conn, imp.changed, imp.evictions
		imp.mu.Unlock()
		switch {
		case st == StateClosed:
			return connState{}, ErrClosed
		case ev != c.evictions:
			return connState{}, fmt.Errorf("%w: %w", ErrEvicted, syscall.EIO)
		case st == StateFull:
			return conn, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return connState{}, ctx.Err()
		}
	}
}

func sleepCtx(ctx context.Context, closed <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return ErrClosed
	}
}
