package osd

import (
	"bytes"
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
			b := make([]byte, n) // 64 KiB and up: page-aligned
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
