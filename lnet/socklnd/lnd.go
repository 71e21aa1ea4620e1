package socklnd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
)

// LND is the TCP LND. One LND may start any number of NIs.
type LND struct {
	cfg Config
}

var _ lnet.LND = (*LND)(nil)

// New returns a TCP LND; zero fields of cfg take their defaults. The
// configuration is checked when an NI starts.
func New(cfg Config) *LND { return &LND{cfg: cfg.withDefaults()} }

// Type returns lnet.SockLND.
func (l *LND) Type() lnet.NetType { return lnet.SockLND }

// Startup brings up an NI on the first of nc.Interfaces (or, when none is
// given, the first non-loopback interface with an address) and starts
// listening on that address and Config.Port.
func (l *LND) Startup(ctx context.Context, nc lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	ni, err := l.start(ctx, nc, host)
	if err != nil {
		return nil, err
	}
	return ni, nil
}

// NI is one TCP network interface: a listener and the connections to its
// peers. See the package comment for the connection model.
type NI struct {
	cfg    Config
	nid    lnet.NID
	ifs    []string
	inc    uint64 // our incarnation stamp
	host   lnet.Host
	log    *zap.Logger
	ln     net.Listener
	dialer net.Dialer
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the NI starts

	// mu guards the fields below and every peer, slot and conn field marked
	// "under ni.mu". It is never held while calling the Host, completing a
	// Tx or doing socket I/O. It is the only lock of the NI.
	mu       sync.Mutex
	closed   bool
	peers    map[lnet.NID]*peer
	pending  map[net.Conn]struct{} // sockets in handshake; Close closes them
	events   []peerEvent           // PeerState calls not yet made, in the order of the changes
	flushing bool                  // a goroutine is making them

	sendCount, recvCount, dropCount atomic.Uint64
	sendBytes, recvBytes            atomic.Uint64
	inlineSplit                     atomic.Uint64 // inline writes the socket took only part of
	inlineDetached                  atomic.Uint64 // readers detached from an Inline f (inline.go)
}

// peer is what an NI knows of one remote NID. Peers are never forgotten, so
// that a changed incarnation is noticed however long the peer was away.
type peer struct {
	nid     lnet.NID
	inc     uint64        // under ni.mu: the peer's incarnation from its last hello; 0 before one
	slots   [3]slot       // under ni.mu: indexed by connType-1
	nconns  int           // under ni.mu: established connections
	backoff time.Duration // under ni.mu: the next reconnect back-off
	retryAt time.Time     // under ni.mu: no connection attempt before this
	lastErr error         // under ni.mu: why the last connection attempt failed
}

// slot holds one typed connection to a peer and the messages waiting for it.
// The queue outlives connections: a connection that is replaced (race or
// reconnect by the peer) leaves its unsent messages to its successor; one that
// fails takes them down with it.
type slot struct {
	conn    *conn      // under ni.mu: the established connection, or nil
	dialing bool       // under ni.mu: a dialLoop runs for this slot
	queue   []*lnet.Tx // under ni.mu: messages not yet taken by a writer
}

func (l *LND) start(ctx context.Context, nc lnet.NIConfig, host lnet.Host) (*NI, error) {
	cfg := l.cfg
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc.Net.Type != lnet.SockLND {
		return nil, fmt.Errorf("%w: socklnd cannot drive network %v", ErrBadConfig, nc.Net)
	}
	if host == nil {
		return nil, fmt.Errorf("%w: no host", ErrBadConfig)
	}
	ifs := nc.Interfaces
	if len(ifs) == 0 {
		name, err := firstInterface()
		if err != nil {
			return nil, err
		}
		ifs = []string{name}
	}
	addr, err := lnet.ResolveInterface(ifs[0])
	if err != nil {
		return nil, err
	}
	log := nc.Logger
	if log == nil {
		log = zap.NewNop()
	}
	nid := lnet.NID{Addr: addr, Net: nc.Net}
	ka := keepalive(cfg)
	lc := net.ListenConfig{KeepAlive: -1, KeepAliveConfig: ka}
	ln, err := lc.Listen(ctx, "tcp", netip.AddrPortFrom(addr, uint16(cfg.Port)).String())
	if err != nil {
		return nil, fmt.Errorf("socklnd: listen for %v: %w", nid, err)
	}
	ictx, cancel := context.WithCancel(context.Background())
	ni := &NI{
		cfg:  cfg,
		nid:  nid,
		ifs:  append([]string(nil), ifs...),
		inc:  uint64(time.Now().UnixNano()),
		host: host,
		log:  log.With(zap.Stringer("ni", nid)),
		ln:   ln,
		dialer: net.Dialer{
			LocalAddr:       &net.TCPAddr{IP: addr.AsSlice(), Zone: addr.Zone()},
			KeepAlive:       -1,
			KeepAliveConfig: ka,
		},
		ctx:     ictx,
		cancel:  cancel,
		peers:   map[lnet.NID]*peer{},
		pending: map[net.Conn]struct{}{},
	}
	ni.wg.Add(1)
	go ni.acceptLoop()
	ni.log.Info("NI up", zap.Stringer("addr", ln.Addr()), zap.Uint64("incarnation", ni.inc))
	return ni, nil
}

