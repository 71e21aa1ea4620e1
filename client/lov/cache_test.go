package lov

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/layout"
)

func newCache(t *testing.T, ts fakeTargets, l *layout.Layout) *Cache {
	t.Helper()
	c := NewCache(context.Background(), CacheConfig{Targets: ts, Layout: l})
	t.Cleanup(func() {
		if err := c.Close(ctx(t)); err != nil {
			t.Error(err)
		}
		for i, f := range ts {
			if f.dirty != 0 {
				t.Errorf("OST %d: %d dirty bytes left", i, f.dirty)
			}
		}
	})
	return c
}

func TestCacheSequentialWritesFullRPCs(t *testing.T) {
	ts := newTargets(4, 4<<20)
	l := plain(t, 4, 1<<20)
	c := newCache(t, ts, l)
	data := pattern(16<<20, 9)
	for off := 0; off < len(data); off += 1 << 20 {
		if n, err := c.Write(ctx(t), data[off:off+1<<20], uint64(off), 0); err != nil || n != 1<<20 {
			t.Fatal(n, err)
		}
	}
	if err := c.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for i, f := range ts {
		rs := f.recorded("write")
		if len(rs) != 1 || rs[0].off != 0 || rs[0].n != 4<<20 {
			t.Errorf("OST %d writes %+v, want one of 4 MiB at 0", i, rs)
		}
	}
	p := make([]byte, len(data))
	if _, err := Read(ctx(t), ts, l, 0, p, 0); err != nil || !bytes.Equal(p, data) {
		t.Fatal("read back differs", err)
	}
	if c.End() != uint64(len(data)) {
		t.Fatalf("end %d", c.End())
	}
}

func TestCacheSendsFullSlotsBeforeFlush(t *testing.T) {
	ts := newTargets(1, 1<<20)
	l := plain(t, 1, 1<<20)
	c := newCache(t, ts, l)
	// 2.5 MiB in 256 KiB writes: two full slots go at once, the half one
	// waits for Flush.
	for off := 0; off < 5<<19; off += 256 << 10 {
		if _, err := c.Write(ctx(t), pattern(256<<10, byte(off)), uint64(off), 0); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	var wait []*extent
	for _, o := range c.objs {
		wait = append(wait, o.flying...)
	}
	c.mu.Unlock()
	if err := waitAll(ctx(t), wait); err != nil {
		t.Fatal(err)
	}
	if rs := sortRPCs(ts[0].recorded("write")); len(rs) != 2 || rs[0].n != 1<<20 || rs[1].off != 1<<20 {
		t.Fatalf("before flush: %+v, want the two full MiBs", rs)
	}
	if err := c.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if rs := sortRPCs(ts[0].recorded("write")); len(rs) != 3 || rs[2].off != 2<<20 || rs[2].n != 512<<10 {
		t.Fatalf("after flush: %+v", rs)
	}
}

func TestCacheWithoutGrantWritesThrough(t *testing.T) {
	ts := newTargets(2, 4<<20)
	ts[0].noGrant = true
	l := plain(t, 2, 1<<20)
	c := newCache(t, ts, l)
	if _, err := c.Write(ctx(t), pattern(4096, 1), 0, 0); err != nil {
		t.Fatal(err)
	}
	if rs := ts[0].recorded("write"); len(rs) != 1 || rs[0].n != 4096 {
		t.Fatalf("OST 0 writes %+v: an ungranted write must be on the OST when Write returns", rs)
	}
	// OST 1 grants: its data stays cached.
	if _, err := c.Write(ctx(t), pattern(4096, 2), 1<<20, 0); err != nil {
		t.Fatal(err)
	}
	if rs := ts[1].recorded("write"); len(rs) != 0 {
		t.Fatalf("OST 1 writes %+v before flush", rs)
	}
	// An ungranted write's error reaches its writer.
	ts[0].failNext = func(op string) error {
		if op == "write" {
			return fmt.Errorf("ost: %w", syscall.ENOSPC)
		}
		return nil
	}
	if _, err := c.Write(ctx(t), pattern(4096, 3), 8192, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err %v, want ENOSPC", err)
	}
}

func TestCacheAsyncErrorReportedOncePerReader(t *testing.T) {
	ts := newTargets(1, 4<<20)
	l := plain(t, 1, 1<<20)
	c := newCache(t, ts, l)
	var a, b uint64 = c.ErrSeq(), c.ErrSeq()
	ts[0].failNext = func(op string) error {
		if op == "write" {
			return fmt.Errorf("ost: %w", syscall.ENOSPC)
		}
		return nil
	}
	if _, err := c.Write(ctx(t), pattern(8192, 1), 0, 0); err != nil {
		t.Fatalf("cached write: %v", err)
	}
	if err := c.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Err(&a); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("first reader: %v, want ENOSPC", err)
	}
	if err := c.Err(&a); err != nil {
		t.Fatalf("first reader again: %v, want nil", err)
	}
	if err := c.Err(&b); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second reader: %v, want ENOSPC", err)
	}
	if c.Dirty() {
		t.Fatal("failed data still cached")
	}
}

