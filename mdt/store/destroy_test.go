package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

func TestOSTDestroyQueue(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	ctx := context.Background()
	file := wire.FID{Seq: wire.SeqNormalStart, Oid: 1}
	objs := map[uint32][]wire.FID{
		0: {{Seq: 0x100000000, Oid: 3}, {Seq: 0x100000000, Oid: 1}},
		2: {{Seq: 0x100020000, Oid: 1}},
	}
	tn, err := s.Update(ctx, func(t *Tx) error {
		for ost, fs := range objs {
			for _, f := range fs {
				if err := t.AddOSTDestroy(ost, f, OSTDestroy{File: file, Time: 5}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil || tn == 0 {
		t.Fatalf("add: transno %d, %v", tn, err)
	}
	list := func(s *Store, ost uint32, from wire.FID) []wire.FID {
		var out []wire.FID
		if err := s.View(ctx, func(t *Tx) error {
			return t.OSTDestroys(ost, from, func(obj wire.FID, d OSTDestroy) bool {
				if d.File == file && d.Time == 5 {
					out = append(out, obj)
				}
				return true
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want0 := []wire.FID{objs[0][1], objs[0][0]} // FID order
	if got := list(s, 0, wire.FID{}); !reflect.DeepEqual(got, want0) {
		t.Fatalf("OST 0: %v, want %v", got, want0)
	}
	if got := list(s, 0, wire.FID{Seq: 0x100000000, Oid: 2}); !reflect.DeepEqual(got, want0[1:]) {
		t.Fatalf("OST 0 from oid 2: %v", got)
	}
	if got := list(s, 1, wire.FID{}); len(got) != 0 {
		t.Fatalf("OST 1: %v", got)
	}
	s = reopen(t, s)
	if got := list(s, 2, wire.FID{}); !reflect.DeepEqual(got, objs[2]) {
		t.Fatalf("OST 2 after reopen: %v", got)
	}
	if _, err := s.Update(ctx, func(t *Tx) error { return t.DeleteOSTDestroy(0, objs[0][0]) }); err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, func(t *Tx) error { return t.DeleteOSTDestroy(0, objs[0][0]) })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	n := 0
	if err := s.View(ctx, func(t *Tx) error {
		return t.AllOSTDestroys(func(uint32, wire.FID, OSTDestroy) bool { n++; return true })
	}); err != nil || n != 2 {
		t.Fatalf("all: %d, %v", n, err)
	}
}

func TestCheckFindsCorruptOSTDestroy(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	ctx := context.Background()
	if _, err := s.Update(ctx, func(t *Tx) error {
		return t.put(t.bk(bkOstDestroys), []byte("short"), []byte{recV1})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); !errors.Is(err, ErrInvariant) {
		t.Fatalf("check: %v, want ErrInvariant", err)
	}
	if _, err := s.Update(ctx, func(t *Tx) error { return t.del(t.bk(bkOstDestroys), []byte("short")) }); err != nil {
		t.Fatal(err)
	}
}

func TestLabelMountData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := Format(path, labelFull, FormatOptions{NoSync: true}, nil); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLabel(path)
	if err != nil || !reflect.DeepEqual(l, labelFull) {
		t.Fatalf("label %+v, %v", l, err)
	}
	bad := labelFull
	bad.Params = []string{"no-equals-sign"}
	if err := bad.Validate(); !errors.Is(err, ErrBadLabel) {
		t.Fatalf("param without '=': %v", err)
	}
	bad = labelFull
	bad.MGSNodes = [][]lnet.NID{{}}
	if err := bad.Validate(); !errors.Is(err, ErrBadLabel) {
		t.Fatalf("empty MGS node: %v", err)
	}
}

// TestMigrateFromVersion1 opens a file as storage version 1 wrote it: no
// ost_destroys bucket, a label record of format 1.
func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := Format(path, label0, FormatOptions{NoSync: true}, nil); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte(bucketOSTDestroys)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyMetaLabel), appendLabelV1(label0))
	})
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	setVersion(t, path, 1)
	s := openStore(t, path, Options{NoSync: true})
	if got := s.Label(); !reflect.DeepEqual(got, label0) {
		t.Fatalf("label after migration %+v", got)
	}
	if _, err := s.Update(context.Background(), func(t *Tx) error {
		return t.AddOSTDestroy(1, wire.FID{Seq: 0x100010000, Oid: 1}, OSTDestroy{})
	}); err != nil {
		t.Fatalf("destroy queue after migration: %v", err)
	}
}

func TestOSTLastUsed(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	ctx := context.Background()
	seqA, seqB := uint64(0x100000000), uint64(0x100000001)
	steps := []struct {
		note, want wire.FID
	}{
		{wire.FID{Seq: seqA, Oid: 5}, wire.FID{Seq: seqA, Oid: 5}},
		{wire.FID{Seq: seqA, Oid: 3}, wire.FID{Seq: seqA, Oid: 5}}, // lower: kept
		{wire.FID{Seq: seqA, Oid: 9}, wire.FID{Seq: seqA, Oid: 9}},
		{wire.FID{Seq: seqB, Oid: 1}, wire.FID{Seq: seqB, Oid: 1}}, // new sequence
	}
	if err := s.View(ctx, func(t *Tx) error {
		_, ok, err := t.OSTLastUsed(7)
		if ok || err != nil {
			return errors.New("last used of an OST never used")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if _, err := s.Update(ctx, func(t *Tx) error { return t.NoteOSTUsed(7, st.note) }); err != nil {
			t.Fatal(err)
		}
		var got wire.FID
		if err := s.View(ctx, func(t *Tx) error {
			var err error
			got, _, err = t.OSTLastUsed(7)
			return err
		}); err != nil || got != st.want {
			t.Fatalf("after %v: %v, want %v (%v)", st.note, got, st.want, err)
		}
	}
	s = reopen(t, s)
	if err := s.View(ctx, func(t *Tx) error {
		got, ok, err := t.OSTLastUsed(7)
		if !ok || err != nil || got != (wire.FID{Seq: seqB, Oid: 1}) {
			return errors.New("last used lost by a reopen")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationFillsOSTLastUsed opens a version 2 file whose files have
// layouts: the migration records the highest object of each OST.
func TestMigrationFillsOSTLastUsed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := Format(path, label0, FormatOptions{NoSync: true}, nil); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path, Options{NoSync: true})
	obj := func(ost uint32, oid uint32) layout.Object {
		return layout.Object{OSTIndex: ost, FID: wire.FID{Seq: 0x100000000 | uint64(ost)<<16, Oid: oid}}
	}
	layouts := [][]layout.Object{{obj(0, 5), obj(1, 2)}, {obj(0, 9)}, {obj(1, 1)}}
	ctx := context.Background()
	if _, err := s.Update(ctx, func(t *Tx) error {
		for i, objs := range layouts {
			f, err := t.AllocFID()
			if err != nil {
				return err
			}
			if err := t.PutInode(f, &Inode{Mode: TypeReg | 0o644, Nlink: 1}); err != nil {
				return err
			}
			l := layout.Plain(int32(len(objs)), 1<<20, -1, "")
			if err := l.Instantiate(0, objs); err != nil {
				return err
			}
			b, err := layout.Encode(l)
			if err != nil {
				return err
			}
			if err := t.SetXattr(f, xattrLOV, b); err != nil {
				return err
			}
			if err := t.SetXattr(f, "user.n", []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	path = s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte(bucketOSTLastUsed)) })
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	setVersion(t, path, 2)
	s = openStore(t, path, Options{NoSync: true})
	if err := s.View(ctx, func(t *Tx) error {
		for ost, want := range map[uint32]uint32{0: 9, 1: 2} {
			got, ok, err := t.OSTLastUsed(ost)
			if err != nil || !ok || got.Oid != want {
				return fmt.Errorf("OST %d: %v %v %v, want oid %d", ost, got, ok, err, want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
