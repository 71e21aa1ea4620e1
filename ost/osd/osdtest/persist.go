package osdtest

import (
	"reflect"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
)

func persistCases() []testCase {
	return []testCase{
		{name: "ReopenData", run: testReopenData},
		{name: "ReopenPrecreate", run: testReopenPrecreate},
		{name: "ReopenNoSpace", opts: osd.Options{Capacity: testCapacity, MaxObjects: 10}, run: testReopenNoSpace},
	}
}

func testReopenData(t *testing.T, s osd.Store) {
	ctx := t.Context()
	label := s.Label()
	f, g, h := fid(1), fid(2), fid(3)
	want := sampleAttr()
	if err := s.Create(ctx, f, want); err != nil {
		t.Fatal(err)
	}
	data := pattern(100*kib, 300)
	write(t, s, f, data, 0)
	write(t, s, f, data[:4*kib], mib) // a hole between
	create(t, s, g)
	create(t, s, h)
	if err := s.Destroy(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)
	if !reflect.DeepEqual(s.Label(), label) {
		t.Fatalf("label after reopen %+v, want %+v", s.Label(), label)
	}
	a := attr(t, s, f)
	wantStored(t, "attributes after reopen", a, want)
	if a.Size != mib+4*kib {
		t.Fatalf("size after reopen %d", a.Size)
	}
	wantBytes(t, "data after reopen", read(t, s, f, 0, len(data)), data)
	wantZeros(t, "hole after reopen", read(t, s, f, int64(len(data)), mib-len(data)))
	wantBytes(t, "tail after reopen", read(t, s, f, mib, 4*kib), data[:4*kib])
	_, err := s.GetAttr(ctx, g)
	wantErr(t, "destroyed object after reopen", err, osd.ErrNotFound, syscall.ENOENT)
	attr(t, s, h)
	wantOids(t, "objects after reopen", list(t, s, testSeq), []uint32{1, 3})
}

func testReopenPrecreate(t *testing.T, s osd.Store) {
	precreate(t, s, testSeq, 10, 1, 10)
	create(t, s, fid(30))
	precreate(t, s, testSeq+1, 4, 1, 4)
	s = reopen(t, s)
	if v := lastID(t, s, testSeq); v != 30 {
		t.Fatalf("LastID after reopen %d, want 30", v)
	}
	precreate(t, s, testSeq, 5, 31, 35)
	precreate(t, s, testSeq+1, 1, 5, 5)
	// Orphan cleanup does not lower LAST_ID, across a restart either.
	if _, err := s.DestroyOrphans(t.Context(), testSeq, 10); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	precreate(t, s, testSeq, 1, 36, 36)
	wantOids(t, "objects after orphan cleanup and reopen", list(t, s, testSeq), append(span(1, 10), 36))
}

func testReopenNoSpace(t *testing.T, s osd.Store) {
	f := fid(1)
	create(t, s, f)
	fill(t, s, f)
	precreate(t, s, testSeq+1, 20, 1, 9) // up to the object limit
	s = reopen(t, s)
	if st := statfs(t, s); st.Avail >= 64*kib || st.FilesFree != 0 {
		t.Fatalf("full target after reopen reports %+v", st)
	}
	_, err := s.WriteAt(t.Context(), f, pattern(64*kib, 1), 4*mib)
	wantErr(t, "write to a full target after reopen", err, osd.ErrNoSpace, syscall.ENOSPC)
	wantErr(t, "create on a full target after reopen", s.Create(t.Context(), fid(99), osd.Attr{}), osd.ErrNoSpace, syscall.ENOSPC)
}