func keepalive(cfg Config) net.KeepAliveConfig {
	if cfg.KeepaliveIdle < 0 {
		return net.KeepAliveConfig{Enable: false}
	}
	return net.KeepAliveConfig{
		Enable:   true,
		Idle:     cfg.KeepaliveIdle,
		Interval: cfg.KeepaliveInterval,
		Count:    cfg.KeepaliveCount,
	}
}

// firstInterface names the first interface that is up, not loopback and has
// an address, as LNet does without a networks= setting.
func firstInterface() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoInterfaces, err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if _, err := lnet.ResolveInterface(ifi.Name); err == nil {
			return ifi.Name, nil
		}
	}
	return "", ErrNoInterfaces
}

// NID returns the NI's NID.
func (ni *NI) NID() lnet.NID { return ni.nid }

// Addr returns the address the NI listens on.
func (ni *NI) Addr() net.Addr { return ni.ln.Addr() }

// AddrPort returns the address the NI listens on, for Config.Resolve.
func (ni *NI) AddrPort() netip.AddrPort {
	ta, _ := ni.ln.Addr().(*net.TCPAddr) // a "tcp" listener's address
	return netip.AddrPortFrom(ni.nid.Addr, uint16(ta.Port))
}

// Incarnation returns the NI's incarnation stamp, which its peers see in its
// hello and use to notice a restart.
func (ni *NI) Incarnation() uint64 { return ni.inc }

// Send queues tx on the connection its size calls for, connecting first if
// there is none. It never blocks on the network.
func (ni *NI) Send(tx *lnet.Tx) {
	switch {
	case len(tx.Payload) != int(tx.Hdr.PayloadLen):
		tx.Complete(fmt.Errorf("%w: %d bytes of payload, header says %d", lnet.ErrBadHeader, len(tx.Payload), tx.Hdr.PayloadLen))
		return
	case len(tx.Payload) > MaxPayload:
		tx.Complete(fmt.Errorf("%w: %d bytes", ErrTooBig, len(tx.Payload)))
		return
	case tx.Dest.Net != ni.nid.Net || tx.Dest == ni.nid || !tx.Dest.Addr.IsValid():
		tx.Complete(fmt.Errorf("%w: %v from %v", lnet.ErrNoRoute, tx.Dest, ni.nid))
		return
	}
	typ := connControl
	if len(tx.Payload) >= ni.cfg.MinBulk {
		typ = connBulkOut
	}
	ni.mu.Lock()
	if ni.closed {
		ni.mu.Unlock()
		tx.Complete(fmt.Errorf("socklnd: send to %v: %w", tx.Dest, lnet.ErrClosed))
		return
	}
	p := ni.peerLocked(tx.Dest)
	s := &p.slots[typ-1]
	if s.conn == nil && !s.dialing {
		if wait := time.Until(p.retryAt); wait > 0 {
			last := p.lastErr
			ni.mu.Unlock()
			tx.Complete(fmt.Errorf("%w: %v: %w (%v left; last: %v)", lnet.ErrPeerDown, tx.Dest, ErrInBackoff, wait.Round(time.Millisecond), last))
			return
		}
		ni.startDialLocked(p, typ)
	}
	c := s.conn
	if c != nil && c.raw != nil && !c.busy && c.rest == nil && len(s.queue) == 0 {
		c.busy = true
		ni.mu.Unlock()
		c.sendInline(tx)
		return
	}
	s.queue = append(s.queue, tx)
	ni.mu.Unlock()
	if c != nil {
		c.kickWriter()
	}
}

