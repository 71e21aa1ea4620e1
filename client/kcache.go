package client

import (
	"syscall"
	"time"

	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/wire"
)

// Kernel caching of names and attributes (client/fusefs's MetaCacher):
// the kernel may keep what this client caches under its inode-bits locks
// (mdcache.go) for as long as the lock is held, and no longer.
//
//   - A name parent/name → fid, when its binding is cached under fid's
//     lock and parent's cached mode lets everyone search it. The kernel
//     checks no permission itself (no default_permissions): a name it
//     keeps is resolved for any caller, so it keeps only names that any
//     caller may resolve; other names are looked up every time, and the
//     MDT (or the cached parent's mode) decides.
//   - That parent has no name name, when that is cached under the lock
//     on the name's slot and parent's cached mode lets everyone search
//     it: the kernel keeps a negative entry, and stops asking.
//   - The attributes of an inode other than a directory (a symlink, a
//     FIFO...), when they are the ones cached under its lock; of a regular
//     file only while it is fresh (mdEntry.fresh: created here, written by
//     no one since) and not open here. A directory's times and link count
//     change with every name made in it, which takes no lock on it; a
//     regular file's size and times change with writes to its objects,
//     which the MDT does not see. They are asked for every time.
//
// When a lock goes (a blocking callback, LRU aging, an eviction), its
// Cancel hook queues the invalidation of what the kernel keeps under it:
// the names bound under it, the names in the directory it covers (they
// were kept because its mode let everyone search it), and its inode's
// attributes. The adapter sends the notifications from a goroutine of its
// own (a notification may wait for a request of the same directory, which
// may be waiting for this very cancel), and the kernel orders each one
// after any reply it is installing (see client/fusefs's cache.go). An MDT
// that restarted forgot every lock and would call none back: watchMDTs
// drops everything the kernel keeps when it sees one.

// kernelTimeout is how long the kernel may keep a name or attributes
// covered by a lock: a safety net only, the lock's cancel drops them
// (and an unused lock goes after the namespace's lru_max_age).
const kernelTimeout = time.Hour

// mdtWatchInterval is how often watchMDTs looks for a restarted MDT.
const mdtWatchInterval = time.Second

// Dentry is a name in a directory (client/fusefs.Dentry).
type Dentry struct {
	Parent wire.FID
	Name   string
}

// MetaInvalidator drops names and attributes from the kernel's caches
// (client/fusefs.MetaInvalidator); Invalidate only queues the work.
type MetaInvalidator interface {
	Invalidate(names []Dentry, fids []wire.FID)
}

// kernelCache is what the kernel was let keep, so that it is dropped when
// its lock goes. Guarded by mdCache.mu.
type kernelCache struct {
	inval MetaInvalidator
	names map[wire.FID]map[string]struct{} // by directory
	attrs map[wire.FID]struct{}
}

// dropLocked queues the invalidation of what the kernel keeps under the
// lock of fid: the names bound under it, the names in fid (a directory),
// fid's attributes.
func (k *kernelCache) dropLocked(fid wire.FID, bound []dentry) {
	if k.inval == nil {
		return
	}
	var names []Dentry
	for _, d := range bound {
		if _, ok := k.names[d.parent][d.name]; ok {
			names = append(names, Dentry{Parent: d.parent, Name: d.name})
			delete(k.names[d.parent], d.name)
			if len(k.names[d.parent]) == 0 {
				delete(k.names, d.parent)
			}
		}
	}
	for name := range k.names[fid] {
		names = append(names, Dentry{Parent: fid, Name: name})
	}
	delete(k.names, fid)
	var fids []wire.FID
	if _, ok := k.attrs[fid]; ok {
		fids = append(fids, fid)
		delete(k.attrs, fid)
	}
	k.inval.Invalidate(names, fids)
}

// keepNameLocked records that the kernel keeps parent/name, positive or
// negative.
func (k *kernelCache) keepNameLocked(parent wire.FID, name string) {
	if k.names == nil {
		k.names = map[wire.FID]map[string]struct{}{}
	}
	if k.names[parent] == nil {
		k.names[parent] = map[string]struct{}{}
	}
	k.names[parent][name] = struct{}{}
}

// dropAttrsLocked queues the invalidation of fid's attributes, if the
// kernel keeps them.
func (k *kernelCache) dropAttrsLocked(fid wire.FID) {
	if _, ok := k.attrs[fid]; ok && k.inval != nil {
		delete(k.attrs, fid)
		k.inval.Invalidate(nil, []wire.FID{fid})
	}
}

// dropAllLocked queues the invalidation of everything the kernel keeps.
func (k *kernelCache) dropAllLocked() {
	if k.inval == nil {
		return
	}
	var names []Dentry
	for p, ns := range k.names {
		for n := range ns {
			names = append(names, Dentry{Parent: p, Name: n})
		}
	}
	fids := make([]wire.FID, 0, len(k.attrs))
	for f := range k.attrs {
		fids = append(fids, f)
	}
	k.names, k.attrs = nil, nil
	k.inval.Invalidate(names, fids)
}

// SetMetaInvalidator implements client/fusefs.MetaCacher: the mount's way
// to drop what its kernel keeps. Without one, Cacheable lets the kernel
// keep nothing.
func (fs *FS) SetMetaInvalidator(inval MetaInvalidator) {
	c := &fs.md
	c.mu.Lock()
	first := c.kernel.inval == nil
	c.kernel.inval = inval
	c.mu.Unlock()
	if !first {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return
	}
	fs.wg.Add(1)
	go fs.watchMDTs()
}

