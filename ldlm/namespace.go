package ldlm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Config configures a server namespace: the locks of one target.
type Config struct {
	// Name names the namespace in logs and parameters; Lustre's are
	// "mdt-FSNAME-MDT0000_UUID" and "filter-FSNAME-OST0000_UUID".
	Name string
	// LNet sends the callbacks to the clients' callback services.
	LNet *lnet.LNet
	// Types are the lock types the target serves (an MDT: PLAIN, IBITS,
	// FLOCK; an OST: EXTENT, PLAIN); others are refused with EINVAL.
	// Empty: all four.
	Types []wire.LockType
	// ASTTimeout is how long a client has to answer a callback (Lustre's
	// ldlm_timeout: 20 s for OSTs, 6 s for MDTs; default 20 s). A client
	// that does not answer in time is evicted.
	ASTTimeout time.Duration
	// CancelTimeout is how long a client that answered a blocking
	// callback has to cancel the lock (Lustre's ldlm_enqueue_min, 100 s
	// by default) before it is evicted; Prolong extends it while the
	// client still works under the lock.
	CancelTimeout time.Duration
	// MaxWaiting bounds the waiting lock requests of the namespace
	// (default 65536) and MaxWaitingPerClient those of one client
	// (default 1024); a request beyond either is refused with EBUSY, and
	// the client retries it later. Local locks are not counted.
	MaxWaiting, MaxWaitingPerClient int
	// Evict is called (without any lock of the namespace held) after a
	// client that failed to answer a callback or to cancel in time lost
	// its locks: the target drops the client's export.
	Evict func(clientUUID string)
	// LVB, if set, fills the lock value block of enqueue replies and
	// completion callbacks (an OST: the object's size and times). It is
	// called without any lock of the namespace held.
	LVB func(res wire.ResID) wire.LVB
	// AT are the adaptive timeout settings of the callback imports.
	AT     ptlrpc.ATConfig
	Logger *zap.Logger
}

