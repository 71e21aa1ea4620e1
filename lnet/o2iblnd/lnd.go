package o2iblnd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// LND is the RDMA LND: it drives o2ib networks.
type LND struct {
	cfg Config

	mu      sync.Mutex // guards lastInc
	lastInc uint64
}

var _ lnet.LND = (*LND)(nil)

// New returns an LND with cfg (zero fields take their defaults).
func New(cfg Config) (*LND, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &LND{cfg: cfg.withDefaults()}, nil
}

// Type implements lnet.LND.
func (l *LND) Type() lnet.NetType { return lnet.O2IBLND }

// incarnation returns a new incarnation stamp: the time, made strictly
// increasing within this LND so that a restarted NI is always newer.
func (l *LND) incarnation() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := uint64(time.Now().UnixNano())
	if v <= l.lastInc {
		v = l.lastInc + 1
	}
	l.lastInc = v
	return v
}

// Startup implements lnet.LND: it opens the RDMA device behind the NI's
// interface (ib0 when none is named) and listens for connections on it.
// Without RDMA support in this build, or without a device behind the
// interface, it fails with an error wrapping lnet.ErrNotSupported (and
// ErrNoRDMA or ErrNoDevice).
func (l *LND) Startup(ctx context.Context, nc lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	cfg := l.cfg
	log := nc.Logger
	if log == nil {
		log = cfg.Logger
	}
	if nc.Net.Type != lnet.O2IBLND {
		return nil, fmt.Errorf("%w: o2iblnd cannot drive network %v", ErrBadConfig, nc.Net)
	}
	ifaces := nc.Interfaces
	if len(ifaces) == 0 {
		ifaces = []string{"ib0"}
	}
	if len(ifaces) > 1 {
		return nil, fmt.Errorf("%w: %v: one interface per o2ib network, got %v", ErrBadConfig, nc.Net, ifaces)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prov := cfg.Provider
	if prov == nil {
		var err error
		if prov, err = hostProvider(log); err != nil {
			return nil, fmt.Errorf("%v(%s): %w", nc.Net, ifaces[0], err)
		}
	}
	dev, addr, err := prov.Open(ifaces[0])
	if err != nil {
		if errors.Is(err, verbs.ErrNoDevice) {
			return nil, fmt.Errorf("%v(%s): %w (%w): %v", nc.Net, ifaces[0], ErrNoDevice, lnet.ErrNotSupported, err)
		}
		return nil, fmt.Errorf("o2iblnd: %v(%s): %w", nc.Net, ifaces[0], err)
	}
	n := &ni{
		cfg:         cfg,
		host:        host,
		ifaces:      ifaces,
		dev:         dev,
		addr:        addr,
		nid:         lnet.NID{Addr: addr, Net: nc.Net},
		incarnation: l.incarnation(),
		peers:       map[lnet.NID]*peer{},
	}
	n.log = log.With(zap.Stringer("ni", n.nid))
	qd := nc.PeerCredits
	if qd <= 0 {
		qd = lnet.DefaultPeerCredits
	}
	if qd > maxQueueDepth {
		qd = maxQueueDepth
	}
	n.cp = connParams{QueueDepth: uint16(qd), MaxFrags: uint16(cfg.MaxFrags), MaxMsgSize: uint32(cfg.MaxMsgSize)}
	if n.nidWire, err = nidToWire(n.nid); err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("o2iblnd: %v(%s): %w", nc.Net, ifaces[0], err)
	}
	if n.pd, err = dev.AllocPD(); err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("o2iblnd: %v(%s): allocate PD: %w", nc.Net, ifaces[0], err)
	}
	n.cache = newMRCache(n.pd, cfg.MRCacheSize, cfg.MRCacheBytes)
	if n.ln, err = dev.Listen(netip.AddrPortFrom(addr, uint16(cfg.Port))); err != nil {
		_ = n.pd.Close()
		_ = dev.Close()
		return nil, fmt.Errorf("o2iblnd: %v(%s): listen: %w", nc.Net, ifaces[0], err)
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(1)
	go n.acceptLoop()
	n.log.Info("o2iblnd: NI up", zap.String("device", dev.Name()), zap.String("interface", ifaces[0]),
		zap.Int("queue_depth", qd), zap.Int("port", cfg.Port))
	return n, nil
}

// ni is one o2ib NI.
type ni struct {
	cfg         Config
	host        lnet.Host
	log         *zap.Logger
	ifaces      []string
	dev         verbs.Device
	pd          verbs.PD
	ln          verbs.Listener
	cache       *mrCache
	addr        netip.Addr
	nid         lnet.NID
	nidWire     uint64
	incarnation uint64
	cp          connParams // what this NI offers: queue depth, fragments, message size

	ctx    context.Context // cancelled by Close: aborts connection set-up
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the NI started

	// mu guards the fields below and every peer's fields. Lock order: mu
	// before a conn's mu; never held while calling LNet.
	mu     sync.Mutex
	closed bool
	peers  map[lnet.NID]*peer
	events fifo[peerEvent] // PeerState calls to make, in order

	evMu sync.Mutex // held while delivering events, so that they arrive in order

	sends, recvs, drops, sendBytes, recvBytes atomic.Uint64
}