// Cacheable implements client/fusefs.MetaCacher: how long the kernel may
// keep parent/name → fid and the attributes a of fid this client just
// returned (see the comment at the top of this file).
func (fs *FS) Cacheable(parent wire.FID, name string, fid wire.FID, a *wire.Attr) (entry, attr time.Duration) {
	if fid.IsZero() {
		return fs.negativeCacheable(parent, name), 0
	}
	m, err := fs.lmv.Route(fid)
	if err != nil || m.Locks() == nil {
		return 0, 0
	}
	// The references taken by Match keep both locks, and so their cancel
	// hooks, until what the kernel is let keep is recorded.
	l := m.Locks().Match(mdDesc(fid))
	if l == nil {
		return 0, 0
	}
	defer l.Release()
	e := entryOf(l)
	if !fs.usable(m, e) || e.rep == nil {
		return 0, 0
	}
	typ := e.rep.Attr.Mode & syscall.S_IFMT
	var keepAttr bool
	switch typ {
	case syscall.S_IFDIR:
	case syscall.S_IFREG:
		// A fresh file's whole attributes are known (the size is the
		// MDT's plus this client's writes: none while it stays fresh).
		keepAttr = e.fresh && a != nil && sameMDAttr(a, &e.rep.Attr) && fs.openedInode(fid) == nil
	default:
		keepAttr = sameMDAttr(a, &e.rep.Attr)
	}
	keepName := false
	if !parent.IsZero() && name != "" && name != "." && name != ".." {
		if b, ok := fs.md.lookup(dentry{parent, name}); ok && b.fid == fid && b.lock == l {
			if pl := fs.searchableLock(parent); pl != nil {
				defer pl.Release()
				keepName = true
			}
		}
	}
	if !keepAttr && !keepName {
		return 0, 0
	}
	c := &fs.md
	c.mu.Lock()
	defer c.mu.Unlock()
	k := &c.kernel
	if k.inval == nil {
		return 0, 0
	}
	if keepAttr {
		if k.attrs == nil {
			k.attrs = map[wire.FID]struct{}{}
		}
		k.attrs[fid] = struct{}{}
		attr = kernelTimeout
	}
	if keepName {
		k.keepNameLocked(parent, name)
		entry = kernelTimeout
	}
	return entry, attr
}

// negativeCacheable says how long the kernel may keep that parent has no
// name name, which a lookup just answered: while this client holds the
// lock on the name's slot it cached that under (mdcache.go's negative),
// if everyone may search parent.
func (fs *FS) negativeCacheable(parent wire.FID, name string) time.Duration {
	if parent.IsZero() || name == "" || name == "." || name == ".." {
		return 0
	}
	m, err := fs.lmv.Route(parent)
	if err != nil || m.Locks() == nil {
		return 0
	}
	// The references keep both locks, and so their cancel hooks, until
	// what the kernel is let keep is recorded.
	l := m.Locks().Match(negDesc(parent, name))
	if l == nil {
		return 0
	}
	defer l.Release()
	if b, ok := fs.md.lookup(dentry{parent, name}); !ok || !b.fid.IsZero() || b.lock != l ||
		!fs.usable(m, entryOf(l)) {
		return 0
	}
	pl := fs.searchableLock(parent)
	if pl == nil {
		return 0
	}
	defer pl.Release()
	c := &fs.md
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kernel.inval == nil {
		return 0
	}
	c.kernel.keepNameLocked(parent, name)
	return kernelTimeout
}

// searchableLock returns, referenced, the lock of directory dir when this
// client caches its mode under it and that mode lets everyone search it.
func (fs *FS) searchableLock(dir wire.FID) interface{ Release() } {
	m, err := fs.lmv.Route(dir)
	if err != nil || m.Locks() == nil {
		return nil
	}
	l := m.Locks().Match(mdDesc(dir))
	if l == nil {
		return nil
	}
	e := entryOf(l)
	if !fs.usable(m, e) || e.rep == nil || e.rep.Attr.Mode&syscall.S_IFMT != syscall.S_IFDIR ||
		e.rep.Attr.Mode&0o001 == 0 {
		l.Release()
		return nil
	}
	return l
}

// sameMDAttr reports whether a holds the MDT's attributes m.
func sameMDAttr(a, m *wire.Attr) bool {
	return a != nil && a.Mode == m.Mode && a.UID == m.UID && a.GID == m.GID && a.Nlink == m.Nlink &&
		a.Size == m.Size && a.Rdev == m.Rdev && a.Atime == m.Atime && a.Mtime == m.Mtime && a.Ctime == m.Ctime
}

// watchMDTs drops everything the kernel keeps, and the MDC's unused
// locks, when an MDT restarted: it forgot its locks and calls none back.
func (fs *FS) watchMDTs() {
	defer fs.wg.Done()
	seen := map[*mdc.MDC]uint64{}
	t := time.NewTicker(mdtWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-fs.ctx.Done():
			return
		case <-t.C:
		}
		for _, m := range fs.lmv.All() {
			inc := m.Incarnation()
			old, ok := seen[m]
			seen[m] = inc
			if !ok || old == inc || old == 0 || inc == 0 {
				continue
			}
			c := &fs.md
			c.mu.Lock()
			c.kernel.dropAllLocked()
			c.mu.Unlock()
			if ns := m.Locks(); ns != nil {
				ns.CancelUnused(fs.ctx, nil)
			}
		}
	}
}
