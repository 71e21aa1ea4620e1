package osdtest

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

const testCapacity = mib

func spaceCases() []testCase {
	return []testCase{
		{name: "StatFS", run: testStatFS},
		{name: "NoSpace", opts: osd.Options{Capacity: testCapacity}, run: testNoSpace},
		{name: "NoSpaceObjects", opts: osd.Options{MaxObjects: 3}, run: testNoSpaceObjects},
	}
}

func statfs(t *testing.T, s osd.Store) osd.StatFS {
	t.Helper()
	st, err := s.StatFS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Total <= 0 || st.Free > st.Total || st.Avail > st.Free || st.Avail < 0 ||
		st.Files <= 0 || st.FilesFree > st.Files || st.BlockSize <= 0 {
		t.Fatalf("inconsistent statfs %+v", st)
	}
	return st
}

func testStatFS(t *testing.T, s osd.Store) {
	statfs(t, s)
	create(t, s, fid(1))
	write(t, s, fid(1), pattern(64*kib, 12), 0)
	statfs(t, s)
}

// fill writes 64 KiB chunks into f until the target is full and returns
// how many bytes went in.
func fill(t *testing.T, s osd.Store, f wire.FID) int64 {
	t.Helper()
	chunk := pattern(64*kib, 13)
	var off int64
	for off <= 4*testCapacity {
		n, err := s.WriteAt(t.Context(), f, chunk, off)
		if err != nil {
			wantErr(t, "write to a full target", err, osd.ErrNoSpace, syscall.ENOSPC)
			return off + int64(n)
		}
		off += int64(n)
	}
	t.Fatalf("wrote %d bytes to a target of %d without ENOSPC", off, testCapacity)
	return 0
}

func testNoSpace(t *testing.T, s osd.Store) {
	ctx := t.Context()
	st := statfs(t, s)
	if st.Total != testCapacity {
		t.Fatalf("statfs total %d, want the capacity %d", st.Total, testCapacity)
	}
	f := fid(1)
	create(t, s, f)
	written := fill(t, s, f)
	if written > testCapacity || written < testCapacity/2 {
		t.Fatalf("%d bytes fit in a target of %d", written, testCapacity)
	}
	if st := statfs(t, s); st.Avail >= 64*kib {
		t.Fatalf("full target reports %d bytes available", st.Avail)
	}
	// What went in reads back.
	chunk := pattern(64*kib, 13)
	for off := int64(0); off+64*kib <= written; off += 64 * kib {
		wantBytes(t, "data of a full target", read(t, s, f, off, 64*kib), chunk)
	}
	// Overwriting allocated blocks needs no space.
	over := pattern(64*kib, 14)
	write(t, s, f, over, 0)
	wantBytes(t, "overwrite on a full target", read(t, s, f, 0, 64*kib), over)

	// Another object cannot grow either.
	g := fid(2)
	create(t, s, g)
	_, err := s.WriteAt(ctx, g, chunk, 0)
	wantErr(t, "write to a second object", err, osd.ErrNoSpace, syscall.ENOSPC)

	// Punching frees space for others.
	if err := s.Punch(ctx, f, 0, 256*kib); err != nil {
		t.Fatal(err)
	}
	write(t, s, g, chunk, 0)

	// Destroy frees the rest.
	if err := s.Destroy(ctx, f); err != nil {
		t.Fatal(err)
	}
	if st := statfs(t, s); st.Avail < testCapacity/2 {
		t.Fatalf("after destroy only %d bytes available", st.Avail)
	}
	write(t, s, g, pattern(256*kib, 15), 64*kib)
}

func testNoSpaceObjects(t *testing.T, s osd.Store) {
	ctx := t.Context()
	for i := uint32(1); i <= 3; i++ {
		create(t, s, fid(i))
	}
	wantErr(t, "Create past the object limit", s.Create(ctx, fid(4), osd.Attr{}), osd.ErrNoSpace, syscall.ENOSPC)
	_, _, err := s.Precreate(ctx, testSeq+1, 5)
	wantErr(t, "Precreate past the object limit", err, osd.ErrNoSpace, syscall.ENOSPC)
	if st := statfs(t, s); st.Files != 3 || st.FilesFree != 0 {
		t.Fatalf("statfs files %d free %d, want 3 0", st.Files, st.FilesFree)
	}
	if err := s.Destroy(ctx, fid(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(ctx, fid(3)); err != nil {
		t.Fatal(err)
	}
	// A precreate is cut short by the limit, not refused.
	first, last, err := s.Precreate(ctx, testSeq+1, 5)
	if err != nil || first.Oid != 1 || last.Oid != 2 {
		t.Fatalf("Precreate near the object limit: %v..%v %v, want oids 1..2", first, last, err)
	}
	if err := s.Create(ctx, fid(5), osd.Attr{}); !errors.Is(err, osd.ErrNoSpace) {
		t.Fatalf("Create on a full target: %v", err)
	}
}
