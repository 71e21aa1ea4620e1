package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// TestDataCoherence checks data coherence between two client mounts under
// the OSTs' extent locks, on one cluster (two OSSs with two OSTs each):
// each case in a directory of its own, client 0 as A, client 1 as B.
func TestDataCoherence(t *testing.T) {
	c := cluster.New(t, cluster.Options{Clients: 2})
	t.Run("WriteThenRead", func(t *testing.T) { testWriteThenRead(t, c) })
	t.Run("Truncate", func(t *testing.T) { testTruncateSeen(t, c) })
	t.Run("TruncateSameSize", func(t *testing.T) { testTruncateSameSize(t, c) })
	t.Run("ConcurrentDisjoint", func(t *testing.T) { testConcurrentWrites(t, c, false) })
	t.Run("ConcurrentOverlapping", func(t *testing.T) { testConcurrentWrites(t, c, true) })
	t.Run("CachedReread", func(t *testing.T) { testCachedReread(t, c) })
	t.Run("RandomMix", func(t *testing.T) { testRandomMix(t, c) })
	t.Run("Appends", func(t *testing.T) { testAppends(t, c) })
}

// pair makes a file in a fresh directory, striped over count OSTs of
// 64 KiB stripes, and returns its path on client 0 and on client 1.
func pair(t *testing.T, c *cluster.Cluster, name string, count int) (a, b string) {
	t.Helper()
	dir := freshDir(t, c, 0)
	rel, err := filepath.Rel(c.Mount(0), dir)
	must(t, "rel", err)
	a, b = filepath.Join(dir, name), filepath.Join(c.Mount(1), rel, name)
	lfsOK(t, c, "setstripe", "-c", strconv.Itoa(count), "-S", "64K", a)
	return a, b
}

func fill(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i%251)
	}
	return p
}

