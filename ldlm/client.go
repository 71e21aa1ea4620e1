package ldlm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Hooks are the client's reactions to the lock manager, registered per
// client namespace (the client layer looks the object up from the lock's
// resource, or from Lock.Data).
type Hooks struct {
	// Cancel runs before a granted lock is given up — on a blocking
	// callback once the lock is unused, on LRU aging, for an early cancel,
	// or after an eviction (evicted true): write back the dirty data the
	// lock covers (unless evicted: then it is discarded) and drop what is
	// cached under it (pages, attributes, FUSE caches). The cancel reaches
	// the server only after Cancel returns.
	Cancel func(ctx context.Context, l *Lock, evicted bool)
	// Convert, if set, lets the namespace keep part of an inode-bits lock
	// (Lustre's lock convert): a blocking callback for some of its bits
	// gives up only those (LDLM_CONVERT) and the lock stays cached with
	// the rest. Convert runs first, like Cancel, for the bits given up
	// (dropped): drop what is cached under them. Without it, a callback
	// cancels the whole lock.
	Convert func(ctx context.Context, l *Lock, dropped uint64)
	// Glimpse answers a server's glimpse for l: what this client knows of
	// the object (its size, including dirty data not yet written back).
	// ErrNoData (or a nil hook) tells the server there is nothing to add.
	Glimpse func(l *Lock) (wire.LVB, error)
}

// ClientConfig configures a client namespace: the client's locks of one
// target.
type ClientConfig struct {
	// Name names the namespace in logs and parameters (Lustre's client
	// namespaces are "FSNAME-OST0000-osc-<instance>").
	Name string
	// Import is the connection to the target; Callbacks the process's
	// callback service. Close the Client before either.
	Import    *ptlrpc.Import
	Callbacks *CallbackServer
	// LRUSize is the most unused locks kept (ldlm.namespaces.*.lru_size);
	// 0 is Lustre's "dynamic", which Stria takes as the static default,
	// 100 per CPU (Lustre's default without server pool hints).
	LRUSize int
	// LRUMaxAge cancels unused locks older than this (lru_max_age;
	// default 600 s, Lustre's current default).
	LRUMaxAge time.Duration
	// NoEarlyCancel turns early lock cancel off (Lustre's
	// early_lock_cancel=0): conflicting unused locks are then cancelled by
	// blocking callbacks only.
	NoEarlyCancel bool
	// CancelWorkers run the Cancel hooks and send cancels (default 2,
	// Lustre's ldlm_bl threads).
	CancelWorkers int
	// EvictionCheck is how often the namespace looks for an eviction of
	// its import and ages its LRU (default 1 s).
	EvictionCheck time.Duration
	Hooks         Hooks
	Logger        *zap.Logger
}