var _ lnet.NI = (*ni)(nil)

func (n *ni) NID() lnet.NID { return n.nid }

// Send implements lnet.NI.
func (n *ni) Send(tx *lnet.Tx) {
	if tx.Dest.Net != n.nid.Net {
		tx.Complete(fmt.Errorf("%w: %v is not on %v", lnet.ErrNoRoute, tx.Dest, n.nid.Net))
		return
	}
	if h, ok := tx.GetRx.(*bulkRx); ok && tx.Hdr.Type == lnet.MsgReply && h.c.ni == n {
		if h.c.reply(tx, h) {
			return
		}
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		tx.Complete(fmt.Errorf("o2iblnd: %v: %w", n.nid, lnet.ErrClosed))
		return
	}
	p := n.peer(tx.Dest)
	if c := p.conn; c != nil {
		n.mu.Unlock()
		c.send(tx)
		return
	}
	p.queue = append(p.queue, tx)
	n.startConnect(p)
	n.mu.Unlock()
}

// peer returns the peer record for nid, creating it. n.mu is held.
func (n *ni) peer(nid lnet.NID) *peer {
	p := n.peers[nid]
	if p == nil {
		p = &peer{nid: nid}
		n.peers[nid] = p
	}
	return p
}

// Status implements lnet.NI.
func (n *ni) Status() lnet.NIStatus {
	n.mu.Lock()
	up := !n.closed
	conns := 0
	for _, p := range n.peers {
		if p.conn != nil {
			conns++
		}
	}
	n.mu.Unlock()
	return lnet.NIStatus{
		NID:        n.nid,
		Up:         up,
		Interfaces: append([]string(nil), n.ifaces...),
		SendCount:  n.sends.Load(),
		RecvCount:  n.recvs.Load(),
		DropCount:  n.drops.Load(),
		SendBytes:  n.sendBytes.Load(),
		RecvBytes:  n.recvBytes.Load(),
		Peers:      conns,
	}
}

// Close implements lnet.NI.
func (n *ni) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var conns []*conn
	var queued []*lnet.Tx
	for _, p := range n.peers {
		if p.conn != nil {
			conns = append(conns, p.conn)
		}
		queued = append(queued, p.queue...)
		p.queue = nil
	}
	n.mu.Unlock()
	n.cancel()
	errs := []error{n.ln.Close()}
	for _, c := range conns {
		c.close(lnet.ErrClosed)
	}
	for _, tx := range queued {
		tx.Complete(fmt.Errorf("o2iblnd: %v: %w", n.nid, lnet.ErrClosed))
	}
	n.wg.Wait()
	if busy := n.cache.close(); busy != 0 {
		n.log.Error("o2iblnd: bulk registrations still in use at close", zap.Int("count", busy))
	}
	errs = append(errs, n.pd.Close(), n.dev.Close())
	n.log.Info("o2iblnd: NI down")
	return errors.Join(errs...)
}

// peerEvent is one PeerState call to make.
type peerEvent struct {
	nid   lnet.NID
	alive bool
	err   error
}

// notePeer records that p became alive or not; n.mu is held. The event is
// delivered by flushEvents.
func (n *ni) notePeer(p *peer, alive bool, err error) {
	if p.alive == alive && (alive || p.reported) {
		return
	}
	p.alive, p.reported = alive, true
	if n.closed {
		return
	}
	n.events.push(peerEvent{nid: p.nid, alive: alive, err: err})
}

// flushEvents hands LNet the recorded peer events, in order. n.mu must not
// be held.
func (n *ni) flushEvents() {
	n.evMu.Lock()
	defer n.evMu.Unlock()
	for {
		n.mu.Lock()
		if n.events.len() == 0 {
			n.mu.Unlock()
			return
		}
		ev := n.events.pop()
		n.mu.Unlock()
		n.host.PeerState(n, ev.nid, ev.alive, ev.err)
	}
}

// acceptLoop answers connection requests until the listener closes.
func (n *ni) acceptLoop() {
	defer n.wg.Done()
	for {
		ep, err := n.ln.Accept(n.ctx)
		if err != nil {
			if n.ctx.Err() == nil {
				n.log.Error("o2iblnd: listener failed", zap.Error(err))
			}
			return
		}
		n.wg.Add(1)
		go n.passive(ep)
	}
}