func openRW(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, "open "+p, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// testWriteThenRead: a write that returned on A, its file still open and
// not flushed, is seen by a read on B that starts after it, B having read
// (and cached) the old data through a descriptor open all along: sizes
// from one byte to more than a stripe, inside one stripe and across
// stripes.
func testWriteThenRead(t *testing.T, c *cluster.Cluster) {
	for _, count := range []int{1, 4} {
		for _, tc := range []struct {
			off, n int
		}{{0, 1}, {4096, 4096}, {65536 - 100, 200}, {100, 1<<20 + 1}} {
			name := fmt.Sprintf("c%d-%d-%d", count, tc.off, tc.n)
			t.Run(name, func(t *testing.T) {
				a, b := pair(t, c, name, count)
				old := fill(2<<20, 1)
				must(t, "write the old data", os.WriteFile(a, old, 0o644))
				fa, fb := openRW(t, a), openRW(t, b)
				got := make([]byte, len(old))
				_, err := fb.ReadAt(got, 0)
				must(t, "B reads the old data", err)
				if !bytes.Equal(got, old) {
					t.Fatal("B read wrong old data")
				}
				data := fill(tc.n, 7)
				_, err = fa.WriteAt(data, int64(tc.off))
				must(t, "A writes", err)
				want := append([]byte(nil), old...)
				copy(want[tc.off:], data)
				_, err = fb.ReadAt(got, 0)
				must(t, "B reads again", err)
				if i := firstDiff(got, want); i >= 0 {
					t.Errorf("B reads byte %d = %d after A's write, want %d", i, got[i], want[i])
				}
				st, err := os.Stat(b)
				must(t, "B stats", err)
				if st.Size() != int64(len(want)) {
					t.Errorf("B sees size %d, want %d", st.Size(), len(want))
				}
			})
		}
	}
	t.Run("Extends", func(t *testing.T) {
		// A write past the end on A makes the file longer for B at once,
		// though A has not written it back (the OST glimpses A).
		a, b := pair(t, c, "extends", 2)
		must(t, "create", os.WriteFile(a, []byte("x"), 0o644))
		fa := openRW(t, a)
		_, err := fa.WriteAt([]byte("tail"), 200000)
		must(t, "A writes past the end", err)
		st, err := os.Stat(b)
		must(t, "B stats", err)
		if st.Size() != 200004 {
			t.Errorf("B sees size %d, want 200004", st.Size())
		}
	})
}

// testTruncateSeen: a truncate on A is seen at once on B, in its size and
// in what a descriptor B had open (and had read through) reads.
func testTruncateSeen(t *testing.T, c *cluster.Cluster) {
	a, b := pair(t, c, "f", 4)
	data := fill(300000, 3)
	must(t, "write", os.WriteFile(a, data, 0o644))
	fb := openRW(t, b)
	got := make([]byte, len(data))
	_, err := fb.ReadAt(got, 0)
	must(t, "B reads", err)
	must(t, "A truncates", os.Truncate(a, 70000))
	st, err := fb.Stat()
	must(t, "B fstats", err)
	if st.Size() != 70000 {
		t.Errorf("B sees size %d after A's truncate to 70000", st.Size())
	}
	n, _ := fb.ReadAt(got, 0)
	if n != 70000 || !bytes.Equal(got[:n], data[:70000]) {
		t.Errorf("B reads %d bytes after the truncate, want the first 70000", n)
	}
	must(t, "A extends", os.Truncate(a, 100000))
	n, _ = fb.ReadAt(got, 0)
	if n != 100000 || !bytes.Equal(got[70000:n], make([]byte, 30000)) {
		t.Errorf("B reads %d bytes after A's extension to 100000, or non-zero bytes past 70000", n)
	}
}

// testTruncateSameSize: B reads a file through one open; A truncates it
// to 0 and back to its size, so B's kernel sees the same size before and
// after: B must still read zeros, not the data it had cached. And A's
// truncate down lands after what B had written under its lock: B's cached
// write does not come back past the new end once B closes. (Lustre gets
// both from the truncate's extent locks. Stria's truncate takes none yet:
// the MDT's attribute callback covers the first case; what covers the
// second is not established, see the issue #4 notes.)
func testTruncateSameSize(t *testing.T, c *cluster.Cluster) {
	a, b := pair(t, c, "f", 2)
	const size = 200000
	must(t, "write", os.WriteFile(a, fill(size, 7), 0o644))
	fb := openRW(t, b)
	got := make([]byte, size)
	if _, err := fb.ReadAt(got, 0); err != nil {
		t.Fatalf("B reads: %v", err)
	}
	must(t, "A truncates to 0", os.Truncate(a, 0))
	must(t, "A truncates back", os.Truncate(a, size))
	n, _ := fb.ReadAt(got, 0)
	if n != size || !bytes.Equal(got, make([]byte, size)) {
		t.Errorf("B reads %d bytes after A's truncate to 0 and back, not all zeros (first non-zero at %d)",
			n, bytes.IndexFunc(got[:n], func(r rune) bool { return r != 0 }))
	}
	// B's first write gets its grant (without, a write goes through at
	// once); the second stays in its cache.
	for i, off := range []int64{0, 100} {
		if _, err := fb.WriteAt([]byte("cached by B"), off); err != nil {
			t.Fatalf("B's write %d: %v", i, err)
		}
	}
	must(t, "A truncates to 50", os.Truncate(a, 50))
	must(t, "B closes", fb.Close())
	st, err := os.Stat(a)
	must(t, "A stats", err)
	if st.Size() != 50 {
		t.Errorf("after B's write at 100, A's truncate to 50 and B's close, the size is %d", st.Size())
	}
}

// testConcurrentWrites: A and B write one file at the same time, 64 KiB
// records at record-aligned offsets (each one write(2), one FUSE WRITE).
// Disjoint: A writes the even records, B the odd ones; afterwards both
// read every record as its writer wrote it. Overlapping: both write every
// record, in opposite orders; afterwards each record is entirely one
// writer's (a write(2) of a record is atomic with respect to other
// clients' reads and writes: it runs under one PW lock covering its
// pages), and both clients read the same bytes.
func testConcurrentWrites(t *testing.T, c *cluster.Cluster, overlap bool) {
	const rec, nrec = 64 << 10, 48
	a, b := pair(t, c, "f", 4)
	must(t, "create", os.WriteFile(a, nil, 0o644))
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w, p := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for k := range nrec {
				i := k
				if overlap && w == 1 {
					i = nrec - 1 - k
				}
				if !overlap && i%2 != w {
					continue
				}
				if _, err := f.WriteAt(bytes.Repeat([]byte{byte(10*w + 1 + i%7)}, rec), int64(i*rec)); err != nil {
					errs <- err
					return
				}
			}
			errs <- f.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "concurrent writer", err)
	}
	ra, err := os.ReadFile(a)
	must(t, "A reads", err)
	rb, err := os.ReadFile(b)
	must(t, "B reads", err)
	if len(ra) != rec*nrec || !bytes.Equal(ra, rb) {
		t.Fatalf("A reads %d bytes, B %d, equal %v; want %d equal bytes", len(ra), len(rb), bytes.Equal(ra, rb), rec*nrec)
	}
	for i := range nrec {
		r := ra[i*rec : (i+1)*rec]
		wa, wb := byte(1+i%7), byte(11+i%7)
		switch {
		case !overlap && i%2 == 0 && !bytes.Equal(r, bytes.Repeat([]byte{wa}, rec)),
			!overlap && i%2 == 1 && !bytes.Equal(r, bytes.Repeat([]byte{wb}, rec)):
			t.Errorf("record %d is not its writer's", i)
		case overlap && !bytes.Equal(r, bytes.Repeat([]byte{wa}, rec)) && !bytes.Equal(r, bytes.Repeat([]byte{wb}, rec)):
			t.Errorf("record %d mixes the writers' bytes (first %d, last %d)", i, r[0], r[rec-1])
		}
	}
}

