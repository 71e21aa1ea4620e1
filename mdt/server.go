package mdt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mdt/lod"
	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/mdt/osp"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// ServiceName is the name of the MDS request service.
const ServiceName = "mdt"

// MGC is what the MDT needs of the MGS client: registration and a watch of
// the file system's configuration. *mgc.Client satisfies it.
type MGC interface {
	Register(ctx context.Context, req wire.TargetRegRequest) (uint64, error)
	Watch(ctx context.Context, fsname string, gen uint64, fn func(*wire.ConfigReadReply)) error
}

// Server is an MDS serving one MDT. See the package documentation.
type Server struct {
	cfg   Config
	log   *zap.Logger
	node  *obd.Node
	label store.Label
	name  string // "FSNAME-MDT0000"

	store  *store.Store
	mdd    *mdd.MDD
	lod    *lod.LOD
	tgt    *ptlrpc.Target
	svc    *ptlrpc.Service
	ns     *ldlm.Namespace // the target's locks (ldlm.go)
	stats  mdStats
	fresh  freshFiles   // files being created by an open (fresh.go)
	names  nameActivity // when names were last made in each directory (negative.go)
	makers dirMakers    // who made each directory, for DirNames locks (dirnames.go)
	rec    recovery     // the recovery window after the start (recovery.go)

	mgc    MGC
	ownMGC *mgc.Client // the MGS client the server made, closed by Close

	ctx        context.Context // cancelled by Close
	cancel     context.CancelFunc
	wg         sync.WaitGroup // registration, export-check and recovery loops
	registered chan struct{}  // closed once the MGS took the registration
	handles    atomic.Uint64  // open handle cookies
	configGen  atomic.Uint64  // generation of the last configuration applied

	// mu guards the fields below; it is taken before osp and lod locks
	// and never held across an RPC or a store operation, except that
	// addOST starts a device (which only starts goroutines) under it.
	mu      sync.Mutex
	osps    map[uint32]*osp.Device
	exports map[*ptlrpc.Export]*exportState
	params  []string // parameter names registered in node
	devices []string // device names registered in node
	closing bool

	closeOnce sync.Once
	closeErr  error
}

// Start opens the MDT in cfg.Dir, starts the "mdt" service on
// wire.MDSRequestPortal with a recovery window (recovery.go) after which
// the orphans of the previous run that no replayed open holds are
// destroyed, registers the target with the MGS and follows the file
// system's configuration to connect to every OST (and every later one).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, node: cfg.Node, registered: make(chan struct{}),
		osps: map[uint32]*osp.Device{}, exports: map[*ptlrpc.Export]*exportState{},
		names: nameActivity{quiet: cfg.NegativeQuiet}, rec: recovery{done: make(chan struct{}), start: time.Now()}}
	if s.node == nil {
		s.node = obd.NewNode(cfg.Logger)
	}
	s.handles.Store(rand.Uint64() >> 1)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.openStore(); err != nil {
		s.cancel()
		return nil, err
	}
	if err := s.startNamespace(); err != nil {
		s.cancel()
		_ = s.store.Close()
		return nil, err
	}
	if err := s.startService(ctx); err != nil {
		s.cancel()
		_ = s.ns.Close()
		_ = s.store.Close()
		return nil, err
	}
	s.addParams()
	if err := s.startMGC(); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.exportLoop()
	s.startRecovery()
	s.log.Info("MDT started", zap.String("target", s.name), zap.Stringers("nids", cfg.LNet.NIDs()))
	return s, nil
}