// Validate checks cfg and fills defaults.
func (c *Config) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: namespace without a name", ErrBadConfig)
	case c.LNet == nil:
		return fmt.Errorf("%w: namespace %s without LNet", ErrBadConfig, c.Name)
	}
	for _, t := range c.Types {
		if !t.Valid() {
			return fmt.Errorf("%w: namespace %s: lock type %v", ErrBadConfig, c.Name, t)
		}
	}
	if len(c.Types) == 0 {
		c.Types = []wire.LockType{wire.LockPlain, wire.LockExtent, wire.LockFlock, wire.LockIBits}
	}
	if c.ASTTimeout <= 0 {
		c.ASTTimeout = 20 * time.Second
	}
	if c.CancelTimeout <= 0 {
		c.CancelTimeout = 100 * time.Second
	}
	if c.MaxWaiting <= 0 {
		c.MaxWaiting = 1 << 16
	}
	if c.MaxWaitingPerClient <= 0 {
		c.MaxWaitingPerClient = 1024
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// client is the namespace's state of one connected client (one export).
type client struct {
	exp    *ptlrpc.Export
	uuid   string
	ctx    context.Context // cancelled when the client is evicted or the namespace closes
	cancel context.CancelFunc
	// Guarded by Namespace.mu.
	locks   map[*lock]struct{}
	waiting int
	imp     *ptlrpc.Import // callback import, made at the first callback
	impPeer lnet.ProcessID // the address imp sends to
	gone    bool
}

// Namespace is a server's lock namespace for one target. See the package
// documentation.
type Namespace struct {
	cfg   Config
	log   *zap.Logger
	types [wire.LockIBits + 1]bool

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // callbacks in flight and the timer loop

	mu           sync.Mutex // guards the fields below; see the lock order in doc.go
	closed       bool
	nextHandle   uint64
	resources    map[wire.ResID]*resource
	locks        map[wire.LockHandle]*lock
	clients      map[*ptlrpc.Export]*client
	gone         map[*ptlrpc.Export]time.Time // evicted exports: a late request must not revive them
	armed        map[*lock]struct{}           // locks with a cancel deadline
	flockWaiters map[flockOwner][]*lock
	waiting      int // waiting requests of clients (not local locks)

	stats nsCounters
}

type nsCounters struct {
	enqueues, cancels, converts, blASTs, cpASTs, glASTs, evictions, timeouts, busy atomic.Uint64
}

// NewNamespace validates cfg and starts the namespace's timer loop.
func NewNamespace(cfg Config) (*Namespace, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Types = slices.Clone(cfg.Types)
	ns := &Namespace{
		cfg: cfg, log: cfg.Logger.With(zap.String("target", cfg.Name)),
		nextHandle:   rand.Uint64()>>8 | 1,
		resources:    map[wire.ResID]*resource{},
		locks:        map[wire.LockHandle]*lock{},
		clients:      map[*ptlrpc.Export]*client{},
		gone:         map[*ptlrpc.Export]time.Time{},
		armed:        map[*lock]struct{}{},
		flockWaiters: map[flockOwner][]*lock{},
	}
	for _, t := range cfg.Types {
		ns.types[t] = true
	}
	ns.ctx, ns.cancel = context.WithCancel(context.Background())
	ns.wg.Add(1)
	go ns.timerLoop()
	return ns, nil
}

// Name returns the namespace's name.
func (ns *Namespace) Name() string { return ns.cfg.Name }

// Close stops the namespace: callbacks in flight are abandoned, local
// lock requests fail with ErrClosed, and Close returns once every
// goroutine the namespace started has exited.
func (ns *Namespace) Close() error {
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return nil
	}
	ns.closed = true
	var imps []*ptlrpc.Import
	for _, cl := range ns.clients {
		if cl.imp != nil {
			imps = append(imps, cl.imp)
			cl.imp = nil
		}
	}
	for _, lk := range ns.locks {
		if lk.local != nil {
			lk.local.finish(ErrClosed)
		}
	}
	ns.mu.Unlock()
	ns.cancel()
	ns.wg.Wait()
	for _, imp := range imps {
		_ = imp.Close()
	}
	return nil
}

// validate checks a request against the lock types the namespace serves.
func (ns *Namespace) validate(d *wire.LockDesc) error {
	if err := Validate(d); err != nil {
		return err
	}
	if !ns.types[d.Type] {
		return fmt.Errorf("%w: %v locks are not served by %s", ErrInvalid, d.Type, ns.cfg.Name)
	}
	return nil
}

// clientLocked returns the state of exp's client, made on first use.
func (ns *Namespace) clientLocked(exp *ptlrpc.Export) (*client, error) {
	if cl := ns.clients[exp]; cl != nil {
		return cl, nil
	}
	if _, gone := ns.gone[exp]; gone {
		return nil, fmt.Errorf("%w: client %s was evicted", ErrNoExport, exp.ClientUUID())
	}
	cl := &client{exp: exp, uuid: exp.ClientUUID(), locks: map[*lock]struct{}{}}
	cl.ctx, cl.cancel = context.WithCancel(ns.ctx)
	ns.clients[exp] = cl
	return cl, nil
}

func (ns *Namespace) newLockLocked(cl *client, d *wire.LockDesc, flags wire.LockFlags, remote wire.LockHandle) *lock {
	ns.nextHandle++
	lk := &lock{handle: wire.LockHandle(ns.nextHandle), remote: remote, cl: cl, req: *d, flags: flags,
		enqueued: time.Now()}
	return lk
}

// resourceLocked returns the resource id of type typ, made if needed.
func (ns *Namespace) resourceLocked(id wire.ResID, typ wire.LockType) (*resource, error) {
	res := ns.resources[id]
	if res == nil {
		res = &resource{id: id, typ: typ}
		ns.resources[id] = res
	} else if res.typ != typ {
		return nil, fmt.Errorf("%w: resource %v holds %v locks, not %v", ErrInvalid, id, res.typ, typ)
	}
	return res, nil
}

