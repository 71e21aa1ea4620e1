package client

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// Metadata cache under inode-bits locks (Lustre's llite with its MDC
// locks).
//
// The client caches what the MDT said of an object — its InodeReply:
// attributes and layout — only while it holds a PR inode-bits lock on it
// (LOOKUP|UPDATE|PERM), stored as the lock's data, so that it goes with
// the lock. The MDT takes an EX lock on an object before changing it
// (mdt/mdlock.go), which calls this client's lock back: the cache is gone
// before the change is made, and what was cached is never stale. A reply
// is cached only if it was fetched while the lock was held (the lock was
// granted before the request went out and is still held), so a change
// that slipped in between the fetch and the grant cannot be cached.
//
// Stria does not replay locks yet: an MDT that restarts has forgotten
// them, and would call none back. Every entry records the MDT instance
// (the import's incarnation) that granted its lock and is served only
// while the MDC talks to that instance; the first stale one found has the
// MDC's old locks cancelled.
//
// What is served from the cache:
//   - GetAttr of a non-directory: the MDT's attributes and layout; the
//     size and blocks still come from the objects (fileAttr, under the
//     data path's extent locks). A directory's own attributes (times,
//     nlink, size) change with every entry made in it, which takes no
//     lock on it, so GetAttr of a directory always asks the MDT.
//   - Lookup of a name whose binding was fetched under the child's lock
//     (LOOKUP: unlink, rename and rmdir of the name call it back), when
//     the parent's cached mode and owner (PERM: chmod and chown call it
//     back) let the caller search it, as the MDT would check. A cached
//     directory's attributes in a Lookup answer may lag in times, nlink
//     and size (GetAttr has them current); mode and owner are exact.
//   - Lookup of a name known not to exist: the MDT may answer a lookup of
//     a missing name with a PR lock on the name's slot (wire.NameSlot;
//     mdt/negative.go), which every operation that makes the name calls
//     back. The name is bound to a zero FID under it (negative), with the
//     same search check on the cached parent.
//   - Lookup of any name this client did not make in a directory it made,
//     under the directory's DirNames lock (dirnames.go), with the same
//     search check.
//
// A lookup, an open of a name and a create ask for the object's lock
// with their one RPC (an intent: mdc.Config.Intent, FS.intent), which the
// MDT grants when it can at once and reads the reply under; the reply is
// cached under it and the name bound. Any other first access (a GetAttr
// by FID) asks the MDT as without a cache and takes the object's lock in
// the background (one LDLM_ENQUEUE, not waited for); the next access
// fetches under the lock and caches. Later ones cost no RPC to the MDT
// while the lock stays cached (the namespace's LRU, mdc.LRUSize:
// ldlm.namespaces.*-mdc-*.lru_size and lru_max_age).

// mdBits are the inode bits the client caches an object under.
const mdBits = wire.InodeLockLookup | wire.InodeLockUpdate | wire.InodeLockPerm

// mdEntry is a lock's data: when the client had the lock, and the reply
// fetched under it (nil until one was). Immutable: replaced as a whole.
type mdEntry struct {
	granted time.Time // taken after Enqueue returned: the grant was before
	inc     uint64    // the MDT instance that granted it; 0: unknown, never served
	rep     *wire.InodeReply
	// fresh: a regular file this client created whose objects no one
	// else may have written while the lock is held (the MDT granted it
	// with the OPEN bit, which every other open for writing calls back)
	// and this client has not written since: its size is rep's (0) plus
	// what this client caches.
	fresh bool
}

// dentry is a name in a directory.
type dentry struct {
	parent wire.FID
	name   string
}

// boundName is what a cached name binds to: the child and the lock its
// binding was fetched under; for a name known not to exist, no child (a
// zero FID) and the lock on the name's slot (negDesc).
type boundName struct {
	fid  wire.FID
	lock *ldlm.Lock
}

// mdCache is the FS's index of cached names. The entries themselves live
// on the locks; a name is served only while its lock is the one Match
// finds. mu is a leaf.
type mdCache struct {
	mu      sync.Mutex
	names   map[dentry]boundName
	byLock  map[*ldlm.Lock][]dentry
	pending map[wire.FID]struct{}       // locks prefetchLock is taking
	cleaned map[*mdc.MDC]uint64         // the MDT instance whose stale locks were dropped
	kernel  kernelCache                 // what the kernel was let keep (kcache.go)
	parked  map[*ldlm.Lock][]parkedOpen // MDT opens closed when their lock goes (opencache.go)
	unmount atomic.Bool                 // the FS is closing: parked opens go with the export
	dirs    dirNames                    // names of the directories this client made (dirnames.go)
	making  map[dentry]int              // names this client's requests are making now
	spared  map[dentry]bool             // of those, the ones whose negative entry a cancel left to them
	log     *zap.Logger
}

