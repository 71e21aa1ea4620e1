package mdc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/internal/rpcstats"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Config configures an MDC: the client side of one MDT.
type Config struct {
	// Target is the MDT's name ("stria-MDT0000") and Index its index.
	Target string
	Index  uint32
	// NIDs is the failover list: one NID per server that may run the MDT.
	NIDs []lnet.NID
	LNet *lnet.LNet
	// ClientUUID names this client to the MDT (random if empty).
	ClientUUID string
	Logger     *zap.Logger
	// AT, ConnectTimeout, ReconnectBackoff and PingInterval tune the
	// import (ptlrpc's defaults if zero).
	AT               ptlrpc.ATConfig
	ConnectTimeout   time.Duration
	ReconnectBackoff time.Duration
	PingInterval     time.Duration
	// Callbacks is the process's lock callback service; with it the MDC
	// has a lock namespace (Locks, Flock), whose hooks are LockHooks.
	Callbacks *ldlm.CallbackServer
	LockHooks ldlm.Hooks
	// Intent, if set, receives every intent lock the MDT grants
	// (GetattrName, Open of a name: Lustre's IT_LOOKUP and IT_OPEN) with
	// the reply read under it, the name it was asked for, the MDT
	// instance the request went to (Incarnation), and a reference the
	// MDC drops when Intent returns: cached, or cancelled if Intent
	// returns false. A lookup of a name that does not exist may come with
	// a lock too: r's FID is then zero and l is a PR plain lock on the
	// name's slot (wire.NameSlot), which covers its absence, or on the
	// directory's names (wire.DirNames); GetattrName then returns ENOENT.
	Intent func(m *MDC, parent wire.FID, name string, r *wire.InodeReply, l *ldlm.Lock, inc uint64) bool
	// Naming, if set, is called before a request that may make name in
	// parent is sent: a create, an open with O_CREAT, a link, a rename
	// (with its target). The function it returns is called with the
	// request's outcome.
	Naming func(parent wire.FID, name string) (done func(error))
}