// Enqueue serves a lock request of the client behind exp (the body of
// LDLM_ENQUEUE; an intent handler may call it directly): the early
// cancels it carries are processed first, then the lock is granted at
// once or queued, the holders of conflicting locks being sent blocking
// callbacks; a queued lock is granted later by a completion callback.
func (ns *Namespace) Enqueue(exp *ptlrpc.Export, req *wire.LockRequest) (wire.LockReply, error) {
	if exp == nil {
		return wire.LockReply{}, ErrNoExport
	}
	if err := ns.validate(&req.Desc); err != nil {
		return wire.LockReply{}, err
	}
	ns.stats.enqueues.Add(1)
	var work []ast
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return wire.LockReply{}, ErrClosed
	}
	cl, err := ns.clientLocked(exp)
	if err != nil {
		ns.mu.Unlock()
		return wire.LockReply{}, err
	}
	ns.cancelHandlesLocked(cl, req.Cancels.Handles, &work)
	rep, err := ns.enqueueLocked(cl, nil, &req.Desc, req.Flags, req.Handle, &work)
	ns.mu.Unlock()
	ns.dispatch(work)
	if err != nil {
		ns.log.Debug("ldlm: enqueue refused", zap.String("client", cl.uuid), zap.Stringer("res", req.Desc.Res),
			zap.Stringer("mode", req.Desc.Mode), zap.Error(err))
		return wire.LockReply{}, err
	}
	if ns.cfg.LVB != nil && req.Desc.Type != wire.LockFlock {
		rep.LVB = ns.cfg.LVB(req.Desc.Res)
	}
	return rep, nil
}

// enqueueLocked processes one request of cl (or of a local lock ll).
func (ns *Namespace) enqueueLocked(cl *client, ll *LocalLock, d *wire.LockDesc, flags wire.LockFlags,
	remote wire.LockHandle, work *[]ast) (wire.LockReply, error) {
	res, err := ns.resourceLocked(d.Res, d.Type)
	if err != nil {
		return wire.LockReply{}, err
	}
	lk := ns.newLockLocked(cl, d, flags, remote)
	lk.res, lk.local = res, ll
	if ll != nil {
		ll.lk = lk
	}
	if d.Type == wire.LockFlock {
		rep, err := ns.flockEnqueueLocked(lk, work)
		ns.dropIfEmptyLocked(res)
		return rep, err
	}
	blockers := res.blockersOf(lk, nil)
	if len(blockers) == 0 && !res.waitConflict(lk, -1) {
		ns.grantLocked(lk)
		ns.markIfWaitedForLocked(lk, work)
		rep := wire.LockReply{Desc: lk.desc(), Handle: lk.handle}
		if lk.policy != lk.req.Policy {
			rep.Flags |= wire.LockFlagChanged
		}
		if lk.blSent {
			rep.Flags |= wire.LockFlagASTSent
			ns.armLocked(lk, ns.cfg.ASTTimeout+ns.cfg.CancelTimeout)
		}
		return rep, nil
	}
	if flags&wire.LockFlagBlockNoWait != 0 {
		ns.dropIfEmptyLocked(res)
		return wire.LockReply{}, fmt.Errorf("%w: %v %v on %v", ErrWouldBlock, d.Type, d.Mode, d.Res)
	}
	if err := ns.admitLocked(cl); err != nil {
		ns.dropIfEmptyLocked(res)
		return wire.LockReply{}, err
	}
	ns.queueLocked(lk)
	for _, g := range blockers {
		ns.blockLocked(g, lk, work)
	}
	for _, w := range res.waiting {
		if w != lk && conflicts(res.typ, lk, w) {
			ns.blockLocked(w, lk, work)
		}
	}
	rep := wire.LockReply{Desc: lk.desc(), Handle: lk.handle, Flags: wire.LockFlagBlockWait}
	if len(blockers) > 0 {
		rep.Flags = wire.LockFlagBlockGranted
	}
	return rep, nil
}

