package fusefs

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"go.uber.org/zap"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/wire"
)

// MetaCacher is a Backend whose names and attributes the kernel may keep
// (FUSE entry and attribute timeouts) while the backend holds locks that
// cover them. After each answer that gives the kernel a name or
// attributes the adapter asks Cacheable how long the kernel may keep
// them; when they stop being covered the backend calls the
// MetaInvalidator the adapter gave it (SetMetaInvalidator, once, at
// mount), which drops them from the kernel.
type MetaCacher interface {
	// Cacheable says for how long, from now, the kernel may keep the name
	// parent/name bound to fid (entry; parent zero: no name) and the
	// attributes a of fid that the backend just returned (attr); with fid
	// zero and a nil, how long it may keep that parent has no name name
	// (entry), which the backend's Lookup just answered. Zero means not
	// at all. A backend answers non-zero only for what is
	// covered by a lock it holds now and drops through the invalidator
	// when the lock goes.
	Cacheable(parent wire.FID, name string, fid wire.FID, a *wire.Attr) (entry, attr time.Duration)
	SetMetaInvalidator(MetaInvalidator)
}

// MetaInvalidator drops names and attributes from the kernel's caches.
// Invalidate only queues the work and returns at once: it may be called
// from anywhere, a lock callback included, never waiting for the kernel
// (a notification can wait for a request of the same directory, which
// may be waiting for this very callback). Within one call, names go
// before attributes, so that a lookup the kernel has in flight for one
// of the names has finished (the kernel orders a name's invalidation
// after it) before the inode's attributes are dropped.
//
// It is client.MetaInvalidator (an alias: the client library cannot
// import this package, and its FS implements MetaCacher).
type MetaInvalidator = client.MetaInvalidator

// Dentry is a name in a directory (client.Dentry).
type Dentry = client.Dentry

// metaCache is the adapter's side of MetaCacher: the backend's answers on
// what the kernel may keep, and the queue of invalidations, run by one
// goroutine of the Server. The mount's node IDs are the inode numbers
// (fs.Options.ExternalNodeID; the root's is FUSE_ROOT_ID), so a FID names
// its kernel inode without a table.
//
// Ordering. A handler reads gen before it calls the backend and hands out
// timeouts only if no invalidation was queued meanwhile, so an answer
// computed across an invalidation is not cached. One that was queued
// after the handler's check is still ordered after the reply reaches the
// kernel: the kernel holds the directory's lock from a LOOKUP (or CREATE,
// MKDIR...) until it has installed the reply, and a name's invalidation
// takes that lock; the attributes of an inode it already knows are
// versioned (an INVAL_INODE makes an older reply's attributes be
// ignored). So names are invalidated before the attributes of the same
// inodes, and in the order they were queued.
type metaCache struct {
	b    MetaCacher // nil: the backend caches nothing, timeouts stay 0
	log  *zap.Logger
	root wire.FID
	srv  *fuse.Server  // set before start
	gen  atomic.Uint64 // invalidations queued

	mu      sync.Mutex // guards the fields below; a leaf
	queue   []invalidation
	busy    bool       // the worker is sending what it took from queue
	idle    *sync.Cond // signalled when the queue drains (tests)
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

type invalidation struct {
	names []Dentry
	fids  []wire.FID
}

func newMetaCache(b Backend, log *zap.Logger) *metaCache {
	c := &metaCache{log: log, root: b.Root(), kick: make(chan struct{}, 1), stop: make(chan struct{}),
		stopped: make(chan struct{})}
	c.idle = sync.NewCond(&c.mu)
	c.b, _ = b.(MetaCacher)
	return c
}

// start runs the invalidation worker, sending through srv, and hands the
// backend its invalidator; close ends the worker.
func (c *metaCache) start(srv *fuse.Server) {
	c.srv = srv
	go c.run()
	if c.b != nil {
		c.b.SetMetaInvalidator(c)
	}
}

func (c *metaCache) close() {
	close(c.stop)
	<-c.stopped
}

// nodeID is the kernel's node ID of fid.
func (c *metaCache) nodeID(fid wire.FID) uint64 {
	if fid == c.root {
		return fuse.FUSE_ROOT_ID
	}
	return fid.Ino()
}

// Invalidate implements MetaInvalidator.
func (c *metaCache) Invalidate(names []Dentry, fids []wire.FID) {
	if len(names) == 0 && len(fids) == 0 {
		return
	}
	c.gen.Add(1)
	c.mu.Lock()
	c.queue = append(c.queue, invalidation{names: names, fids: fids})
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// renamed drops the names a rename of this mount moved: the kernel moves
// the dentry to its new name with the timeout its old name was given,
// under a lock that covered the old name only (the notification waits for
// the rename to finish in the kernel, then drops it).
func (c *metaCache) renamed(parent wire.FID, name string, newParent wire.FID, newName string, exchange bool) {
	if c.b == nil {
		return
	}
	names := []Dentry{{Parent: newParent, Name: newName}}
	if exchange {
		names = append(names, Dentry{Parent: parent, Name: name})
	}
	c.Invalidate(names, nil)
}

// reinvalidateAfter is how long after a name's invalidation the worker
// sends it again. A first LOOKUP is ordered with a name's invalidation by
// the directory's lock, but a LOOKUP that revalidates a dentry is not: the
// kernel sets the reply's entry timeout after it read the reply, holding
// nothing the notification takes, so an invalidation queued after the
// reply was made can land in between and the timeout outlive the lock.
// Kernels from 6.16 close that with FUSE_NOTIFY_INC_EPOCH, which go-fuse
// does not send; sending the names again once any reply in flight has
// long been installed leaves the window only to a kernel thread stalled
// longer than this between reading a reply and using it.
const reinvalidateAfter = 500 * time.Millisecond

// run sends the queued notifications until close, and each name once more
// reinvalidateAfter later.
func (c *metaCache) run() {
	defer close(c.stopped)
	type again struct {
		due   time.Time
		names []Dentry
	}
	var later []again
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		case <-timer.C:
			now := time.Now()
			for len(later) > 0 && !later[0].due.After(now) {
				c.notify(invalidation{names: later[0].names})
				later = later[1:]
			}
		}
		for {
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			c.busy = len(q) > 0
			if !c.busy {
				c.idle.Broadcast()
				c.mu.Unlock()
				break
			}
			c.mu.Unlock()
			for _, in := range q {
				c.notify(in)
				if len(in.names) > 0 {
					later = append(later, again{time.Now().Add(reinvalidateAfter), in.names})
				}
			}
		}
		if len(later) > 0 {
			timer.Reset(time.Until(later[0].due))
		}
	}
}

