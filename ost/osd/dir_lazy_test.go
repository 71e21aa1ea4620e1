package osd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stria-fs/stria/wire"
)

const lazySeq = uint64(0x2c0000400)

func lazyFID(oid uint32) wire.FID { return wire.FID{Seq: lazySeq, Oid: oid} }

func fileExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func listOids(t *testing.T, d *Dir) []uint32 {
	t.Helper()
	var oids []uint32
	err := d.List(t.Context(), lazySeq, func(f wire.FID) error {
		oids = append(oids, f.Oid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(oids)
	return oids
}

// reopenDir closes d and opens its directory again; with lazy, the
// sequence lazySeq's LAZY file holds lazy in between (what a crash left).
func reopenDir(t *testing.T, d *Dir, dir string, lazy ...byte) *Dir {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if lazy != nil {
		if err := os.WriteFile(filepath.Join(dir, "O", seqName(lazySeq), lazyName), lazy, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := OpenDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Precreated objects are bits until their first change; they read as
// empty objects, and both kinds survive a reopen and a destroy.
func TestDirLazyObjects(t *testing.T) {
	d, dir := newDir(t, "", Options{})
	ctx := t.Context()
	if _, _, err := d.Precreate(ctx, lazySeq, 8); err != nil {
		t.Fatal(err)
	}
	for oid := uint32(1); oid <= 8; oid++ {
		if fileExists(t, d.Path(lazyFID(oid))) {
			t.Fatalf("precreate made a file for oid %d", oid)
		}
	}
	a, err := d.GetAttr(ctx, lazyFID(3))
	if err != nil || a != (Attr{}) {
		t.Fatalf("GetAttr of a precreated object: %+v %v", a, err)
	}
	if n, err := d.ReadAt(ctx, lazyFID(3), make([]byte, 10), 0); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt of a precreated object: %d %v", n, err)
	}
	if err := d.SyncObject(ctx, lazyFID(3)); err != nil {
		t.Fatalf("SyncObject of a precreated object: %v", err)
	}
	if err := d.Create(ctx, lazyFID(4), Attr{}); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over a precreated object: %v", err)
	}

	// The first change makes the file.
	if _, err := d.WriteAt(ctx, lazyFID(2), []byte("two"), 0); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAttr(ctx, lazyFID(5), Attr{UID: 7}, AttrUID); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncObject(ctx, lazyFID(2)); err != nil {
		t.Fatal(err)
	}
	for _, oid := range []uint32{2, 5} {
		if !fileExists(t, d.Path(lazyFID(oid))) {
			t.Fatalf("oid %d changed but has no file", oid)
		}
	}
	for _, oid := range []uint32{6, 2} { // one without a file, one with
		if err := d.Destroy(ctx, lazyFID(oid)); err != nil {
			t.Fatalf("Destroy %d: %v", oid, err)
		}
	}
	if err := d.Destroy(ctx, lazyFID(6)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Destroy of an object without a file: %v", err)
	}
	if _, err := d.WriteAt(ctx, lazyFID(6), []byte("x"), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("write to a destroyed object without a file: %v", err)
	}
	want := []uint32{1, 3, 4, 5, 7, 8}
	if got := listOids(t, d); !slices.Equal(got, want) {
		t.Fatalf("List %v, want %v", got, want)
	}

	d = reopenDir(t, d, dir)
	if got := listOids(t, d); !slices.Equal(got, want) {
		t.Fatalf("List after reopen %v, want %v", got, want)
	}
	for _, oid := range []uint32{2, 6} {
		if _, err := d.GetAttr(ctx, lazyFID(oid)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("destroyed oid %d after reopen: %v", oid, err)
		}
	}
	if a, err := d.GetAttr(ctx, lazyFID(5)); err != nil || a.UID != 7 {
		t.Fatalf("made object after reopen: %+v %v", a, err)
	}

	// Orphans above the last used id go, with or without files.
	if _, err := d.WriteAt(ctx, lazyFID(8), []byte("eight"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := d.DestroyOrphans(ctx, lazySeq, 4); n != 3 || err != nil {
		t.Fatalf("DestroyOrphans above 4: %d %v, want 3 (5, 7, 8)", n, err)
	}
	if got := listOids(t, d); !slices.Equal(got, []uint32{1, 3, 4}) {
		t.Fatalf("List after orphan cleanup %v", got)
	}
	d = reopenDir(t, d, dir)
	if got := listOids(t, d); !slices.Equal(got, []uint32{1, 3, 4}) {
		t.Fatalf("List after orphan cleanup and reopen %v", got)
	}
}

// A crash can leave the bit of an object beside its file (the clear at
// the first change is not synced): the object is still one, and its
// destroy removes both.
func TestDirLazyBitBesideFile(t *testing.T) {
	d, dir := newDir(t, "", Options{})
	ctx := t.Context()
	if _, _, err := d.Precreate(ctx, lazySeq, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteAt(ctx, lazyFID(2), []byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	d = reopenDir(t, d, dir, 0b1110) // oids 1..3: bit 2 beside its file
	if got := listOids(t, d); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("List %v, want 1..3 once each", got)
	}
	buf := make([]byte, 4)
	if n, err := d.ReadAt(ctx, lazyFID(2), buf, 0); n != 4 || string(buf) != "data" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if err := d.Destroy(ctx, lazyFID(2)); err != nil {
		t.Fatal(err)
	}
	if fileExists(t, d.Path(lazyFID(2))) {
		t.Fatal("destroy left the file")
	}
	d = reopenDir(t, d, dir)
	if _, err := d.GetAttr(ctx, lazyFID(2)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("destroyed object after reopen: %v", err)
	}
}

// Bits above LAST_ID (a crash between the bitmap and LAST_ID) are no
// objects.
func TestDirLazyAboveLastID(t *testing.T) {
	d, dir := newDir(t, "", Options{})
	ctx := t.Context()
	if _, _, err := d.Precreate(ctx, lazySeq, 2); err != nil {
		t.Fatal(err)
	}
	d = reopenDir(t, d, dir, 0xfe, 0xff) // oids 1..15
	if got := listOids(t, d); !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("List %v, want 1 and 2", got)
	}
	if _, _, err := d.Precreate(ctx, lazySeq, 1); err != nil {
		t.Fatal(err)
	}
	if got := listOids(t, d); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("List after precreate %v", got)
	}
}

// The bitmap spans pages: ids far apart, set and cleared in ranges.
func TestLazyMapPages(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), lazyName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	m, err := loadLazy(fd, MaxOID)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := uint32(lazyPageBits-5), uint32(2*lazyPageBits+3)
	if err := m.setRange(lo, hi); err != nil {
		t.Fatal(err)
	}
	if err := m.setRange(MaxOID-1, MaxOID); err != nil {
		t.Fatal(err)
	}
	was, err := m.clearRange(lazyPageBits, 2*lazyPageBits-1)
	if err != nil || len(was) != lazyPageBits {
		t.Fatalf("clearRange of a page: %d %v", len(was), err)
	}
	m2, err := loadLazy(fd, MaxOID)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for oid := lo; oid < lazyPageBits; oid++ {
		want = append(want, oid)
	}
	for oid := uint32(2 * lazyPageBits); oid <= hi; oid++ {
		want = append(want, oid)
	}
	want = append(want, MaxOID-1, MaxOID)
	if got := m2.oids(); !slices.Equal(got, want) {
		t.Fatalf("oids after reload: %d of them, want %d", len(got), len(want))
	}
	if m2.n != int64(len(want)) || m.n != m2.n {
		t.Fatalf("counts %d and %d, want %d", m.n, m2.n, len(want))
	}
	if !m2.has(lo) || m2.has(lo-1) || m2.has(lazyPageBits) {
		t.Fatal("has disagrees with the set")
	}
}

// Reads racing with an object's first write see it empty or written,
// never missing.
func TestDirLazyReadRacesMake(t *testing.T) {
	d, _ := newDir(t, "", Options{})
	ctx := t.Context()
	const n = 200
	if _, _, err := d.Precreate(ctx, lazySeq, n); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for oid := uint32(1); oid <= n; oid++ {
		f := lazyFID(oid)
		done := make(chan struct{})
		wg.Add(3)
		go func() {
			defer wg.Done()
			defer close(done)
			if _, err := d.WriteAt(ctx, f, []byte("x"), 100); err != nil {
				errs <- err
			}
		}()
		reader := func(read func() error) {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := read(); err != nil {
					errs <- fmt.Errorf("%v: %w", f, err)
					return
				}
			}
		}
		go reader(func() error { _, err := d.GetAttr(ctx, f); return err })
		go reader(func() error {
			_, err := d.ReadAt(ctx, f, make([]byte, 8), 0)
			if err == io.EOF {
				err = nil
			}
			return err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// An object without a file has nothing allocated, counts as an inode
// taken, and a query does not make its file.
func TestDirLazyUnallocated(t *testing.T) {
	d, _ := newDir(t, "", Options{})
	ctx := t.Context()
	if _, _, err := d.Precreate(ctx, lazySeq, 100); err != nil {
		t.Fatal(err)
	}
	if n := d.lazyObjects(); n != 100 {
		t.Fatalf("lazyObjects %d, want 100", n)
	}
	n, err := d.Unallocated(ctx, lazyFID(9), 100, 5000)
	if err != nil || n <= 5000 || n%512 != 0 {
		t.Fatalf("Unallocated of an object without a file: %d %v, want the range in whole blocks", n, err)
	}
	if fileExists(t, d.Path(lazyFID(9))) {
		t.Fatal("Unallocated made the object's file")
	}
	if _, err := d.WriteAt(ctx, lazyFID(9), []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if n := d.lazyObjects(); n != 99 {
		t.Fatalf("lazyObjects %d after a first write, want 99", n)
	}
}