// admitLocked checks the bounds on waiting requests for cl (nil: local).
func (ns *Namespace) admitLocked(cl *client) error {
	if cl == nil {
		return nil
	}
	if ns.waiting >= ns.cfg.MaxWaiting || cl.waiting >= ns.cfg.MaxWaitingPerClient {
		ns.stats.busy.Add(1)
		return fmt.Errorf("%w: %d waiting in %s, %d of them from %s", ErrBusy, ns.waiting, ns.cfg.Name,
			cl.waiting, cl.uuid)
	}
	return nil
}

// queueLocked puts lk at the end of its resource's waiting queue.
func (ns *Namespace) queueLocked(lk *lock) {
	lk.res.waiting = append(lk.res.waiting, lk)
	ns.locks[lk.handle] = lk
	if lk.cl != nil {
		lk.cl.locks[lk] = struct{}{}
		lk.cl.waiting++
		ns.waiting++
	}
}

// grantLocked grants lk (not queued), expanding an extent lock.
func (ns *Namespace) grantLocked(lk *lock) {
	res := lk.res
	lk.mode, lk.policy = lk.req.Mode, lk.req.Policy
	if res.typ == wire.LockExtent {
		lk.policy = res.expandExtent(lk)
	}
	lk.granted = true
	res.granted = append(res.granted, lk)
	ns.locks[lk.handle] = lk
	if lk.cl != nil {
		lk.cl.locks[lk] = struct{}{}
	}
}

// blockLocked records that waiter waits for g: g's holder is asked to
// release it, once. A granted remote lock gets a blocking callback; a
// waiting one will carry LockFlagASTSent on its completion callback; a
// local lock's holder sees LocalLock.Blocking fire.
func (ns *Namespace) blockLocked(g, waiter *lock, work *[]ast) {
	if g.blSent {
		return
	}
	g.blSent = true
	switch {
	case g.local != nil:
		g.local.signalBlocking()
	case g.granted:
		*work = append(*work, ast{kind: astBL, lk: g, cl: g.cl, body: wire.LockCallback{
			Handle: g.remote, ServerHandle: g.handle, Desc: waiter.desc(),
		}})
	}
}

// markIfWaitedForLocked marks a lock just granted that a waiting request
// conflicts with (its expanded extent may reach one).
func (ns *Namespace) markIfWaitedForLocked(g *lock, work *[]ast) {
	for _, w := range g.res.waiting {
		if w != g && conflicts(g.res.typ, w, g) {
			if g.local != nil {
				ns.blockLocked(g, w, work)
			} else {
				g.blSent = true
			}
			return
		}
	}
}

// removeLocked takes lk out of every structure; it reports whether lk
// was there. The resource is not reprocessed.
func (ns *Namespace) removeLocked(lk *lock) bool {
	if ns.locks[lk.handle] != lk {
		return false
	}
	delete(ns.locks, lk.handle)
	delete(ns.armed, lk)
	res := lk.res
	if lk.granted {
		res.granted, _ = removeLock(res.granted, lk)
	} else {
		var queued bool
		res.waiting, queued = removeLock(res.waiting, lk)
		if queued && lk.cl != nil {
			lk.cl.waiting--
			ns.waiting--
		}
		if res.typ == wire.LockFlock {
			ns.unlinkFlockWaiterLocked(lk)
		}
	}
	if lk.cl != nil {
		delete(lk.cl.locks, lk)
	}
	return true
}

func (ns *Namespace) dropIfEmptyLocked(res *resource) {
	if res.empty() && ns.resources[res.id] == res {
		delete(ns.resources, res.id)
	}
}

// cancelLocked removes lk and grants what its departure unblocks.
func (ns *Namespace) cancelLocked(lk *lock, work *[]ast) bool {
	if !ns.removeLocked(lk) {
		return false
	}
	ns.stats.cancels.Add(1)
	ns.reprocessLocked(lk.res, work)
	return true
}