// Validate checks cfg and fills defaults.
func (c *ClientConfig) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: client namespace without a name", ErrBadConfig)
	case c.Import == nil || c.Callbacks == nil:
		return fmt.Errorf("%w: client namespace %s needs an import and a callback server", ErrBadConfig, c.Name)
	case c.LRUSize < 0:
		return fmt.Errorf("%w: lru_size %d", ErrBadConfig, c.LRUSize)
	}
	if c.LRUMaxAge <= 0 {
		c.LRUMaxAge = DefaultLRUMaxAge
	}
	if c.CancelWorkers <= 0 {
		c.CancelWorkers = 2
	}
	if c.EvictionCheck <= 0 {
		c.EvictionCheck = time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// DefaultLRUMaxAge is the default lru_max_age.
const DefaultLRUMaxAge = 600 * time.Second

// DefaultLRUSize is the LRU size a namespace with lru_size 0 uses.
func DefaultLRUSize() int { return 100 * runtime.NumCPU() }

type lockState int

const (
	stateEnqueuing  lockState = iota // enqueue RPC in flight
	stateWaiting                     // queued on the server
	stateGranted                     // granted
	stateCancelling                  // being given up
	stateDone                        // cancelled, failed or dropped
)

// Lock is a client's lock: granted, cached, matched by later requests,
// and given up on a blocking callback once unused. Its holders each hold
// a reference (Enqueue and Match take one) and Release it.
type Lock struct {
	c      *Client
	cookie wire.LockHandle // set by CallbackServer.register
	flock  bool
	done   chan struct{} // closed when granted or failed

	// Guarded by c.mu.
	server     wire.LockHandle
	desc       wire.LockDesc // as requested, then as granted
	state      lockState
	users      int
	cbPending  bool   // a blocking callback came: cancel once unused
	wasGranted bool   // granted at some point: the Cancel hook runs when it goes
	grantedCP  bool   // granted by a completion callback (which a server may resend)
	keep       uint64 // with cbPending: the inode bits a convert keeps (0: cancel)
	againCB    bool   // a blocking callback came while it converted: cancel after
	abandoned  bool   // its enqueue was given up before the server answered
	signaled   bool   // done closed
	err        error
	lvb        wire.LVB
	lastUsed   time.Time
	inLRU      bool
	prev       *Lock // LRU neighbours: prev is more recently used
	next       *Lock
	data       any
}

// Client is a client's lock namespace for one target: its lock cache,
// matching, LRU and callback handling. See the package documentation.
type Client struct {
	cfg ClientConfig
	imp *ptlrpc.Import
	cb  *CallbackServer
	log *zap.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // cancel workers and the sweeper

	mu          sync.Mutex // guards the fields below and those of its Locks; before CallbackServer.mu
	closed      bool
	byRes       map[wire.ResID][]*Lock // locks enqueuing, waiting, granted or cancelling (flocks until answered)
	lruHead     *Lock                  // most recently used
	lruTail     *Lock
	lruLen      int
	lruSize     int // 0: dynamic (DefaultLRUSize)
	lruMaxAge   time.Duration
	earlyCancel bool
	cancelQ     []*Lock
	kick        chan struct{}
	evictions   uint64 // the import's eviction count last seen
	abandoned   map[*Lock]time.Time

	stats clientCounters
}

type clientCounters struct {
	enqueues, matches, cancels, blocking, earlyCancels, lruCancels, evictions, converts uint64 // guarded by mu
}

// NewClient validates cfg and starts the namespace's workers.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg: cfg, imp: cfg.Import, cb: cfg.Callbacks, log: cfg.Logger.With(zap.String("target", cfg.Name)),
		byRes: map[wire.ResID][]*Lock{}, lruSize: cfg.LRUSize, lruMaxAge: cfg.LRUMaxAge,
		earlyCancel: !cfg.NoEarlyCancel, kick: make(chan struct{}, 1), abandoned: map[*Lock]time.Time{},
		evictions: cfg.Import.Info().Evictions,
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for i := 0; i < cfg.CancelWorkers; i++ {
		c.wg.Add(1)
		go c.cancelWorker()
	}
	c.wg.Add(1)
	go c.sweeper()
	return c, nil
}

// Name returns the namespace's name.
func (c *Client) Name() string { return c.cfg.Name }

// Match returns a granted lock of this namespace that serves d — its mode
// covers d's (Covers), its policy contains d's, and no server asked for
// it back — with a reference taken, or nil.
func (c *Client) Match(d wire.LockDesc) *Lock {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.matchLocked(&d)
}

func (c *Client) matchLocked(d *wire.LockDesc) *Lock {
	if d.Type == wire.LockFlock {
		return nil
	}
	for _, l := range c.byRes[d.Res] {
		if l.state != stateGranted || l.cbPending || l.desc.Type != d.Type || !Covers(l.desc.Mode, d.Mode) ||
			!policyCovers(d.Type, l.desc.Mode, &l.desc.Policy, &d.Policy) {
			continue
		}
		if l.desc.Mode == wire.LockGroup && l.desc.Policy.GID != d.Policy.GID {
			continue
		}
		l.users++
		c.lruRemoveLocked(l)
		c.stats.matches++
		return l
	}
	return nil
}

