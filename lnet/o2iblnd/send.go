package o2iblnd

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// txDesc is one transmit buffer with its work requests. While busy it is
// posted, and owns ltx and mre until its send completes.
type txDesc struct {
	idx  int
	buf  []byte
	sge  [1]verbs.SGE
	wr   verbs.SendWR
	rsge [1]verbs.SGE
	rwr  verbs.SendWR // scratch for RDMA writes (PostSend does not keep it)
	busy bool
	nwr  int      // send queue slots it holds
	ltx  *lnet.Tx // completed when the send completes
	mre  *mrEntry // released when the send completes
	cnt  bool     // count ltx as a sent LNet message
}

// resp is a response waiting for a transmit buffer: PUT_ACK, PUT_NAK,
// PUT_DONE or GET_DONE. Responses take no credit.
type resp struct {
	typ       msgType
	cookie    uint64 // the cookie the message carries (PUT_ACK: the source's)
	dstCookie uint64 // PUT_ACK: ours
	status    int32  // PUT_NAK, and a completion without data
	sink      []byte // PUT_ACK: the registered sink it describes
	key       uint32 // PUT_ACK: the sink's RKey; PUT_DONE, GET_DONE: the peer's
	frags     []rdFrag
	src       []byte   // PUT_DONE, GET_DONE: the data to RDMA-write first
	ltx       *lnet.Tx // completed when the message has gone
	ends      bool     // ends an exchange the peer started: its credit goes back with this message
}

type opKind uint8

const (
	opPutSrc  opKind = iota + 1 // our PUT_REQ, waiting for PUT_ACK or PUT_NAK
	opGetSink                   // our GET_REQ, waiting for GET_DONE
	opPutSink                   // the peer's PUT_REQ we acknowledged, waiting for PUT_DONE
)

// bulkOp is an exchange in progress, found by its cookie.
type bulkOp struct {
	kind opKind
	ltx  *lnet.Tx    // opPutSrc, opGetSink
	mre  *mrEntry    // opGetSink, opPutSink: the sink's registration
	done func(error) // opPutSink
	n    int         // opPutSink, opGetSink: the sink's length
	at   time.Time
}

// send queues an LNet message.
func (c *conn) send(tx *lnet.Tx) {
	var cl cbList
	c.mu.Lock()
	if c.state != connActive {
		err := c.txErr()
		c.mu.Unlock()
		tx.Complete(err)
		return
	}
	c.txq.push(queuedTx{tx: tx, at: time.Now()})
	c.pump(&cl)
	c.mu.Unlock()
	cl.run()
}

// reply sends tx, a REPLY to the GET_REQ h, by RDMA-writing its payload into
// the sink the GET_REQ described and sending GET_DONE. It returns false when
// h cannot take a reply (an IMMEDIATE GET, or one already answered), and tx
// then travels as an ordinary message.
func (c *conn) reply(tx *lnet.Tx, h *bulkRx) bool {
	if h.typ != msgGetReq {
		return false
	}
	var cl cbList
	c.mu.Lock()
	if h.replied {
		c.mu.Unlock()
		c.log.Warn("o2iblnd: REPLY for a GET already answered; sending it as a message")
		return false
	}
	h.replied = true
	if c.state != connActive {
		err := c.txErr()
		c.mu.Unlock()
		tx.Complete(err)
		return true
	}
	r := resp{typ: msgGetDone, cookie: h.cookie, key: h.key, frags: h.frags, src: tx.Payload, ltx: tx, ends: true}
	if uint32(len(tx.Payload)) != tx.Hdr.PayloadLen {
		r.src, r.ltx, r.status = nil, nil, statusEIO
		cl.complete(tx, fmt.Errorf("%w: REPLY payload of %d bytes, header says %d", lnet.ErrBadHeader, len(tx.Payload), tx.Hdr.PayloadLen))
	}
	c.respq.push(r)
	c.pump(&cl)
	c.mu.Unlock()
	cl.run()
	return true
}

// pump posts what can be posted: responses first, then LNet messages while
// credits last, then a NOOP if credits are owed past the high-water mark
// (or a keepalive is due). c.mu is held.
func (c *conn) pump(cl *cbList) {
	for c.state == connActive && c.respq.len() > 0 {
		need := 1 + rdmaWRs(c.respq.peek())
		if len(c.freeTx) == 0 || c.sqUsed+need > c.sqDepth {
			break
		}
		r := c.respq.pop()
		if err := c.postResp(&r, cl); err != nil {
			c.failLocked(err)
		}
	}
	for c.state == connActive && c.txq.len() > 0 && c.credits > 0 && len(c.freeTx) > 0 && c.sqUsed < c.sqDepth {
		q := c.txq.pop()
		if err := c.postTx(q.tx, cl); err != nil {
			c.failLocked(err)
		}
	}
	if c.state == connActive && (c.owed >= c.hiw || c.keepaliveDue) && len(c.freeTx) > 0 && c.sqUsed < c.sqDepth {
		c.keepaliveDue = false
		if err := c.post(c.getTx(), msgNoop, msgHdrSize); err != nil {
			c.failLocked(err)
		}
	}
}

