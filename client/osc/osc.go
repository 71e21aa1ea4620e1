package osc

import (
	"context"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/internal/rpcstats"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Defaults and limits (Lustre's osc tunables).
const (
	DefaultMaxRPCsInFlight = 8
	MaxRPCsInFlight        = 256
	DefaultMaxRPCSize      = 4 << 20 // max_pages_per_rpc 1024 of 4 KiB
	MinRPCSize             = 4 << 10
	DefaultMaxDirty        = 64 << 20
	// MaxDirty bounds max_dirty_mb (Lustre caps it at 2000 MiB... and 1/4
	// of RAM; we keep the first).
	MaxDirty = 2000 << 20
	// maxWriteTries is how often a write refused for a bad checksum
	// (EBADMSG) is sent before it fails with EIO.
	maxWriteTries = 4
)

// Config configures an OSC: the client side of one OST.
type Config struct {
	// Target is the OST's name ("stria-OST0001") and Index its index.
	Target string
	Index  uint32
	// NIDs is the failover list: one NID per server that may run the OST.
	NIDs []lnet.NID
	LNet *lnet.LNet
	// ClientUUID names this client to the OST (random if empty).
	ClientUUID string
	Logger     *zap.Logger
	// MaxRPCsInFlight bounds concurrent read and write RPCs (default 8).
	MaxRPCsInFlight int
	// MaxRPCSize is the largest read or write RPC in bytes (default 4 MiB,
	// a multiple of 4 KiB up to wire.MaxIOSize).
	MaxRPCSize int
	// MaxDirty bounds the bytes cached for write-back towards this OST,
	// dirty or in flight (default 64 MiB).
	MaxDirty int64
	// NoChecksums stops verifying the crc32c of read data. Writes always
	// carry one: the OST refuses data whose checksum does not match.
	NoChecksums bool
	// AT, ConnectTimeout, ReconnectBackoff and PingInterval tune the
	// import (ptlrpc's defaults if zero).
	AT               ptlrpc.ATConfig
	ConnectTimeout   time.Duration
	ReconnectBackoff time.Duration
	PingInterval     time.Duration
	// Callbacks is the process's lock callback service; with it the OSC
	// keeps a lock namespace for the OST's extent locks (Locks, Lock),
	// whose hooks are LockHooks. Instance names the mount in the
	// namespace's name; LockLRUSize is its lru_size (0: ldlm's default).
	Callbacks   *ldlm.CallbackServer
	LockHooks   ldlm.Hooks
	Instance    string
	LockLRUSize int
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.LNet == nil:
		return fmt.Errorf("%w: no LNet", ErrBadConfig)
	case c.Target == "":
		return fmt.Errorf("%w: no target name", ErrBadConfig)
	case len(c.NIDs) == 0:
		return fmt.Errorf("%w: %s: no NID", ErrBadConfig, c.Target)
	case c.MaxRPCsInFlight < 0 || c.MaxRPCsInFlight > MaxRPCsInFlight:
		return fmt.Errorf("%w: max_rpcs_in_flight %d", ErrBadConfig, c.MaxRPCsInFlight)
	case c.MaxRPCSize < 0 || c.MaxRPCSize > wire.MaxIOSize || c.MaxRPCSize%MinRPCSize != 0:
		return fmt.Errorf("%w: RPC size %d", ErrBadConfig, c.MaxRPCSize)
	case c.MaxDirty < 0 || c.MaxDirty > MaxDirty:
		return fmt.Errorf("%w: max dirty %d", ErrBadConfig, c.MaxDirty)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.MaxRPCsInFlight == 0 {
		c.MaxRPCsInFlight = DefaultMaxRPCsInFlight
	}
	if c.MaxRPCSize == 0 {
		c.MaxRPCSize = DefaultMaxRPCSize
	}
	if c.MaxDirty == 0 {
		c.MaxDirty = DefaultMaxDirty
	}
	return nil
}

// OSC is the client of one OST (Lustre's osc device): typed OST RPCs over
// one ptlrpc import, the RPCs-in-flight bound, checksums, and the grant and
// dirty-byte accounting of the write-back cache. See the package comment.
type OSC struct {
	cfg   Config
	imp   *ptlrpc.Import
	log   *zap.Logger
	stats *rpcstats.Stats
	rpcs  *limiter
	crc   *crc32.Table

	checksums atomic.Bool
	rpcSize   atomic.Int64
	cksumErrs atomic.Uint64

	mu       sync.Mutex // guards the fields below; a leaf
	grant    int64      // the OST's last word on our grant
	dirty    int64      // bytes cached towards this OST, dirty or in flight
	maxDirty int64
	changed  chan struct{} // closed and replaced when dirty, grant or maxDirty change
	closed   bool

	locks *ldlm.Client // nil without Config.Callbacks
	attrs attrCache    // objects' attributes under whole-object locks
}

// New returns an OSC; Connect starts its import.
func New(cfg Config) (*OSC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{
		Target: cfg.Target, NIDs: cfg.NIDs, LNet: cfg.LNet,
		// The import talks to the "ost" service; reads and writes go to
		// "ost_io" (Req.Portal), so that a slow disk does not hold up
		// statfs, getattr and punch.
		RequestPortal: wire.OSTRequestPortal, ReplyPortal: wire.OSCReplyPortal, BulkPortal: wire.OSTBulkPortal,
		ConnectOpcode: wire.OSTConnect, ClientUUID: cfg.ClientUUID,
		Flags: wire.ConnectGrant | wire.ConnectBRWSize | wire.ConnectCksum | wire.ConnectFID |
			wire.ConnectVersion | wire.ConnectAT | wire.ConnectFull20 | wire.ConnectJobStats |
			wire.ConnectBulkMBits,
		ConnectTimeout: cfg.ConnectTimeout, ReconnectBackoff: cfg.ReconnectBackoff,
		PingInterval: cfg.PingInterval, AT: cfg.AT, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	o := &OSC{
		cfg: cfg, imp: imp, log: cfg.Logger.With(zap.String("target", cfg.Target)),
		stats: rpcstats.New(), rpcs: newLimiter(cfg.MaxRPCsInFlight),
		crc: crc32.MakeTable(crc32.Castagnoli), maxDirty: cfg.MaxDirty, changed: make(chan struct{}),
	}
	o.checksums.Store(!cfg.NoChecksums)
	o.rpcSize.Store(int64(cfg.MaxRPCSize))
	if err := o.newLocks(); err != nil {
		_ = imp.Close()
		return nil, err
	}
	return o, nil
}

// Connect starts the import and waits until it is connected or ctx ends;
// the import keeps trying in the background after an error.
func (o *OSC) Connect(ctx context.Context) error {
	if err := o.imp.Connect(ctx); err != nil {
		return fmt.Errorf("osc: %s: %w", o.cfg.Target, err)
	}
	return nil
}

// Close disconnects and fails what is in progress with ErrClosed. Cached
// data must have been written back before.
func (o *OSC) Close() error {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		o.signalLocked()
	}
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeCancelTimeout)
	o.closeLocks(ctx) // before the import: the cancels go over it
	cancel()
	return o.imp.Close()
}