// openStore opens the store and the layers over it.
func (s *Server) openStore() error {
	path := storePath(s.cfg.Dir)
	st, err := store.Open(path, store.Options{Logger: s.log.Named("store"), NoSync: s.cfg.NoSync,
		OnFailure: s.cfg.OnFailure})
	if err != nil {
		if errors.Is(err, store.ErrNotFormatted) {
			return fmt.Errorf("%w: %s: %w", ErrNotFormatted, s.cfg.Dir, err)
		}
		return fmt.Errorf("mdt: %s: %w", s.cfg.Dir, err)
	}
	s.store, s.label = st, st.Label()
	s.name = s.label.Name()
	s.log = s.log.With(zap.String("target", s.name))
	if s.cfg.FSName != "" && s.cfg.FSName != s.label.FSName {
		_ = st.Close()
		return fmt.Errorf("%w: %s holds %s, not of %q", ErrWrongFS, s.cfg.Dir, s.name, s.cfg.FSName)
	}
	s.mdd, err = mdd.New(st, mdd.Config{Logger: s.log.Named("mdd"), OnDestroy: s.queueDestroys, OnLayout: s.noteLayout})
	if err != nil {
		_ = st.Close()
		return fmt.Errorf("mdt: %s: %w", s.name, err)
	}
	s.lod = lod.New(lod.Config{Name: s.name + "-mdtlov", Logger: s.log.Named("lod"), ReadyTimeout: s.cfg.ReadyTimeout})
	return nil
}

func (s *Server) startService(ctx context.Context) error {
	tgt, err := ptlrpc.NewTarget(ptlrpc.TargetConfig{Name: s.name, Handlers: withOwner(s.withLockHandlers(s.handlers())),
		LastCommitted: s.store.LastCommitted, Errnos: errnoTable()})
	if err != nil {
		return fmt.Errorf("mdt: %w", err)
	}
	svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{Name: ServiceName, LNet: s.cfg.LNet,
		Portal: wire.MDSRequestPortal, ReplyPortal: wire.MDCReplyPortal, BulkPortal: wire.MDSBulkPortal,
		Threads: s.cfg.Threads, MaxRequestSize: 128 << 10, AT: s.cfg.AT, Logger: s.log.Named("ptlrpc")})
	if err != nil {
		return fmt.Errorf("mdt: %w", err)
	}
	if err := svc.AddTarget(tgt); err != nil {
		svc.Close()
		return fmt.Errorf("mdt: %w", err)
	}
	if err := svc.Start(ctx); err != nil {
		svc.Close()
		return fmt.Errorf("mdt: %w", err)
	}
	s.tgt, s.svc = tgt, svc
	return nil
}

// Name returns the target name, "FSNAME-MDT0000".
func (s *Server) Name() string { return s.name }

// Label returns the MDT's label.
func (s *Server) Label() store.Label { return s.label }

// Node returns the obd node the server registered its parameters in.
func (s *Server) Node() *obd.Node { return s.node }

// Target returns the ptlrpc target (its exports, for tests and params).
func (s *Server) Target() *ptlrpc.Target { return s.tgt }

// MDD returns the namespace layer (for checks in tests and tools).
func (s *Server) MDD() *mdd.MDD { return s.mdd }

// LOD returns the layout allocator.
func (s *Server) LOD() *lod.LOD { return s.lod }

// OSP returns the proxy of OST idx, nil if the MDT does not know it.
func (s *Server) OSP(idx uint32) *osp.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.osps[idx]
}

// Registered is closed once the MGS took the target's registration.
func (s *Server) Registered() <-chan struct{} { return s.registered }

// ConfigGen returns the generation of the last configuration applied.
func (s *Server) ConfigGen() uint64 { return s.configGen.Load() }

// WaitOSTs waits until n OSTs take new objects (tests, and a harness
// that starts creating at once).
func (s *Server) WaitOSTs(ctx context.Context, n int) error {
	for s.lod.ActiveOSTs() < n {
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("mdt: %d of %d OSTs active: %w", s.lod.ActiveOSTs(), n, ctx.Err())
		case <-s.ctx.Done():
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
	}
	return nil
}