// cancelHandlesLocked cancels the locks of cl named by handles (locks of
// other clients are ignored) and returns how many it found.
func (ns *Namespace) cancelHandlesLocked(cl *client, handles []wire.LockHandle, work *[]ast) int {
	n := 0
	for _, h := range handles {
		if lk := ns.locks[h]; lk != nil && lk.cl == cl && ns.cancelLocked(lk, work) {
			n++
		}
	}
	return n
}

// Cancel cancels the locks of exp's client named by handles: LDLM_CANCEL,
// and the early cancels a modifying request carries (its handler calls
// Cancel before doing the operation). It returns how many were found;
// handles of locks already gone, or of other clients, are ignored.
func (ns *Namespace) Cancel(exp *ptlrpc.Export, handles []wire.LockHandle) int {
	if exp == nil || len(handles) == 0 {
		return 0
	}
	var work []ast
	ns.mu.Lock()
	cl := ns.clients[exp]
	n := 0
	if cl != nil {
		n = ns.cancelHandlesLocked(cl, handles, &work)
	}
	ns.mu.Unlock()
	ns.dispatch(work)
	return n
}

// Convert gives up some inode bits of a granted lock of exp's client, as
// Lustre's lock convert does: a client called back for bits it holds with
// others keeps those the waiting request does not want (a setattr's
// UPDATE|PERM leaves it the name's LOOKUP) instead of cancelling the
// whole lock. keep must be a non-empty subset of the lock's bits. The
// lock is no longer waited for (its cancel deadline is disarmed);
// requests it no longer conflicts with are granted, and one it still
// conflicts with sends it a new blocking callback. ErrStale: the lock is
// gone (cancelled, or its client evicted).
func (ns *Namespace) Convert(exp *ptlrpc.Export, h wire.LockHandle, keep uint64) error {
	if exp == nil {
		return ErrNoExport
	}
	var work []ast
	ns.mu.Lock()
	cl, lk := ns.clients[exp], ns.locks[h]
	switch {
	case cl == nil || lk == nil || lk.cl != cl || !lk.granted:
		ns.mu.Unlock()
		return fmt.Errorf("%w: convert of %#x", ErrStale, uint64(h))
	case lk.res.typ != wire.LockIBits:
		ns.mu.Unlock()
		return fmt.Errorf("%w: convert of a %v lock", ErrInvalid, lk.res.typ)
	case keep == 0 || keep&^lk.policy.Bits != 0:
		ns.mu.Unlock()
		return fmt.Errorf("%w: convert of bits %#x to %#x", ErrInvalid, lk.policy.Bits, keep)
	}
	lk.policy.Bits, lk.req.Policy.Bits = keep, keep
	lk.blSent = false
	delete(ns.armed, lk)
	ns.stats.converts.Add(1)
	ns.reprocessLocked(lk.res, &work)
	ns.mu.Unlock()
	ns.dispatch(work)
	return nil
}

// reprocessLocked grants, in queue order, the waiting locks of res that
// conflict neither with a granted lock nor with a lock waiting ahead of
// them, and queues their completion callbacks.
func (ns *Namespace) reprocessLocked(res *resource, work *[]ast) {
	if res.typ == wire.LockFlock {
		ns.flockReprocessLocked(res, work)
		ns.dropIfEmptyLocked(res)
		return
	}
	var newly []*lock
	for i := 0; i < len(res.waiting); {
		w := res.waiting[i]
		if blockers := res.blockersOf(w, nil); len(blockers) > 0 || res.waitConflict(w, i) {
			for _, g := range blockers {
				ns.blockLocked(g, w, work)
			}
			i++
			continue
		}
		res.waiting = slices.Delete(res.waiting, i, i+1)
		if w.cl != nil {
			w.cl.waiting--
			ns.waiting--
		}
		ns.grantLocked(w)
		newly = append(newly, w)
	}
	for _, g := range newly {
		ns.markIfWaitedForLocked(g, work)
		ns.completeLocked(g, 0, work)
	}
	ns.dropIfEmptyLocked(res)
}

