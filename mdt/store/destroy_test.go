package store

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"go.etcd.io/bbolt"

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
		return t.put(t.ostDestroys, []byte("short"), []byte{recV1})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); !errors.Is(err, ErrInvariant) {
		t.Fatalf("check: %v, want ErrInvariant", err)
	}
	if _, err := s.Update(ctx, func(t *Tx) error { return t.del(t.ostDestroys, []byte("short")) }); err != nil {
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