// Enqueue returns a lock serving d, with a reference the caller Releases:
// a cached one if one matches, else one granted by the server, waiting as
// long as it takes (blocking callbacks make the holders of conflicting
// locks give them up) or until ctx ends (the request is then cancelled on
// the server and the error wraps ErrInterrupted). Unused cached locks of
// the resource that conflict with d travel as early cancels in the
// request. flags may hold LockFlagBlockNoWait and LockFlagNoExpansion.
// FLOCK requests go through Flock.
func (c *Client) Enqueue(ctx context.Context, d wire.LockDesc, flags wire.LockFlags) (*Lock, error) {
	if err := Validate(&d); err != nil {
		return nil, err
	}
	if d.Type == wire.LockFlock {
		return nil, fmt.Errorf("%w: flock requests go through Flock", ErrInvalid)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if l := c.matchLocked(&d); l != nil {
		c.mu.Unlock()
		return l, nil
	}
	var elc []*Lock
	if c.earlyCancel {
		elc = c.pickConflictingLocked(&d)
	}
	l := c.newLockLocked(&d, false)
	c.stats.enqueues++
	c.mu.Unlock()

	var cancels []wire.LockHandle
	if len(elc) > 0 {
		cancels = c.prepareCancels(elc)
	}
	err := c.send(ctx, l, flags, cancels)
	if len(elc) > 0 {
		c.mu.Lock()
		for _, e := range elc {
			c.destroyLocked(e, nil)
		}
		c.stats.earlyCancels += uint64(len(elc))
		c.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return l, c.wait(ctx, l)
}

// newLockLocked makes and registers a lock for d, with one reference.
func (c *Client) newLockLocked(d *wire.LockDesc, flock bool) *Lock {
	l := &Lock{c: c, flock: flock, desc: *d, users: 1, done: make(chan struct{})}
	c.cb.register(l)
	c.byRes[d.Res] = append(c.byRes[d.Res], l)
	return l
}

// send sends l's enqueue, retrying while the server is busy, and applies
// the reply. It returns the error of a request that did not go through;
// the lock is then dropped (or, if ctx ended with the request possibly
// granted, kept as abandoned, so that a callback for it cancels it).
func (c *Client) send(ctx context.Context, l *Lock, flags wire.LockFlags, cancels []wire.LockHandle) error {
	c.mu.Lock()
	req := &wire.LockRequest{Desc: l.desc, Flags: flags, Handle: l.cookie, Cancels: wire.CancelList{Handles: cancels}}
	c.mu.Unlock()
	busy := 10 * time.Millisecond
	for {
		rep, err := c.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.LDLMEnqueue, Encode: req})
		if err == nil {
			var lr wire.LockReply
			err = rep.Decode(&lr)
			rep.Release()
			if err == nil {
				c.applyReply(l, &lr)
				return nil
			}
			err = fmt.Errorf("%w: %w", ptlrpc.ErrBadReply, err)
		}
		rep.Release()
		req.Cancels.Handles = nil // the server took them with the first attempt
		if remoteErrno(err) == syscall.EBUSY {
			if serr := sleepCtx(ctx, c.ctx, busy); serr == nil {
				busy = min(2*busy, time.Second)
				continue
			}
		}
		c.mu.Lock()
		if ctx.Err() != nil && remoteErrno(err) == 0 {
			// The server may have granted it: keep the handle known, so
			// that a callback naming it gets it cancelled.
			l.abandoned = true
			c.abandoned[l] = time.Now()
			c.removeResLocked(l)
			l.state = stateDone
			c.signalLocked(l, ctx.Err())
		} else {
			c.destroyLocked(l, err)
		}
		c.mu.Unlock()
		if errors.Is(err, ptlrpc.ErrEvicted) {
			c.checkEviction()
		}
		return c.enqueueError(err, ctx)
	}
}