// peerLocked returns the peer for nid, creating it.
func (ni *NI) peerLocked(nid lnet.NID) *peer {
	p := ni.peers[nid]
	if p == nil {
		p = &peer{nid: nid, backoff: ni.cfg.ReconnectMin}
		ni.peers[nid] = p
	}
	return p
}

// Close stops the NI: it closes the listener and every connection, completes
// queued messages with lnet.ErrClosed and waits for its goroutines.
func (ni *NI) Close() error {
	ni.mu.Lock()
	if ni.closed {
		ni.mu.Unlock()
		ni.wg.Wait()
		return nil
	}
	ni.closed = true
	var conns []*conn
	var txs []*lnet.Tx
	for _, p := range ni.peers {
		for i := range p.slots {
			s := &p.slots[i]
			if s.conn != nil {
				conns = append(conns, s.conn)
				s.conn = nil
			}
			txs = append(txs, s.queue...)
			s.queue = nil
		}
		p.nconns = 0
	}
	ni.events = nil // the Host hears nothing more
	pending := make([]net.Conn, 0, len(ni.pending))
	for nc := range ni.pending {
		pending = append(pending, nc)
	}
	ni.mu.Unlock()

	ni.cancel()
	err := ni.ln.Close()
	for _, c := range conns {
		c.close()
	}
	for _, nc := range pending {
		_ = nc.Close()
	}
	for _, tx := range txs {
		tx.Complete(fmt.Errorf("socklnd: send to %v: %w", tx.Dest, lnet.ErrClosed))
	}
	ni.wg.Wait()
	ni.log.Info("NI down")
	return err
}

// Status reports the NI's state and counters.
func (ni *NI) Status() lnet.NIStatus {
	ni.mu.Lock()
	up := !ni.closed
	npeers := 0
	for _, p := range ni.peers {
		if p.nconns > 0 {
			npeers++
		}
	}
	ni.mu.Unlock()
	return lnet.NIStatus{
		NID:        ni.nid,
		Up:         up,
		Interfaces: append([]string(nil), ni.ifs...),
		SendCount:  ni.sendCount.Load(),
		RecvCount:  ni.recvCount.Load(),
		DropCount:  ni.dropCount.Load(),
		SendBytes:  ni.sendBytes.Load(),
		RecvBytes:  ni.recvBytes.Load(),
		Peers:      npeers,
	}
}

// peerEvent is one Host.PeerState call to make.
type peerEvent struct {
	nid   lnet.NID
	alive bool
	err   error
}

// notePeerLocked records a change of a peer's reachability for the Host.
// Changes are recorded under ni.mu as they happen, so the Host hears them in
// that order, whichever goroutines make the calls (see flushEvents).
func (ni *NI) notePeerLocked(nid lnet.NID, alive bool, err error) {
	if !ni.closed {
		ni.events = append(ni.events, peerEvent{nid: nid, alive: alive, err: err})
	}
}

// flushEvents makes the PeerState calls recorded so far, unless another
// goroutine is at it already (it will make ours too). Only the NI's own
// goroutines call it, so none runs after Close returns.
func (ni *NI) flushEvents() {
	ni.mu.Lock()
	if ni.flushing {
		ni.mu.Unlock()
		return
	}
	ni.flushing = true
	for len(ni.events) > 0 {
		evs := ni.events
		ni.events = nil
		ni.mu.Unlock()
		for _, ev := range evs {
			ni.host.PeerState(ni, ev.nid, ev.alive, ev.err)
		}
		ni.mu.Lock()
	}
	ni.flushing = false
	ni.mu.Unlock()
}

// nidLess orders NIDs for breaking connection races: the connection
// initiated by the lower NID wins.
func nidLess(a, b lnet.NID) bool {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c < 0
	}
	if a.Net.Type != b.Net.Type {
		return a.Net.Type < b.Net.Type
	}
	return a.Net.Num < b.Net.Num
}