// closeCancelTimeout bounds the cancels Close sends for the OSC's locks.
const closeCancelTimeout = 2 * time.Second

// Target returns the OST's name, Index its index.
func (o *OSC) Target() string { return o.cfg.Target }

// Index returns the OST's index.
func (o *OSC) Index() uint32 { return o.cfg.Index }

// Info returns the import's state, for `lctl get_param osc.*.import`.
func (o *OSC) Info() ptlrpc.ImportInfo { return o.imp.Info() }

// Stats returns the RPC counters (`osc.*.stats`).
func (o *OSC) Stats() *rpcstats.Stats { return o.stats }

// ChecksumErrors counts read replies whose data failed the checksum.
func (o *OSC) ChecksumErrors() uint64 { return o.cksumErrs.Load() }

// RPCSize returns the largest read or write RPC in bytes.
func (o *OSC) RPCSize() int { return int(o.rpcSize.Load()) }

// SetRPCSize changes the largest RPC (max_pages_per_rpc).
func (o *OSC) SetRPCSize(n int) error {
	if n < MinRPCSize || n > wire.MaxIOSize || n%MinRPCSize != 0 {
		return fmt.Errorf("%w: RPC size %d", ErrBadConfig, n)
	}
	o.rpcSize.Store(int64(n))
	return nil
}

// MaxRPCsInFlight returns the RPCs-in-flight bound.
func (o *OSC) MaxRPCsInFlight() int {
	l, _, _ := o.rpcs.state()
	return l
}

// SetMaxRPCsInFlight changes the bound (1..MaxRPCsInFlight).
func (o *OSC) SetMaxRPCsInFlight(n int) error {
	if n < 1 || n > MaxRPCsInFlight {
		return fmt.Errorf("%w: max_rpcs_in_flight %d", ErrBadConfig, n)
	}
	o.rpcs.setLimit(n)
	return nil
}

// RPCsInFlight returns the read and write RPCs in flight now and the most
// there ever were at once.
func (o *OSC) RPCsInFlight() (now, peak int) {
	_, a, p := o.rpcs.state()
	return a, p
}

// Checksums reports whether read data is verified.
func (o *OSC) Checksums() bool { return o.checksums.Load() }

// SetChecksums turns the verification of read data on or off.
func (o *OSC) SetChecksums(on bool) { o.checksums.Store(on) }

// String names the OSC for logs.
func (o *OSC) String() string { return o.cfg.Target }