// naming is the MDCs' Naming hook: it records that this client's request
// may make parent/name, until the returned function gets its outcome.
// While it may, the cancel of the lock on the name's slot (which the
// request itself calls back) leaves the kernel's negative entry alone:
// the kernel turns it into the new name's entry when the request
// succeeds, and an invalidation sent after that would drop the new entry,
// and with it the new inode and its cached pages once the file is closed.
// If the request fails, the entry is invalidated then.
func (c *mdCache) naming(parent wire.FID, name string) func(error) {
	c.dirs.naming(parent, name)
	d := dentry{parent, name}
	c.mu.Lock()
	if c.making == nil {
		c.making, c.spared = map[dentry]int{}, map[dentry]bool{}
	}
	c.making[d]++
	c.mu.Unlock()
	return func(err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.making[d]--; c.making[d] > 0 {
			return
		}
		delete(c.making, d)
		if c.spared[d] {
			delete(c.spared, d)
			if err != nil && c.kernel.inval != nil {
				c.kernel.inval.Invalidate([]Dentry{{Parent: parent, Name: name}}, nil)
			}
		}
	}
}

// cancelled is the MDC lock namespaces' Cancel hook: the names bound
// under l are forgotten (its entry goes with the lock), and what the
// kernel keeps under l is dropped (queued: kcache.go). It runs before the
// cancel reaches the MDT.
func (c *mdCache) cancelled(ctx context.Context, l *ldlm.Lock, _ bool) {
	c.closeParked(ctx, l)
	c.mu.Lock()
	defer c.mu.Unlock()
	bound := c.byLock[l]
	for _, d := range bound {
		if b, ok := c.names[d]; ok && b.lock == l {
			delete(c.names, d)
		}
	}
	if l.Desc().Res.IsNameSlot() && len(c.making) > 0 {
		bound = c.spareLocked(bound)
	}
	fid := l.Desc().Res.FID()
	if l.Desc().Res.IsDirNames() {
		c.dirs.dropped(l)
	}
	if l.Desc().Res.IsNameSlot() || l.Desc().Res.IsDirNames() {
		fid = wire.FID{} // a negative lock covers its names only
	}
	c.kernel.dropLocked(fid, bound)
	delete(c.byLock, l)
}

// spareLocked returns the names of bound that no request of this client
// is making, and forgets the kernel's entries of the others without
// invalidating them (naming).
func (c *mdCache) spareLocked(bound []dentry) []dentry {
	out := make([]dentry, 0, len(bound))
	for _, d := range bound {
		if c.making[d] == 0 {
			out = append(out, d)
			continue
		}
		c.spared[d] = true
		if ns := c.kernel.names[d.parent]; ns != nil {
			delete(ns, d.name)
		}
	}
	return out
}

