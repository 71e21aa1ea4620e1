package o2iblnd

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// Work request ids: the kind in the high word, the descriptor's index in
// the low one.
const (
	wrRx   = 1 << 32
	wrTx   = 2 << 32
	wrRDMA = 3 << 32
)

type connState uint8

const (
	connActive  connState = iota
	connClosing           // failed or closed: the loop tears it down
	connClosed
)

// conn is one RC connection to a peer. Its loop goroutine polls the CQ,
// delivers arrived messages to LNet one at a time and tears the connection
// down; any goroutine may post (under mu).
type conn struct {
	ni        *ni
	peer      lnet.NID
	peerWire  uint64
	ep        verbs.Endpoint
	qp        verbs.QP
	cq        verbs.CQ
	slab      []byte // receive buffers, then transmit buffers
	slabMR    verbs.MR
	rxs       []rxDesc
	txs       []txDesc
	sqDepth   int
	wcs       []verbs.WC
	kickCh    chan struct{}
	log       *zap.Logger
	tickEvery time.Duration

	// Set by established before the loop starts; read-only afterwards.
	cp        connParams
	peerStamp uint64
	hiw       int
	maxImm    int // largest IMMEDIATE payload

	// mu guards everything below and the descriptors' state.
	mu           sync.Mutex
	state        connState
	closeErr     error
	credits      int // credited messages we may still send
	owed         int // credits to return to the peer
	sqUsed       int // send queue slots taken by posted descriptors
	freeTx       []*txDesc
	txq          fifo[queuedTx] // LNet messages waiting for a credit
	respq        fifo[resp]     // responses waiting for a descriptor
	ops          map[uint64]*bulkOp
	nextCookie   uint64
	deliverQ     fifo[delivery] // arrived messages waiting for LNet
	delivering   bool           // a message is with LNet and its Recv's done has not run
	keepaliveDue bool
	lastSend     time.Time
	m            msg // decoding scratch
}

type queuedTx struct {
	tx *lnet.Tx
	at time.Time
}

type delivery struct {
	hdr *lnet.Header
	rx  lnet.Rx
}

// newConn allocates a connection's resources on ep: CQ, QP, buffers, and
// posts every receive. cp sizes it; established may lower the values later.
// newConn owns ep: it closes it when it fails.
func newConn(n *ni, peer lnet.NID, ep verbs.Endpoint, cp connParams) (c *conn, err error) {
	pw, err := nidToWire(peer)
	if err != nil {
		_ = ep.Close()
		return nil, err
	}
	qd := int(cp.QueueDepth)
	hiw := n.cfg.hiw(qd)
	// Receive buffers: the peer's credited messages (qd), the responses of
	// our own exchanges (qd), its NOOPs (at most qd/hiw carrying credits plus
	// keepalives), and spare.
	nrx := 2*qd + qd/hiw + 4
	ntx := 2*qd + 4
	size := n.cfg.MaxMsgSize
	c = &conn{
		ni:        n,
		peer:      peer,
		peerWire:  pw,
		ep:        ep,
		sqDepth:   ntx + n.cfg.MaxFrags,
		wcs:       make([]verbs.WC, 32),
		kickCh:    make(chan struct{}, 1),
		log:       n.log.With(zap.Stringer("nid", peer)),
		tickEvery: tickInterval(n.cfg),
		ops:       map[uint64]*bulkOp{},
		lastSend:  time.Now(),
	}
	defer func() {
		if err != nil {
			c.destroy()
			c = nil
		}
	}()
	if c.cq, err = n.dev.CreateCQ(c.sqDepth + nrx); err != nil {
		return c, fmt.Errorf("create CQ: %w", err)
	}
	if c.qp, err = ep.CreateQP(verbs.QPConfig{PD: n.pd, CQ: c.cq, MaxSendWR: c.sqDepth, MaxRecvWR: nrx, MaxSendSGE: 1, MaxRecvSGE: 1}); err != nil {
		return c, fmt.Errorf("create QP: %w", err)
	}
	c.slab = make([]byte, (nrx+ntx)*size)
	if c.slabMR, err = n.pd.RegMR(c.slab, verbs.AccessLocalWrite); err != nil {
		return c, fmt.Errorf("register message buffers: %w", err)
	}
	c.rxs = make([]rxDesc, nrx)
	for i := range c.rxs {
		r := &c.rxs[i]
		r.c = c
		r.buf = c.slab[i*size : (i+1)*size]
		r.sge[0] = verbs.SGE{Addr: c.slabMR.Addr() + uint64(i*size), Length: uint32(size), LKey: c.slabMR.LKey()}
		r.wr = verbs.RecvWR{ID: wrRx | uint64(i), SGL: r.sge[:]}
		if err = c.qp.PostRecv(&r.wr); err != nil {
			return c, fmt.Errorf("post receive: %w", err)
		}
	}
	c.txs = make([]txDesc, ntx)
	c.freeTx = make([]*txDesc, 0, ntx)
	for i := range c.txs {
		d := &c.txs[i]
		off := (nrx + i) * size
		d.idx = i
		d.buf = c.slab[off : off+size]
		d.sge[0] = verbs.SGE{Addr: c.slabMR.Addr() + uint64(off), LKey: c.slabMR.LKey()}
		d.wr = verbs.SendWR{ID: wrTx | uint64(i), Opcode: verbs.OpSend, SGL: d.sge[:], Signaled: true}
		c.freeTx = append(c.freeTx, d)
	}
	return c, nil
}

