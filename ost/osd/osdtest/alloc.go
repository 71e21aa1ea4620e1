package osdtest

import (
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
)

func allocCases() []testCase {
	return []testCase{
		{name: "Allocate", run: testAllocate},
		{name: "AllocateKeepSize", run: testAllocateKeepSize},
		{name: "AllocateBadRanges", run: testAllocateBadRanges},
		{name: "AllocateNoSpace", opts: osd.Options{Capacity: testCapacity}, run: testAllocateNoSpace},
		{name: "Unallocated", run: testUnallocated},
	}
}

func allocate(t *testing.T, s osd.Store, off, length int64, keep bool) {
	t.Helper()
	if err := s.Allocate(t.Context(), fid(1), off, length, keep); err != nil {
		t.Fatalf("Allocate %d at %d (keep size %v): %v", length, off, keep, err)
	}
}

// testAllocate: mode 0 grows the size, allocates blocks, keeps the data
// and reads zeros where there were holes; it never shrinks.
func testAllocate(t *testing.T, s osd.Store) {
	f := fid(1)
	create(t, s, f)
	data := pattern(10*kib, 21)
	write(t, s, f, data, 0)
	allocate(t, s, 4*kib, 200*kib, false)
	wantSize(t, s, f, 204*kib)
	if a := attr(t, s, f); a.Blocks*osd.BlockSize < 204*kib {
		t.Fatalf("after allocating 204 KiB the object has %d blocks", a.Blocks)
	}
	wantBytes(t, "data under an allocation", read(t, s, f, 0, len(data)), data)
	wantZeros(t, "allocated range", read(t, s, f, int64(len(data)), 204*kib-len(data)))
	allocate(t, s, 0, 4*kib, false) // inside: the size stays
	wantSize(t, s, f, 204*kib)
	write(t, s, f, data, 100*kib) // writes into allocated space
	wantBytes(t, "write into an allocation", read(t, s, f, 100*kib, len(data)), data)
	wantSize(t, s, f, 204*kib)
}

// testAllocateKeepSize: KEEP_SIZE allocates past EOF without moving it; a
// later write or truncate sees zeros there, and a truncate down frees it
// (a punch past EOF does not, on ext4: it stops at EOF).
func testAllocateKeepSize(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	data := pattern(100, 22)
	write(t, s, f, data, 0)
	allocate(t, s, 50, 52, true)
	wantSize(t, s, f, 100)
	wantBytes(t, "data", readEOF(t, s, f, 0, 200, 100), data)
	allocate(t, s, 0, 256*kib, true)
	wantSize(t, s, f, 100)
	if a := attr(t, s, f); a.Blocks*osd.BlockSize < 256*kib {
		t.Fatalf("after allocating 256 KiB past EOF the object has %d blocks", a.Blocks)
	}
	if err := s.Truncate(ctx, f, 64*kib); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "data after growing", read(t, s, f, 0, 100), data)
	wantZeros(t, "allocated tail after growing", read(t, s, f, 100, 64*kib-100))
	if err := s.Truncate(ctx, f, 4*kib); err != nil {
		t.Fatal(err)
	}
	if a := attr(t, s, f); a.Blocks*osd.BlockSize > 64*kib {
		t.Fatalf("a truncate to 4 KiB left %d blocks allocated", a.Blocks)
	}
	wantSize(t, s, f, 4*kib)
}

func testAllocateBadRanges(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	for _, c := range []struct{ off, length int64 }{{-1, 10}, {0, 0}, {0, -5}} {
		wantErr(t, "Allocate of a bad range", s.Allocate(ctx, f, c.off, c.length, false), osd.ErrInvalid, syscall.EINVAL)
	}
	wantErr(t, "Allocate past the largest object", s.Allocate(ctx, f, osd.MaxObjectSize-10, 20, false),
		osd.ErrTooBig, syscall.EFBIG)
	wantErr(t, "Allocate of a missing object", s.Allocate(ctx, fid(99), 0, 10, false), osd.ErrNotFound, syscall.ENOENT)
	wantSize(t, s, f, 0)
}

// testAllocateNoSpace: an allocation larger than the space left fails with
// ENOSPC; one that fits is kept even when others fill the target, so a
// write into it still succeeds on a full target (fallocate's promise).
func testAllocateNoSpace(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f, g := fid(1), fid(2)
	create(t, s, f)
	create(t, s, g)
	wantErr(t, "Allocate past the capacity", s.Allocate(ctx, f, 0, 2*testCapacity, false), osd.ErrNoSpace, syscall.ENOSPC)
	if err := s.Allocate(ctx, f, 0, 256*kib, false); err != nil {
		t.Fatalf("Allocate of a quarter of the target: %v", err)
	}
	fill(t, s, g)
	data := pattern(256*kib, 23)
	write(t, s, f, data, 0)
	wantBytes(t, "write into an allocation on a full target", read(t, s, f, 0, len(data)), data)
}

// testUnallocated: written and allocated blocks count as allocated, holes
// and the range past them do not.
func testUnallocated(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	un := func(off, length int64) int64 {
		t.Helper()
		n, err := s.Unallocated(ctx, f, off, length)
		if err != nil {
			t.Fatalf("Unallocated %d at %d: %v", length, off, err)
		}
		return n
	}
	if n := un(0, 64*kib); n != 64*kib {
		t.Fatalf("Unallocated of an empty object: %d, want 64 KiB", n)
	}
	write(t, s, f, pattern(64*kib, 24), 0)
	allocate(t, s, 128*kib, 64*kib, true)
	if n := un(0, 64*kib); n != 0 {
		t.Errorf("Unallocated of written data: %d, want 0", n)
	}
	if n := un(128*kib, 64*kib); n != 0 {
		t.Errorf("Unallocated of an allocated range: %d, want 0", n)
	}
	if n := un(0, 256*kib); n != 128*kib {
		t.Errorf("Unallocated over data, a hole, an allocation and the end: %d, want 128 KiB", n)
	}
	if n := un(0, 0); n != 0 {
		t.Errorf("Unallocated of nothing: %d", n)
	}
	_, err := s.Unallocated(ctx, fid(99), 0, 10)
	wantErr(t, "Unallocated of a missing object", err, osd.ErrNotFound, syscall.ENOENT)
}
