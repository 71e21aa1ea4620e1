package o2iblnd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// peer is what an NI knows of one remote NID. Guarded by ni.mu.
//
// While neither conn is set nor a set-up is under way (connecting,
// accepting), queue is empty: Send starts a connection attempt only when no
// set-up is under way, and whichever set-up ends first with a connection
// takes the queue (see "Connection races" in doc.go).
type peer struct {
	nid        lnet.NID
	conn       *conn      // the established connection, if any
	connecting bool       // a connect goroutine runs for this peer
	accepting  int        // connection requests from the peer being accepted
	queue      []*lnet.Tx // messages waiting for a connection
	stamp      uint64     // the peer's incarnation, as last seen (0: unknown)
	alive      bool       // as last reported to LNet
	reported   bool
}

// rejectedError is a rejection whose private data o2iblnd understood.
type rejectedError struct {
	rej rejection
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("o2iblnd: connection rejected: %s", rejectReason(e.rej.Why))
}

func (e *rejectedError) Unwrap() error { return ErrRejected }

// nidLess orders NIDs as Lustre does when it breaks a connection race.
func nidLess(a, b uint64) bool { return a < b }

// resolve returns where to connect to nid.
func (n *ni) resolve(nid lnet.NID) (netip.AddrPort, error) {
	if n.cfg.Resolve != nil {
		return n.cfg.Resolve(nid)
	}
	return netip.AddrPortFrom(nid.Addr, uint16(n.cfg.Port)), nil
}

// startConnect starts the active side of connection set-up for p unless a
// set-up is under way already. n.mu is held.
func (n *ni) startConnect(p *peer) {
	if n.closed || p.conn != nil || p.connecting || p.accepting > 0 {
		return
	}
	p.connecting = true
	n.wg.Add(1)
	go n.connect(p)
}

// connect runs the active side of connection set-up for p until a
// connection exists, retrying as the peer's rejections direct: with the
// peer's parameters after MSG_QUEUE_SIZE / RDMA_FRAGS, with its new
// incarnation after CONN_STALE, after a pause after CONN_RACE or EARLY.
// After CONN_RACE it stops when the peer's own request is being accepted:
// that connection, the higher NID's, wins and takes the queue.
func (n *ni) connect(p *peer) {
	defer n.wg.Done()
	cp := n.cp
	races, stales, renegs := 0, 0, 0
	backoff := 10 * time.Millisecond
	for {
		n.mu.Lock()
		if n.closed || p.conn != nil {
			p.connecting = false
			n.mu.Unlock()
			return
		}
		stamp := p.stamp
		n.mu.Unlock()

		c, err := n.dial(p.nid, cp, stamp)
		if err == nil {
			n.activate(p, c, true)
			return
		}
		var rj *rejectedError
		retry := false
		pause := false
		if errors.As(err, &rj) {
			switch r := rj.rej; r.Why {
			case rejectConnRace:
				if n.yieldRace(p) {
					return
				}
				races++
				retry, pause = races <= maxRaces, true
			case rejectEarly:
				races++
				retry, pause = races <= maxRaces, true
			case rejectConnStale:
				stales++
				n.mu.Lock()
				if r.Incarnation != 0 {
					p.stamp = r.Incarnation
				}
				n.mu.Unlock()
				retry = stales <= 2
			case rejectMsgQueueSize, rejectRDMAFrags, rejectConnUncompat:
				renegs++
				ncp := minParams(cp, r.CP)
				retry = r.Version == ibVersion && ncp != cp && validParams(ncp) && renegs <= 3
				cp = ncp
			}
		}
		if !retry {
			n.connectFailed(p, err)
			return
		}
		n.log.Debug("o2iblnd: retrying connection", zap.Stringer("nid", p.nid), zap.Error(err))
		if pause {
			select {
			case <-time.After(backoff):
			case <-n.ctx.Done():
			}
			if backoff < time.Second {
				backoff *= 2
			}
		}
	}
}

func minParams(a, b connParams) connParams {
	return connParams{
		QueueDepth: min(a.QueueDepth, b.QueueDepth),
		MaxFrags:   min(a.MaxFrags, b.MaxFrags),
		MaxMsgSize: min(a.MaxMsgSize, b.MaxMsgSize),
	}
}

func validParams(p connParams) bool {
	return p.QueueDepth >= 1 && p.QueueDepth <= maxQueueDepth && p.MaxFrags >= 1 &&
		p.MaxMsgSize >= minMsgSize && p.MaxMsgSize <= 1<<20
}

// yieldRace ends p's connection attempt, which lost a race, when the
// winner's connection exists or is being accepted: it carries the queue.
func (n *ni) yieldRace(p *peer) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p.conn == nil && p.accepting == 0 {
		return false // the peer's request has not arrived yet
	}
	p.connecting = false
	n.log.Debug("o2iblnd: connection race lost", zap.Stringer("nid", p.nid), zap.Bool("connected", p.conn != nil))
	return true
}