// naming calls Config.Naming; the function it returns takes the outcome.
func (m *MDC) naming(parent wire.FID, name string) func(error) {
	if m.cfg.Naming == nil {
		return func(error) {}
	}
	if done := m.cfg.Naming(parent, name); done != nil {
		return done
	}
	return func(error) {}
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
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// MDC is the client of one MDT (Lustre's mdc device): one typed method per
// metadata RPC over one ptlrpc import. Modifying requests are Replayable:
// ptlrpc keeps them until the MDT's last_committed passes them and
// replays them after a restart.
type MDC struct {
	cfg   Config
	imp   *ptlrpc.Import
	log   *zap.Logger
	stats *rpcstats.Stats
	locks *ldlm.Client // nil without Config.Callbacks

	// opens are the open requests kept for replay (ptlrpc.Kept), by
	// the file and handle their replies gave, until CloseFile.
	openMu sync.Mutex
	opens  map[openKey]keptOpen

	heard atomic.Int64 // when the MDT last answered a request (ns since the epoch)
}

// Heard returns when the MDT last answered a request of this MDC (an
// error it sent included).
func (m *MDC) Heard() time.Time { return time.Unix(0, m.heard.Load()) }

// openKey names an open handle of the MDT.
type openKey struct {
	fid    wire.FID
	handle uint64
}

// New returns an MDC; Connect starts its import.
func New(cfg Config) (*MDC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{
		Target: cfg.Target, NIDs: cfg.NIDs, LNet: cfg.LNet,
		RequestPortal: wire.MDSRequestPortal, ReplyPortal: wire.MDCReplyPortal, BulkPortal: wire.MDSBulkPortal,
		ConnectOpcode: wire.MDSConnect, ClientUUID: cfg.ClientUUID,
		Flags: wire.ConnectIBits | wire.ConnectXattr | wire.ConnectFID | wire.ConnectVersion | wire.ConnectAT |
			wire.ConnectFull20 | wire.Connect64BitHash | wire.ConnectJobStats | wire.ConnectTransno |
			wire.ConnectLayoutLock | wire.ConnectVBR,
		ConnectTimeout: cfg.ConnectTimeout, ReconnectBackoff: cfg.ReconnectBackoff,
		PingInterval: cfg.PingInterval, AT: cfg.AT, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	m := &MDC{cfg: cfg, imp: imp, log: cfg.Logger.With(zap.String("target", cfg.Target)),
		stats: rpcstats.New(), opens: map[openKey]keptOpen{}}
	if err := m.newLocks(); err != nil {
		_ = imp.Close()
		return nil, err
	}
	return m, nil
}

// Connect starts the import and waits until it is connected or ctx ends;
// the import keeps trying in the background after an error.
func (m *MDC) Connect(ctx context.Context) error {
	if err := m.imp.Connect(ctx); err != nil {
		return fmt.Errorf("mdc: %s: %w", m.cfg.Target, err)
	}
	return nil
}

// Close cancels the MDC's locks (best effort), disconnects and fails
// calls in progress with ErrClosed.
func (m *MDC) Close() error {
	m.closeLocks()
	err := m.imp.Close() // releases the kept opens
	m.openMu.Lock()
	clear(m.opens)
	m.openMu.Unlock()
	return err
}

// Target returns the MDT's name.
func (m *MDC) Target() string { return m.cfg.Target }

// Index returns the MDT's index.
func (m *MDC) Index() uint32 { return m.cfg.Index }

// Info returns the import's state, for `lctl get_param mdc.*.import`.
func (m *MDC) Info() ptlrpc.ImportInfo { return m.imp.Info() }

// Stats returns the RPC counters (`mdc.*.stats`).
func (m *MDC) Stats() *rpcstats.Stats { return m.stats }

// call sends one RPC and decodes its reply into reply (if not nil). An
// error names the operation and wraps what the MDT said.
func (m *MDC) call(ctx context.Context, req *ptlrpc.Req, what string, reply wire.Body) error {
	_, err := m.callKeep(ctx, req, false, what, reply)
	return err
}

// callKeep is call, and with keep it keeps the request for replay until
// the caller drops the Kept it returns (nil on an error).
func (m *MDC) callKeep(ctx context.Context, req *ptlrpc.Req, keep bool, what string, reply wire.Body) (*ptlrpc.Kept, error) {
	start := time.Now()
	var rep *ptlrpc.Reply
	var kept *ptlrpc.Kept
	var err error
	if keep {
		rep, kept, err = m.imp.CallKeep(ctx, req)
	} else {
		rep, err = m.imp.Call(ctx, req)
	}
	m.stats.RPC(req.Opcode, time.Since(start))
	if err == nil || errors.Is(err, wire.ErrRemote) {
		m.heard.Store(time.Now().UnixNano())
	}
	defer rep.Release()
	if err != nil {
		if errors.Is(err, ptlrpc.ErrClosed) {
			return nil, fmt.Errorf("%w: %s: %s: %w", ErrClosed, m.cfg.Target, what, err)
		}
		return nil, fmt.Errorf("mdc: %s: %s: %w", m.cfg.Target, what, err)
	}
	if reply != nil {
		// Decode from a copy: byte fields of a decoded body
		// (InodeReply.Layout, GetxattrReply.Value) alias what they were
		// decoded from, and the reply's buffer goes back to the pool
		// when this returns.
		if err := wire.DecodeBody(append([]byte(nil), rep.Body...), reply); err != nil {
			kept.Drop()
			return nil, fmt.Errorf("%w: %s: %s: %w (%w)", ErrBadReply, m.cfg.Target, what, err, syscall.EIO)
		}
	}
	return kept, nil
}

// reint sends MDS_REINT op with body, replayable.
func (m *MDC) reint(ctx context.Context, op wire.ReintOp, body wire.Body, what string, reply wire.Body) error {
	b := wire.AppendReint(nil, op, body)
	return m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSReint, Body: b, Replayable: true}, what, reply)
}