func TestCacheOverlappingWritesKeepTheirOrder(t *testing.T) {
	ts := newTargets(1, 64<<10)
	l := plain(t, 1, 64<<10)
	gate := make(chan bool)
	ts[0].gate = gate
	c := newCache(t, ts, l)
	// Two full slots over the same range: the second must reach the OST
	// after the first, although both are sent at once.
	a, b := pattern(64<<10, 1), pattern(64<<10, 2)
	if _, err := c.Write(ctx(t), a, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(ctx(t), b, 0, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Flush(ctx(t)) }()
	gate <- true
	gate <- true
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ts[0].gate = nil
	p := make([]byte, 64<<10)
	if _, err := Read(ctx(t), ts, l, 0, p, 0); err != nil || !bytes.Equal(p, b) {
		t.Fatal("the older write landed last", err)
	}
}

func TestCachePressureWritesBack(t *testing.T) {
	ts := newTargets(1, 4<<20)
	ts[0].maxDirty = 1 << 20
	l := plain(t, 1, 64<<10)
	c := newCache(t, ts, l)
	// Scattered 128 KiB writes never fill a 4 MiB slot: only the
	// writers' kicks on a full cache get them written.
	for i := range 32 {
		if _, err := c.Write(ctx(t), pattern(128<<10, byte(i)), uint64(i)*(4<<20), 0); err != nil {
			t.Fatal(err)
		}
	}
	if ts[0].kicks == 0 {
		t.Fatal("no writer was held back")
	}
	if n := len(ts[0].recorded("write")); n == 0 {
		t.Fatal("nothing written before flush")
	}
}

func TestCacheFlushRange(t *testing.T) {
	ts := newTargets(2, 4<<20)
	l := plain(t, 2, 1<<20)
	c := newCache(t, ts, l)
	c.Write(ctx(t), pattern(4096, 1), 0, 0)       // OST 0
	c.Write(ctx(t), pattern(4096, 2), 1<<20, 0)   // OST 1
	c.Write(ctx(t), pattern(4096, 3), 2<<20+8, 0) // OST 0, object offset 1 MiB
	if err := c.FlushRange(ctx(t), 1<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	if n0, n1 := len(ts[0].recorded("write")), len(ts[1].recorded("write")); n0 != 0 || n1 != 1 {
		t.Fatalf("writes %d, %d; want only OST 1's", n0, n1)
	}
}

func TestCacheNeedsIntent(t *testing.T) {
	ts := newTargets(2, 4<<20)
	l := pfl(t, 1<<20, 1, 2, 1<<20, false)
	c := newCache(t, ts, l)
	if _, err := c.Write(ctx(t), pattern(100, 1), 1<<20, 0); !errors.Is(err, ErrNeedIntent) || !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("err %v, want ErrNeedIntent", err)
	}
	if n, err := c.Write(ctx(t), pattern(100, 1), 0, 0); err != nil || n != 100 {
		t.Fatal(n, err)
	}
}

// TestCacheModel runs random writes, reads, flushes and truncates over
// several layouts and checks every read against an in-memory model.
func TestCacheModel(t *testing.T) {
	for _, g := range []struct {
		count int
		size  uint32
		rpc   int
	}{{1, 64 << 10, 256 << 10}, {2, 64 << 10, 128 << 10}, {4, 64 << 10, 1 << 20}, {1, 1 << 20, 4 << 20},
		{2, 1 << 20, 1 << 20}, {4, 1 << 20, 4 << 20}} {
		t.Run(fmt.Sprintf("%dx%dK_rpc%dK", g.count, g.size>>10, g.rpc>>10), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(g.count), uint64(g.size)))
			ts := newTargets(g.count, g.rpc)
			for _, f := range ts {
				f.maxDirty = int64(2 * g.rpc)
			}
			l := plain(t, g.count, g.size)
			c := newCache(t, ts, l)
			var model []byte
			span := int(g.size) * g.count * 3
			size := func() uint64 {
				sz, err := Glimpse(ctx(t), ts, l)
				if err != nil {
					t.Fatal(err)
				}
				return max(sz.Size, c.End())
			}
			steps := 300
			if g.size >= 1<<20 {
				steps = 60
			}
			for step := range steps {
				switch op := rng.IntN(10); {
				case op < 6: // write
					off, n := rng.IntN(span), 1+rng.IntN(int(g.size)+g.rpc/2)
					data := pattern(n, byte(step))
					if w, err := c.Write(ctx(t), data, uint64(off), 0); err != nil || w != n {
						t.Fatalf("step %d: write %d at %d: %d, %v", step, n, off, w, err)
					}
					if end := off + n; end > len(model) {
						model = append(model, make([]byte, end-len(model))...)
					}
					copy(model[off:], data)
				case op < 8: // read
					off, n := rng.IntN(span), 1+rng.IntN(2*int(g.size))
					if err := c.FlushRange(ctx(t), uint64(off), uint64(n)); err != nil {
						t.Fatal(err)
					}
					p := make([]byte, n)
					short, err := Read(ctx(t), ts, l, 0, p, uint64(off))
					if err != nil {
						t.Fatal(err)
					}
					got := n
					if short {
						got = int(min(uint64(n), max(size(), uint64(off))-uint64(off)))
					}
					want := []byte{}
					if off < len(model) {
						want = model[off:min(off+n, len(model))]
					}
					if !bytes.Equal(p[:got], want) {
						t.Fatalf("step %d: read %d at %d differs (got %d bytes, model %d)", step, n, off, got, len(want))
					}
				case op < 9: // flush
					if err := c.Flush(ctx(t)); err != nil {
						t.Fatal(err)
					}
				default: // truncate
					if err := c.Flush(ctx(t)); err != nil {
						t.Fatal(err)
					}
					to := uint64(rng.IntN(span))
					sz, err := Glimpse(ctx(t), ts, l)
					if err != nil {
						t.Fatal(err)
					}
					if err := Truncate(ctx(t), ts, l, to, sz.Objects); err != nil {
						t.Fatal(err)
					}
					c.Truncated(to)
					if to < uint64(len(model)) {
						model = model[:to]
					} else {
						model = append(model, make([]byte, to-uint64(len(model)))...)
					}
				}
			}
			if err := c.Flush(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if s := size(); s != uint64(len(model)) {
				t.Fatalf("size %d, model %d", s, len(model))
			}
		})
	}
}

