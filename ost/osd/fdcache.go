package osd

import (
	"sync"

	"github.com/stria-fs/stria/wire"
	"golang.org/x/sys/unix"
)

// fdCache keeps up to max object files open, closing the least recently
// used. An fd is closed only when no operation holds it (refs == 0) and it
// has left the cache, so a reader never sees its fd closed or reused.
//
// Destroy safety: Destroy unlinks the file first and then calls invalidate,
// which drops the cached entry and bumps gen. An operation that opened the
// file before the unlink but reaches add after the bump finds gen changed
// and does not cache its fd (it still uses it once, which orders it before
// the destroy); one that added before the bump is dropped by invalidate. So
// after invalidate returns, no cached fd names the unlinked file, and a new
// object created under the same FID is opened afresh.
type fdCache struct {
	max     int
	closeFD func(int) error // unix.Close; tests watch it

	mu         sync.Mutex // leaf lock: nothing is called with it held but list upkeep
	gen        uint64
	m          map[wire.FID]*fdEntry
	head, tail *fdEntry // most and least recently used
	closed     bool
}

type fdEntry struct {
	fid        wire.FID
	fd         int
	refs       int  // operations holding fd; guarded by fdCache.mu
	cached     bool // in m and the list
	prev, next *fdEntry

	syncs syncGroup  // the fsyncs of the file through fd
	dmu   sync.Mutex // guards dfd; a leaf
	dfd   int        // the file opened O_DIRECT (dir_direct.go): 0 not yet, -1 cannot
}

func newFDCache(max int) *fdCache {
	return &fdCache{max: max, closeFD: unix.Close, m: map[wire.FID]*fdEntry{}}
}

// get returns a held entry for fid, opening it with open on a miss. The
// caller must release it.
func (c *fdCache) get(fid wire.FID, open func() (int, error)) (*fdEntry, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if e := c.m[fid]; e != nil {
		e.refs++
		c.toFront(e)
		c.mu.Unlock()
		return e, nil
	}
	gen := c.gen
	c.mu.Unlock()
	fd, err := open()
	if err != nil {
		return nil, err
	}
	return c.add(fid, fd, gen), nil
}

// snapshot returns the generation to pass to add for an fd opened after it.
func (c *fdCache) snapshot() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// add returns a held entry for fd, caching it unless an invalidation
// happened since gen or another entry for fid got there first (then fd is
// closed and the other entry returned).
func (c *fdCache) add(fid wire.FID, fd int, gen uint64) *fdEntry {
	c.mu.Lock()
	if e := c.m[fid]; e != nil && c.gen == gen {
		e.refs++
		c.toFront(e)
		c.mu.Unlock()
		c.closeFD(fd)
		return e
	}
	e := &fdEntry{fid: fid, fd: fd, refs: 1}
	var evicted []*fdEntry
	if c.gen == gen && !c.closed && c.m[fid] == nil {
		e.cached = true
		c.m[fid] = e
		c.pushFront(e)
		evicted = c.evictLocked()
	}
	c.mu.Unlock()
	c.closeAll(evicted)
	return e
}

// release drops a hold taken by get or add.
func (c *fdCache) release(e *fdEntry) {
	c.mu.Lock()
	e.refs--
	done := e.refs == 0 && !e.cached
	c.mu.Unlock()
	if done {
		c.closeEntry(e)
	}
}

// invalidate forgets fid's fd; see the type comment.
func (c *fdCache) invalidate(fid wire.FID) {
	c.mu.Lock()
	c.gen++
	var free []*fdEntry
	if e := c.m[fid]; e != nil {
		if c.dropLocked(e) {
			free = append(free, e)
		}
	}
	c.mu.Unlock()
	c.closeAll(free)
}

// close empties the cache for good; fds still held close on release.
func (c *fdCache) close() {
	c.mu.Lock()
	c.closed = true
	var free []*fdEntry
	for c.head != nil {
		e := c.head
		if c.dropLocked(e) {
			free = append(free, e)
		}
	}
	c.mu.Unlock()
	c.closeAll(free)
}

// len is the number of cached fds.
func (c *fdCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// evictLocked drops least recently used entries while over the bound and
// returns those to close.
func (c *fdCache) evictLocked() []*fdEntry {
	var free []*fdEntry
	for len(c.m) > c.max && c.tail != nil {
		e := c.tail
		if c.dropLocked(e) {
			free = append(free, e)
		}
	}
	return free
}

// dropLocked takes e out of the cache and reports whether its fd is free to
// close now.
func (c *fdCache) dropLocked(e *fdEntry) bool {
	delete(c.m, e.fid)
	c.unlink(e)
	e.cached = false
	return e.refs == 0
}

func (c *fdCache) toFront(e *fdEntry) {
	if c.head == e {
		return
	}
	c.unlink(e)
	c.pushFront(e)
}

func (c *fdCache) pushFront(e *fdEntry) {
	e.prev, e.next = nil, c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

func (c *fdCache) unlink(e *fdEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if c.head == e {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if c.tail == e {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *fdCache) closeAll(es []*fdEntry) {
	for _, e := range es {
		c.closeEntry(e)
	}
}

// closeEntry closes the descriptors of an entry no operation holds.
func (c *fdCache) closeEntry(e *fdEntry) {
	c.closeFD(e.fd)
	e.dmu.Lock()
	if e.dfd > 0 {
		c.closeFD(e.dfd)
	}
	e.dfd = -1
	e.dmu.Unlock()
}