// completeLocked tells the holder of lk that it was granted (or, with
// LockFlagFlockDeadlock, refused): a completion callback to a client, a
// wake-up to a local waiter.
func (ns *Namespace) completeLocked(lk *lock, flags wire.LockFlags, work *[]ast) {
	if lk.local != nil {
		lk.local.finish(nil)
		return
	}
	if lk.blSent {
		flags |= wire.LockFlagASTSent
	}
	*work = append(*work, ast{kind: astCP, lk: lk, cl: lk.cl, body: wire.LockCallback{
		Handle: lk.remote, ServerHandle: lk.handle, Desc: lk.desc(), Flags: flags,
	}})
}

// armLocked starts lk's cancel timer: its holder must cancel within d.
// Group locks are exempt (Lustre's LDLM_FL_NO_TIMEOUT): their holders
// keep them as long as the application does. So is a lock no longer
// waited for (blSent cleared: converted since its callback went).
func (ns *Namespace) armLocked(lk *lock, d time.Duration) {
	if ns.locks[lk.handle] != lk || !lk.granted || !lk.blSent || lk.cl == nil || lk.mode == wire.LockGroup {
		return
	}
	lk.deadline = time.Now().Add(d)
	ns.armed[lk] = struct{}{}
}

// Prolong extends the cancel timer of the lock named h to at least d from
// now, if one is running (the holder is still writing back under it;
// Lustre prolongs a lock on every I/O request it covers).
func (ns *Namespace) Prolong(h wire.LockHandle, d time.Duration) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if lk := ns.locks[h]; lk != nil {
		if _, ok := ns.armed[lk]; ok {
			if t := time.Now().Add(d); t.After(lk.deadline) {
				lk.deadline = t
			}
		}
	}
}

// EvictClient frees every lock of the client named uuid (the target
// evicted it, or it disconnected) and lets waiting requests proceed. It
// does not call Config.Evict. It reports whether the client had state.
func (ns *Namespace) EvictClient(uuid string) bool {
	ns.mu.Lock()
	var cls []*client
	for _, cl := range ns.clients {
		if cl.uuid == uuid {
			cls = append(cls, cl)
		}
	}
	ns.mu.Unlock()
	for _, cl := range cls {
		ns.evict(cl, "evicted by the target", false)
	}
	return len(cls) > 0
}

// EvictExport is EvictClient for one export of a client (a client that
// reconnected has a new one, which keeps its locks).
func (ns *Namespace) EvictExport(exp *ptlrpc.Export) bool {
	ns.mu.Lock()
	cl := ns.clients[exp]
	ns.mu.Unlock()
	if cl != nil {
		ns.evict(cl, "evicted by the target", false)
	}
	return cl != nil
}

// evict drops cl and all its locks, grants what that unblocks and, with
// hook, tells the target through Config.Evict.
func (ns *Namespace) evict(cl *client, why string, hook bool) {
	var work []ast
	ns.mu.Lock()
	if cl.gone {
		ns.mu.Unlock()
		return
	}
	cl.gone = true
	delete(ns.clients, cl.exp)
	ns.gone[cl.exp] = time.Now()
	touched := map[*resource]struct{}{}
	n := len(cl.locks)
	for lk := range cl.locks {
		touched[lk.res] = struct{}{}
		ns.removeLocked(lk)
	}
	for res := range touched {
		ns.reprocessLocked(res, &work)
	}
	imp := cl.imp
	cl.imp = nil
	ns.mu.Unlock()
	cl.cancel()
	ns.stats.evictions.Add(1)
	if hook {
		ns.log.Warn("ldlm: evicting client", zap.String("client", cl.uuid),
			zap.Stringer("nid", cl.exp.Peer().NID), zap.String("reason", why), zap.Int("locks", n))
	} else {
		ns.log.Info("ldlm: client locks freed", zap.String("client", cl.uuid), zap.String("reason", why),
			zap.Int("locks", n))
	}
	if hook && ns.cfg.Evict != nil {
		ns.cfg.Evict(cl.uuid)
	}
	ns.dispatch(work)
	if imp != nil {
		_ = imp.Close()
	}
}
