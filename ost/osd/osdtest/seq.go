package osdtest

import (
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

func seqCases() []testCase {
	return []testCase{
		{name: "Precreate", run: testPrecreate},
		{name: "PrecreateAfterCreate", run: testPrecreateAfterCreate},
		{name: "SeqWidth", opts: osd.Options{SeqWidth: 20}, run: testSeqWidth},
		{name: "Orphans", run: testOrphans},
		{name: "ListSequences", run: testListSequences},
		{name: "ListDestroyInCallback", run: testListDestroy},
	}
}

func precreate(t *testing.T, s osd.Store, seq uint64, count int, wantFirst, wantLast uint32) {
	t.Helper()
	first, last, err := s.Precreate(t.Context(), seq, count)
	if err != nil {
		t.Fatalf("Precreate %#x %d: %v", seq, count, err)
	}
	if first != (wire.FID{Seq: seq, Oid: wantFirst}) || last != (wire.FID{Seq: seq, Oid: wantLast}) {
		t.Fatalf("Precreate %#x %d = %v..%v, want oids %d..%d", seq, count, first, last, wantFirst, wantLast)
	}
}

// list returns the oids of seq, sorted.
func list(t *testing.T, s osd.Store, seq uint64) []uint32 {
	t.Helper()
	var oids []uint32
	err := s.List(t.Context(), seq, func(f wire.FID) error {
		if f.Seq != seq || f.Ver != 0 {
			t.Errorf("List %#x yielded %v", seq, f)
		}
		oids = append(oids, f.Oid)
		return nil
	})
	if err != nil {
		t.Fatalf("List %#x: %v", seq, err)
	}
	slices.Sort(oids)
	return oids
}

func span(from, to uint32) []uint32 {
	var s []uint32
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func wantOids(t *testing.T, what string, got, want []uint32) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: oids %v, want %v", what, got, want)
	}
}

func lastID(t *testing.T, s osd.Store, seq uint64) uint32 {
	t.Helper()
	v, err := s.LastID(t.Context(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testPrecreate(t *testing.T, s osd.Store) {
	precreate(t, s, testSeq, 10, 1, 10)
	precreate(t, s, testSeq, 5, 11, 15)
	if v := lastID(t, s, testSeq); v != 15 {
		t.Fatalf("LastID %d, want 15", v)
	}
	wantOids(t, "after precreate", list(t, s, testSeq), span(1, 15))
	for _, oid := range []uint32{1, 7, 15} {
		if a := attr(t, s, fid(oid)); a.Size != 0 || a.Valid != 0 {
			t.Fatalf("precreated object %d: %+v", oid, a)
		}
	}
	// A precreated object is an ordinary one.
	write(t, s, fid(7), []byte("data"), 0)
	wantBytes(t, "precreated object", read(t, s, fid(7), 0, 4), []byte("data"))
	// Sequences are independent.
	precreate(t, s, testSeq+1, 3, 1, 3)
	if v := lastID(t, s, testSeq); v != 15 {
		t.Fatalf("LastID %d after another sequence's precreate, want 15", v)
	}
}

func testPrecreateAfterCreate(t *testing.T, s osd.Store) {
	// LAST_ID covers every object created by FID, so a precreate never
	// collides with one.
	create(t, s, fid(100))
	if v := lastID(t, s, testSeq); v != 100 {
		t.Fatalf("LastID after Create of oid 100: %d", v)
	}
	precreate(t, s, testSeq, 2, 101, 102)
	create(t, s, fid(50)) // below LAST_ID: allowed, LAST_ID stays
	if v := lastID(t, s, testSeq); v != 102 {
		t.Fatalf("LastID %d, want 102", v)
	}
}

func testSeqWidth(t *testing.T, s osd.Store) {
	precreate(t, s, testSeq, 15, 1, 15)
	precreate(t, s, testSeq, 15, 16, 20) // cut short at the sequence's end
	_, _, err := s.Precreate(t.Context(), testSeq, 1)
	wantErr(t, "Precreate past the sequence's end", err, osd.ErrSeqExhausted, syscall.ENOSPC)
	precreate(t, s, testSeq+1, 1, 1, 1) // the next sequence is fresh
}

func testOrphans(t *testing.T, s osd.Store) {
	ctx := t.Context()
	precreate(t, s, testSeq, 20, 1, 20)
	if err := s.Destroy(ctx, fid(15)); err != nil { // already gone: not counted
		t.Fatal(err)
	}
	create(t, s, wire.FID{Seq: testSeq + 1, Oid: 20}) // another sequence: untouched
	n, err := s.DestroyOrphans(ctx, testSeq, 12)
	if err != nil || n != 7 {
		t.Fatalf("DestroyOrphans above 12 of 20: %d %v, want 7", n, err)
	}
	wantOids(t, "after orphan cleanup", list(t, s, testSeq), span(1, 12))
	wantOids(t, "other sequence", list(t, s, testSeq+1), []uint32{20})
	// Ids are never reused.
	if v := lastID(t, s, testSeq); v != 20 {
		t.Fatalf("LastID %d after orphan cleanup, want 20", v)
	}
	precreate(t, s, testSeq, 1, 21, 21)
	if n, err := s.DestroyOrphans(ctx, 0x2ffffffff, 0); n != 0 || err != nil {
		t.Fatalf("DestroyOrphans of an unused sequence: %d %v", n, err)
	}
}

func testListSequences(t *testing.T, s osd.Store) {
	ctx := t.Context()
	a, b := testSeq, testSeq+0x100
	precreate(t, s, a, 40, 1, 40)
	create(t, s, wire.FID{Seq: b, Oid: 0x12345})
	seqs, err := s.Sequences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []uint64{a, b}) {
		t.Fatalf("Sequences %#x, want %#x", seqs, []uint64{a, b})
	}
	wantOids(t, "seq a", list(t, s, a), span(1, 40))
	wantOids(t, "seq b", list(t, s, b), []uint32{0x12345})
	wantOids(t, "unused seq", list(t, s, testSeq+1), nil)

	stop := errors.New("stop")
	calls := 0
	err = s.List(ctx, a, func(wire.FID) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List stopped by its callback: %v after %d calls", err, calls)
	}
}

func testListDestroy(t *testing.T, s osd.Store) {
	ctx := t.Context()
	precreate(t, s, testSeq, 50, 1, 50)
	err := s.List(ctx, testSeq, func(f wire.FID) error {
		if f.Oid%2 == 0 {
			return s.Destroy(ctx, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var odd []uint32
	for i := uint32(1); i <= 50; i += 2 {
		odd = append(odd, i)
	}
	wantOids(t, "after destroying from List", list(t, s, testSeq), odd)
}