// converted is the MDC lock namespaces' Convert hook: l gives up the
// inode bits dropped and stays with the others. Without LOOKUP its names
// go as on a cancel. Otherwise the names bound under it stay (the kernel
// keeps them, and so its inodes and their pages: a dentry invalidation
// makes the kernel forget an unused FUSE inode), and what the bits
// dropped covered goes: the object's attributes and the names cached in
// it (UPDATE, PERM), its standing as a fresh file (OPEN). The entry stays
// on l, which no longer serves mdDesc.
func (c *mdCache) converted(ctx context.Context, l *ldlm.Lock, dropped uint64) {
	if dropped&wire.InodeLockLookup != 0 {
		c.cancelled(ctx, l, false)
		return
	}
	if dropped&wire.InodeLockOpen != 0 {
		c.closeParked(ctx, l)
	}
	fid := l.Desc().Res.FID()
	if e := entryOf(l); e != nil && e.fresh && dropped&wire.InodeLockOpen != 0 {
		n := *e
		n.fresh = false
		l.SetData(&n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kernel.dropLocked(fid, nil)
}

// bind records that name binds to fid under l.
func (c *mdCache) bind(d dentry, fid wire.FID, l *ldlm.Lock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil {
		c.names, c.byLock = map[dentry]boundName{}, map[*ldlm.Lock][]dentry{}
	}
	if old, ok := c.names[d]; ok && old.lock == l {
		return
	}
	c.names[d] = boundName{fid: fid, lock: l}
	c.byLock[l] = append(c.byLock[l], d)
}

// lookup returns what d was bound to.
func (c *mdCache) lookup(d dentry) (boundName, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.names[d]
	return b, ok
}

// boundFID returns what parent/name is bound to in the cache (zero if
// nothing): the inode an unlink of it will lock, whose locks it gives up
// early.
func (c *mdCache) boundFID(parent wire.FID, name string) wire.FID {
	b, _ := c.lookup(dentry{parent, name})
	return b.fid
}

// negDesc is the lock under which this client caches that parent has no
// name name: PR on the name's slot, which every operation that makes the
// name calls back (mdt/negative.go).
func negDesc(parent wire.FID, name string) wire.LockDesc {
	return wire.LockDesc{Res: wire.NameSlot(parent, name), Type: wire.LockPlain, Mode: wire.LockPR}
}

func mdDesc(fid wire.FID) wire.LockDesc {
	return wire.LockDesc{Res: wire.ResIDOfFID(fid), Type: wire.LockIBits, Mode: wire.LockPR,
		Policy: wire.Policy{Bits: mdBits}}
}

func entryOf(l *ldlm.Lock) *mdEntry {
	e, _ := l.Data().(*mdEntry)
	return e
}

// mdLock returns a PR lock on fid with a reference, taking it from the MDT
// if the client has none cached; nil when the MDC has no lock namespace
// or the lock cannot be had (the caller then goes without the cache).
func (fs *FS) mdLock(ctx context.Context, m *mdc.MDC, fid wire.FID) *ldlm.Lock {
	if m.Locks() == nil {
		return nil
	}
	inc := m.Incarnation()
	l, err := m.Lock(ctx, mdDesc(fid))
	if err != nil {
		return nil
	}
	if entryOf(l) == nil {
		if inc != m.Incarnation() {
			inc = 0 // the MDT restarted meanwhile: which instance granted it?
		}
		l.SetData(&mdEntry{granted: time.Now(), inc: inc})
	}
	return l
}

// usable reports whether e may be served or filled: it was granted by the
// MDT instance the MDC talks to now. The first stale entry found after a
// restart has the MDC's old locks cancelled in the background, so that new
// ones are taken.
func (fs *FS) usable(m *mdc.MDC, e *mdEntry) bool {
	if e == nil {
		return false
	}
	inc := m.Incarnation()
	if e.inc != 0 && e.inc == inc {
		return true
	}
	if e.inc == 0 || inc == 0 {
		return false
	}
	c := &fs.md
	c.mu.Lock()
	if c.cleaned == nil {
		c.cleaned = map[*mdc.MDC]uint64{}
	}
	if c.cleaned[m] == inc {
		c.mu.Unlock()
		return false
	}
	c.cleaned[m] = inc
	c.mu.Unlock()
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return false
	}
	fs.wg.Add(1)
	fs.mu.Unlock()
	go func() {
		defer fs.wg.Done()
		m.Locks().CancelUnused(fs.ctx, nil)
	}()
	return false
}

// getattr returns fid's MDT attributes and layout: from the cache for a
// non-directory under a cached lock; else from the MDT, cached if a lock
// is held (it was granted before the request and is held through it).
// Without a lock the reply is not cached, and the lock is taken in the
// background for the next access, so a first stat waits for no extra RPC.
func (fs *FS) getattr(ctx context.Context, m *mdc.MDC, fid wire.FID) (*wire.InodeReply, error) {
	ns := m.Locks()
	if ns == nil {
		return m.Getattr(ctx, fid)
	}
	l := ns.Match(mdDesc(fid))
	if l == nil {
		fs.prefetchLock(m, fid)
		return m.Getattr(ctx, fid)
	}
	defer l.Release()
	e := entryOf(l)
	if !fs.usable(m, e) {
		return m.Getattr(ctx, fid)
	}
	if e.rep != nil && e.rep.Attr.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		r := *e.rep
		return &r, nil
	}
	r, err := m.Getattr(ctx, fid)
	if err != nil {
		return nil, err
	}
	l.SetData(&mdEntry{granted: e.granted, inc: e.inc, rep: r})
	return r, nil
}

// prefetchLocks bounds the lock requests prefetchLock has in flight.
const prefetchLocks = 16

