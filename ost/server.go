package ost

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ost/grant"
	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Service names, as Lustre's OSS services.
const (
	ServiceOST   = "ost"
	ServiceOSTIO = "ost_io"
)

// Server is an OSS: the OSTs of one process, served by the "ost" and
// "ost_io" services. See the package documentation.
type Server struct {
	cfg    Config
	log    *zap.Logger
	node   *obd.Node
	fsname string

	targets []*target
	svcs    []*ptlrpc.Service // "ost", "ost_io"
	pool    bufPool
	fail    failPoints
	crc     *crc32.Table // Castagnoli
	params  bool         // addParams ran

	ctx        context.Context // cancelled by Close
	cancel     context.CancelFunc
	wg         sync.WaitGroup // the maintenance and registration loops
	registered chan struct{}  // closed once every target registered or was refused
	register   RegisterFunc   // nil: registration disabled
	mgc        *mgc.Client    // the MGS client register uses, if the server made it
	regMu      sync.Mutex     // guards regErrs
	regErrs    []error        // refusals by the MGS
	closeOnce  sync.Once
	closeErr   error
	closing    atomic.Bool
}

// target is one OST: its store, its ptlrpc target and its accounting.
type target struct {
	srv    *Server
	name   string // "FSNAME-OST0000"
	label  osd.Label
	params []string // the label's parameters for the MGS (capacity removed)
	store  osd.Store
	ptl    *ptlrpc.Target
	grants *grant.Grants
	ns     *ldlm.Namespace // the target's extent locks
	stats  opStats
	log    *zap.Logger

	registered atomic.Bool // the MGS took the registration
	regDone    atomic.Bool // registered, or refused for good

	// grantMu orders the Connect hook, grant handouts and the release of
	// departed clients' grants; holders are the clients given grant. It is
	// a leaf apart from grant.Grants' own lock, taken inside it.
	grantMu sync.Mutex
	holders map[string]struct{}
}

// Start opens every OST in cfg.Dirs, starts the services and returns a
// serving Server. Targets register with the MGS in the background; Start
// does not wait for it (see WaitRegistered).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, node: cfg.Node, registered: make(chan struct{}),
		crc: crc32.MakeTable(crc32.Castagnoli)}
	if s.node == nil {
		s.node = obd.NewNode(cfg.Logger)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.openTargets(); err != nil {
		s.cancel()
		return nil, err
	}
	if err := s.startServices(ctx); err != nil {
		s.shutdown()
		return nil, err
	}
	for _, t := range s.targets {
		t.refreshAvail(ctx)
	}
	s.addParams()
	if err := s.startRegistration(); err != nil {
		s.shutdown()
		return nil, err
	}
	s.wg.Add(1)
	go s.maintain()
	names := make([]string, len(s.targets))
	for i, t := range s.targets {
		names[i] = t.name
	}
	s.log.Info("OSS started", zap.Strings("targets", names), zap.Stringers("nids", cfg.LNet.NIDs()),
		zap.Int("threads", cfg.Threads), zap.Int("io_threads", cfg.IOThreads))
	return s, nil
}

// openTargets opens each directory's store and checks that they form one
// file system with distinct indexes.
func (s *Server) openTargets() error {
	s.fsname = s.cfg.FSName
	byIndex := map[uint32]string{}
	for _, dir := range s.cfg.Dirs {
		t, err := s.openTarget(dir, byIndex)
		if err != nil {
			s.closeStores()
			return err
		}
		s.targets = append(s.targets, t)
	}
	return nil
}