// testCachedReread: re-reading a file client 0 holds a read lock on, in a
// new open, is served from the kernel's page cache: no OST_READ.
func testCachedReread(t *testing.T, c *cluster.Cluster) {
	skipKnown(t, "CachedReread")
	a, _ := pair(t, c, "f", 2)
	data := fill(1<<20, 5)
	must(t, "write", os.WriteFile(a, data, 0o644))
	got, err := os.ReadFile(a)
	must(t, "first read", err)
	if !bytes.Equal(got, data) {
		t.Fatal("first read: wrong data")
	}
	before := ostReads(t, c)
	got, err = os.ReadFile(a)
	must(t, "re-read", err)
	if !bytes.Equal(got, data) {
		t.Fatal("re-read: wrong data")
	}
	if after := ostReads(t, c); after != before {
		t.Errorf("re-reading a cached file sent %d OST_READs", after-before)
	}
}

// ostReads sums the ost_read samples of every OSC of every client.
func ostReads(t *testing.T, c *cluster.Cluster) int {
	t.Helper()
	out := lctlOK(t, c, "get_param", "osc.*.stats")
	n := 0
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+2 < len(f); i++ {
			if strings.HasSuffix(f[i], "ost_read") && f[i+2] == "samples" {
				v, err := strconv.Atoi(f[i+1])
				must(t, "parse "+l, err)
				n += v
			}
		}
	}
	return n
}