// prefetchLock takes fid's lock in the background (owned by fs.wg), unless
// one is already being taken or prefetchLocks are in flight.
func (fs *FS) prefetchLock(m *mdc.MDC, fid wire.FID) {
	c := &fs.md
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[wire.FID]struct{}{}
	}
	_, dup := c.pending[fid]
	if dup || len(c.pending) >= prefetchLocks {
		c.mu.Unlock()
		return
	}
	c.pending[fid] = struct{}{}
	c.mu.Unlock()
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		c.mu.Lock()
		delete(c.pending, fid)
		c.mu.Unlock()
		return
	}
	fs.wg.Add(1)
	fs.mu.Unlock()
	go func() {
		defer fs.wg.Done()
		if l := fs.mdLock(fs.ctx, m, fid); l != nil {
			l.Release()
		}
		c.mu.Lock()
		delete(c.pending, fid)
		c.mu.Unlock()
	}()
}

// cachedLookup answers a lookup from the cache, if it can: with the
// child's reply, or with a reply of zero FID for a name known not to
// exist.
func (fs *FS) cachedLookup(ctx context.Context, m *mdc.MDC, parent wire.FID, name string) (*wire.InodeReply, bool) {
	ns := m.Locks()
	if ns == nil || name == "." || name == ".." {
		return nil, false
	}
	b, ok := fs.md.lookup(dentry{parent, name})
	if !ok {
		return nil, false
	}
	desc := mdDesc(b.fid)
	if b.fid.IsZero() {
		desc = negDesc(parent, name)
	}
	l := ns.Match(desc)
	if l == nil {
		return nil, false
	}
	defer l.Release()
	e := entryOf(l)
	if l != b.lock || !fs.usable(m, e) || e.rep == nil && !b.fid.IsZero() {
		return nil, false
	}
	if !fs.maySearchCached(ctx, m, parent) {
		return nil, false // the MDT checks, and answers EACCES
	}
	if b.fid.IsZero() {
		return &wire.InodeReply{}, true
	}
	r := *e.rep
	return &r, true
}

// dirNamesHeard is how recently the MDT must have answered this client
// for a lookup to be answered under a DirNames lock. A restarted MDT has
// forgotten its locks and calls none back (Stria replays no locks), and
// the client learns of the restart only at its next RPC or ping: an MDC
// that has not heard from its MDT for this long asks it, which finds a
// restart out. A restart within the interval still goes unseen until then.
const dirNamesHeard = time.Second

// knownAbsent reports whether parent has no name name by this client's
// record of a directory it made, under the directory's DirNames lock
// (dirnames.go), and the caller may search parent by its cached
// attributes.
func (fs *FS) knownAbsent(ctx context.Context, m *mdc.MDC, parent wire.FID, name string) bool {
	if m.Locks() == nil || name == "." || name == ".." {
		return false
	}
	inc, ok := fs.md.dirs.absent(parent, name)
	if !ok || inc != m.Incarnation() || time.Since(m.Heard()) > dirNamesHeard {
		return false
	}
	return fs.maySearchCached(ctx, m, parent)
}

// maySearchCached reports whether the caller of ctx may search directory
// dir by its attributes cached under a lock of the MDT instance m talks
// to, as the MDT would decide; false when none are cached.
func (fs *FS) maySearchCached(ctx context.Context, m *mdc.MDC, dir wire.FID) bool {
	l := m.Locks().Match(mdDesc(dir))
	if l == nil {
		return false
	}
	defer l.Release()
	e := entryOf(l)
	return fs.usable(m, e) && e.rep != nil && mayExec(CredsFrom(ctx), &e.rep.Attr)
}

// learnName caches what a lookup sent at t0 found, if the child's lock was
// held since before t0; without a lock it takes one, for the next lookup.
func (fs *FS) learnName(ctx context.Context, m *mdc.MDC, parent wire.FID, name string, r *wire.InodeReply, t0 time.Time) {
	ns := m.Locks()
	if ns == nil || name == "." || name == ".." {
		return
	}
	l := ns.Match(mdDesc(r.FID))
	if l == nil {
		fs.prefetchLock(m, r.FID)
		return
	}
	defer l.Release()
	e := entryOf(l)
	if !fs.usable(m, e) || !e.granted.Before(t0) {
		return
	}
	if e.rep == nil || e.rep.Attr.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		rep := *r
		l.SetData(&mdEntry{granted: e.granted, inc: e.inc, rep: &rep})
	}
	fs.md.bind(dentry{parent, name}, r.FID, l)
	fs.learnParent(ctx, m, parent)
}

