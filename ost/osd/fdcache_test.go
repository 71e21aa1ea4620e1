package osd

import (
	"slices"
	"testing"

	"github.com/stria-fs/stria/wire"
	"golang.org/x/sys/unix"
)

// fakeFDs hands out fake descriptors and records which were closed.
type fakeFDs struct {
	next   int
	opens  int
	closed []int
}

func (f *fakeFDs) open() (int, error) {
	f.opens++
	f.next++
	return 1000 + f.next, nil
}

func (f *fakeFDs) close(fd int) error {
	f.closed = append(f.closed, fd)
	return nil
}

func (f *fakeFDs) isClosed(fd int) bool { return slices.Contains(f.closed, fd) }

func newTestCache(max int) (*fdCache, *fakeFDs) {
	c := newFDCache(max)
	f := &fakeFDs{}
	c.closeFD = f.close
	return c, f
}

func fidN(i uint32) wire.FID { return wire.FID{Seq: 1, Oid: i} }

func TestFDCacheHitsAndBound(t *testing.T) {
	c, f := newTestCache(3)
	var fds []int
	for i := uint32(1); i <= 5; i++ {
		e, err := c.get(fidN(i), f.open)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, e.fd)
		c.release(e)
	}
	if c.len() != 3 || f.opens != 5 {
		t.Fatalf("cached %d opened %d, want 3 5", c.len(), f.opens)
	}
	if !slices.Equal(f.closed, fds[:2]) {
		t.Fatalf("closed %v, want the two least recently used %v", f.closed, fds[:2])
	}
	// A hit opens nothing and refreshes recency.
	e, _ := c.get(fidN(3), f.open)
	c.release(e)
	if f.opens != 5 {
		t.Fatal("a hit opened a file")
	}
	e, _ = c.get(fidN(6), f.open) // evicts 4, now the least recent
	c.release(e)
	if c.m[fidN(3)] == nil || c.m[fidN(4)] != nil || !f.isClosed(fds[3]) {
		t.Fatalf("LRU order wrong: cached 3=%v 4=%v", c.m[fidN(3)] != nil, c.m[fidN(4)] != nil)
	}
	c.close()
	if c.len() != 0 || len(f.closed) != 6 {
		t.Fatalf("after close: cached %d, closed %d of 6", c.len(), len(f.closed))
	}
	if _, err := c.get(fidN(1), f.open); err != ErrClosed {
		t.Fatalf("get after close: %v", err)
	}
}

func TestFDCacheHeldEntrySurvivesEviction(t *testing.T) {
	c, f := newTestCache(1)
	held, _ := c.get(fidN(1), f.open)
	other, _ := c.get(fidN(2), f.open) // evicts the held entry
	c.release(other)
	if f.isClosed(held.fd) {
		t.Fatal("evicted fd closed while held")
	}
	c.release(held)
	if !f.isClosed(held.fd) {
		t.Fatal("evicted fd not closed on release")
	}
	// Held at close: closed on release.
	e, _ := c.get(fidN(2), f.open)
	c.close()
	if f.isClosed(e.fd) {
		t.Fatal("close closed a held fd")
	}
	c.release(e)
	if !f.isClosed(e.fd) {
		t.Fatal("fd held across close not closed on release")
	}
}

func TestFDCacheInvalidate(t *testing.T) {
	c, f := newTestCache(8)
	fid := fidN(1)
	e, _ := c.get(fid, f.open)
	c.invalidate(fid)
	if f.isClosed(e.fd) || c.len() != 0 {
		t.Fatal("invalidate closed a held fd or kept the entry")
	}
	c.release(e)
	if !f.isClosed(e.fd) {
		t.Fatal("invalidated fd not closed on release")
	}

	// An fd opened before an invalidation is used once, never cached.
	gen := c.snapshot()
	fd, _ := f.open()
	c.invalidate(fid)
	e = c.add(fid, fd, gen)
	if e.cached || c.len() != 0 {
		t.Fatal("stale fd cached")
	}
	c.release(e)
	if !f.isClosed(fd) {
		t.Fatal("stale fd not closed on release")
	}

	// One opened after it is cached; a racing second open of the same
	// object is closed in favour of the cached one.
	e, _ = c.get(fid, f.open)
	if !e.cached {
		t.Fatal("fresh fd not cached")
	}
	fd2, _ := f.open()
	e2 := c.add(fid, fd2, c.snapshot())
	if e2 != e || !f.isClosed(fd2) {
		t.Fatal("duplicate open not folded into the cached entry")
	}
	c.release(e2)
	c.release(e)
	c.close()
}

func TestFDCacheRealFiles(t *testing.T) {
	c := newFDCache(2)
	p := t.TempDir() + "/f"
	open := func() (int, error) { return unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644) }
	e, err := c.get(fidN(1), open)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Pwrite(e.fd, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	c.release(e)
	c.close()
}
