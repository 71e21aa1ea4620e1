package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/lmv"
	"github.com/stria-fs/stria/client/lov"
	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/client/osc"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// FS is a mounted file system: the client side of every target of it. It
// implements client/fusefs.Backend (the assertion lives in test/, which
// may import both). See the package comment.
type FS struct {
	cfg  Config
	log  *zap.Logger
	id   string // per-mount id in device names, as Lustre's superblock address
	uuid string
	node *obd.Node
	own  bool // node is ours to close

	noOpenCache atomic.Bool // llite.*.open_cache=0: close every file on the MDT at once
	mgc         *mgc.Client
	lmv         *lmv.LMV
	root        wire.FID
	// cbs serves the lock callbacks (blocking, completion, glimpse) the
	// targets send this client; the per-target ldlm.Clients register
	// their locks with it. Closed after every import.
	cbs *ldlm.CallbackServer

	ctx    context.Context // the mount's lifetime: write-back, connects, config
	cancel context.CancelFunc
	wg     sync.WaitGroup // background connects

	stats llStats
	bufs  lov.Buffers // extent buffers, shared by the open files' caches
	data  dataLocks   // page-cache invalidation under extent locks (datalock.go)
	md    mdCache     // names cached under inode-bits locks (mdcache.go)

	mu      sync.Mutex // guards the fields below; taken before inode.mu, never across an RPC
	gen     uint64     // configuration generation applied
	osts    map[uint32]*osc.OSC
	targets map[string]wire.TargetEntry // by name, as the MGS described them
	inodes  map[wire.FID]*inode         // open regular files
	files   map[*file]struct{}          // open handles, for Close
	params  bool                        // register ran: new OSCs register themselves
	closed  bool
}

// Mount reads the file system's configuration from the MGS, connects to
// every MDT and OST it names (in parallel, each over its failover list),
// and follows the configuration so that targets added later are used
// without a remount. ctx bounds everything Mount waits for: an MGS that
// does not answer gives an error naming it (mgc.ErrUnreachable), an fsname
// the MGS does not know one saying so (mgc.ErrUnknownFS), an MDT that does
// not connect one naming the MDT. OSTs get at most Config.OSTWait each;
// one still away keeps connecting in the background.
func Mount(ctx context.Context, cfg Config) (*FS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fs := &FS{cfg: cfg, id: fmt.Sprintf("ffff%012x", rand.Uint64()&0xffffffffffff), node: cfg.Node,
		lmv: lmv.New(), osts: map[uint32]*osc.OSC{}, targets: map[string]wire.TargetEntry{},
		inodes: map[wire.FID]*inode{}, files: map[*file]struct{}{}}
	fs.uuid = cfg.ClientUUID
	if fs.uuid == "" {
		fs.uuid = fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rand.Uint32(), rand.Uint32()&0xffff,
			rand.Uint32()&0xffff, rand.Uint32()&0xffff, rand.Uint64()&0xffffffffffff)
	}
	fs.log = cfg.Logger.With(zap.String("fsname", cfg.FSName), zap.String("client", fs.uuid))
	fs.md.log = fs.log
	fs.noOpenCache.Store(cfg.NoOpenCache)
	if fs.node == nil {
		fs.node, fs.own = obd.NewNode(fs.log), true
	}
	fs.ctx, fs.cancel = context.WithCancel(context.Background())
	var err error
	fs.cbs, err = ldlm.StartCallbackServer(fs.ctx, ldlm.CallbackConfig{LNet: cfg.LNet, AT: cfg.AT,
		Logger: fs.log.Named("ldlm_cbd")})
	if err != nil {
		fs.abort()
		return nil, fmt.Errorf("client: mount %s: %w", cfg.FSName, err)
	}
	fs.mgc, err = mgc.New(mgc.Config{LNet: cfg.LNet, MGSNodes: cfg.MGSNodes, ClientUUID: fs.uuid, Logger: cfg.Logger,
		PollInterval: cfg.ConfigPoll, ConnectTimeout: cfg.ConnectTimeout, ReconnectBackoff: cfg.ReconnectBackoff, AT: cfg.AT})
	if err != nil {
		fs.abort()
		return nil, fmt.Errorf("client: mount %s: %w", cfg.FSName, err)
	}
	if err := fs.mount(ctx); err != nil {
		fs.abort()
		return nil, fmt.Errorf("client: mount %s: %w", cfg.FSName, err)
	}
	fs.register()
	fs.log.Info("mounted", zap.String("mount", cfg.MountPoint), zap.Stringer("root", fs.root),
		zap.Int("mdts", len(fs.lmv.All())), zap.Int("osts", len(fs.allOSCs())))
	return fs, nil
}

