package osp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/layout/qos"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Config configures the proxy of one OST.
type Config struct {
	// Target is the OST's name ("testfs-OST0001") and Index its index.
	Target string
	Index  uint32
	// MDT is this MDT's name ("testfs-MDT0000") and MDTIndex its index,
	// which precreate requests carry.
	MDT      string
	MDTIndex uint32
	// NIDs are the OST's NIDs, one per server that may serve it.
	NIDs []lnet.NID
	LNet *lnet.LNet
	// Store holds the destroy queue.
	Store  *store.Store
	Logger *zap.Logger

	// MinBatch and MaxBatch bound the precreate batch (defaults 256, 4096):
	// each batch costs the OST a sync of its object directories.
	MinBatch, MaxBatch int
	// CreateTimeout bounds Alloc's wait for an object (default 10 s).
	CreateTimeout time.Duration
	// RPCTimeout bounds one precreate, destroy or statfs call, the wait for
	// a connection included (default 10 s).
	RPCTimeout time.Duration
	// StatfsInterval is the statfs polling period (default 5 s).
	StatfsInterval time.Duration
	// RetryInterval is the first pause after a failed precreate or destroy
	// round; it doubles up to 32 times that (default 1 s).
	RetryInterval time.Duration
	// DestroyBatch bounds the destroys of one round (default 256);
	// DestroyParallel the destroy RPCs in flight (default 8).
	DestroyBatch, DestroyParallel int
	// Import, if set, adjusts the import's configuration (tests shorten
	// its timeouts).
	Import func(*ptlrpc.ImportConfig)
	// DeferOrphans: the device starts while its MDT is in recovery, and
	// creates replayed by clients may use objects the previous run
	// precreated. At the first connection the device then destroys
	// nothing: it reads the OST's LAST_ID and keeps the range of possible
	// orphans until EndRecovery, which queues the objects of the range no
	// Claim kept for destroy (see the package documentation).
	DeferOrphans bool
}

// Validate checks cfg and fills defaults.
func (c *Config) Validate() error {
	switch {
	case c.Target == "":
		return fmt.Errorf("%w: no target name", ErrBadConfig)
	case c.LNet == nil || c.Store == nil:
		return fmt.Errorf("%w: %s: LNet and Store are required", ErrBadConfig, c.Target)
	case len(c.NIDs) == 0:
		return fmt.Errorf("%w: %s: no NIDs", ErrBadConfig, c.Target)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.MinBatch <= 0 {
		c.MinBatch = 256
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 4096
	}
	if c.MaxBatch < c.MinBatch || c.MaxBatch > wire.MaxPrecreate {
		return fmt.Errorf("%w: %s: batch %d..%d", ErrBadConfig, c.Target, c.MinBatch, c.MaxBatch)
	}
	if c.CreateTimeout <= 0 {
		c.CreateTimeout = 10 * time.Second
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = 10 * time.Second
	}
	if c.StatfsInterval <= 0 {
		c.StatfsInterval = 5 * time.Second
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = time.Second
	}
	if c.DestroyBatch <= 0 {
		c.DestroyBatch = 256
	}
	if c.DestroyParallel <= 0 {
		c.DestroyParallel = 8
	}
	return nil
}

// objRange is a run of precreated objects: oids [next, end) of seq.
type objRange struct {
	seq       uint64
	next, end uint64
}

// Device is the proxy of one OST. Its methods are safe for concurrent use.
type Device struct {
	cfg  Config
	log  *zap.Logger
	imp  *ptlrpc.Import
	name string

	ctx         context.Context // cancelled by Close
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	kickCreate  chan struct{}
	kickDestroy chan struct{}
	ready       chan struct{} // closed at the first statfs answer
	readyOnce   sync.Once
	closeOnce   sync.Once

	mu         sync.Mutex // leaf lock: guards everything below
	pool       []objRange
	avail      int
	batch      int
	refilled   chan struct{} // closed and replaced when the pool grows or precreation fails
	starved    bool          // a creator found the pool empty since the last refill
	lastRefill time.Time
	createErr  error    // the last precreate's error; nil once one succeeded
	lastID     wire.FID // the highest object precreated
	statfs     wire.StatFS
	statfsAt   time.Time // when statfs was last answered; zero: never
	statfsErr  error

	// The recovery mode (Config.DeferOrphans, recovery.go).
	recovering  bool                  // DeferOrphans and EndRecovery not called yet
	claimed     map[wire.FID]struct{} // objects of replayed creates; nil once recovery ended
	rangeKnown  bool                  // orphanRange was read at the first connection, in recovery
	orphanRange orphanRange
	sweep       *orphanSweep // handed by EndRecovery to the destroy job; nil once queued

	created, allocated, precreates atomic.Uint64
	destroyed, destroyErrs         atomic.Uint64
	orphans                        atomic.Uint64 // destroyed by the orphan cleanup
	orphansQueued                  atomic.Uint64 // queued for destroy by the recovery-time cleanup
	destroysInFlight               atomic.Int64
	pendingDestroys                atomic.Int64
}

// New starts the proxy: the import connects in the background, the pool
// fills, statfs polling and the destroy job start.
func New(cfg Config) (*Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	icfg := ptlrpc.ImportConfig{
		Target: cfg.Target, NIDs: cfg.NIDs, LNet: cfg.LNet,
		RequestPortal: wire.OSTRequestPortal, ReplyPortal: wire.OSCReplyPortal, BulkPortal: wire.OSTBulkPortal,
		ConnectOpcode: wire.OSTConnect, ClientUUID: cfg.MDT + "-mdtlov_UUID", Flags: wire.ConnectMDS,
		Logger: cfg.Logger.Named("osp"),
	}
	if cfg.Import != nil {
		cfg.Import(&icfg)
	}
	imp, err := ptlrpc.NewImport(icfg)
	if err != nil {
		return nil, fmt.Errorf("osp %s: %w", cfg.Target, err)
	}
	d := &Device{
		cfg: cfg, imp: imp, name: DeviceName(cfg.Target, cfg.MDTIndex),
		kickCreate: make(chan struct{}, 1), kickDestroy: make(chan struct{}, 1), ready: make(chan struct{}),
		batch: cfg.MinBatch, refilled: make(chan struct{}),
		recovering: cfg.DeferOrphans,
	}
	if cfg.DeferOrphans {
		d.claimed = map[wire.FID]struct{}{}
	}
	d.log = cfg.Logger.With(zap.String("target", d.name))
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(3)
	go d.precreator()
	go d.statfser()
	go d.destroyer()
	return d, nil
}

// DeviceName is the osp device name of OST target on MDT mdtIndex, as
// Lustre names it: "testfs-OST0001-osc-MDT0000".
func DeviceName(target string, mdtIndex uint32) string {
	return fmt.Sprintf("%s-osc-MDT%04x", target, mdtIndex)
}

// Name returns the device name.
func (d *Device) Name() string { return d.name }

// Index returns the OST index.
func (d *Device) Index() uint32 { return d.cfg.Index }

// Target returns the OST's target name.
func (d *Device) Target() string { return d.cfg.Target }

// NIDs returns the OST's NIDs the import was made with.
func (d *Device) NIDs() []lnet.NID { return append([]lnet.NID(nil), d.cfg.NIDs...) }

// Ready is closed once the OST first answered a statfs.
func (d *Device) Ready() <-chan struct{} { return d.ready }

// Close stops the background jobs and closes the import. Objects still in
// the pool are forgotten (see the package documentation).
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		d.wg.Wait()
		_ = d.imp.Close()
	})
	return nil
}

