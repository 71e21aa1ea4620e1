package ptlrpc

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// Handler serves one opcode. The error it returns is translated to an errno
// through the target's ErrnoTable and sent as the reply's status; a body set
// with Request.Reply is sent with it either way. A handler must not keep
// Request or its Body after returning.
type Handler func(ctx context.Context, req *Request) error

// TargetConfig describes one target (an MDT, an OST, the MGS): the exports of
// its clients live on it, and services route requests to it.
type TargetConfig struct {
	// Name is the target's name, which connecting clients give
	// ("lustre-OST0001").
	Name string
	// Handlers serve the target's opcodes. Connect, disconnect and ping are
	// handled by ptlrpc and need no handler.
	Handlers map[wire.Opcode]Handler
	// LastCommitted returns the highest transno the target made durable;
	// every reply carries it. Nil for a target without transactions (0).
	LastCommitted func() uint64
	// Connect, if set, is asked before a client connects or reconnects
	// (authorization, recovery policy); an error refuses the connect with
	// that error's errno.
	Connect func(ctx context.Context, exp *Export, req *wire.ConnectRequest, reconnect bool) error
	// Flags are the connect flags the target supports; a connect is
	// granted the intersection with what the client asks. 0 grants all.
	Flags wire.ConnectFlags
	// Errnos translates handler errors; wire.ErrnoOf handles what it misses.
	Errnos wire.ErrnoTable
	// Incarnation identifies this start of the target; a client that sees
	// it change replays. 0: derived from the clock at NewTarget.
	Incarnation uint64
	// MaxSavedReplies bounds the replies kept per export for reconstruction
	// (default 256); the oldest go first once it is reached. Normally a
	// client's LastXID prunes them long before.
	MaxSavedReplies int
}

// Validate checks cfg and fills defaults.
func (c *TargetConfig) Validate() error {
	if c.Name == "" || len(c.Name) > wire.MaxNameLen {
		return fmt.Errorf("%w: target name %q", ErrBadConfig, c.Name)
	}
	if c.MaxSavedReplies <= 0 {
		c.MaxSavedReplies = 256
	}
	if c.Incarnation == 0 {
		c.Incarnation = uint64(time.Now().UnixNano()) | 1
	}
	return nil
}

// Target holds the exports of one target. A target may be served by several
// services (Lustre's ost and ost_io portals both reach every OST).
type Target struct {
	cfg TargetConfig

	mu       sync.Mutex // before Export.mu
	byUUID   map[string]*Export
	byHandle map[uint64]*Export
}

// NewTarget returns a target with no exports.
func NewTarget(cfg TargetConfig) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Handlers = maps.Clone(cfg.Handlers)
	cfg.Errnos = slices.Clone(cfg.Errnos)
	return &Target{cfg: cfg, byUUID: map[string]*Export{}, byHandle: map[uint64]*Export{}}, nil
}

// Name returns the target's name.
func (t *Target) Name() string { return t.cfg.Name }

// Incarnation returns the target's incarnation.
func (t *Target) Incarnation() uint64 { return t.cfg.Incarnation }

func (t *Target) lastCommitted() uint64 {
	if t.cfg.LastCommitted == nil {
		return 0
	}
	return t.cfg.LastCommitted()
}

func (t *Target) export(handle uint64) *Export {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byHandle[handle]
}

// Exports returns a snapshot of every export, for `lctl get_param *.exports`.
func (t *Target) Exports() []ExportInfo {
	t.mu.Lock()
	exps := make([]*Export, 0, len(t.byUUID))
	for _, e := range t.byUUID {
		exps = append(exps, e)
	}
	t.mu.Unlock()
	out := make([]ExportInfo, 0, len(exps))
	for _, e := range exps {
		out = append(out, e.Info())
	}
	return out
}

// Evict drops the export of clientUUID: its saved replies are forgotten and
// its next request gets ENOTCONN. It reports whether there was one.
func (t *Target) Evict(clientUUID string) bool {
	t.mu.Lock()
	e := t.byUUID[clientUUID]
	if e != nil {
		t.removeLocked(e)
	}
	t.mu.Unlock()
	if e != nil {
		e.dropSaved()
	}
	return e != nil
}

// EvictIdle evicts every client that has sent nothing (not even a ping) for
// longer than idle, and returns their UUIDs: Lustre's ping evictor, which
// uses about 1.5 times obd_timeout. The target's owner calls it
// periodically; ptlrpc runs no timer of its own for it.
func (t *Target) EvictIdle(idle time.Duration) []string {
	cutoff := time.Now().Add(-idle).UnixNano()
	var gone []*Export
	t.mu.Lock()
	for _, e := range t.byUUID {
		if e.lastSeen.Load() < cutoff {
			t.removeLocked(e)
			gone = append(gone, e)
		}
	}
	t.mu.Unlock()
	uuids := make([]string, 0, len(gone))
	for _, e := range gone {
		e.dropSaved()
		uuids = append(uuids, e.uuid)
	}
	return uuids
}

func (t *Target) removeLocked(e *Export) {
	delete(t.byUUID, e.uuid)
	delete(t.byHandle, e.handle)
	e.gone.Store(true)
}

