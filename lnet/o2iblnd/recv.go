package o2iblnd

import (
	"fmt"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// rxDesc is one receive buffer. An IMMEDIATE message other than a GET is
// handed to LNet as the rxDesc itself, and its buffer stays out of the
// receive queue until Recv has copied the payload out.
type rxDesc struct {
	c   *conn
	buf []byte
	sge [1]verbs.SGE
	wr  verbs.RecvWR

	// Guarded by c.mu.
	held    bool // with LNet, waiting for Recv
	hdr     lnet.Header
	payload []byte
}

var _ lnet.Rx = (*rxDesc)(nil)

// bulkRx is an arrived PUT_REQ, GET_REQ or IMMEDIATE GET: its buffer has
// been reposted and what LNet needs is kept here.
type bulkRx struct {
	c      *conn
	typ    msgType
	hdr    lnet.Header
	cookie uint64
	key    uint32
	frags  []rdFrag

	// Guarded by c.mu.
	recvd   bool // Recv was called
	replied bool // GET_REQ: a REPLY or a GET_DONE has been queued
}

var _ lnet.Rx = (*bulkRx)(nil)

// protoErr closes the connection for a protocol violation.
func (c *conn) protoErr(err error) {
	c.failLocked(fmt.Errorf("%w: %w", lnet.ErrProtocol, err))
}

// repost gives r back to the device.
func (c *conn) repost(r *rxDesc) {
	if err := c.qp.PostRecv(&r.wr); err != nil {
		c.failLocked(fmt.Errorf("%w: repost receive: %w", ErrCompletion, err))
	}
}

// checkFrags rejects a descriptor whose fragments wrap around the address
// space.
func checkFrags(fs []rdFrag) error {
	for _, f := range fs {
		if f.Addr+uint64(f.Nob) < f.Addr {
			return fmt.Errorf("%w: fragment %#x+%d wraps", ErrBadRDMA, f.Addr, f.Nob)
		}
	}
	return nil
}

func statusErr(st int32) error {
	if st == statusENODAT {
		return fmt.Errorf("%w: the peer had no matching buffer", lnet.ErrNoMatch)
	}
	return fmt.Errorf("%w: status %d", ErrRemote, st)
}

// onRecv handles a message that arrived in r. c.mu is held.
func (c *conn) onRecv(r *rxDesc, n uint32, cl *cbList) {
	m := &c.m
	if err := decodeMsg(r.buf[:n], m, int(c.cp.MaxFrags)); err != nil {
		c.protoErr(err)
		return
	}
	switch {
	case m.Nob > c.cp.MaxMsgSize:
		c.protoErr(fmt.Errorf("%w: %v of %d bytes exceeds the negotiated maximum %d", ErrBadMsg, m.Type, m.Nob, c.cp.MaxMsgSize))
		return
	case m.SrcNID != c.peerWire || m.SrcStamp != c.peerStamp || m.DstNID != c.ni.nidWire || m.DstStamp != c.ni.incarnation:
		c.protoErr(fmt.Errorf("%w: %v from %v (incarnation %d) for %v (incarnation %d)", ErrStaleMsg, m.Type,
			nidFromWire(m.SrcNID), m.SrcStamp, nidFromWire(m.DstNID), m.DstStamp))
		return
	}
	c.credits += int(m.Credits)
	if c.credits > int(c.cp.QueueDepth) {
		c.protoErr(fmt.Errorf("%w: peer returned credits beyond the queue depth %d", ErrBadMsg, c.cp.QueueDepth))
		return
	}
	switch m.Type {
	case msgNoop:
		c.repost(r)
	case msgImmediate:
		if m.Hdr.Type == lnet.MsgGet {
			h := &bulkRx{c: c, typ: msgImmediate, hdr: m.Hdr}
			c.repost(r)
			c.deliverQ.push(delivery{hdr: &h.hdr, rx: h})
			return
		}
		r.held, r.hdr, r.payload = true, m.Hdr, m.Payload
		c.deliverQ.push(delivery{hdr: &r.hdr, rx: r})
	case msgPutReq:
		h := &bulkRx{c: c, typ: msgPutReq, hdr: m.Hdr, cookie: m.Cookie}
		c.repost(r)
		c.deliverQ.push(delivery{hdr: &h.hdr, rx: h})
	case msgGetReq:
		if err := checkFrags(m.Frags); err != nil {
			c.protoErr(err)
			return
		}
		h := &bulkRx{c: c, typ: msgGetReq, hdr: m.Hdr, cookie: m.Cookie, key: m.RDKey, frags: append([]rdFrag(nil), m.Frags...)}
		c.repost(r)
		c.deliverQ.push(delivery{hdr: &h.hdr, rx: h})
	case msgPutAck:
		op := c.ops[m.Cookie]
		if op == nil || op.kind != opPutSrc {
			c.protoErr(fmt.Errorf("%w: PUT_ACK for unknown cookie %#x", ErrBadMsg, m.Cookie))
			return
		}
		if err := checkFrags(m.Frags); err != nil {
			c.protoErr(err)
			return
		}
		delete(c.ops, m.Cookie)
		c.respq.push(resp{typ: msgPutDone, cookie: m.DstCookie, key: m.RDKey, frags: append([]rdFrag(nil), m.Frags...),
			src: op.ltx.Payload, ltx: op.ltx})
		c.repost(r)
	case msgPutNak:
		op := c.ops[m.Cookie]
		if op == nil || op.kind != opPutSrc {
			c.protoErr(fmt.Errorf("%w: PUT_NAK for unknown cookie %#x", ErrBadMsg, m.Cookie))
			return
		}
		delete(c.ops, m.Cookie)
		if m.Status >= 0 {
			// The peer took none of it (LNet dropped the PUT): done, as Lustre.
			cl.a = append(cl.a, callback{tx: op.ltx, ni: c.ni})
		} else {
			cl.complete(op.ltx, statusErr(m.Status))
		}
		c.repost(r)
	case msgPutDone:
		op := c.ops[m.Cookie]
		if op == nil || op.kind != opPutSink {
			c.protoErr(fmt.Errorf("%w: PUT_DONE for unknown cookie %#x", ErrBadMsg, m.Cookie))
			return
		}
		if m.Status > int32(op.n) {
			c.protoErr(fmt.Errorf("%w: PUT_DONE reports %d bytes into a sink of %d", ErrBadRDMA, m.Status, op.n))
			return
		}
		delete(c.ops, m.Cookie)
		c.ni.cache.put(op.mre)
		var err error
		if m.Status < 0 {
			err = statusErr(m.Status)
		}
		cl.a = append(cl.a, callback{done: op.done, err: err})
		c.delivering = false // the PUT's delivery ends here
		c.owed++             // and with it the peer's exchange
		c.repost(r)
	case msgGetDone:
		op := c.ops[m.Cookie]
		if op == nil || op.kind != opGetSink {
			c.protoErr(fmt.Errorf("%w: GET_DONE for unknown cookie %#x", ErrBadMsg, m.Cookie))
			return
		}
		if m.Status > int32(op.n) {
			c.protoErr(fmt.Errorf("%w: GET_DONE reports %d bytes into a sink of %d", ErrBadRDMA, m.Status, op.n))
			return
		}
		delete(c.ops, m.Cookie)
		c.ni.cache.put(op.mre)
		// ReplyDone, then Complete: LNet keeps the GET's MD, and so the sink,
		// until Complete.
		if m.Status >= 0 {
			cl.a = append(cl.a, callback{reply: op.ltx, n: int(m.Status)})
		} else {
			cl.a = append(cl.a, callback{reply: op.ltx, err: statusErr(m.Status)})
		}
		cl.a = append(cl.a, callback{tx: op.ltx, ni: c.ni})
		c.repost(r)
	default:
		c.protoErr(fmt.Errorf("%w: %v on an established connection", ErrBadMsg, m.Type))
	}
}

// Recv implements lnet.Rx for an IMMEDIATE message: the payload is copied
// out of the receive buffer, which then goes back to the device.
func (r *rxDesc) Recv(sink []byte, done func(error)) {
	c := r.c
	c.mu.Lock()
	if !r.held {
		c.mu.Unlock()
		done(fmt.Errorf("%w: Recv called twice", ErrRecvMisuse))
		return
	}
	var err error
	if len(sink) > len(r.payload) {
		err = fmt.Errorf("%w: sink of %d bytes for a payload of %d", ErrRecvMisuse, len(sink), len(r.payload))
	}
	copy(sink, r.payload)
	r.held, r.payload = false, nil
	c.mu.Unlock()
	done(err)
	var cl cbList
	c.mu.Lock()
	c.delivering = false
	if c.state == connActive {
		c.owed++
		c.repost(r)
		c.pump(&cl)
	}
	c.mu.Unlock()
	cl.run()
	c.kick()
}

// Recv implements lnet.Rx for the messages whose data moves by RDMA. For a
// PUT_REQ it registers sink and answers PUT_ACK (or PUT_NAK when sink is
// empty); done runs when PUT_DONE says the data has landed. For a GET
// (nothing to receive) a GET_REQ that no REPLY answered before Recv gets
// GET_DONE with -ENODATA: LNet found nothing to match.
func (h *bulkRx) Recv(sink []byte, done func(error)) {
	c := h.c
	var cl cbList
	c.mu.Lock()
	if h.recvd {
		c.mu.Unlock()
		done(fmt.Errorf("%w: Recv called twice", ErrRecvMisuse))
		return
	}
	h.recvd = true
	active := c.state == connActive
	var err error
	if len(sink) > int(h.hdr.PayloadLen) {
		err = fmt.Errorf("%w: sink of %d bytes for a payload of %d", ErrRecvMisuse, len(sink), h.hdr.PayloadLen)
	}
	switch h.typ {
	case msgImmediate:
		if active {
			c.owed++
		}
	case msgGetReq:
		if active && !h.replied {
			h.replied = true
			c.respq.push(resp{typ: msgGetDone, cookie: h.cookie, status: statusENODAT, ends: true})
		}
	case msgPutReq:
		if !active {
			err = c.txErr()
			break
		}
		if err != nil {
			c.respq.push(resp{typ: msgPutNak, cookie: h.cookie, status: statusEIO, ends: true})
			break
		}
		if len(sink) == 0 {
			c.respq.push(resp{typ: msgPutNak, cookie: h.cookie, ends: true})
			break
		}
		mre, rerr := c.ni.cache.get(sink)
		if rerr != nil {
			c.respq.push(resp{typ: msgPutNak, cookie: h.cookie, status: statusENOMEM, ends: true})
			err = fmt.Errorf("o2iblnd: register PUT sink: %w", rerr)
			break
		}
		dst := c.cookie()
		c.ops[dst] = &bulkOp{kind: opPutSink, mre: mre, done: done, n: len(sink), at: time.Now()}
		c.respq.push(resp{typ: msgPutAck, cookie: h.cookie, dstCookie: dst, sink: sink, key: mre.mr.RKey()})
		c.pump(&cl)
		c.mu.Unlock()
		cl.run()
		return
	}
	c.delivering = false
	if active {
		c.pump(&cl)
	}
	c.mu.Unlock()
	done(err)
	cl.run()
	c.kick()
}