func (s *Server) openTarget(dir string, byIndex map[uint32]string) (*target, error) {
	l, err := osd.ReadLabel(dir)
	if errors.Is(err, osd.ErrNotFormatted) {
		return nil, fmt.Errorf("%w: %s (format it first): %w", ErrNotFormatted, dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("ost: %s: %w", dir, err)
	}
	if s.fsname == "" {
		s.fsname = l.FSName
	}
	if l.FSName != s.fsname {
		return nil, fmt.Errorf("%w: %s holds %s of file system %q, this server serves %q",
			ErrWrongFS, dir, l.Name(), l.FSName, s.fsname)
	}
	if other, dup := byIndex[l.Index]; dup {
		return nil, fmt.Errorf("%w: %s in %s and %s", ErrDuplicate, l.Name(), other, dir)
	}
	byIndex[l.Index] = dir
	capacity, params, err := labelCapacity(l)
	if err != nil {
		return nil, err
	}
	if s.cfg.Capacity > 0 {
		capacity = s.cfg.Capacity
	}
	log := s.log.With(zap.String("target", l.Name()))
	store, err := osd.OpenDir(dir, osd.Options{Logger: s.log, Capacity: capacity, MaxOpenFiles: s.cfg.MaxOpenFiles})
	if err != nil {
		return nil, fmt.Errorf("ost: open %s: %w", dir, err)
	}
	g, err := grant.New(s.cfg.Grant)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	t := &target{srv: s, name: l.Name(), label: l, params: params, store: store, grants: g, log: log,
		holders: map[string]struct{}{}}
	t.stats.clear()
	if t.ns, err = t.newNamespace(); err != nil {
		store.Close()
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	t.ptl, err = ptlrpc.NewTarget(ptlrpc.TargetConfig{
		Name: t.name, Handlers: t.handlers(), Connect: t.connect, Flags: supportedFlags, Errnos: errnos(),
	})
	if err != nil {
		t.ns.Close()
		store.Close()
		return nil, err
	}
	return t, nil
}

// supportedFlags are the connect flags an OST grants.
const supportedFlags = wire.ConnectIndex | wire.ConnectMDS | wire.ConnectGrant | wire.ConnectSrvLock |
	wire.ConnectVersion | wire.ConnectBRWSize | wire.ConnectAT | wire.ConnectCksum | wire.ConnectFID |
	wire.ConnectFull20 | wire.ConnectJobStats | wire.ConnectPingless | wire.ConnectBulkMBits

// startServices starts "ost" and "ost_io", both serving every target and
// every opcode (clients whose imports have one request portal use either).
func (s *Server) startServices(ctx context.Context) error {
	for _, sc := range []struct {
		name    string
		portal  uint32
		threads int
	}{{ServiceOST, wire.OSTRequestPortal, s.cfg.Threads}, {ServiceOSTIO, wire.OSTIOPortal, s.cfg.IOThreads}} {
		svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{
			Name: sc.name, LNet: s.cfg.LNet, Portal: sc.portal, ReplyPortal: wire.OSCReplyPortal,
			BulkPortal: wire.OSTBulkPortal, Threads: sc.threads, AT: s.cfg.AT, Logger: s.log,
		})
		if err != nil {
			return err
		}
		s.svcs = append(s.svcs, svc) // Close of a service never started is a no-op
		for _, t := range s.targets {
			if err := svc.AddTarget(t.ptl); err != nil {
				return err
			}
		}
		if err := svc.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the services (requests in progress see their context
// cancelled and finish), stops the background loops, removes the
// parameters and devices and closes the stores. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.log.Info("OSS stopping", zap.String("fsname", s.fsname))
		s.closeErr = s.shutdown()
	})
	return s.closeErr
}

func (s *Server) shutdown() error {
	s.closing.Store(true)
	s.cancel()
	for _, svc := range s.svcs {
		svc.Close()
	}
	s.wg.Wait()
	s.removeParams()
	var errs []error
	if s.mgc != nil {
		if err := s.mgc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("ost: close the MGS client: %w", err))
		}
	}
	return errors.Join(append(errs, s.closeStores())...)
}

func (s *Server) closeStores() error {
	var errs []error
	for _, t := range s.targets {
		t.ns.Close() // after the services: no enqueue comes in any more
		if err := t.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("ost: close %s: %w", t.name, err))
		}
	}
	return errors.Join(errs...)
}

// Node returns the obd node the server's parameters and devices are in.
func (s *Server) Node() *obd.Node { return s.node }

// FSName returns the file system the server's targets belong to.
func (s *Server) FSName() string { return s.fsname }