// enqueueError maps a failed enqueue to the package's sentinels.
func (c *Client) enqueueError(err error, ctx context.Context) error {
	switch remoteErrno(err) {
	case syscall.EAGAIN:
		return fmt.Errorf("%w: %w", ErrWouldBlock, err)
	case syscall.EDEADLK:
		return fmt.Errorf("%w: %w", ErrDeadlock, err)
	case syscall.EINVAL:
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	case syscall.EBUSY:
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	return err
}

// applyReply records the server's answer to l's enqueue.
func (c *Client) applyReply(l *Lock, rep *wire.LockReply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.server = rep.Handle
	if rep.Flags&wire.LockFlagASTSent != 0 {
		l.cbPending = true
	}
	if l.state != stateEnqueuing {
		return // a completion callback came first, or the lock was dropped
	}
	if rep.Flags.Blocked() {
		l.state = stateWaiting
		return
	}
	l.desc, l.lvb, l.state, l.wasGranted = rep.Desc, rep.LVB, stateGranted, true
	c.signalLocked(l, nil)
}

// wait waits until l is granted; if ctx ends first, l is cancelled.
func (c *Client) wait(ctx context.Context, l *Lock) error {
	select {
	case <-l.done:
	case <-ctx.Done():
	case <-c.ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.signaled {
		if l.err != nil {
			return l.err
		}
		return nil
	}
	err := fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	if c.ctx.Err() != nil {
		err = ErrClosed
	}
	l.users--
	c.signalLocked(l, err)
	c.startCancelLocked(l)
	return err
}

func (c *Client) signalLocked(l *Lock, err error) {
	if !l.signaled {
		l.signaled, l.err = true, err
		close(l.done)
	}
}

// blocking handles a blocking callback for l.
func (c *Client) blocking(l *Lock, cb *wire.LockCallback) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.blocking++
	switch {
	case l.abandoned:
		c.cancelAbandonedLocked(l, cb.ServerHandle)
		return nil
	case l.state == stateDone:
		return syscall.EINVAL
	case l.state == stateCancelling:
		l.againCB = l.keep != 0 // a convert under way: it must go after all
		return nil
	}
	c.noteKeepLocked(l, cb)
	l.cbPending = true
	if l.server == 0 {
		l.server = cb.ServerHandle
	}
	if l.state == stateGranted && l.users == 0 {
		c.startCancelLocked(l)
	}
	return nil
}

// noteKeepLocked works out, for a blocking callback for l, which of its
// inode bits a convert can keep: those the waiting request (cb.Desc) does
// not want, and did not want at an earlier callback either. None without
// a Convert hook, for other lock types, or once l was marked to go for
// another reason (its keep is then 0 already).
func (c *Client) noteKeepLocked(l *Lock, cb *wire.LockCallback) {
	switch {
	case c.cfg.Hooks.Convert == nil || l.desc.Type != wire.LockIBits || cb.Desc.Type != wire.LockIBits:
		l.keep = 0
	case !l.cbPending:
		l.keep = l.desc.Policy.Bits &^ cb.Desc.Policy.Bits
	default:
		l.keep &^= cb.Desc.Policy.Bits
	}
}

// completion handles a completion callback for l.
func (c *Client) completion(l *Lock, cb *wire.LockCallback) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.abandoned {
		if cb.Flags&wire.LockFlagFlockDeadlock == 0 {
			c.cancelAbandonedLocked(l, cb.ServerHandle)
		}
		return nil
	}
	if l.state != stateEnqueuing && l.state != stateWaiting {
		if l.state == stateDone {
			return syscall.EINVAL
		}
		return nil // a resent callback
	}
	l.server = cb.ServerHandle
	if cb.Flags&wire.LockFlagFlockDeadlock != 0 {
		c.destroyLocked(l, fmt.Errorf("%w: [%d, %d] of %v", ErrDeadlock, l.desc.Policy.Start,
			l.desc.Policy.End, l.desc.Res))
		return nil
	}
	l.desc, l.lvb, l.state, l.wasGranted, l.grantedCP = cb.Desc, cb.LVB, stateGranted, true, true
	if cb.Flags&wire.LockFlagASTSent != 0 {
		l.cbPending = true
	}
	c.signalLocked(l, nil)
	if l.users == 0 && !l.flock {
		c.startCancelLocked(l)
	}
	return nil
}