// notify sends one invalidation's notifications: names first, then
// attributes. ENOENT means the kernel does not have it: nothing to drop.
func (c *metaCache) notify(in invalidation) {
	for _, d := range in.names {
		if st := c.srv.EntryNotify(c.nodeID(d.Parent), d.Name); st != fuse.OK && st != fuse.ENOENT {
			c.log.Debug("fusefs: name invalidation failed", zap.Stringer("fid", d.Parent),
				zap.String("name", d.Name), zap.Stringer("status", st))
		}
	}
	for _, f := range in.fids {
		// A negative offset drops the attributes and keeps the pages,
		// which the data path's locks cover.
		if st := c.srv.InodeNotify(c.nodeID(f), -1, 0); st != fuse.OK && st != fuse.ENOENT {
			c.log.Debug("fusefs: attribute invalidation failed", zap.Stringer("fid", f), zap.Stringer("status", st))
		}
	}
}

// waitIdle waits until every queued invalidation was sent (tests).
func (c *metaCache) waitIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 || c.busy {
		c.idle.Wait()
	}
}

// timeouts returns how long the kernel may keep parent/name → fid and
// fid's attributes a, given the invalidation generation read before the
// backend was asked: none if an invalidation was queued since.
func (c *metaCache) timeouts(gen uint64, parent wire.FID, name string, fid wire.FID, a *wire.Attr) (entry, attr time.Duration) {
	if c.b == nil {
		return 0, 0
	}
	entry, attr = c.b.Cacheable(parent, name, fid, a)
	if c.gen.Load() != gen {
		return 0, 0
	}
	return entry, attr
}

// setEntry sets out's timeouts for parent/name → fid with attributes a.
func (c *metaCache) setEntry(gen uint64, parent wire.FID, name string, fid wire.FID, a *wire.Attr, out *fuse.EntryOut) {
	e, at := c.timeouts(gen, parent, name, fid, a)
	out.SetEntryTimeout(e)
	out.SetAttrTimeout(at)
}

// setNegative sets out's entry timeout for parent having no name name.
func (c *metaCache) setNegative(gen uint64, parent wire.FID, name string, out *fuse.EntryOut) {
	e, _ := c.timeouts(gen, parent, name, wire.FID{}, nil)
	out.SetEntryTimeout(e)
}

// negRaw wraps go-fuse's raw file system so that a LOOKUP answered ENOENT
// with an entry timeout (node.Lookup, setNegative) reaches the kernel as a
// negative entry it keeps that long: a reply of node ID 0. go-fuse's own
// negative entries (Options.NegativeTimeout) have one timeout for all.
type negRaw struct {
	fuse.RawFileSystem
}

func (r negRaw) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	out.EntryValid, out.EntryValidNsec = 0, 0
	st := r.RawFileSystem.Lookup(cancel, header, name, out)
	if st == fuse.ENOENT && (out.EntryValid != 0 || out.EntryValidNsec != 0) {
		*out = fuse.EntryOut{EntryValid: out.EntryValid, EntryValidNsec: out.EntryValidNsec}
		return fuse.OK
	}
	return st
}

// setAttr sets out's timeout for fid's attributes a.
func (c *metaCache) setAttr(gen uint64, fid wire.FID, a *wire.Attr, out *fuse.AttrOut) {
	_, at := c.timeouts(gen, wire.FID{}, "", fid, a)
	out.SetTimeout(at)
}
