package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// runIntegrity does random writes, reads and truncates across stripe
// boundaries through the FUSE mount, on files of 1, 2 and 4 stripes of
// 64 KiB and 1 MiB, checking every read and the size against an in-memory
// model; the files start sparse (the first write lands far from 0) and
// holes must read as zeros. After close, the other client reads every
// file back whole.
func runIntegrity(t *testing.T, c *cluster.Cluster) {
	for _, g := range []struct {
		count int
		size  int64
	}{{1, 64 << 10}, {2, 64 << 10}, {4, 64 << 10}, {1, 1 << 20}, {2, 1 << 20}, {4, 1 << 20}} {
		t.Run(fmt.Sprintf("count=%d,size=%dK", g.count, g.size>>10), func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 0))
			dir := freshDir(t, c, 0)
			path := filepath.Join(dir, "f")
			lfsOK(t, c, "setstripe", "-c", strconv.Itoa(g.count), "-S", strconv.FormatInt(g.size, 10), path)
			model := randomIO(t, rng, path, int64(g.count)*g.size, 150)
			rel, _ := filepath.Rel(c.Mount(0), path)
			got, err := os.ReadFile(filepath.Join(c.Mount(1), rel))
			must(t, "read through client 1", err)
			if i := firstDiff(got, model); i >= 0 {
				t.Fatalf("client 1 reads %d bytes, model %d; first difference at %d", len(got), len(model), i)
			}
		})
	}
}

// randomIO runs n random operations on path (which exists, empty) and
// returns the model of its content. stripeWidth is count*size: offsets
// cluster around stripe boundaries over three widths.
func randomIO(t *testing.T, rng *rand.Rand, path string, stripeWidth int64, n int) []byte {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, "open", err)
	defer func() { must(t, "close", f.Close()) }()
	var model []byte
	span := 3 * stripeWidth
	// offset picks a position near a 64 KiB boundary (every stripe
	// boundary is one), or anywhere.
	offset := func() int64 {
		if rng.IntN(3) == 0 {
			return rng.Int64N(span)
		}
		b := rng.Int64N(span/(64<<10)+1) * (64 << 10)
		return max(0, b+rng.Int64N(8192)-4096)
	}
	// Written data comes from a random pool at a random offset: every
	// write differs, and making it costs a copy, not a random number per
	// byte (the test binary runs under the race detector).
	pool := make([]byte, 8<<20)
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	_, _ = rand.NewChaCha8(seed).Read(pool)
	write := func(off int64, n int) {
		buf := make([]byte, n)
		at := rng.IntN(len(pool) - n + 1)
		copy(buf, pool[at:at+n])
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatalf("pwrite %d at %d: %v", n, off, err)
		}
		if end := off + int64(n); end > int64(len(model)) {
			model = append(model, make([]byte, end-int64(len(model)))...)
		}
		copy(model[off:], buf)
	}
	// Sparse from the start: the first write lands beyond a hole.
	write(stripeWidth+12345, 1000)
	for range n {
		switch op := rng.IntN(10); {
		case op < 5:
			write(offset(), 1+rng.IntN(int(min(2*stripeWidth, 3<<20))))
		case op < 8:
			off, want := offset(), 1+rng.IntN(int(min(2*stripeWidth, 3<<20)))
			buf := make([]byte, want)
			got, err := f.ReadAt(buf, off)
			exp := 0
			if off < int64(len(model)) {
				exp = min(want, len(model)-int(off))
			}
			if got != exp || (err != nil && got == want) {
				t.Fatalf("pread %d at %d: %d bytes (%v), model has %d", want, off, got, err, exp)
			}
			if exp > 0 && !bytes.Equal(buf[:got], model[off:off+int64(got)]) {
				t.Fatalf("pread %d at %d: data differs from the model at +%d", want, off, firstDiff(buf[:got], model[off:off+int64(got)]))
			}
		case op < 9:
			size := rng.Int64N(span)
			must(t, "ftruncate", f.Truncate(size))
			if size < int64(len(model)) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, size-int64(len(model)))...)
			}
		default:
			st, err := f.Stat()
			must(t, "fstat", err)
			if st.Size() != int64(len(model)) {
				t.Fatalf("size %d, model %d", st.Size(), len(model))
			}
		}
	}
	// A new descriptor reads the whole file back.
	got, err := os.ReadFile(path)
	must(t, "read back", err)
	if i := firstDiff(got, model); i >= 0 {
		t.Fatalf("read back %d bytes, model %d; first difference at %d", len(got), len(model), i)
	}
	return model
}

// firstDiff is the first index where a and b differ (a length difference
// counts), or -1.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