// glimpse answers a glimpse callback for l through the Glimpse hook.
func (c *Client) glimpse(l *Lock) (wire.LVB, error) {
	c.mu.Lock()
	ok := l.state == stateGranted || l.state == stateCancelling
	c.mu.Unlock()
	if !ok || c.cfg.Hooks.Glimpse == nil {
		return wire.LVB{}, syscall.ENODATA
	}
	lvb, err := c.cfg.Hooks.Glimpse(l)
	if errors.Is(err, ErrNoData) {
		return wire.LVB{}, syscall.ENODATA
	}
	return lvb, err
}

// pickConflictingLocked takes the unused granted locks of d's resource
// that conflict with d out of the cache, for an early cancel.
func (c *Client) pickConflictingLocked(d *wire.LockDesc) []*Lock {
	var out []*Lock
	for _, l := range c.byRes[d.Res] {
		if l.state == stateGranted && l.users == 0 && l.desc.Type == d.Type &&
			Conflicts(d.Type, d.Mode, &d.Policy, l.desc.Mode, &l.desc.Policy) {
			l.state = stateCancelling
			c.lruRemoveLocked(l)
			out = append(out, l)
		}
	}
	return out
}

// EarlyCancel gives up the unused cached locks of d's resource that
// conflict with d, for a modifying request that will need d's access
// anyway (Lustre's early lock cancel: an unlink packs the cancel of the
// parent's UPDATE lock). It runs their Cancel hooks and returns their
// server handles; the caller packs them into its request (a
// wire.CancelList) and the server cancels them before doing the
// operation. The locks are gone locally when it returns.
func (c *Client) EarlyCancel(d wire.LockDesc) []wire.LockHandle {
	c.mu.Lock()
	if c.closed || !c.earlyCancel {
		c.mu.Unlock()
		return nil
	}
	locks := c.pickConflictingLocked(&d)
	c.stats.earlyCancels += uint64(len(locks))
	c.mu.Unlock()
	if len(locks) == 0 {
		return nil
	}
	handles := c.prepareCancels(locks)
	c.mu.Lock()
	for _, l := range locks {
		c.destroyLocked(l, nil)
	}
	c.mu.Unlock()
	return handles
}

// prepareCancels runs the Cancel hooks of locks being given up and
// returns their server handles.
func (c *Client) prepareCancels(locks []*Lock) []wire.LockHandle {
	handles := make([]wire.LockHandle, 0, len(locks))
	for _, l := range locks {
		if c.cfg.Hooks.Cancel != nil {
			c.cfg.Hooks.Cancel(c.ctx, l, false)
		}
		c.mu.Lock()
		if l.server != 0 {
			handles = append(handles, l.server)
		}
		c.mu.Unlock()
	}
	return handles
}

// removeResLocked takes l out of the resource index.
func (c *Client) removeResLocked(l *Lock) {
	q := c.byRes[l.desc.Res]
	if i := slices.Index(q, l); i >= 0 {
		q = slices.Delete(q, i, i+1)
		if len(q) == 0 {
			delete(c.byRes, l.desc.Res)
		} else {
			c.byRes[l.desc.Res] = q
		}
	}
}

// destroyLocked forgets l for good; a waiter sees err (ErrClosed if nil
// and l was never granted).
func (c *Client) destroyLocked(l *Lock, err error) {
	if l.state == stateDone && !l.abandoned {
		return
	}
	l.state = stateDone
	c.lruRemoveLocked(l)
	c.removeResLocked(l)
	if l.abandoned {
		l.abandoned = false
		delete(c.abandoned, l)
	}
	c.cb.unregister(l)
	if err == nil {
		err = ErrClosed
	}
	c.signalLocked(l, err)
}

func sleepCtx(ctx, ctx2 context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-ctx2.Done():
		return ErrClosed
	}
}
