package socklnd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
)

// track registers a socket in handshake so that Close can interrupt it. It
// reports false (and the caller must drop the socket) once the NI is closed.
func (ni *NI) track(nc net.Conn) bool {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	if ni.closed {
		return false
	}
	ni.pending[nc] = struct{}{}
	return true
}

func (ni *NI) untrack(nc net.Conn) {
	ni.mu.Lock()
	delete(ni.pending, nc)
	ni.mu.Unlock()
}

// setSockOpts applies the configured socket options. Every connection gets
// TCP_NODELAY: CONTROL ones for latency, bulk ones so that the tail of a
// message is not held back waiting for an ACK.
func (ni *NI) setSockOpts(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tc.SetNoDelay(true)
	if ni.cfg.SndBuf > 0 {
		_ = tc.SetWriteBuffer(ni.cfg.SndBuf)
	}
	if ni.cfg.RcvBuf > 0 {
		_ = tc.SetReadBuffer(ni.cfg.RcvBuf)
	}
	_ = tc.SetKeepAliveConfig(keepalive(ni.cfg))
}

// remoteNID is the NID a socket's remote address would have on our network;
// it names a peer in logs before its hello has been read.
func (ni *NI) remoteNID(nc net.Conn) lnet.NID {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return lnet.NID{Addr: a.Unmap(), Net: ni.nid.Net}
		}
	}
	return lnet.NID{}
}