// Close stops the service, the OST proxies and the background loops,
// closes the open handles' bookkeeping and the store. Open files of
// clients become orphans that the next start keeps for the clients to
// reopen in its recovery window, and destroys after it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.svc.Close()
		_ = s.ns.Close()
		s.mu.Lock()
		s.closing = true
		devs := make([]*osp.Device, 0, len(s.osps))
		for _, d := range s.osps {
			devs = append(devs, d)
		}
		params, devices := s.params, s.devices
		s.mu.Unlock()
		s.cancel()
		s.wg.Wait()
		if s.ownMGC != nil {
			_ = s.ownMGC.Close()
		}
		for _, d := range devs {
			_ = d.Close()
		}
		for _, p := range params {
			s.node.Params.Remove(p)
		}
		for _, d := range devices {
			s.node.RemoveDevice(d)
		}
		s.closeErr = s.store.Close()
		s.log.Info("MDT stopped")
	})
	return s.closeErr
}

// startMGC makes or takes the MGS client, starts registration and the
// configuration watch.
func (s *Server) startMGC() error {
	s.mgc = s.cfg.MGC
	if s.mgc == nil {
		nodes := s.cfg.MGSNodes
		if nodes == nil {
			nodes = s.label.MGSNodes
		}
		if len(nodes) == 0 {
			s.log.Info("no MGS configured: the MDT registers nowhere and knows no OSTs")
			return nil
		}
		c, err := mgc.New(mgc.Config{LNet: s.cfg.LNet, MGSNodes: nodes, ClientUUID: s.label.UUID,
			Logger: s.log.Named("mgc"), AT: s.cfg.AT, ReconnectBackoff: s.cfg.RegisterRetry})
		if err != nil {
			return fmt.Errorf("mdt: MGS client: %w", err)
		}
		s.mgc, s.ownMGC = c, c
	}
	s.wg.Add(1)
	go s.registerLoop()
	if err := s.mgc.Watch(s.ctx, s.label.FSName, 0, s.applyConfig); err != nil {
		return fmt.Errorf("mdt: configuration watch: %w", err)
	}
	return nil
}

// regRequest is the target's MGS_TARGET_REG: its service nodes with the
// local one first, and its parameters.
func (s *Server) regRequest() wire.TargetRegRequest {
	local := s.cfg.LNet.NIDs()
	var nodes []wire.ServiceNode
	for _, n := range s.label.ServiceNodes {
		node := wire.ServiceNode{NIDs: n}
		if slices.ContainsFunc(n, func(nid lnet.NID) bool { return slices.Contains(local, nid) }) {
			nodes = append([]wire.ServiceNode{node}, nodes...)
		} else {
			nodes = append(nodes, node)
		}
	}
	if len(nodes) == 0 {
		nodes = []wire.ServiceNode{{NIDs: local}}
	}
	return wire.TargetRegRequest{FSName: s.label.FSName, Kind: wire.KindMDT, Index: s.label.Index,
		UUID: s.label.UUID, Nodes: nodes, Params: s.label.Params}
}

// registerLoop registers the target, retrying with back-off while the MGS
// cannot be reached; the MDT serves meanwhile.
func (s *Server) registerLoop() {
	defer s.wg.Done()
	wait := s.cfg.RegisterRetry
	req := s.regRequest()
	for {
		ctx, cancel := context.WithTimeout(s.ctx, 10*s.cfg.RegisterRetry)
		gen, err := s.mgc.Register(ctx, req)
		cancel()
		if err == nil {
			s.log.Info("registered with the MGS", zap.Uint64("gen", gen))
			close(s.registered)
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		s.log.Warn("registration with the MGS failed, will retry", zap.Error(err), zap.Duration("retry", wait))
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, 30*s.cfg.RegisterRetry)
	}
}