func (c *conn) getTx() *txDesc {
	d := c.freeTx[len(c.freeTx)-1]
	c.freeTx = c.freeTx[:len(c.freeTx)-1]
	d.busy = true
	return d
}

func (c *conn) putTx(d *txDesc) {
	d.busy, d.nwr, d.ltx, d.mre, d.cnt = false, 0, nil, nil, false
	c.freeTx = append(c.freeTx, d)
}

func (c *conn) cookie() uint64 {
	c.nextCookie++
	return c.nextCookie
}

// postTx sends an LNet message: IMMEDIATE when its header and payload fit
// in a message, PUT_REQ for a larger PUT or REPLY, GET_REQ for a GET whose
// reply would not fit. An error is fatal to the connection; a problem with
// tx alone completes tx and returns nil.
func (c *conn) postTx(tx *lnet.Tx, cl *cbList) error {
	if uint32(len(tx.Payload)) != tx.Hdr.PayloadLen {
		cl.complete(tx, fmt.Errorf("%w: payload of %d bytes, header says %d", lnet.ErrBadHeader, len(tx.Payload), tx.Hdr.PayloadLen))
		return nil
	}
	d := c.getTx()
	b := d.buf
	var typ msgType
	var nob int
	// The REPLY to a GET is at most Hdr.Length bytes, at the start of ReplySink.
	sink := tx.ReplySink[:min(len(tx.ReplySink), int(tx.Hdr.Length))]
	switch {
	case tx.Hdr.Type == lnet.MsgGet && len(sink) > c.maxImm:
		mre, err := c.ni.cache.get(sink)
		if err != nil {
			c.putTx(d)
			cl.complete(tx, fmt.Errorf("o2iblnd: register GET sink: %w", err))
			return nil
		}
		cookie := c.cookie()
		c.ops[cookie] = &bulkOp{kind: opGetSink, ltx: tx, mre: mre, n: len(sink), at: time.Now()}
		tx.Hdr.Encode(b[msgHdrSize:])
		binary.LittleEndian.PutUint64(b[immHdrSize:], cookie)
		nob = immHdrSize + 8 + putRD1(b[immHdrSize+8:], mre.mr.RKey(), len(sink), verbs.Addr(sink))
		typ = msgGetReq // tx completes at GET_DONE, after ReplyDone: until then the peer may write into the sink
	case len(tx.Payload) > c.maxImm:
		cookie := c.cookie()
		c.ops[cookie] = &bulkOp{kind: opPutSrc, ltx: tx, at: time.Now()}
		tx.Hdr.Encode(b[msgHdrSize:])
		binary.LittleEndian.PutUint64(b[immHdrSize:], cookie)
		nob, typ = putReqSize, msgPutReq
	default:
		tx.Hdr.Encode(b[msgHdrSize:])
		nob = immHdrSize + copy(b[immHdrSize:], tx.Payload)
		typ = msgImmediate
		d.ltx, d.cnt = tx, true
	}
	c.credits--
	return c.post(d, typ, nob)
}

// putRD1 writes an RDMA descriptor of one fragment.
func putRD1(b []byte, key uint32, n int, addr uint64) int {
	le := binary.LittleEndian
	le.PutUint32(b[0:], key)
	le.PutUint32(b[4:], 1)
	le.PutUint32(b[8:], uint32(n))
	le.PutUint64(b[12:], addr)
	return rdHdrSize + rdFragSize
}

// rdmaWRs is the number of RDMA writes r needs.
func rdmaWRs(r *resp) int {
	left, n := len(r.src), 0
	for _, f := range r.frags {
		if left == 0 {
			break
		}
		if f.Nob > 0 {
			left -= min(int(f.Nob), left)
			n++
		}
	}
	return n
}