func (ni *NI) acceptLoop() {
	defer ni.wg.Done()
	for {
		nc, err := ni.ln.Accept()
		if err != nil {
			if ni.ctx.Err() != nil {
				return
			}
			ni.log.Warn("accept failed", zap.Error(err))
			select { // e.g. out of file descriptors: let some close
			case <-ni.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if !ni.track(nc) {
			_ = nc.Close()
			return
		}
		ni.wg.Add(1) // acceptLoop holds a count, so this cannot race with Close's Wait
		go ni.passive(nc)
	}
}

// passive runs the acceptor's side of a handshake: read the initiator's
// hello, check it, admit the connection (or refuse it after a lost race) and
// reply.
func (ni *NI) passive(nc net.Conn) {
	defer ni.wg.Done()
	defer ni.untrack(nc)
	reject := func(nid lnet.NID, err error) {
		if ni.ctx.Err() != nil {
			err = fmt.Errorf("NI closing: %w", err)
		}
		ni.log.Warn("rejected connection", zap.Stringer("nid", nid), zap.Stringer("remote", nc.RemoteAddr()),
			zap.String("reason", err.Error()))
		_ = nc.Close()
	}
	ni.setSockOpts(nc)
	_ = nc.SetDeadline(time.Now().Add(ni.cfg.ConnectTimeout))
	var b [HelloSize]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		reject(ni.remoteNID(nc), fmt.Errorf("reading hello: %w", err))
		return
	}
	var h hello
	if err := h.decode(b[:]); err != nil {
		reject(ni.remoteNID(nc), err)
		return
	}
	switch {
	case h.Dst != ni.nid:
		reject(h.Src, fmt.Errorf("%w: hello from %v for %v, this is %v", ErrWrongNID, h.Src, h.Dst, ni.nid))
		return
	case h.Flags != 0:
		reject(h.Src, fmt.Errorf("%w: flags %#x in a connection request", ErrBadHello, h.Flags))
		return
	}
	typ := h.Type.flip()
	c, verdict := ni.admit(nc, h, typ, h.Src)
	reply := hello{Type: typ, Src: ni.nid, Dst: h.Src, SrcPID: lnet.PIDLustre, DstPID: h.SrcPID,
		SrcInc: ni.inc, DstInc: h.SrcInc}
	if verdict.race {
		reply.Flags = helloRace
	}
	reply.encode(b[:])
	_, err := nc.Write(b[:])
	switch {
	case c == nil:
		ni.log.Debug("refused connection", zap.Stringer("nid", h.Src), zap.Stringer("conn", typ),
			zap.String("reason", verdict.reason))
		_ = nc.Close()
	case err != nil:
		c.fail(fmt.Errorf("writing hello: %w", err))
	default:
		_ = nc.SetDeadline(time.Time{})
		c.start()
	}
	ni.flushEvents()
}

// verdict says why admit refused a connection.
type verdict struct {
	race   bool // refused: we keep the connection we initiated
	reason string
}

// admit decides, under ni.mu, whether the handshaken socket nc becomes the
// connection of type typ to peer h.Src, initiated by initiator. It handles a
// changed incarnation (old connections go, their unsent messages stay for
// the new ones) and connect races: when two connections compete for one
// slot, the one initiated by the lower NID is kept, or the newer one when
// both came from the same side (that side has given the older one up). It
// returns the new connection, or nil when nc must be dropped.
func (ni *NI) admit(nc net.Conn, h hello, typ connType, initiator lnet.NID) (*conn, verdict) {
	var v verdict
	var drop []*conn
	ni.mu.Lock()
	defer func() {
		ni.mu.Unlock()
		for _, c := range drop {
			c.close()
		}
	}()
	if ni.closed {
		v.reason = "NI closed"
		return nil, v
	}
	p := ni.peerLocked(h.Src)
	if p.inc != 0 && p.inc != h.SrcInc {
		ni.notePeerLocked(p.nid, false, fmt.Errorf("%w: %v", lnet.ErrStalePeer, p.nid))
		for i := range p.slots {
			s := &p.slots[i]
			if s.conn != nil {
				drop = append(drop, s.conn)
				s.conn = nil
			}
		}
		p.nconns = 0
		ni.log.Info("peer restarted", zap.Stringer("nid", p.nid), zap.Uint64("was", p.inc), zap.Uint64("now", h.SrcInc))
	}
	p.inc = h.SrcInc
	s := &p.slots[typ-1]
	if initiator == ni.nid {
		s.dialing = false
	}
	if old := s.conn; old != nil {
		oldWins := old.initiator != initiator && nidLess(old.initiator, initiator)
		if oldWins {
			v.race = true
			v.reason = fmt.Sprintf("connect race: keeping the connection initiated by %v", old.initiator)
			old.kickWriter()
			return nil, v
		}
		drop = append(drop, old)
		s.conn = nil
		p.nconns--
	} else if s.dialing && initiator != ni.nid && nidLess(ni.nid, initiator) {
		v.race = true
		v.reason = "connect race: our own connection attempt wins"
		return nil, v
	}
	c := newConn(ni, p, typ, initiator, nc)
	s.conn = c
	if p.nconns == 0 {
		ni.notePeerLocked(p.nid, true, nil)
	}
	p.nconns++
	if len(s.queue) > 0 {
		c.kickWriter()
	}
	// A restart may have left other slots with messages and no connection.
	for i := range p.slots {
		if o := &p.slots[i]; o.conn == nil && !o.dialing && len(o.queue) > 0 {
			ni.startDialLocked(p, connType(i+1))
		}
	}
	return c, v
}

// startDialLocked starts connecting slot typ of p.
func (ni *NI) startDialLocked(p *peer, typ connType) {
	p.slots[typ-1].dialing = true
	ni.wg.Add(1) // under ni.mu with closed false: cannot race with Close's Wait
	go ni.dialLoop(p, typ)
}

// dialLoop connects slot typ of p. A lost connect race is not a failure: the
// peer's own connection is on its way, and the loop waits for it (retrying
// in case it never comes) until ConnectTimeout. Any other failure fails the
// slot's queue and starts the reconnect back-off.
func (ni *NI) dialLoop(p *peer, typ connType) {
	defer ni.wg.Done()
	deadline := time.Now().Add(ni.cfg.ConnectTimeout)
	wait := time.Millisecond
	for {
		err := ni.dialOnce(p, typ, deadline)
		if err == nil {
			return
		}
		if errors.Is(err, ErrConnRace) && time.Now().Before(deadline) {
			ni.mu.Lock()
			s := &p.slots[typ-1]
			if s.conn != nil || ni.closed || len(s.queue) == 0 {
				s.dialing = false
				if s.conn != nil {
					s.conn.kickWriter()
				}
				ni.mu.Unlock()
				return
			}
			ni.mu.Unlock()
			select {
			case <-ni.ctx.Done():
			case <-time.After(wait):
			}
			wait = min(2*wait, 100*time.Millisecond)
			continue
		}
		ni.dialFailed(p, typ, err)
		return
	}
}

// dialOnce makes one connection attempt and, if the handshake succeeds,
// admits the connection.
func (ni *NI) dialOnce(p *peer, typ connType, deadline time.Time) error {
	resolve := ni.cfg.Resolve
	if resolve == nil {
		resolve = func(nid lnet.NID) (netip.AddrPort, error) {
			return netip.AddrPortFrom(nid.Addr, uint16(ni.cfg.Port)), nil
		}
	}
	ap, err := resolve(p.nid)
	if err != nil {
		return fmt.Errorf("resolving %v: %w", p.nid, err)
	}
	ctx, cancel := context.WithDeadline(ni.ctx, deadline)
	nc, err := ni.dialer.DialContext(ctx, "tcp", ap.String())
	cancel()
	if err != nil {
		return err
	}
	if !ni.track(nc) {
		_ = nc.Close()
		return lnet.ErrClosed
	}
	defer ni.untrack(nc)
	ni.setSockOpts(nc)
	_ = nc.SetDeadline(deadline)
	ni.mu.Lock()
	dstInc := p.inc
	ni.mu.Unlock()
	req := hello{Type: typ, Src: ni.nid, Dst: p.nid, SrcPID: lnet.PIDLustre, DstPID: lnet.PIDLustre,
		SrcInc: ni.inc, DstInc: dstInc}
	var b [HelloSize]byte
	req.encode(b[:])
	if _, err := nc.Write(b[:]); err != nil {
		_ = nc.Close()
		return fmt.Errorf("writing hello: %w", err)
	}
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		_ = nc.Close()
		return fmt.Errorf("reading hello: %w", err)
	}
	var h hello
	err = h.decode(b[:])
	switch {
	case err != nil:
	case h.Src != p.nid || h.Dst != ni.nid:
		err = fmt.Errorf("%w: dialled %v at %v, hello is from %v for %v", ErrWrongNID, p.nid, ap, h.Src, h.Dst)
	case h.Type != typ.flip():
		err = fmt.Errorf("%w: %v request answered as %v", ErrBadHello, typ, h.Type)
	}
	if err != nil {
		_ = nc.Close()
		return protocolError(err)
	}
	if h.Flags&helloRace != 0 {
		_ = nc.Close()
		return ErrConnRace
	}
	c, v := ni.admit(nc, h, typ, ni.nid)
	if c == nil {
		_ = nc.Close()
		if ni.isClosed() {
			return lnet.ErrClosed
		}
		ni.log.Debug("dropped connection", zap.Stringer("nid", p.nid), zap.Stringer("conn", typ),
			zap.String("reason", v.reason))
	} else {
		_ = nc.SetDeadline(time.Time{})
		ni.mu.Lock()
		p.backoff, p.retryAt, p.lastErr = ni.cfg.ReconnectMin, time.Time{}, nil
		ni.mu.Unlock()
		c.start()
	}
	ni.flushEvents()
	return nil
}

// dialFailed ends a connection attempt that failed with err: the slot's
// queued messages fail and the back-off grows.
func (ni *NI) dialFailed(p *peer, typ connType, err error) {
	cause := fmt.Errorf("%w: %v: %w", lnet.ErrPeerDown, p.nid, err)
	ni.mu.Lock()
	s := &p.slots[typ-1]
	s.dialing = false
	txs := s.queue
	s.queue = nil
	closed := ni.closed
	if !closed {
		p.retryAt = time.Now().Add(p.backoff)
		p.backoff = min(2*p.backoff, ni.cfg.ReconnectMax)
		p.lastErr = err
	}
	if p.nconns == 0 {
		ni.notePeerLocked(p.nid, false, cause)
	}
	ni.mu.Unlock()

	if closed {
		cause = fmt.Errorf("socklnd: send to %v: %w", p.nid, lnet.ErrClosed)
	} else {
		log := ni.log.Info
		if errors.Is(err, lnet.ErrProtocol) {
			log = ni.log.Warn
		}
		log("cannot connect", zap.Stringer("nid", p.nid), zap.Stringer("conn", typ), zap.String("reason", err.Error()))
	}
	for _, tx := range txs {
		tx.Complete(cause)
	}
	ni.flushEvents()
}