func TestCacheConcurrentWriters(t *testing.T) {
	ts := newTargets(4, 256<<10)
	for _, f := range ts {
		f.maxDirty = 512 << 10
	}
	l := plain(t, 4, 64<<10)
	c := newCache(t, ts, l)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each writer owns its own 1 MiB region.
			for off := 0; off < 1<<20; off += 32 << 10 {
				if _, err := c.Write(ctx(t), pattern(32<<10, byte(w)), uint64(w<<20+off), 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4<<20)
	if _, err := Read(ctx(t), ts, l, 0, p, 0); err != nil {
		t.Fatal(err)
	}
	for w := range 4 {
		for off := 0; off < 1<<20; off += 32 << 10 {
			if !bytes.Equal(p[w<<20+off:w<<20+off+32<<10], pattern(32<<10, byte(w))) {
				t.Fatalf("writer %d at %d differs", w, off)
			}
		}
	}
}

func TestCacheDiscard(t *testing.T) {
	ts := newTargets(2, 4<<20)
	l := plain(t, 2, 1<<20)
	c := newCache(t, ts, l)
	seen := c.ErrSeq()
	c.Write(ctx(t), pattern(4096, 1), 0, 0)     // OST 0
	c.Write(ctx(t), pattern(4096, 2), 1<<20, 0) // OST 1
	obj0 := l.Components[0].Stripe.Objects[0].FID
	if n := c.Discard(obj0); n != 4096 {
		t.Fatalf("discarded %d bytes, want 4096", n)
	}
	if err := c.Err(&seen); !errors.Is(err, ErrDiscarded) || !errors.Is(err, syscall.EIO) {
		t.Errorf("error after a discard: %v, want ErrDiscarded and EIO", err)
	}
	if ts[0].dirty != 0 {
		t.Errorf("OST 0 still accounts %d cached bytes", ts[0].dirty)
	}
	if err := c.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n0, n1 := len(ts[0].recorded("write")), len(ts[1].recorded("write")); n0 != 0 || n1 != 1 {
		t.Errorf("writes %d, %d after the discard of OST 0's object; want 0, 1", n0, n1)
	}
	if n := c.Discard(obj0); n != 0 {
		t.Errorf("a second discard dropped %d bytes", n)
	}
}

// TestCacheCarriesMtime: each write-back carries the latest time its data
// was written at (merged extents keep the latest), not the time it is
// sent, and only its own object's.
func TestCacheCarriesMtime(t *testing.T) {
	ts := newTargets(2, 4<<20)
	l := plain(t, 2, 1<<20)
	c := newCache(t, ts, l)
	for _, w := range []struct {
		off   uint64
		mtime int64
	}{{0, 500}, {4096, 300}, {1 << 20, 400}} {
		if _, err := c.Write(ctx(t), pattern(4096, byte(w.mtime)), w.off, w.mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	objs := l.Components[0].Stripe.Objects
	if n := len(ts[0].recorded("write")); n != 1 {
		t.Errorf("OST 0 got %d writes, want the two merged into one", n)
	}
	if got := ts[0].mtimes[objs[0].FID]; got != 500 {
		t.Errorf("object 0 written back with mtime %d, want 500 (the later of its writes)", got)
	}
	if got := ts[1].mtimes[objs[1].FID]; got != 400 {
		t.Errorf("object 1 written back with mtime %d, want 400", got)
	}
}

// TestCacheSumsAsItCaches: a sequential writer's extent is checksummed as
// it grows (no pass over it when sent); an overwrite inside the summed
// part leaves the rest to be summed at send. The fake OST refuses a write
// whose checksum is wrong, so the flush checks both.
func TestCacheSumsAsItCaches(t *testing.T) {
	ts := newTargets(1, 4<<20)
	l := plain(t, 1, 1<<20)
	c := newCache(t, ts, l)
	data := pattern(1<<20, 3)
	for off := 0; off < len(data); off += 256 << 10 {
		if _, err := c.Write(ctx(t), data[off:off+256<<10], uint64(off), 0); err != nil {
			t.Fatal(err)
		}
	}
	summed := func() (int, int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, o := range c.objs {
			if len(o.dirty) == 1 {
				return o.dirty[0].summed, len(o.dirty[0].data)
			}
		}
		return -1, -1
	}
	if s, n := summed(); s != n || n != len(data) {
		t.Fatalf("after sequential writes %d of %d bytes are summed, want all %d", s, n, len(data))
	}
	if _, err := c.Write(ctx(t), pattern(100, 4), 4096, 0); err != nil {
		t.Fatal(err)
	}
	if s, n := summed(); s == n {
		t.Fatalf("an overwrite inside the summed part left it summed (%d of %d)", s, n)
	}
	if _, err := c.Write(ctx(t), pattern(4096, 5), 1<<20, 0); err != nil { // appends past the unsummed part
		t.Fatal(err)
	}
	if err := c.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	var seen uint64
	if err := c.Err(&seen); err != nil {
		t.Fatalf("write-back: %v", err)
	}
	copy(data[4096:], pattern(100, 4))
	data = append(data, pattern(4096, 5)...)
	p := make([]byte, len(data))
	if _, err := Read(ctx(t), ts, l, 0, p, 0); err != nil || !bytes.Equal(p, data) {
		t.Fatal("read back differs", err)
	}
}