// postResp sends a response, RDMA-writing its data first. c.mu is held.
func (c *conn) postResp(r *resp, cl *cbList) error {
	d := c.getTx()
	b := d.buf
	if r.ends {
		c.owed++
	}
	le := binary.LittleEndian
	var nob int
	switch r.typ {
	case msgPutAck:
		le.PutUint64(b[msgHdrSize:], r.cookie)
		le.PutUint64(b[msgHdrSize+8:], r.dstCookie)
		nob = msgHdrSize + 16 + putRD1(b[msgHdrSize+16:], r.key, len(r.sink), verbs.Addr(r.sink))
	default:
		status := r.status
		d.ltx, d.cnt = r.ltx, true
		if len(r.src) > 0 && len(r.frags) > 0 {
			n, err := c.postRDMA(d, r)
			switch {
			case err == nil:
				status = int32(n)
			case d.nwr == 0: // could not register the source: tell the peer, fail the message
				status = statusENOMEM
				if d.ltx != nil {
					cl.complete(d.ltx, fmt.Errorf("o2iblnd: register bulk source: %w", err))
					d.ltx = nil
				}
			default:
				return err
			}
		}
		le.PutUint64(b[msgHdrSize:], r.cookie)
		le.PutUint32(b[msgHdrSize+8:], uint32(status))
		nob = completionSize
	}
	return c.post(d, r.typ, nob)
}

// postRDMA registers r.src and RDMA-writes it into r's fragments, returning
// the bytes written. The writes are unsignalled: the completion message
// posted after them is, and retires them all.
func (c *conn) postRDMA(d *txDesc, r *resp) (int, error) {
	mre, err := c.ni.cache.get(r.src)
	if err != nil {
		return 0, err
	}
	d.mre = mre
	off := 0
	base := verbs.Addr(r.src)
	for _, f := range r.frags {
		if off == len(r.src) {
			break
		}
		k := min(int(f.Nob), len(r.src)-off)
		if k == 0 {
			continue
		}
		d.rsge[0] = verbs.SGE{Addr: base + uint64(off), Length: uint32(k), LKey: mre.mr.LKey()}
		d.rwr = verbs.SendWR{ID: wrRDMA | uint64(d.idx), Opcode: verbs.OpRDMAWrite, SGL: d.rsge[:], RemoteAddr: f.Addr, RKey: r.key}
		d.nwr++
		c.sqUsed++
		if err := c.qp.PostSend(&d.rwr); err != nil {
			return 0, fmt.Errorf("%w: post RDMA write: %w", ErrCompletion, err)
		}
		off += k
	}
	return off, nil
}

// post sends d's message of type typ and nob bytes, returning the credits
// owed to the peer with it. c.mu is held.
func (c *conn) post(d *txDesc, typ msgType, nob int) error {
	credits := min(c.owed, 255)
	c.owed -= credits
	putHead(d.buf, msgHead{
		Type: typ, Credits: uint8(credits), Nob: uint32(nob),
		SrcNID: c.ni.nidWire, SrcStamp: c.ni.incarnation, DstNID: c.peerWire, DstStamp: c.peerStamp,
	})
	seal(d.buf, nob, c.ni.cfg.Checksum)
	d.sge[0].Length = uint32(nob)
	d.nwr++
	c.sqUsed++
	if err := c.qp.PostSend(&d.wr); err != nil {
		return fmt.Errorf("%w: post %v: %w", ErrCompletion, typ, err)
	}
	c.lastSend = time.Now()
	return nil
}

// onSent handles the completion of d's send. c.mu is held.
func (c *conn) onSent(d *txDesc, cl *cbList) {
	c.sqUsed -= d.nwr
	if d.ltx != nil {
		cb := callback{tx: d.ltx}
		if d.cnt {
			cb.ni = c.ni
		}
		cl.a = append(cl.a, cb)
	}
	if d.mre != nil {
		c.ni.cache.put(d.mre)
	}
	c.putTx(d)
}

// releaseTx fails what a descriptor still held when the connection closed.
func (c *conn) releaseTx(d *txDesc, err error, cl *cbList) {
	if !d.busy {
		return
	}
	if d.ltx != nil {
		cl.complete(d.ltx, err)
	}
	if d.mre != nil {
		c.ni.cache.put(d.mre)
	}
	c.putTx(d)
}

// failOp fails an exchange in progress when the connection closes.
func (c *conn) failOp(op *bulkOp, err error, cl *cbList) {
	switch op.kind {
	case opPutSrc:
		cl.complete(op.ltx, err)
	case opGetSink:
		cl.a = append(cl.a, callback{reply: op.ltx, err: err})
		cl.complete(op.ltx, err)
	case opPutSink:
		cl.a = append(cl.a, callback{done: op.done, err: err})
	}
	if op.mre != nil {
		c.ni.cache.put(op.mre)
	}
}