// testRandomMix: two goroutines per client run a random mix of writes,
// reads, stats and truncates on one striped file, which must neither
// deadlock nor fail; afterwards both clients read the same bytes, also
// after each wrote a range of its own past the end.
func testRandomMix(t *testing.T, c *cluster.Cluster) {
	const size, workers, ops = 1 << 20, 4, 150
	a, b := pair(t, c, "f", 4)
	must(t, "create", os.WriteFile(a, fill(size, 9), 0o644))
	done := make(chan error, workers)
	for w := range workers {
		p := []string{a, b}[w%2]
		go func() {
			done <- func() error {
				f, err := os.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					return err
				}
				defer f.Close()
				rng := rand.New(rand.NewPCG(uint64(w), 42))
				buf := make([]byte, 256<<10)
				for range ops {
					off := rng.Int64N(size)
					n := 1 + rng.IntN(len(buf))
					switch op := rng.IntN(20); {
					case op < 8:
						if _, err := f.WriteAt(bytes.Repeat([]byte{byte(w + 1)}, n), off); err != nil {
							return fmt.Errorf("write: %w", err)
						}
					case op < 16:
						if _, err := f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
							return fmt.Errorf("read: %w", err)
						}
					case op < 19:
						if _, err := f.Stat(); err != nil {
							return fmt.Errorf("stat: %w", err)
						}
					default:
						if err := f.Truncate(off); err != nil {
							return fmt.Errorf("truncate: %w", err)
						}
					}
				}
				return nil
			}()
		}()
	}
	ctx := tctx(t)
	for range workers {
		select {
		case err := <-done:
			must(t, "worker", err)
		case <-ctx.Done():
			t.Fatal("the workers did not finish: deadlock?")
		}
	}
	// Then each client writes a range of its own past where the
	// random writes reach, with its descriptor open, and both read everything.
	fa, fb := openRW(t, a), openRW(t, b)
	for i, f := range []*os.File{fa, fb} {
		_, err := f.WriteAt(bytes.Repeat([]byte{byte(0x80 + i)}, 4096), int64(2*size+i*8192))
		must(t, "final write", err)
	}
	ra, err := os.ReadFile(a)
	must(t, "A reads", err)
	rb, err := os.ReadFile(b)
	must(t, "B reads", err)
	if i := firstDiff(ra, rb); i >= 0 {
		t.Fatalf("A and B differ at byte %d (sizes %d, %d)", i, len(ra), len(rb))
	}
	if len(ra) != 2*size+8192+4096 {
		t.Errorf("size %d, want %d", len(ra), 2*size+8192+4096)
	}
	for i := range 2 {
		off := 2*size + i*8192
		if len(ra) < off+4096 || !bytes.Equal(ra[off:off+4096], bytes.Repeat([]byte{byte(0x80 + i)}, 4096)) {
			t.Errorf("client %d's last write is not there", i)
		}
	}
}

// testAppends: O_APPEND writes from both clients at once never overwrite
// each other: every record of both ends up in the file, whole, once.
func testAppends(t *testing.T, c *cluster.Cluster) {
	const rec, nrec = 1000, 60
	a, b := pair(t, c, "f", 4)
	must(t, "create", os.WriteFile(a, nil, 0o644))
	errs := make(chan error, 2)
	for w, p := range []string{a, b} {
		go func() {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for i := range nrec {
				r := []byte(fmt.Sprintf("%d:%04d:", w, i))
				r = append(r, bytes.Repeat([]byte{'a' + byte(w)}, rec-len(r))...)
				if _, err := f.Write(r); err != nil {
					errs <- err
					return
				}
			}
			errs <- f.Close()
		}()
	}
	for range 2 {
		must(t, "appender", <-errs)
	}
	data, err := os.ReadFile(b)
	must(t, "read", err)
	if len(data) != 2*rec*nrec {
		t.Fatalf("size %d after %d appends of %d bytes", len(data), 2*nrec, rec)
	}
	seen := map[string]bool{}
	for off := 0; off < len(data); off += rec {
		r := string(data[off : off+rec])
		var w, i int
		if _, err := fmt.Sscanf(r, "%d:%d:", &w, &i); err != nil || w > 1 ||
			strings.Trim(r[7:], string(rune('a'+w))) != "" || seen[r[:7]] {
			t.Fatalf("record at %d is damaged or repeated: %.20q", off, r)
		}
		seen[r[:7]] = true
	}
}
