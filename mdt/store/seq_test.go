package store

import (
	"context"
	"errors"
	"testing"

	"github.com/stria-fs/stria/wire"
)

func allocN(t *testing.T, s *Store, n int) []wire.FID {
	t.Helper()
	var fids []wire.FID
	update(t, s, func(tx *Tx) error {
		fids = fids[:0]
		for range n {
			f, err := tx.AllocFID()
			if err != nil {
				return err
			}
			fids = append(fids, f)
		}
		return nil
	})
	return fids
}

func TestFIDAllocationNeverReused(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	first := allocN(t, s, 3)
	want := wire.FID{Seq: wire.SeqNormalStart, Oid: 1}
	if first[0] != want || first[2].Oid != 3 {
		t.Fatalf("first FIDs %v, want from %v", first, want)
	}
	// An operation that allocates and then fails gives nothing away for
	// good: the next FID is the same one, never handed out.
	if _, err := s.Update(context.Background(), func(tx *Tx) error {
		if _, err := tx.AllocFID(); err != nil {
			return err
		}
		return errors.New("fail after allocating")
	}); err == nil {
		t.Fatal("want error")
	}
	s = reopen(t, s)
	next := allocN(t, s, 2)
	if next[0].Seq != first[2].Seq || next[0].Oid != first[2].Oid+1 {
		t.Fatalf("after reopen %v, last before %v", next, first[2])
	}
	// The sequence runs out at MaxOid and the next one starts.
	update(t, s, func(tx *Tx) error {
		return tx.put(tx.bk(bkSeq), []byte(keySeqLocal), appendLocalSeq(nil, localSeq{Seq: next[0].Seq, NextOid: MaxOid}))
	})
	wrap := allocN(t, s, 2)
	if wrap[0] != (wire.FID{Seq: next[0].Seq, Oid: MaxOid}) || wrap[1] != (wire.FID{Seq: next[0].Seq + 1, Oid: 1}) {
		t.Fatalf("wrap %v", wrap)
	}
	view(t, s, func(tx *Tx) error {
		r, err := tx.FLDLookup(wrap[1].Seq)
		if err != nil || r.Index != 0 || r.Type != FLDMDT {
			t.Errorf("FLD of new sequence: %+v, %v", r, err)
		}
		if r, err := tx.FLDLookup(wire.RootFID.Seq); err != nil || r.Index != 0 {
			t.Errorf("FLD of root: %+v, %v", r, err)
		}
		srv, ok, err := tx.SeqServer()
		if !ok || err != nil || srv.Start != wire.SeqNormalStart || srv.End != wire.SeqNormalStart+SuperSeqWidth {
			t.Errorf("server range %+v %v %v", srv, ok, err)
		}
		return nil
	})
}

func TestSequenceGrantToOtherMDT(t *testing.T) {
	mdt0 := newStore(t, label0, Options{NoSync: true})
	mdt1 := newStore(t, Label{FSName: "testfs", Index: 1, UUID: "testfs-MDT0001_UUID"}, Options{NoSync: true})
	if _, err := mdt1.Update(context.Background(), func(tx *Tx) error { _, err := tx.AllocFID(); return err }); !errors.Is(err, ErrNoSequence) {
		t.Fatalf("MDT1 alloc without range: %v", err)
	}
	if _, err := mdt1.Update(context.Background(), func(tx *Tx) error { _, err := tx.GrantSuperSeq(FLDMDT, 2); return err }); !errors.Is(err, ErrNotController) {
		t.Fatalf("MDT1 grant: %v", err)
	}
	var grant SeqRange
	update(t, mdt0, func(tx *Tx) error {
		var err error
		grant, err = tx.GrantSuperSeq(FLDMDT, 1)
		return err
	})
	if grant.Start != 0x240000400 || grant.End != 0x280000400 {
		t.Fatalf("grant %+v", grant)
	}
	update(t, mdt1, func(tx *Tx) error { return tx.SetSuperSeq(grant) })
	f := allocN(t, mdt1, 1)[0]
	if f != (wire.FID{Seq: 0x240000400, Oid: 1}) {
		t.Fatalf("MDT1 first FID %v", f)
	}
	// Client sequences come from the same range, after the local one.
	var cseq uint64
	update(t, mdt1, func(tx *Tx) error {
		var err error
		cseq, err = tx.AllocSeq()
		return err
	})
	if cseq != 0x240000401 {
		t.Fatalf("client sequence %#x", cseq)
	}
	if _, err := mdt1.Update(context.Background(), func(tx *Tx) error { return tx.SetSuperSeq(grant) }); !errors.Is(err, ErrOverlap) {
		t.Fatalf("installing the same range again: %v", err)
	}
	view(t, mdt0, func(tx *Tx) error {
		r, err := tx.FLDLookup(f.Seq)
		if err != nil || r.Index != 1 {
			t.Errorf("MDT0 FLD of MDT1 FID: %+v, %v", r, err)
		}
		if _, err := tx.FLDLookup(grant.End + 5); !errors.Is(err, ErrNotFound) {
			t.Errorf("FLD past all ranges: %v", err)
		}
		if _, err := tx.FLDLookup(5); !errors.Is(err, ErrNotFound) {
			t.Errorf("FLD below all ranges: %v", err)
		}
		return nil
	})
}

