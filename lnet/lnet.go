package lnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/internal/fifo"
)

// LNet is one LNet instance: its local NIs, peers, portals and MDs.
type LNet struct {
	log         *zap.Logger
	pid         uint32
	incarnation uint64
	peerCredits int

	// Set in New, read-only afterwards.
	nis    []*niState       // configured NIs, in configuration order
	lo     *niState         // the internal loopback for messages to ourselves
	loop   *loopNI          // lo's NI
	local  map[NID]*niState // every local NID (and 0@lo when no lo NI is configured)
	byNet  map[Net]*niState // NI per network
	up     atomic.Bool      // New finished: Receive may match
	pingMD *MDHandle        // answers Ping
	wg     sync.WaitGroup   // goroutines LNet started (the loopback)
	closeO sync.Once        // Close runs once
	closeE error            // Close's result

	// Receive state recycled between messages (putRecv, replyRecv); owned
	// by this instance, so nothing outlives it.
	putRecvs, replyRecvs sync.Pool

	// mu guards everything below, the mutable fields of every MDHandle,
	// niState and peer. It is LNet's only lock and a leaf as far as LNet's
	// callers are concerned: it is never held while calling an LND (Send,
	// Close, Status), an MD handler, Rx.Recv or Tx.Complete.
	mu         sync.Mutex
	closed     bool
	portals    [MaxPortal]portal
	mds        map[uint64]*MDHandle // live MDs by cookie
	nextCookie uint64
	seqAfter   int64 // sequence of the last InsertAfter ME
	seqBefore  int64 // sequence of the last InsertBefore ME
	peers      map[NID]*peer
	ready      fifo.Queue[*msg] // messages holding their credits, to be handed to the LND in order
	draining   bool             // a goroutine is handing ready messages to LNDs
}

// niState is LNet's side of one NI. It is also the Host that NI's LND sees.
type niState struct {
	ln  *LNet
	ni  NI
	nid NID
	net Net
	lo  bool // the internal loopback: no credits, no peers

	// Guarded by ln.mu.
	credits    int
	minCredits int
	queue      fifo.Queue[*msg] // messages holding a peer credit, waiting for an NI credit
	drops      uint64           // messages LNet dropped (no match, too big, stale)
}

// peer is a remote NI this instance has talked to.
type peer struct {
	nid NID
	ns  *niState

	// Guarded by ln.mu.
	credits    int
	minCredits int
	queue      fifo.Queue[*msg] // messages waiting for a peer credit
	alive      bool
	lastErr    error
	sendCount  uint64
	recvCount  uint64
	dropCount  uint64
}

// New starts an LNet instance: one NI per configured network, each through the
// LND of its type.
func New(ctx context.Context, cfg Config) (*LNet, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Credits <= 0 {
		cfg.Credits = DefaultCredits
	}
	if cfg.PeerCredits <= 0 {
		cfg.PeerCredits = DefaultPeerCredits
	}
	if cfg.PID == 0 {
		cfg.PID = PIDLustre
	}
	ln := &LNet{
		log:         cfg.Logger,
		pid:         cfg.PID,
		incarnation: uint64(time.Now().UnixNano())<<20 ^ rand.Uint64() | 1,
		peerCredits: cfg.PeerCredits,
		local:       map[NID]*niState{},
		byNet:       map[Net]*niState{},
		mds:         map[uint64]*MDHandle{},
		peers:       map[NID]*peer{},
	}
	fail := func(err error) (*LNet, error) {
		for _, ns := range ln.nis {
			if cerr := ns.ni.Close(); cerr != nil {
				ln.log.Warn("lnet: close NI after failed start", zap.Stringer("nid", ns.nid), zap.Error(cerr))
			}
		}
		return nil, err
	}
	for _, nc := range cfg.Networks {
		if _, dup := ln.byNet[nc.Net]; dup {
			return fail(fmt.Errorf("%w: network %v given twice", ErrBadNetworks, nc.Net))
		}
		var lnd LND
		for _, l := range cfg.LNDs {
			if l != nil && l.Type() == nc.Net.Type {
				lnd = l
				break
			}
		}
		if lnd == nil {
			return fail(fmt.Errorf("%w: network %v", ErrNoLND, nc.Net))
		}
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("lnet: start %v: %w", nc.Net, err))
		}
		ns := &niState{ln: ln, net: nc.Net, credits: cfg.Credits, minCredits: cfg.Credits}
		ni, err := lnd.Startup(ctx, NIConfig{
			Net:         nc.Net,
			Interfaces:  nc.Interfaces,
			PeerCredits: cfg.PeerCredits,
			Logger:      ln.log.With(zap.Stringer("net", nc.Net)),
		}, ns)
		if errors.Is(err, ErrNotSupported) {
			// A network this node cannot serve (o2ib without an RDMA
			// device or without RDMA support in the build) is left out;
			// peers reach the node over the networks it does have.
			ln.log.Warn("lnet: network unavailable, serving without it",
				zap.Stringer("net", nc.Net), zap.Error(err))
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("lnet: start %v: %w", nc.Net, err))
		}
		ln.mu.Lock()
		ns.ni, ns.nid = ni, ni.NID()
		ln.mu.Unlock()
		ln.nis = append(ln.nis, ns)
		ln.byNet[nc.Net] = ns
		ln.local[ns.nid] = ns
	}
	if len(cfg.Networks) > 0 && len(ln.nis) == 0 {
		return fail(fmt.Errorf("lnet: none of the networks %v could start: %w", cfg.Networks, ErrNotSupported))
	}
	ln.lo = &niState{ln: ln, lo: true, net: Net{Type: LoLND}, nid: LoNID(0)}
	ln.loop = newLoopNI(ln)
	ln.lo.ni = ln.loop
	if _, ok := ln.byNet[Net{Type: LoLND}]; !ok {
		ln.local[LoNID(0)] = ln.lo
	}
	ln.wg.Add(1)
	go ln.loop.run()

	info := encodePingInfo(ln.pid, ln.NIDs())
	h, err := ln.Attach(ReservedPortal, MatchSpec{MatchBits: PingMatchBits},
		MD{Buf: info, Threshold: ThresholdInf, Options: MDOpGet | MDTruncate | MDManageRemote}, InsertAfter)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	ln.pingMD = h
	ln.up.Store(true)
	ln.log.Debug("lnet: up", zap.Stringers("nids", ln.NIDs()), zap.Uint32("pid", ln.pid))
	return ln, nil
}

