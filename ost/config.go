package ost

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ost/grant"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// DefaultEvictIdle is Config.EvictIdle's default.
const DefaultEvictIdle = 150 * time.Second

// RegisterFunc registers one target with the MGS (MGS_TARGET_REG). It is
// how the server reaches the MGS client (package mgc) without knowing it;
// tests give a fake.
type RegisterFunc func(ctx context.Context, req wire.TargetRegRequest) error

// Config is an OSS: the OSTs it serves and how.
type Config struct {
	// Dirs are the formatted OST directories this server serves (at least
	// one). They must all belong to one file system.
	Dirs []string
	// FSName, if set, is the file system every target must belong to.
	FSName string
	// LNet is the process's LNet instance; the services listen on it.
	LNet *lnet.LNet
	// Node is the process's obd node (parameters, `lctl dl`); nil gives
	// the server a private one (Server.Node).
	Node   *obd.Node
	Logger *zap.Logger

	// Threads is the number of handler goroutines of the "ost" service
	// (create, destroy, getattr, setattr, punch, statfs, sync; default 8).
	Threads int
	// IOThreads is the number of handler goroutines of the "ost_io"
	// service (read, write; default 2*GOMAXPROCS). Each holds at most one
	// bulk buffer of up to wire.MaxIOSize.
	IOThreads int
	// AT are the services' adaptive timeout settings (Lustre's if zero).
	AT ptlrpc.ATConfig

	// MGSNodes overrides the MGS failover list recorded at format time
	// (nil: the label's). With no MGS nodes at all, targets do not
	// register (tests, or a configuration made by hand).
	MGSNodes [][]lnet.NID
	// Register sends MGS_TARGET_REG; nil means an MGS client (package
	// mgc) of the MGS nodes, which the server owns. Registration failures
	// are retried in the background while the targets serve.
	Register RegisterFunc
	// RegisterRetry is the first pause between registration attempts
	// (default 1 s); it doubles after each failure up to 30 times itself.
	// One attempt lasts at most ten times it; it is the MGS client's
	// reconnect back-off, and ten times it (at most 5 s) its connect
	// timeout.
	RegisterRetry time.Duration

	// Capacity overrides every target's recorded capacity cap in bytes
	// (0: the label's; see FormatOptions.Capacity).
	Capacity int64
	// MaxOpenFiles bounds each store's cache of open objects (0: osd's
	// default).
	MaxOpenFiles int
	// Grant tunes grant accounting (zero: Lustre's defaults).
	Grant grant.Config
	// EvictIdle is how long a client may stay silent (no request, not even
	// a ping) before it is evicted and its grant released: Lustre's ping
	// evictor (default 150 s, 1.5 times obd_timeout; clients ping every
	// 25 s). Negative disables eviction.
	EvictIdle time.Duration
	// StatFSInterval is how often each target's free space is refreshed
	// for grant accounting and departed clients' grants are released
	// (default 1 s). Every write refreshes its target's free space too.
	StatFSInterval time.Duration
	// ASTTimeout is how long a client has to answer a lock callback
	// (Lustre's ldlm_timeout, 20 s for OSTs) and CancelTimeout how long
	// it then has to cancel the lock (100 s); one that misses either is
	// evicted. Zero: those defaults.
	ASTTimeout, CancelTimeout time.Duration
}

// Validate checks cfg and fills defaults.
func (c *Config) Validate() error {
	switch {
	case len(c.Dirs) == 0:
		return fmt.Errorf("%w: no OST directory", ErrConfig)
	case c.LNet == nil:
		return fmt.Errorf("%w: no LNet", ErrConfig)
	case c.Threads < 0 || c.IOThreads < 0:
		return fmt.Errorf("%w: negative thread count", ErrConfig)
	case c.Capacity < 0 || c.MaxOpenFiles < 0:
		return fmt.Errorf("%w: negative capacity or open file limit", ErrConfig)
	case c.RegisterRetry < 0 || c.StatFSInterval < 0 || c.ASTTimeout < 0 || c.CancelTimeout < 0:
		return fmt.Errorf("%w: negative interval", ErrConfig)
	}
	if err := checkNodes("mgsnode", c.MGSNodes); err != nil {
		return err
	}
	if err := c.Grant.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Threads == 0 {
		c.Threads = 8
	}
	if c.IOThreads == 0 {
		c.IOThreads = 2 * runtime.GOMAXPROCS(0)
	}
	if c.RegisterRetry == 0 {
		c.RegisterRetry = time.Second
	}
	if c.EvictIdle == 0 {
		c.EvictIdle = DefaultEvictIdle
	}
	if c.StatFSInterval == 0 {
		c.StatFSInterval = time.Second
	}
	return nil
}
