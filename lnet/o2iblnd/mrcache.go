package o2iblnd

import (
	"fmt"
	"sync"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// bulkAccess is how bulk buffers are registered: the same buffer may be the
// source of an RDMA write one time and its sink the next.
const bulkAccess = verbs.AccessLocalWrite | verbs.AccessRemoteWrite

// mrCache keeps registrations of bulk buffers for reuse. Registering is
// expensive on real hardware (it pins pages and programs the HCA's
// translation tables), and ptlrpc reuses its bulk buffers, so a buffer seen
// before is found here by the address of its first byte. An entry in use
// (ref > 0) is never deregistered; idle entries are kept, least recently
// used first out, within a count and a byte budget.
type mrCache struct {
	pd         verbs.PD
	maxEntries int
	maxBytes   int64

	mu      sync.Mutex // a leaf: taken inside a connection's lock
	byAddr  map[uint64]*mrEntry
	idle    mrList // entries with ref == 0 that are in byAddr, most recent at the front
	nidle   int
	bytes   int64 // registered bytes in byAddr
	regs    uint64
	hits    uint64
	retired int // entries replaced in byAddr but still in use
	closed  bool
}

// mrEntry is one registration.
type mrEntry struct {
	mr         verbs.MR
	addr       uint64
	n          int
	ref        int
	cached     bool // in byAddr
	prev, next *mrEntry
}

type mrList struct{ head, tail *mrEntry }

func (l *mrList) pushFront(e *mrEntry) {
	e.prev, e.next = nil, l.head
	if l.head != nil {
		l.head.prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}

func (l *mrList) remove(e *mrEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func newMRCache(pd verbs.PD, maxEntries int, maxBytes int64) *mrCache {
	return &mrCache{pd: pd, maxEntries: maxEntries, maxBytes: maxBytes, byAddr: map[uint64]*mrEntry{}}
}

// get returns a registration covering buf (not empty), taking a reference.
func (c *mrCache) get(buf []byte) (*mrEntry, error) {
	a := verbs.Addr(buf)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%w: MR cache closed", verbs.ErrClosed)
	}
	if e := c.byAddr[a]; e != nil {
		if e.n >= len(buf) {
			if e.ref == 0 {
				c.idle.remove(e)
				c.nidle--
			}
			e.ref++
			c.hits++
			return e, nil
		}
		c.uncache(e) // too short: replace it with a registration of the whole buffer
	}
	mr, err := c.pd.RegMR(buf, bulkAccess)
	if err != nil {
		return nil, err
	}
	c.regs++
	e := &mrEntry{mr: mr, addr: a, n: len(buf), ref: 1, cached: true}
	c.byAddr[a] = e
	c.bytes += int64(e.n)
	c.evict()
	return e, nil
}

// put drops a reference taken by get.
func (c *mrCache) put(e *mrEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.ref--
	if e.ref > 0 {
		return
	}
	if !e.cached || c.closed {
		if !e.cached {
			c.retired--
		}
		_ = e.mr.Close()
		return
	}
	c.idle.pushFront(e)
	c.nidle++
	c.evict()
}

// uncache removes e from the map; it is deregistered now if idle, else when
// its last reference goes.
func (c *mrCache) uncache(e *mrEntry) {
	delete(c.byAddr, e.addr)
	c.bytes -= int64(e.n)
	e.cached = false
	if e.ref == 0 {
		c.idle.remove(e)
		c.nidle--
		_ = e.mr.Close()
		return
	}
	c.retired++
}

// evict deregisters idle entries, oldest first, while over budget.
func (c *mrCache) evict() {
	for (len(c.byAddr) > c.maxEntries || c.bytes > c.maxBytes) && c.idle.tail != nil {
		c.uncache(c.idle.tail)
	}
}

// close deregisters every idle entry; entries still in use are deregistered
// by their last put. It returns how many were in use.
func (c *mrCache) close() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	busy := c.retired
	for _, e := range c.byAddr {
		if e.ref == 0 {
			_ = e.mr.Close()
		} else {
			busy++
		}
	}
	c.byAddr = map[uint64]*mrEntry{}
	c.idle = mrList{}
	c.nidle = 0
	c.bytes = 0
	return busy
}

// cacheStats is a snapshot for tests and lctl.
type cacheStats struct {
	Entries, Idle, InUse int
	Bytes                int64
	Regs, Hits           uint64
}

func (c *mrCache) stats() cacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cacheStats{
		Entries: len(c.byAddr) + c.retired, Idle: c.nidle, InUse: len(c.byAddr) - c.nidle + c.retired,
		Bytes: c.bytes, Regs: c.regs, Hits: c.hits,
	}
}