func tickInterval(cfg Config) time.Duration {
	t := cfg.Timeout / 4
	if cfg.Keepalive > 0 && cfg.Keepalive/2 < t {
		t = cfg.Keepalive / 2
	}
	return min(max(t, time.Millisecond), time.Second)
}

// established records what the handshake agreed.
func (c *conn) established(cp connParams, peerStamp uint64) {
	c.cp = cp
	c.peerStamp = peerStamp
	c.credits = int(cp.QueueDepth)
	c.hiw = c.ni.cfg.hiw(int(cp.QueueDepth))
	c.maxImm = int(cp.MaxMsgSize) - immHdrSize
}

// destroy releases the resources of a connection whose loop never ran (or
// has finished with them): endpoint and QP, CQ, message buffers.
func (c *conn) destroy() {
	var errs []error
	if c.ep != nil {
		errs = append(errs, c.ep.Close())
	}
	if c.cq != nil {
		errs = append(errs, c.cq.Close())
	}
	if c.slabMR != nil {
		errs = append(errs, c.slabMR.Close())
	}
	if err := errors.Join(errs...); err != nil {
		c.log.Error("o2iblnd: releasing connection resources", zap.Error(err))
	}
}

// kick wakes the loop.
func (c *conn) kick() {
	select {
	case c.kickCh <- struct{}{}:
	default:
	}
}

// close closes the connection for reason err (lnet.ErrClosed when the NI
// shuts down). It returns at once; the loop tears the connection down.
func (c *conn) close(err error) {
	c.mu.Lock()
	c.failLocked(err)
	c.mu.Unlock()
}

// failLocked starts closing the connection; c.mu is held.
func (c *conn) failLocked(err error) {
	if c.state != connActive {
		return
	}
	c.state = connClosing
	c.closeErr = err
	c.kick()
}

// txErr is the error a message fails with when the connection closes.
func (c *conn) txErr() error {
	if errors.Is(c.closeErr, lnet.ErrClosed) {
		return fmt.Errorf("o2iblnd: %v: %w", c.peer, lnet.ErrClosed)
	}
	if errors.Is(c.closeErr, lnet.ErrPeerDown) {
		return c.closeErr
	}
	return fmt.Errorf("%w: %v: %w", lnet.ErrPeerDown, c.peer, c.closeErr)
}

// run is the connection's loop.
func (c *conn) run() {
	defer c.ni.wg.Done()
	tick := time.NewTicker(c.tickEvery)
	defer tick.Stop()
	var cl cbList
	armed := false
	for {
		n, perr := c.cq.Poll(c.wcs)
		c.mu.Lock()
		if perr != nil {
			c.failLocked(fmt.Errorf("%w: poll: %w", ErrCompletion, perr))
		}
		for i := 0; i < n; i++ {
			c.handleWC(c.wcs[i], &cl)
		}
		c.pump(&cl)
		closing := c.state == connClosing
		c.mu.Unlock()
		cl.run()
		if closing {
			c.teardown()
			return
		}
		c.deliver()
		if n > 0 {
			armed = false
			continue
		}
		if !armed {
			if err := c.cq.ReqNotify(); err != nil {
				c.close(fmt.Errorf("%w: arm CQ: %w", ErrCompletion, err))
			}
			armed = true
			continue // poll once more: a completion may have slipped in before arming
		}
		select {
		case <-c.cq.Notify():
		case <-c.kickCh:
		case now := <-tick.C:
			c.onTick(now, &cl)
			cl.run()
		}
		armed = false
	}
}