func (fs *FS) mount(ctx context.Context) error {
	conf, err := fs.mgc.Config(ctx, fs.cfg.FSName)
	if err != nil {
		return err
	}
	fs.apply(conf, false)
	m0, err := fs.lmv.ByIndex(0)
	if err != nil {
		return fmt.Errorf("%w: the configuration from the MGS has none reachable from here", ErrNoMDT)
	}
	// Connect everything in parallel: MDTs within ctx, OSTs within OSTWait.
	var wg sync.WaitGroup
	errs := make(chan error, len(fs.lmv.All()))
	for _, m := range fs.lmv.All() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Connect(ctx); err != nil {
				errs <- err
			}
		}()
	}
	for _, o := range fs.allOSCs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, fs.cfg.OSTWait)
			defer cancel()
			if err := o.Connect(c); err != nil {
				fs.log.Warn("OST not connected yet; I/O to it waits", zap.String("target", o.Target()), zap.Error(err))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	root, err := m0.GetRoot(fs.rpcCtx(ctx))
	if err != nil {
		return err
	}
	for _, name := range splitPath(fs.cfg.SubDir) {
		r, err := m0.GetattrName(fs.rpcCtx(ctx), root, name)
		if err != nil {
			return fmt.Errorf("subdirectory %q: %w", fs.cfg.SubDir, err)
		}
		if r.Attr.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			return fmt.Errorf("subdirectory %q: %w", fs.cfg.SubDir, syscall.ENOTDIR)
		}
		root = r.FID
	}
	fs.root = root
	return fs.mgc.Watch(fs.ctx, fs.cfg.FSName, conf.Gen, func(c *wire.ConfigReadReply) { fs.apply(c, true) })
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(path.Clean("/"+p), "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// apply adds the targets of conf this mount does not know yet; with
// connect, their imports start connecting in the background.
func (fs *FS) apply(conf *wire.ConfigReadReply, connect bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed || conf.Gen <= fs.gen {
		return
	}
	fs.gen = conf.Gen
	for _, t := range conf.Targets {
		if old, ok := fs.targets[t.Name]; ok {
			if !sameNodes(old.Nodes, t.Nodes) {
				fs.log.Warn("target's service nodes changed; the import keeps its failover list until remount",
					zap.String("target", t.Name))
			}
			continue
		}
		nids := fs.failover(t.Nodes)
		if len(nids) == 0 {
			fs.log.Warn("target unreachable: none of its NIDs is on a network of this node",
				zap.String("target", t.Name))
			continue
		}
		switch t.Kind {
		case wire.KindMDT:
			m, err := mdc.New(mdc.Config{Target: t.Name, Index: t.Index, NIDs: nids, LNet: fs.cfg.LNet,
				ClientUUID: fs.uuid, Logger: fs.cfg.Logger, AT: fs.cfg.AT, ConnectTimeout: fs.cfg.ConnectTimeout,
				ReconnectBackoff: fs.cfg.ReconnectBackoff, PingInterval: fs.cfg.PingInterval,
				Callbacks: fs.cbs, LockHooks: ldlm.Hooks{Cancel: fs.md.cancelled, Convert: fs.md.converted}, Intent: fs.intent,
				Naming: fs.md.naming})
			if err != nil || !fs.lmv.Add(m) {
				fs.log.Warn("MDT not added", zap.String("target", t.Name), zap.Error(err))
				continue
			}
			if connect {
				fs.connectLocked(t.Name, m.Connect)
			}
			if fs.params {
				fs.registerMDCLocked(m)
			}
		case wire.KindOST:
			if _, ok := fs.osts[t.Index]; ok {
				continue
			}
			o, err := osc.New(osc.Config{Target: t.Name, Index: t.Index, NIDs: nids, LNet: fs.cfg.LNet,
				ClientUUID: fs.uuid, Logger: fs.cfg.Logger, MaxRPCsInFlight: fs.cfg.MaxRPCsInFlight,
				MaxRPCSize: fs.cfg.MaxRPCSize, MaxDirty: int64(fs.cfg.MaxDirtyMB) << 20,
				NoChecksums: fs.cfg.NoChecksums, AT: fs.cfg.AT, ConnectTimeout: fs.cfg.ConnectTimeout,
				ReconnectBackoff: fs.cfg.ReconnectBackoff, PingInterval: fs.cfg.PingInterval,
				Callbacks: fs.cbs, LockHooks: fs.lockHooks(), Instance: fs.id})
			if err != nil {
				fs.log.Warn("OST not added", zap.String("target", t.Name), zap.Error(err))
				continue
			}
			fs.osts[t.Index] = o
			if connect {
				fs.connectLocked(t.Name, o.Connect)
			}
			if fs.params {
				fs.registerOSCLocked(o)
			}
		default:
			continue
		}
		fs.targets[t.Name] = t
		if connect {
			fs.log.Info("new target in the configuration", zap.String("target", t.Name))
		}
	}
}

// connectLocked connects a new import in the background, owned by fs.
func (fs *FS) connectLocked(name string, connect func(context.Context) error) {
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		if err := connect(fs.ctx); err != nil && fs.ctx.Err() == nil {
			fs.log.Warn("connect failed", zap.String("target", name), zap.Error(err))
		}
	}()
}