// NIDs returns the local NIDs, in the order of the configured networks.
func (ln *LNet) NIDs() []NID {
	out := make([]NID, len(ln.nis))
	for i, ns := range ln.nis {
		out[i] = ns.nid
	}
	return out
}

// PID returns this instance's process id.
func (ln *LNet) PID() uint32 { return ln.pid }

// NIs returns a snapshot of every local NI. DropCount adds the LND's drops
// and the messages LNet dropped (no match, too big, stale handle).
func (ln *LNet) NIs() []NIStatus {
	out := make([]NIStatus, len(ln.nis))
	for i, ns := range ln.nis {
		out[i] = ns.ni.Status()
		ln.mu.Lock()
		out[i].DropCount += ns.drops
		ln.mu.Unlock()
	}
	return out
}

// Peers returns a snapshot of every peer this instance has talked to.
func (ln *LNet) Peers() []PeerStatus {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	out := make([]PeerStatus, 0, len(ln.peers))
	for _, p := range ln.peers {
		out = append(out, PeerStatus{
			NID: p.nid, LocalNID: p.ns.nid, Alive: p.alive, LastErr: p.lastErr,
			Credits: p.credits, MinCredits: p.minCredits, Queued: p.queue.Len(),
			SendCount: p.sendCount, RecvCount: p.recvCount, DropCount: p.dropCount,
		})
	}
	return out
}

// PickNID returns the first of candidates that a local NI can reach (same
// network), and the local NID that would be used.
func (ln *LNet) PickNID(candidates []NID) (peer, local NID, ok bool) {
	for _, c := range candidates {
		if ns, ok := ln.local[c]; ok && ns.lo {
			return c, c, true
		}
		if ns, ok := ln.byNet[c.Net]; ok {
			return c, ns.nid, true
		}
	}
	return NID{}, NID{}, false
}

// route picks the NI that reaches dst and the source NID to put in the header.
func (ln *LNet) route(dst NID) (*niState, NID, error) {
	if _, ok := ln.local[dst]; ok {
		return ln.lo, dst, nil
	}
	if ns, ok := ln.byNet[dst.Net]; ok {
		return ns, ns.nid, nil
	}
	return nil, NID{}, fmt.Errorf("%w: %v", ErrNoRoute, dst)
}

// peerLocked returns the peer nid on ns, creating it.
func (ln *LNet) peerLocked(ns *niState, nid NID) *peer {
	p := ln.peers[nid]
	if p == nil || p.ns != ns {
		p = &peer{nid: nid, ns: ns, credits: ln.peerCredits, minCredits: ln.peerCredits, alive: true}
		ln.peers[nid] = p
	}
	return p
}

// Close stops every NI and waits for the goroutines LNet started. Messages
// still queued in LNet complete with ErrClosed, then the NIs close (their
// LNDs complete what they hold), then every MD still live gets its final
// events (EventUnlink).
func (ln *LNet) Close() error {
	ln.closeO.Do(func() { ln.closeE = ln.close() })
	return ln.closeE
}

func (ln *LNet) close() error {
	ln.mu.Lock()
	ln.closed = true
	var failed []*msg
	for _, p := range ln.peers {
		failed = append(failed, p.queue.Drain()...)
	}
	for _, ns := range ln.nis {
		failed = append(failed, ns.queue.Drain()...)
	}
	if !ln.draining {
		failed = append(failed, ln.ready.Drain()...)
	}
	ln.mu.Unlock()
	for _, m := range failed {
		m.tx.Complete(fmt.Errorf("%w: LNet shutting down", ErrClosed))
	}
	var errs []error
	for _, ns := range ln.nis {
		if err := ns.ni.Close(); err != nil {
			errs = append(errs, fmt.Errorf("lnet: close %v: %w", ns.nid, err))
		}
	}
	_ = ln.loop.Close()
	ln.wg.Wait()

	// Every MD still live gets its final events.
	ln.mu.Lock()
	var mds []*MDHandle
	for _, h := range ln.mds {
		mds = append(mds, h)
	}
	// A drain cut short by closed may have left messages behind.
	failed = ln.ready.Drain()
	ln.mu.Unlock()
	for _, m := range failed {
		m.tx.Complete(fmt.Errorf("%w: LNet shutting down", ErrClosed))
	}
	for _, h := range mds {
		h.Unlink()
	}
	return errors.Join(errs...)
}