// applyConfig takes a configuration from the MGS: every OST gets a proxy,
// and persistent parameters are applied to this node's parameters.
func (s *Server) applyConfig(rep *wire.ConfigReadReply) {
	for _, t := range rep.Targets {
		if t.Kind != wire.KindOST {
			continue
		}
		nodes := make([][]lnet.NID, len(t.Nodes))
		for i, n := range t.Nodes {
			nodes[i] = n.NIDs
		}
		s.addOST(t.Index, t.Name, nodes)
	}
	for _, p := range rep.Params {
		k, v, ok := cutParam(p)
		if !ok {
			continue
		}
		if n, err := s.node.Params.Set(k, v); err == nil && n > 0 {
			s.log.Info("persistent parameter applied", zap.String("param", p))
		}
	}
	s.configGen.Store(rep.Gen)
}

// addOST starts the proxy of an OST the MDT does not know yet.
func (s *Server) addOST(idx uint32, name string, nodes [][]lnet.NID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	if d := s.osps[idx]; d != nil {
		if nids := mgc.FailoverNIDs(s.cfg.LNet, nodes); !slices.Equal(nids, d.NIDs()) {
			s.log.Warn("OST NIDs changed; the proxy keeps its import until restart",
				zap.String("ost", name), zap.Stringers("nids", nids))
		}
		return
	}
	nids := mgc.FailoverNIDs(s.cfg.LNet, nodes)
	if len(nids) == 0 {
		s.log.Warn("OST has no NID on a network of this node; ignored", zap.String("ost", name))
		return
	}
	// In recovery, replayed creates may use objects the previous run
	// precreated: the proxy keeps them until recoveryLoop's EndRecovery
	// (under s.mu, so that no proxy misses it).
	cfg := osp.Config{Target: name, Index: idx, MDT: s.name, MDTIndex: s.label.Index, NIDs: nids,
		LNet: s.cfg.LNet, Store: s.store, Logger: s.log.Named("osp"), DeferOrphans: s.Recovering()}
	if s.cfg.OSP != nil {
		s.cfg.OSP(&cfg)
	}
	d, err := osp.New(cfg)
	if err != nil {
		s.log.Error("cannot start the OST proxy", zap.String("ost", name), zap.Error(err))
		return
	}
	s.osps[idx] = d
	s.lod.AddOST(d)
	s.addOSPParamsLocked(d)
	s.log.Info("OST added", zap.String("ost", name), zap.Stringers("nids", nids))
}

// noteLayout is mdd's OnLayout: inside the transaction that stores a
// layout it records, per OST, the highest object layouts use, below which
// the orphan cleanup after a restart destroys nothing.
func (s *Server) noteLayout(t *store.Tx, f wire.FID, blob []byte) error {
	l, err := layout.Decode(blob)
	if err != nil {
		return fmt.Errorf("%w: layout of %v: %w", ErrBadLayout, f, err)
	}
	for i := range l.Components {
		for _, o := range l.Components[i].Stripe.Objects {
			if err := t.NoteOSTUsed(o.OSTIndex, o.FID); err != nil {
				return err
			}
		}
	}
	return nil
}

// queueDestroys is mdd's OnDestroy: inside the transaction that destroys
// a file, it records the file's OST objects for destruction, and after the
// commit wakes the OSTs' destroy jobs.
func (s *Server) queueDestroys(t *store.Tx, f wire.FID, blob []byte) error {
	l, err := layout.Decode(blob)
	if err != nil {
		// Refusing the unlink would keep a file nobody can remove; its
		// objects, if any, leak instead.
		s.log.Error("destroyed file has an unreadable layout; its objects are not destroyed",
			zap.Stringer("fid", f), zap.Error(err))
		return nil
	}
	now := time.Now().UnixNano()
	var osts []uint32
	for i := range l.Components {
		for _, o := range l.Components[i].Stripe.Objects {
			if err := t.AddOSTDestroy(o.OSTIndex, o.FID, store.OSTDestroy{File: f, Time: now}); err != nil {
				return err
			}
			if !slices.Contains(osts, o.OSTIndex) {
				osts = append(osts, o.OSTIndex)
			}
		}
	}
	t.OnCommit(func() {
		for _, idx := range osts {
			if d := s.OSP(idx); d != nil {
				d.Kick()
			}
		}
	})
	return nil
}
