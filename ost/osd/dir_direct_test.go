package osd

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stria-fs/stria/wire"
)

// TestDirDirectWrites: large aligned writes go direct, the rest through
// the page cache, and reads see every write in order whichever way it
// went, the object's blocks and size included. Options.BufferedWrites
// keeps everything buffered.
func TestDirDirectWrites(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		d, _ := newDir(t, AttrsXattr, Options{BufferedWrites: buffered})
		ctx := t.Context()
		f := wire.FID{Seq: 0x2c0000400, Oid: 1}
		if err := d.Create(ctx, f, Attr{}); err != nil {
			t.Fatal(err)
		}
		model := make([]byte, 512<<10)
		write := func(p []byte, off int) {
			t.Helper()
			if n, err := d.WriteAt(ctx, f, p, int64(off)); err != nil || n != len(p) {
				t.Fatalf("WriteAt %d at %d: %d %v", len(p), off, n, err)
			}
			copy(model[off:], p)
		}
		fill := func(n int, seed byte) []byte {
			b := AlignedBuf(n, n)
			for i := range b {
				b[i] = seed + byte(i*7)
			}
			return b
		}
		write(fill(100, 1), 10)          // buffered: small
		write(fill(256<<10, 2), 0)       // direct: over the cached page
		write(fill(10, 3), 4096+5)       // buffered, inside the direct range
		write(fill(64<<10, 4), 128<<10)  // direct again, past the small one
		write(fill(64<<10+1, 5), 300000) // buffered: unaligned
		write(fill(128<<10, 6), 384<<10) // direct, extends the object
		got := make([]byte, len(model))
		if n, err := d.ReadAt(ctx, f, got, 0); n != len(model) || (err != nil && n != len(model)) {
			t.Fatalf("ReadAt: %d %v", n, err)
		}
		if !bytes.Equal(got, model) {
			t.Errorf("buffered=%v: the object differs from what was written", buffered)
		}
		a, err := d.GetAttr(ctx, f)
		if err != nil || a.Size != int64(len(model)) || a.Blocks*BlockSize < int64(len(model))-64<<10 {
			t.Errorf("buffered=%v: size %d blocks %d (%v), want %d and nearly all allocated", buffered, a.Size,
				a.Blocks, err, len(model))
		}
		if err := d.SyncObject(ctx, f); err != nil {
			t.Fatal(err)
		}
		switch n := d.directWrites.Load(); {
		case buffered && n != 0:
			t.Errorf("%d direct writes with BufferedWrites", n)
		case !buffered && n != 3 && !d.noDirect.Load():
			t.Errorf("%d direct writes, want the 3 large aligned ones", n)
		case !buffered && d.noDirect.Load():
			t.Logf("the file system refuses O_DIRECT: everything went through the page cache")
		}
	}
}

// TestDirDirectReads: large aligned reads go direct and see every write
// before them, buffered ones still dirty in the page cache included; a
// read reaching the end of an object that ends inside a block returns what
// there is and io.EOF; small or unaligned reads, and every read with
// Options.BufferedReads, go through the page cache.
func TestDirDirectReads(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		d, _ := newDir(t, AttrsXattr, Options{BufferedReads: buffered})
		ctx := t.Context()
		f := wire.FID{Seq: 0x2c0000400, Oid: 2}
		if err := d.Create(ctx, f, Attr{}); err != nil {
			t.Fatal(err)
		}
		const size = 1<<20 + 5000 // the last block is partial
		model := make([]byte, size)
		for i := range model {
			model[i] = byte(i*13 + 1)
		}
		if n, err := d.WriteAt(ctx, f, model, 0); err != nil || n != size {
			t.Fatalf("WriteAt: %d %v", n, err)
		}
		// A small buffered write, not synced: the direct read must see it.
		patch := []byte("written through the page cache")
		if _, err := d.WriteAt(ctx, f, patch, 300000); err != nil {
			t.Fatal(err)
		}
		copy(model[300000:], patch)
		read := func(off, n int) {
			t.Helper()
			got := AlignedBuf(n, n)
			m, err := d.ReadAt(ctx, f, got, int64(off))
			want := model[min(off, size):min(off+n, size)]
			if m != len(want) || !bytes.Equal(got[:m], want) {
				t.Fatalf("buffered=%v: ReadAt %d at %d: %d bytes (%v), want %d and the same bytes", buffered, n,
					off, m, err, len(want))
			}
			if m < n && !errors.Is(err, io.EOF) {
				t.Fatalf("buffered=%v: short ReadAt %d at %d: %v, want io.EOF", buffered, n, off, err)
			}
		}
		read(0, 1<<20)         // direct
		read(1<<20, 256<<10)   // direct, ends past the object's end
		read(256<<10, 512<<10) // direct, over the buffered write
		read(4096, 64<<10)     // buffered: small
		read(100, 256<<10)     // buffered: unaligned
		read(2<<20, 256<<10)   // past the end: nothing
		switch n := d.directReads.Load(); {
		case buffered && n != 0:
			t.Errorf("%d direct reads with BufferedReads", n)
		case !buffered && !d.noDirect.Load() && n < 3:
			t.Errorf("%d direct reads, want the 3 large aligned ones (and the one past the end)", n)
		case !buffered && d.noDirect.Load():
			t.Logf("the file system refuses O_DIRECT: everything went through the page cache")
		}
	}
}
