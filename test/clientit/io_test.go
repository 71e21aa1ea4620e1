package clientit

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// patternBase is a long run of bytes without a short period.
var patternBase = sync.OnceValue(func() []byte {
	b := make([]byte, 8<<20+256)
	x := uint32(1)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
})

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	copy(b, patternBase()[int(seed):])
	return b
}

// striped makes parent/name with count stripes of size bytes (mknod, then
// lustre.lov, as lfs setstripe) and opens it for reading and writing.
func striped(t testing.TB, fs *client.FS, parent wire.FID, name string, count int32, size uint32) (client.File, wire.FID) {
	t.Helper()
	ctx := tctx(t)
	o := layout.NewOptions()
	o.Count, o.Size = count, size
	tmpl, err := layout.Template([]layout.Options{o})
	if err != nil {
		t.Fatal(err)
	}
	b, err := layout.Encode(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	fid, _, err := fs.Mknod(ctx, parent, name, syscall.S_IFREG|0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.SetXattr(ctx, fid, client.XattrLOV, b, 0); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Open(ctx, fid, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	return f, fid
}

// TestRandomIO runs random writes, reads, truncates and flushes across
// stripe boundaries over files of 1, 2 and 4 stripes of 64 KiB and 1 MiB
// and checks every read, and the size, against an in-memory model; a
// second client then reads every file back.
func TestRandomIO(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 4})
	fs := c.mount(t)
	ctx := tctx(t)
	type result struct {
		fid   wire.FID
		model []byte
	}
	var results []result
	for _, g := range []struct {
		count int32
		size  uint32
	}{{1, 64 << 10}, {2, 64 << 10}, {4, 64 << 10}, {1, 1 << 20}, {2, 1 << 20}, {4, 1 << 20}} {
		name := fmt.Sprintf("f%dx%dK", g.count, g.size>>10)
		t.Run(name, func(t *testing.T) {
			f, fid := striped(t, fs, fs.Root(), name, g.count, g.size)
			rng := rand.New(rand.NewPCG(uint64(g.count), uint64(g.size)))
			span := int(g.size) * int(g.count) * 3
			var model []byte
			for step := range 60 {
				switch op := rng.IntN(12); {
				case op < 6:
					off, n := rng.IntN(span), 1+rng.IntN(2*int(g.size))
					data := pattern(n, byte(step))
					if w, err := f.WriteAt(ctx, data, int64(off)); err != nil || w != n {
						t.Fatalf("step %d: write %d at %d: %d %v", step, n, off, w, err)
					}
					if end := off + n; end > len(model) {
						model = append(model, make([]byte, end-len(model))...)
					}
					copy(model[off:], data)
				case op < 9:
					off, n := rng.IntN(span+int(g.size)), 1+rng.IntN(2*int(g.size))
					p := bytes.Repeat([]byte{0xee}, n)
					got, err := f.ReadAt(ctx, p, int64(off))
					if err != nil {
						t.Fatalf("step %d: read: %v", step, err)
					}
					var want []byte
					if off < len(model) {
						want = model[off:min(off+n, len(model))]
					}
					if !bytes.Equal(p[:got], want) {
						t.Fatalf("step %d: read %d at %d: %d bytes differ from the model's %d", step, n, off, got, len(want))
					}
				case op < 10:
					to := rng.IntN(span)
					if _, err := fs.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrSize, Size: uint64(to)}); err != nil {
						t.Fatalf("step %d: truncate to %d: %v", step, to, err)
					}
					if to < len(model) {
						model = model[:to]
					} else {
						model = append(model, make([]byte, to-len(model))...)
					}
				case op < 11:
					if err := f.Flush(ctx); err != nil {
						t.Fatal(err)
					}
				default:
					a, err := fs.GetAttr(ctx, fid)
					if err != nil || a.Size != uint64(len(model)) {
						t.Fatalf("step %d: size %d (%v), model %d", step, a.Size, err, len(model))
					}
				}
			}
			if err := f.Release(ctx); err != nil {
				t.Fatal(err)
			}
			results = append(results, result{fid, model})
		})
	}
	// Another client sees every file as the model says once it is closed.
	other := c.mount(t)
	for _, r := range results {
		a, err := other.GetAttr(ctx, r.fid)
		if err != nil || a.Size != uint64(len(r.model)) {
			t.Fatalf("%v: size %d on the second client (%v), model %d", r.fid, a.Size, err, len(r.model))
		}
		f, err := other.Open(ctx, r.fid, syscall.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, len(r.model)+100)
		n, err := f.ReadAt(ctx, p, 0)
		if err != nil || !bytes.Equal(p[:n], r.model) {
			t.Fatalf("%v: second client reads %d bytes (%v), differing from the model's %d", r.fid, n, err, len(r.model))
		}
		if err := f.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSequentialStriped writes and reads a 32 MiB file over 4 stripes in
// 1 MiB operations, from two clients, checking RPC sizes on the way.
func TestSequentialStriped(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 4})
	fs := c.mount(t)
	ctx := tctx(t)
	f, fid := striped(t, fs, fs.Root(), "seq", 4, 1<<20)
	const size = 32 << 20
	for off := 0; off < size; off += 1 << 20 {
		if _, err := f.WriteAt(ctx, pattern(1<<20, byte(off>>20)), int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Fsync(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// 32 MiB over 4 objects: 8 MiB each. The first 1 MiB goes through
	// (no grant yet), the rest of its RPC slot when it fills, then a whole
	// 4 MiB slot.
	vs, err := fs.Node().Params.Get("osc.*.stats")
	if err != nil || len(vs) != 4 {
		t.Fatalf("osc stats: %v %v", vs, err)
	}
	for _, v := range vs {
		if !bytes.Contains([]byte(v.Value), []byte("write_bytes               3 samples [bytes] 1048576 4194304 8388608")) {
			t.Errorf("%s:\n%s", v.Name, v.Value)
		}
	}
	other := c.mount(t)
	g, err := other.Open(ctx, fid, syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 1<<20)
	for off := 0; off < size; off += 1 << 20 {
		n, err := g.ReadAt(ctx, p, int64(off))
		if err != nil || n != 1<<20 || !bytes.Equal(p, pattern(1<<20, byte(off>>20))) {
			t.Fatalf("read at %d: %d %v", off, n, err)
		}
	}
	if n, err := g.ReadAt(ctx, p, size); n != 0 || err != nil {
		t.Fatalf("read at EOF: %d %v", n, err)
	}
	if err := g.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestENOSPC fills a capacity-capped OST: the writer sees ENOSPC, from a
// write or at the latest from fsync, and what it was told is written
// reads back. (The OST's own accounting decides exactly where it is full:
// promised grant is honoured even past the cap.)
func TestENOSPC(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1, capacity: 8 << 20})
	fs := c.mount(t)
	ctx := tctx(t)
	f, fid, _, err := fs.Create(ctx, fs.Root(), "big", syscall.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	written := 0
	for off := 0; off < 32<<20; off += 256 << 10 {
		if _, werr = f.WriteAt(ctx, pattern(256<<10, byte(off>>18)), int64(off)); werr != nil {
			break
		}
		written = off + 256<<10
	}
	serr := f.Fsync(ctx, false)
	if !errors.Is(werr, syscall.ENOSPC) && !errors.Is(serr, syscall.ENOSPC) {
		t.Fatalf("wrote %d bytes to an 8 MiB OST: write %v, fsync %v", written, werr, serr)
	}
	rerr := f.Release(ctx)
	t.Logf("accepted %d bytes; write: %v; fsync: %v; release: %v", written, werr, serr, rerr)
	// Nothing the writer was refused reached the file.
	a, err := fs.GetAttr(ctx, fid)
	if err != nil || a.Size > uint64(written) {
		t.Fatalf("size %d (%v) after %d bytes accepted", a.Size, err, written)
	}
	if serr == nil {
		// Everything acknowledged is on the OST.
		g, err := fs.Open(ctx, fid, syscall.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Release(ctx)
		p := make([]byte, 256<<10)
		for off := 0; off < written; off += 256 << 10 {
			if n, err := g.ReadAt(ctx, p, int64(off)); err != nil || n != len(p) || !bytes.Equal(p, pattern(256<<10, byte(off>>18))) {
				t.Fatalf("acknowledged data at %d: %d %v", off, n, err)
			}
		}
	}
}