// Targets returns the names of the served OSTs, in Config.Dirs order.
func (s *Server) Targets() []string {
	out := make([]string, len(s.targets))
	for i, t := range s.targets {
		out[i] = t.name
	}
	return out
}

// SetFailLoc arms a fail point as `lctl set_param fail_loc=loc fail_val=val`
// does (loc 0 disarms).
func (s *Server) SetFailLoc(loc, val uint32) { s.fail.set(loc, val) }

// ServiceStats returns the "ost" and "ost_io" services' counters.
func (s *Server) ServiceStats() []ptlrpc.ServiceStats {
	out := make([]ptlrpc.ServiceStats, len(s.svcs))
	for i, svc := range s.svcs {
		out[i] = svc.Stats()
	}
	return out
}

// maintain refreshes every target's free space for grant accounting,
// evicts silent clients, and releases the grants of clients that are no
// longer connected.
func (s *Server) maintain() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.StatFSInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			for _, t := range s.targets {
				t.refreshAvail(s.ctx)
				if s.cfg.EvictIdle > 0 {
					t.evictIdle(s.cfg.EvictIdle)
				}
				t.reconcileGrants()
			}
		}
	}
}

// evictIdle evicts the clients silent for longer than idle (their grants
// go in the reconcileGrants that follows).
func (t *target) evictIdle(idle time.Duration) {
	for _, c := range t.ptl.EvictIdle(idle) {
		t.log.Warn("haven't heard from client in too long: I think it's dead, and I am evicting it",
			zap.String("client", c), zap.Duration("idle", idle))
		t.ns.EvictClient(c)
	}
}

// refreshAvail feeds the store's available space to grant accounting.
func (t *target) refreshAvail(ctx context.Context) {
	st, err := t.store.StatFS(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Warn("statfs failed", zap.Error(err))
		}
		return
	}
	t.grants.SetAvail(st.Avail)
}

// connect is the target's ptlrpc Connect hook. A client that comes back
// with a new export (not a reconnect of its old one) starts with no grant,
// as its old export's grant died with it.
func (t *target) connect(_ context.Context, exp *ptlrpc.Export, req *wire.ConnectRequest, reconnect bool) error {
	if t.srv.closing.Load() {
		return syscall.ESHUTDOWN
	}
	if !reconnect {
		t.ns.EvictClient(req.ClientUUID) // the locks of its previous export died with it
		t.grantMu.Lock()
		if n := t.grants.Release(req.ClientUUID); n > 0 {
			t.log.Debug("grant of a previous connection released", zap.String("client", req.ClientUUID), zap.Int64("grant", n))
		}
		delete(t.holders, req.ClientUUID)
		t.grantMu.Unlock()
	}
	if req.Flags&wire.ConnectMDS != 0 {
		t.log.Info("received MDS connection", zap.String("client", req.ClientUUID),
			zap.Stringer("nid", exp.Peer().NID), zap.Bool("reconnect", reconnect))
	}
	return nil
}

// giveGrant hands client up to want more bytes of grant and returns its
// grant now.
func (t *target) giveGrant(client string, want uint64) uint64 {
	t.grantMu.Lock()
	defer t.grantMu.Unlock()
	if want > 0 {
		if n := t.grants.Grant(client, int64(min(want, 1<<62))); n > 0 {
			t.holders[client] = struct{}{}
		}
	}
	return uint64(t.grants.Granted(client))
}

// reconcileGrants releases the grant of every client that has no export
// any more (disconnected or evicted): ptlrpc has no callback for those.
func (t *target) reconcileGrants() {
	t.grantMu.Lock()
	defer t.grantMu.Unlock()
	if len(t.holders) == 0 {
		return
	}
	live := map[string]bool{}
	for _, e := range t.ptl.Exports() {
		live[e.ClientUUID] = true
	}
	for c := range t.holders {
		if !live[c] {
			n := t.grants.Release(c)
			delete(t.holders, c)
			t.log.Debug("grant of a departed client released", zap.String("client", c), zap.Int64("grant", n))
		}
	}
}