// connectFailed fails what waits for p after the connection attempt failed,
// unless a request from p is being accepted: the queue then waits for it.
func (n *ni) connectFailed(p *peer, err error) {
	n.mu.Lock()
	p.connecting = false
	if p.accepting > 0 && !n.closed {
		n.mu.Unlock()
		n.log.Debug("o2iblnd: connection attempt failed while accepting one", zap.Stringer("nid", p.nid), zap.Error(err))
		return
	}
	q := p.queue
	p.queue = nil
	closed := n.closed
	if p.conn == nil {
		n.notePeer(p, false, err)
	}
	n.mu.Unlock()
	n.flushEvents()
	if !closed {
		n.log.Warn("o2iblnd: cannot connect", zap.Stringer("nid", p.nid), zap.Error(err), zap.Int("dropped", len(q)))
	}
	for _, tx := range q {
		tx.Complete(fmt.Errorf("%w: %v: %w", lnet.ErrPeerDown, p.nid, err))
	}
}

// dial makes one connection attempt to nid with parameters cp, naming stamp
// as the incarnation it expects of the peer.
func (n *ni) dial(nid lnet.NID, cp connParams, stamp uint64) (*conn, error) {
	dst, err := nidToWire(nid)
	if err != nil {
		return nil, err
	}
	addr, err := n.resolve(nid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	ep, err := n.dev.Dial(ctx, n.addr, addr)
	if err != nil {
		return nil, fmt.Errorf("resolve %v: %w", addr, err)
	}
	c, err := newConn(n, nid, ep, cp)
	if err != nil {
		return nil, err
	}
	var req [connMsgSize]byte
	putHead(req[:], msgHead{Type: msgConnReq, Nob: connMsgSize, SrcNID: n.nidWire, SrcStamp: n.incarnation, DstNID: dst, DstStamp: stamp})
	cp.put(req[msgHdrSize:])
	seal(req[:], connMsgSize, n.cfg.Checksum)
	priv, err := ep.Connect(ctx, req[:])
	if err != nil {
		c.destroy()
		var re *verbs.RejectError
		if errors.As(err, &re) && re.Status == verbs.RejectConsumer {
			if rej, derr := decodeRejection(re.PrivateData); derr == nil {
				return nil, &rejectedError{rej: rej}
			}
		}
		return nil, fmt.Errorf("connect %v: %w", addr, err)
	}
	var m msg
	err = decodeMsg(priv, &m, int(cp.MaxFrags))
	switch {
	case err != nil:
	case m.Type != msgConnAck:
		err = fmt.Errorf("%w: %v in answer to CONNREQ", ErrBadMsg, m.Type)
	case m.SrcNID != dst || m.DstNID != n.nidWire || m.DstStamp != n.incarnation || (stamp != 0 && m.SrcStamp != stamp):
		err = fmt.Errorf("%w: CONNACK from %v for %v", ErrStaleMsg, nidFromWire(m.SrcNID), nidFromWire(m.DstNID))
	case m.CP.QueueDepth > cp.QueueDepth || m.CP.MaxFrags > cp.MaxFrags || m.CP.MaxMsgSize > cp.MaxMsgSize || !validParams(m.CP):
		err = fmt.Errorf("%w: CONNACK parameters %+v exceed the request's %+v", ErrBadMsg, m.CP, cp)
	}
	if err != nil {
		c.destroy()
		return nil, fmt.Errorf("%w: %w", lnet.ErrProtocol, err)
	}
	c.established(m.CP, m.SrcStamp)
	return c, nil
}

// passive answers one connection request.
func (n *ni) passive(ep verbs.Endpoint) {
	defer n.wg.Done()
	var m msg
	src := lnet.NID{}
	reject := func(why uint8, err error) {
		n.log.Warn("o2iblnd: rejecting connection", zap.Stringer("nid", src), zap.Stringer("from", ep.Remote()),
			zap.String("reason", rejectReason(why)), zap.Error(err))
		rej := rejection{Magic: ibMagic, Version: ibVersion, Why: why, Incarnation: n.incarnation, CP: n.cp}
		_ = ep.Reject(rej.encode())
		_ = ep.Close()
	}
	if err := decodeMsg(ep.PrivateData(), &m, int(n.cp.MaxFrags)); err != nil {
		why := uint8(rejectFatal)
		if errors.Is(err, ErrBadMagic) || errors.Is(err, ErrBadVersion) {
			why = rejectConnUncompat
		}
		reject(why, err)
		return
	}
	src = nidFromWire(m.SrcNID)
	switch {
	case m.Type != msgConnReq:
		reject(rejectFatal, fmt.Errorf("%w: %v instead of CONNREQ", ErrBadMsg, m.Type))
		return
	case src.Net != n.nid.Net || m.DstNID != n.nidWire:
		reject(rejectFatal, fmt.Errorf("%w: request from %v for %v", ErrStaleMsg, src, nidFromWire(m.DstNID)))
		return
	case !validParams(m.CP):
		reject(rejectFatal, fmt.Errorf("%w: parameters %+v", ErrBadMsg, m.CP))
		return
	case m.CP.QueueDepth > n.cp.QueueDepth || m.CP.MaxMsgSize > n.cp.MaxMsgSize:
		reject(rejectMsgQueueSize, fmt.Errorf("queue depth %d, message size %d: this NI takes %d, %d",
			m.CP.QueueDepth, m.CP.MaxMsgSize, n.cp.QueueDepth, n.cp.MaxMsgSize))
		return
	case m.CP.MaxFrags > n.cp.MaxFrags:
		reject(rejectRDMAFrags, fmt.Errorf("%d fragments: this NI takes %d", m.CP.MaxFrags, n.cp.MaxFrags))
		return
	case m.DstStamp != 0 && m.DstStamp != n.incarnation:
		reject(rejectConnStale, fmt.Errorf("%w: request for an earlier incarnation of this NI", lnet.ErrStalePeer))
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		reject(rejectNoResources, lnet.ErrClosed)
		return
	}
	p := n.peer(src)
	var stale *conn
	switch {
	case p.stamp != 0 && m.SrcStamp < p.stamp:
		n.mu.Unlock()
		reject(rejectConnStale, fmt.Errorf("%w: request from an earlier incarnation of the peer", lnet.ErrStalePeer))
		return
	case p.stamp != 0 && m.SrcStamp > p.stamp:
		// The peer rebooted: what we had with it is gone.
		stale, p.conn = p.conn, nil
		n.notePeer(p, false, fmt.Errorf("%w: %v", lnet.ErrStalePeer, src))
	case (p.connecting || p.conn != nil) && nidLess(m.SrcNID, n.nidWire):
		n.mu.Unlock()
		reject(rejectConnRace, ErrConnRace)
		return
	}
	p.stamp = m.SrcStamp
	p.accepting++ // until activate or acceptFailed: Send now queues without dialling
	n.mu.Unlock()
	n.flushEvents()
	if stale != nil {
		stale.close(fmt.Errorf("%w: %v rebooted", lnet.ErrStalePeer, src))
	}

	c, err := newConn(n, src, ep, m.CP)
	if err != nil {
		// newConn closed the endpoint, which refuses the request.
		n.log.Warn("o2iblnd: no resources for a connection", zap.Stringer("nid", src), zap.Error(err))
		n.acceptFailed(p)
		return
	}
	c.established(m.CP, m.SrcStamp)
	var ack [connMsgSize]byte
	putHead(ack[:], msgHead{Type: msgConnAck, Nob: connMsgSize, SrcNID: n.nidWire, SrcStamp: n.incarnation, DstNID: m.SrcNID, DstStamp: m.SrcStamp})
	m.CP.put(ack[msgHdrSize:])
	seal(ack[:], connMsgSize, n.cfg.Checksum)
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	err = ep.Accept(ctx, ack[:])
	cancel()
	if err != nil {
		n.log.Warn("o2iblnd: accepted connection not established", zap.Stringer("nid", src), zap.Error(err))
		c.destroy()
		n.acceptFailed(p)
		return
	}
	n.activate(p, c, false)
}

// acceptFailed ends an accept for p that did not give a connection. What
// waited for it gets a connection attempt of its own, unless another set-up
// is under way.
func (n *ni) acceptFailed(p *peer) {
	n.mu.Lock()
	p.accepting--
	if len(p.queue) > 0 {
		n.startConnect(p)
	}
	n.mu.Unlock()
}

// activate makes c the connection to p, hands it what waited for a
// connection and starts it. It closes a connection c replaces.
func (n *ni) activate(p *peer, c *conn, active bool) {
	n.mu.Lock()
	if active {
		p.connecting = false
	} else {
		p.accepting--
	}
	if n.closed {
		n.mu.Unlock()
		c.destroy()
		return
	}
	old := p.conn
	p.conn = c
	p.stamp = c.peerStamp
	q := p.queue
	p.queue = nil
	c.mu.Lock()
	now := time.Now()
	for _, tx := range q {
		c.txq.push(queuedTx{tx: tx, at: now})
	}
	c.mu.Unlock()
	n.notePeer(p, true, nil)
	n.wg.Add(1)
	go c.run()
	n.mu.Unlock()
	n.flushEvents()
	n.log.Info("o2iblnd: connected", zap.Stringer("nid", p.nid), zap.Bool("active", active),
		zap.Uint16("queue_depth", c.cp.QueueDepth), zap.Uint32("max_msg_size", c.cp.MaxMsgSize))
	if old != nil {
		old.close(fmt.Errorf("%w: replaced by a new connection", lnet.ErrPeerDown))
	}
	c.kick()
}

// connClosed forgets c after its loop tore it down for reason err.
func (n *ni) connClosed(c *conn, err error) {
	n.mu.Lock()
	p := n.peers[c.peer]
	if p != nil && p.conn == c {
		p.conn = nil
		if !p.connecting {
			n.notePeer(p, false, err)
		}
	}
	closed := n.closed
	n.mu.Unlock()
	n.flushEvents()
	if !closed && !errors.Is(err, lnet.ErrClosed) {
		n.log.Warn("o2iblnd: connection closed", zap.Stringer("nid", c.peer), zap.Error(err))
	}
}