// connect finds or makes the export for a connect request. It returns the
// export and whether it was reused (a reconnect).
func (t *Target) connect(ctx context.Context, req *wire.ConnectRequest, peer lnet.ProcessID) (*Export, bool, error) {
	t.mu.Lock()
	old := t.byUUID[req.ClientUUID]
	t.mu.Unlock()
	reuse := old != nil && req.Handle != 0 && req.Handle == old.handle
	exp := old
	if !reuse {
		exp = &Export{
			target: t, uuid: req.ClientUUID, handle: rand.Uint64() | 1, peer: peer,
			saved: map[uint64]*buf{}, inflight: map[uint64]struct{}{},
			connected: time.Now(),
		}
	}
	if t.cfg.Connect != nil {
		if err := t.cfg.Connect(ctx, exp, req, reuse); err != nil {
			return nil, false, err
		}
	}
	t.mu.Lock()
	if cur := t.byUUID[req.ClientUUID]; cur != old {
		// A racing connect of the same client won; let the client retry.
		t.mu.Unlock()
		return nil, false, fmt.Errorf("%w: concurrent connect of %s", syscall.EAGAIN, req.ClientUUID)
	}
	if !reuse {
		if old != nil {
			t.removeLocked(old)
		}
		t.byUUID[exp.uuid] = exp
		t.byHandle[exp.handle] = exp
	}
	exp.mu.Lock()
	exp.connCnt++
	exp.peer = peer
	exp.mu.Unlock()
	exp.lastSeen.Store(time.Now().UnixNano())
	t.mu.Unlock()
	if old != nil && !reuse {
		old.dropSaved()
	}
	return exp, reuse, nil
}

func (t *Target) disconnect(e *Export) {
	t.mu.Lock()
	if t.byHandle[e.handle] == e {
		t.removeLocked(e)
	}
	t.mu.Unlock()
	e.dropSaved()
}

// Export is the server's state for one connected client (Lustre's
// obd_export): who it is, its connection generation, and the replies kept
// for reconstruction.
type Export struct {
	target    *Target
	uuid      string
	handle    uint64
	connected time.Time
	gone      atomic.Bool  // evicted or disconnected
	lastSeen  atomic.Int64 // unix nanoseconds of the client's last request
	private   atomic.Value

	mu       sync.Mutex
	peer     lnet.ProcessID
	connCnt  uint32
	lastXID  uint64              // the client's highest XID below which every reply arrived
	saved    map[uint64]*buf     // replies kept for reconstruction, by XID
	order    []uint64            // XIDs of saved, oldest first
	inflight map[uint64]struct{} // XIDs being executed now
	requests uint64
}

// ClientUUID returns the client's UUID.
func (e *Export) ClientUUID() string { return e.uuid }

// Target returns the export's target.
func (e *Export) Target() *Target { return e.target }

// Handle returns the export's cookie.
func (e *Export) Handle() uint64 { return e.handle }

// Peer returns the client's address of its current connection.
func (e *Export) Peer() lnet.ProcessID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peer
}

// Private returns the value the target's code stored with SetPrivate.
func (e *Export) Private() any { return e.private.Load() }

// SetPrivate stores per-client state of the target's code (grants, open
// handles) on the export. The value's dynamic type must stay the same.
func (e *Export) SetPrivate(v any) { e.private.Store(v) }

// ExportInfo is a snapshot of an export.
type ExportInfo struct {
	ClientUUID   string
	Peer         lnet.ProcessID
	Handle       uint64
	ConnCnt      uint32
	Connected    time.Time
	Requests     uint64
	SavedReplies int
	LastXID      uint64
	LastSeen     time.Time // the client's last request
}

// Info returns a snapshot of e.
func (e *Export) Info() ExportInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return ExportInfo{ClientUUID: e.uuid, Peer: e.peer, Handle: e.handle, ConnCnt: e.connCnt,
		Connected: e.connected, Requests: e.requests, SavedReplies: len(e.saved), LastXID: e.lastXID,
		LastSeen: time.Unix(0, e.lastSeen.Load())}
}

// pruneLocked forgets saved replies the client has seen (XID <= lastXID)
// and, beyond max, the oldest.
func (e *Export) pruneLocked(lastXID uint64, max int) {
	if lastXID > e.lastXID {
		e.lastXID = lastXID
	}
	n := 0
	for _, x := range e.order {
		if x > e.lastXID && len(e.order)-n <= max {
			break
		}
		if b := e.saved[x]; b != nil {
			delete(e.saved, x)
			b.unref()
		}
		n++
	}
	if n > 0 {
		e.order = e.order[:copy(e.order, e.order[n:])]
	}
}

func (e *Export) saveLocked(xid uint64, b *buf, max int) {
	if xid <= e.lastXID {
		return // the client already has every reply up to lastXID
	}
	if old := e.saved[xid]; old != nil {
		old.unref()
	} else {
		e.order = append(e.order, xid)
	}
	b.ref()
	e.saved[xid] = b
	e.pruneLocked(0, max)
}

func (e *Export) dropSaved() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for x, b := range e.saved {
		b.unref()
		delete(e.saved, x)
	}
	e.order = e.order[:0]
}

// TransnoCounter is a simple in-memory transaction number source for targets
// (and tests) whose durability is handled elsewhere: Next hands out
// increasing transnos, Commit records that everything up to t is durable.
type TransnoCounter struct {
	last      atomic.Uint64
	committed atomic.Uint64
}

// Start sets the counter after a restart: the next transno is last+1 and
// everything up to last is committed.
func (c *TransnoCounter) Start(last uint64) {
	c.last.Store(last)
	c.committed.Store(last)
}

// Next returns a new transno.
func (c *TransnoCounter) Next() uint64 { return c.last.Add(1) }

// Commit records that every transno up to t is durable.
func (c *TransnoCounter) Commit(t uint64) {
	for {
		cur := c.committed.Load()
		if t <= cur || c.committed.CompareAndSwap(cur, t) {
			return
		}
	}
}

// CommitAll commits every transno handed out so far.
func (c *TransnoCounter) CommitAll() { c.Commit(c.last.Load()) }

// LastCommitted returns the highest committed transno.
func (c *TransnoCounter) LastCommitted() uint64 { return c.committed.Load() }