// handleWC processes one completion; c.mu is held.
func (c *conn) handleWC(wc verbs.WC, cl *cbList) {
	if wc.Status != verbs.Success {
		switch {
		case c.state != connActive:
		case wc.Status == verbs.WRFlushErr:
			c.failLocked(fmt.Errorf("%w: queue pair flushed (disconnected): %w", ErrCompletion, lnet.ErrPeerDown))
		default:
			c.failLocked(fmt.Errorf("%w: %v %v: %w", ErrCompletion, wc.Opcode, wc.Status, lnet.ErrPeerDown))
		}
		return
	}
	if c.state != connActive {
		return
	}
	idx := int(uint32(wc.ID))
	switch wc.ID &^ 0xffffffff {
	case wrRx:
		c.onRecv(&c.rxs[idx], wc.ByteLen, cl)
	case wrTx:
		c.onSent(&c.txs[idx], cl)
	}
}

// deliver hands arrived messages to LNet, one at a time.
func (c *conn) deliver() {
	c.mu.Lock()
	for c.state == connActive && !c.delivering && c.deliverQ.len() > 0 {
		d := c.deliverQ.pop()
		c.delivering = true
		c.mu.Unlock()
		c.ni.recvs.Add(1)
		c.ni.recvBytes.Add(uint64(d.hdr.PayloadLen))
		c.ni.host.Receive(c.ni, c.peer, d.hdr, d.rx)
		c.mu.Lock()
	}
	c.mu.Unlock()
}

// onTick sends a keepalive NOOP on an idle connection and closes a
// connection whose exchanges have waited longer than the timeout.
func (c *conn) onTick(now time.Time, cl *cbList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != connActive {
		return
	}
	ka := c.ni.cfg.Keepalive
	if ka > 0 && now.Sub(c.lastSend) >= ka {
		c.keepaliveDue = true
	}
	limit := now.Add(-c.ni.cfg.Timeout)
	late := c.txq.len() > 0 && c.txq.peek().at.Before(limit)
	for _, op := range c.ops {
		if op.at.Before(limit) {
			late = true
		}
	}
	if late {
		c.failLocked(fmt.Errorf("%w: exchange with %v took longer than %v (credits %d)", lnet.ErrTimeout, c.peer, c.ni.cfg.Timeout, c.credits))
		return
	}
	c.pump(cl)
}

// teardown releases everything the connection holds and fails what it
// carried. It runs on the loop, once.
func (c *conn) teardown() {
	var cl cbList
	c.mu.Lock()
	c.state = connClosed
	terr := c.txErr()
	for c.txq.len() > 0 {
		cl.complete(c.txq.pop().tx, terr)
	}
	for c.respq.len() > 0 {
		if r := c.respq.pop(); r.ltx != nil {
			cl.complete(r.ltx, terr)
		}
	}
	for k, op := range c.ops {
		delete(c.ops, k)
		c.failOp(op, terr, &cl)
	}
	for i := range c.txs {
		c.releaseTx(&c.txs[i], terr, &cl)
	}
	for c.deliverQ.len() > 0 {
		c.deliverQ.pop()
	}
	c.mu.Unlock()
	c.destroy()
	cl.run()
	c.ni.connClosed(c, c.closeErr)
}

// cbList collects calls into LNet to make once c.mu is released.
type cbList struct {
	a []callback
}

type callback struct {
	tx    *lnet.Tx    // tx.Complete(err)
	reply *lnet.Tx    // reply.ReplyDone(n, err)
	done  func(error) // done(err)
	ni    *ni         // for counting a sent message
	n     int
	err   error
}

func (l *cbList) complete(tx *lnet.Tx, err error) {
	l.a = append(l.a, callback{tx: tx, err: err})
}

func (l *cbList) run() {
	for i := range l.a {
		cb := &l.a[i]
		switch {
		case cb.tx != nil:
			if cb.err == nil && cb.ni != nil {
				cb.ni.sends.Add(1)
				cb.ni.sendBytes.Add(uint64(len(cb.tx.Payload)))
			}
			cb.tx.Complete(cb.err)
		case cb.reply != nil:
			cb.reply.ReplyDone(cb.n, cb.err)
		case cb.done != nil:
			cb.done(cb.err)
		}
		*cb = callback{}
	}
	l.a = l.a[:0]
}

// fifo is a queue that reuses its storage.
type fifo[T any] struct {
	buf  []T
	head int
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) {
	if q.head > 0 && len(q.buf) == cap(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf = q.buf[:n]
		q.head = 0
	}
	q.buf = append(q.buf, v)
}

func (q *fifo[T]) peek() *T { return &q.buf[q.head] }

func (q *fifo[T]) pop() T {
	v := q.buf[q.head]
	var zero T
	q.buf[q.head] = zero
	q.head++
	if q.head == len(q.buf) {
		q.buf = q.buf[:0]
		q.head = 0
	}
	return v
}