// failover is a target's failover list: per service node, the first of
// its NIDs on a network this node has.
func (fs *FS) failover(nodes []wire.ServiceNode) []lnet.NID {
	var out []lnet.NID
	for _, n := range nodes {
		if nid, _, ok := fs.cfg.LNet.PickNID(n.NIDs); ok {
			out = append(out, nid)
		}
	}
	return out
}

func sameNodes(a, b []wire.ServiceNode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].NIDs) != len(b[i].NIDs) {
			return false
		}
		for j := range a[i].NIDs {
			if a[i].NIDs[j] != b[i].NIDs[j] {
				return false
			}
		}
	}
	return true
}

// allOSCs returns the OSCs by index.
func (fs *FS) allOSCs() []*osc.OSC {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.oscsLocked()
}

func (fs *FS) oscsLocked() []*osc.OSC {
	out := make([]*osc.OSC, 0, len(fs.osts))
	for _, o := range fs.osts {
		out = append(out, o)
	}
	sortOSCs(out)
	return out
}

// Target implements lov.Targets: the OSC of OST index ost. An OST the
// configuration does not have yet (the MDT may use an OST that registered
// after the last poll) makes it read the configuration once.
func (fs *FS) Target(ctx context.Context, ost uint32) (lov.Target, error) {
	for try := 0; ; try++ {
		fs.mu.Lock()
		o, ok := fs.osts[ost]
		closed := fs.closed
		fs.mu.Unlock()
		switch {
		case ok:
			return o, nil
		case closed:
			return nil, errClosed
		case try > 0:
			return nil, fmt.Errorf("%w: OST%04x is not in the configuration (%w)", ErrNoOST, ost, syscall.EIO)
		}
		conf, err := fs.mgc.Config(ctx, fs.cfg.FSName)
		if err != nil {
			return nil, fmt.Errorf("%w: OST%04x: reading the configuration: %w", ErrNoOST, ost, err)
		}
		fs.apply(conf, true)
	}
}

// pressure is lov's hook when a writer waits for cache space towards an
// OST: every open file writes back what it caches for that OST.
func (fs *FS) pressure(ost uint32) {
	fs.mu.Lock()
	var caches []*lov.Cache
	for _, in := range fs.inodes {
		if c := in.cacheIfAny(); c != nil {
			caches = append(caches, c)
		}
	}
	fs.mu.Unlock()
	for _, c := range caches {
		c.WritebackOST(ost)
	}
}

// rpcCtx puts the caller's credentials (client.WithCreds) into ctx for
// ptlrpc: fsuid and fsgid are the uid and gid.
func (fs *FS) rpcCtx(ctx context.Context) context.Context {
	c := CredsFrom(ctx)
	return ptlrpc.WithCreds(ctx, ptlrpc.Creds{UID: c.UID, GID: c.GID, FSUID: c.UID, FSGID: c.GID, JobID: c.JobID})
}

// begin starts an operation: ErrClosed after Close, else ctx with creds.
func (fs *FS) begin(ctx context.Context) (context.Context, error) {
	fs.mu.Lock()
	closed := fs.closed
	fs.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	return fs.rpcCtx(ctx), nil
}

// Root returns the FID of the mounted directory (the file system's root,
// or Config.SubDir).
func (fs *FS) Root() wire.FID { return fs.root }

// Close unmounts: it writes back every open file's dirty data (bounded by
// ctx), closes the handles still open on the MDT, stops following the
// configuration, disconnects from every target and waits for every
// goroutine the FS started. It returns the first write-back error.
func (fs *FS) Close(ctx context.Context) error {
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return nil
	}
	files := make([]*file, 0, len(fs.files))
	for f := range fs.files {
		files = append(files, f)
	}
	fs.mu.Unlock()
	var first error
	for _, f := range files {
		if err := f.release(ctx); err != nil && first == nil {
			first = err
		}
	}
	fs.mu.Lock()
	fs.closed = true
	fs.md.unmount.Store(true)
	inodes := make([]*inode, 0, len(fs.inodes))
	for _, in := range fs.inodes {
		inodes = append(inodes, in)
	}
	fs.mu.Unlock()
	for _, in := range inodes {
		if err := in.close(ctx); err != nil && first == nil {
			first = err
		}
	}
	fs.unregister()
	fs.abort()
	fs.log.Info("unmounted", zap.String("mount", fs.cfg.MountPoint))
	return first
}

// abort stops everything without writing anything back: the config watch,
// background connects, and every import.
func (fs *FS) abort() {
	fs.mu.Lock()
	fs.closed = true
	fs.mu.Unlock()
	if fs.mgc != nil {
		_ = fs.mgc.Close()
	}
	fs.cancel()
	fs.wg.Wait()
	for _, m := range fs.lmv.All() {
		_ = m.Close()
	}
	for _, o := range fs.allOSCs() {
		_ = o.Close()
	}
	if fs.cbs != nil {
		fs.cbs.Close()
	}
	if fs.own {
		_ = fs.node.Close()
	}
}