// learnParent caches parent's attributes under its lock, if they are not
// cached yet: serving a name of it from the cache needs its mode and
// owner (cachedLookup's search permission).
func (fs *FS) learnParent(ctx context.Context, m *mdc.MDC, parent wire.FID) {
	ns := m.Locks()
	if ns == nil {
		return
	}
	if pl := ns.Match(mdDesc(parent)); pl != nil {
		pe := entryOf(pl)
		pl.Release()
		if fs.usable(m, pe) && pe.rep != nil {
			return
		}
	}
	if l := fs.mdLock(ctx, m, parent); l != nil {
		l.Release()
		_, _ = fs.getattr(ctx, m, parent)
	}
}

// intent is the MDCs' Intent hook: it caches what an intent lock came
// with — the reply, read under the lock, and the name's binding — and
// reports whether the lock is to be kept. When this client already holds
// a lock on the inode, that one keeps serving (it was granted earlier and
// is still held, so the reply may be cached under it) and the new one is
// given back: one lock per inode, the one Match finds.
func (fs *FS) intent(m *mdc.MDC, parent wire.FID, name string, r *wire.InodeReply, l *ldlm.Lock, inc uint64) bool {
	if r.FID.IsZero() {
		return fs.negative(m, parent, name, l, inc)
	}
	rep := *r
	rep.Handle, rep.Created, rep.Lock = 0, false, nil
	keep, target := true, l
	e := &mdEntry{granted: time.Now(), inc: inc, rep: &rep,
		fresh: r.Created && l.Desc().Policy.Bits&wire.InodeLockOpen != 0}
	if old := m.Locks().Match(mdDesc(r.FID)); old != nil {
		defer old.Release()
		if oe := entryOf(old); old != l && fs.usable(m, oe) {
			keep, target = false, old
			e = &mdEntry{granted: oe.granted, inc: oe.inc, rep: &rep}
		}
	}
	target.SetData(e)
	if name != "" && name != "." && name != ".." {
		fs.md.bind(dentry{parent, name}, r.FID, target)
	}
	return keep
}

// negative caches that parent has no name name under l, a lock on the
// name's slot (or under the lock already held on that slot: another name
// that shares it may be bound under it), and reports whether l is to be
// kept.
func (fs *FS) negative(m *mdc.MDC, parent wire.FID, name string, l *ldlm.Lock, inc uint64) bool {
	if l.Desc().Res == wire.DirNames(parent) {
		l.SetData(&mdEntry{granted: time.Now(), inc: inc})
		return fs.md.dirs.granted(parent, l, inc)
	}
	d := negDesc(parent, name)
	if l.Desc().Res != d.Res || name == "" || name == "." || name == ".." {
		return false
	}
	keep, target := true, l
	if old := m.Locks().Match(d); old != nil {
		defer old.Release()
		if oe := entryOf(old); old != l && fs.usable(m, oe) {
			keep, target = false, old
		}
	}
	if target == l {
		l.SetData(&mdEntry{granted: time.Now(), inc: inc})
	}
	fs.md.bind(dentry{parent, name}, wire.FID{}, target)
	return keep
}

// fresh reports whether this client knows fid's size without asking its
// objects (mdEntry.fresh), under a lock it holds now.
func (fs *FS) fresh(fid wire.FID) bool {
	m, err := fs.lmv.Route(fid)
	if err != nil || m.Locks() == nil {
		return false
	}
	l := m.Locks().Match(mdDesc(fid))
	if l == nil {
		return false
	}
	defer l.Release()
	e := entryOf(l)
	return e != nil && e.fresh && fs.usable(m, e)
}

// written ends what this client knew of fid's size as a fresh file: it
// wrote to it. The kernel's copy of its attributes goes too.
func (fs *FS) written(fid wire.FID) {
	m, err := fs.lmv.Route(fid)
	if err != nil || m.Locks() == nil {
		return
	}
	l := m.Locks().Match(mdDesc(fid))
	if l == nil {
		return
	}
	defer l.Release()
	if e := entryOf(l); e != nil && e.fresh {
		n := *e
		n.fresh = false
		l.SetData(&n)
		c := &fs.md
		c.mu.Lock()
		c.kernel.dropAttrsLocked(fid)
		c.mu.Unlock()
	}
}

// mayExec reports whether c may search a directory with attributes a, as
// the MDT decides (mdd's permitted).
func mayExec(c Creds, a *wire.Attr) bool {
	if c.UID == 0 {
		return true // a directory
	}
	var bits uint32
	switch {
	case c.UID == a.UID:
		bits = a.Mode >> 6
	case c.GID == a.GID || containsGID(c.Groups, a.GID):
		bits = a.Mode >> 3
	default:
		bits = a.Mode
	}
	return bits&1 != 0
}

func containsGID(gs []uint32, g uint32) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}