func TestFLDOverlap(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	base := uint64(1) << 40
	update(t, s, func(tx *Tx) error {
		return tx.FLDInsert(FLDRange{Start: base, End: base + 10, Type: FLDOST, Index: 3})
	})
	for _, r := range []FLDRange{
		{Start: base + 5, End: base + 20, Type: FLDOST},
		{Start: base - 5, End: base + 1, Type: FLDOST},
		{Start: base, End: base + 10, Type: FLDOST},
		{Start: base - 100, End: base + 100, Type: FLDOST},
	} {
		if _, err := s.Update(context.Background(), func(tx *Tx) error { return tx.FLDInsert(r) }); !errors.Is(err, ErrOverlap) {
			t.Errorf("insert %+v: %v, want ErrOverlap", r, err)
		}
	}
	if _, err := s.Update(context.Background(), func(tx *Tx) error { return tx.FLDInsert(FLDRange{Start: 3, End: 3, Type: FLDMDT}) }); !errors.Is(err, ErrBadKey) {
		t.Errorf("empty range: %v", err)
	}
	update(t, s, func(tx *Tx) error {
		return tx.FLDInsert(FLDRange{Start: base + 10, End: base + 11, Type: FLDOST, Index: 4})
	})
	view(t, s, func(tx *Tx) error {
		for seq, idx := range map[uint64]uint32{base: 3, base + 9: 3, base + 10: 4} {
			if r, err := tx.FLDLookup(seq); err != nil || r.Index != idx {
				t.Errorf("lookup %#x: %+v %v", seq, r, err)
			}
		}
		if _, err := tx.FLDLookup(base + 11); !errors.Is(err, ErrNotFound) {
			t.Errorf("lookup past: %v", err)
		}
		return nil
	})
}

// TestReserveFID: a FID given back by a replayed create is never handed
// out again, whether it lies ahead in the local sequence or in the next
// sequence, which the lost transaction had opened.
func TestReserveFID(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	first := allocN(t, s, 1)[0]
	ahead := wire.FID{Seq: first.Seq, Oid: first.Oid + 5}
	next := wire.FID{Seq: first.Seq + 1, Oid: 1}
	update(t, s, func(tx *Tx) error { return tx.ReserveFID(ahead) })
	for _, f := range allocN(t, s, 10) {
		if f.Seq == ahead.Seq && f.Oid <= ahead.Oid {
			t.Fatalf("allocator handed out %v, at or below the reserved %v", f, ahead)
		}
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.ReserveFID(next); err != nil {
			return err
		}
		// the local sequence runs out
		l, _, _ := tx.local()
		l.NextOid = MaxOid + 1
		return tx.put(tx.bk(bkSeq), []byte(keySeqLocal), appendLocalSeq(nil, l))
	})
	if f := allocN(t, s, 1)[0]; f.Seq == next.Seq && f.Oid <= next.Oid {
		t.Fatalf("allocator handed out %v again after reserving %v", f, next)
	}
}