// unavailable are the OST states that keep new objects off an OST.
const unavailable = wire.StateDegraded | wire.StateNoCreate | wire.StateReadOnly | wire.StateNoSpace

// QOS returns what the OST picker needs: free and total space, and whether
// the OST takes new objects now.
func (d *Device) QOS() qos.OST {
	connected := d.imp.State() == ptlrpc.StateFull
	d.mu.Lock()
	defer d.mu.Unlock()
	fresh := !d.statfsAt.IsZero() && d.statfsErr == nil && time.Since(d.statfsAt) < 3*d.cfg.StatfsInterval+d.cfg.RPCTimeout
	bs := uint64(d.statfs.BSize)
	return qos.OST{
		Index: d.cfg.Index,
		Free:  d.statfs.BAvail * bs,
		Total: d.statfs.Blocks * bs,
		Avail: connected && fresh && d.statfs.State&unavailable == 0 && (d.avail > 0 || d.createErr == nil),
		// The primary server: round-robin spreads files over OSSs.
		Server: d.cfg.NIDs[0].String(),
	}
}

// Info is a snapshot of the device for parameters and `lctl dl`.
type Info struct {
	Name, Target string
	Index        uint32
	State        ptlrpc.State
	Active       bool
	// PreallocNextID is the next object Alloc hands out (zero when the
	// pool is empty), PreallocLastID the highest precreated one.
	PreallocNextID, PreallocLastID wire.FID
	PreallocCount                  int   // objects in the pool
	CreateCount                    int   // the current precreate batch
	PreallocStatus                 int32 // 0, or the negative errno of the last failed precreate
	Created, Allocated, Precreates uint64
	DestroysInFlight               int64
	PendingDestroys                int64 // at the last scan of the queue (at most DestroyBatch)
	Destroyed, DestroyErrors       uint64
	OrphansDestroyed               uint64 // by the orphan cleanup at the first connection
	OrphansQueued                  uint64 // by the recovery-time cleanup (Config.DeferOrphans) at EndRecovery
	StatFS                         wire.StatFS
	StatFSAge                      time.Duration // -1 if never answered
}

// Info returns a snapshot of the device.
func (d *Device) Info() Info {
	q := d.QOS()
	in := Info{Name: d.name, Target: d.cfg.Target, Index: d.cfg.Index, State: d.imp.State(), Active: q.Avail,
		Created: d.created.Load(), Allocated: d.allocated.Load(), Precreates: d.precreates.Load(),
		DestroysInFlight: d.destroysInFlight.Load(), PendingDestroys: d.pendingDestroys.Load(),
		Destroyed: d.destroyed.Load(), DestroyErrors: d.destroyErrs.Load(), OrphansDestroyed: d.orphans.Load(),
		OrphansQueued: d.orphansQueued.Load()}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pool) > 0 {
		in.PreallocNextID = wire.FID{Seq: d.pool[0].seq, Oid: uint32(d.pool[0].next)}
	}
	in.PreallocLastID, in.PreallocCount, in.CreateCount = d.lastID, d.avail, d.batch
	if d.createErr != nil {
		in.PreallocStatus = -int32(wire.ErrnoOf(d.createErr))
	}
	in.StatFS, in.StatFSAge = d.statfs, -1
	if !d.statfsAt.IsZero() {
		in.StatFSAge = time.Since(d.statfsAt)
	}
	return in
}

// Import returns the device's import (for `lctl get_param osp.*.import`).
func (d *Device) Import() *ptlrpc.Import { return d.imp }

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sleep waits d or until the device closes; false when it closed.
func (d *Device) sleep(wait time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-d.ctx.Done():
		return false
	}
	return true
}
