package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/stria-fs/stria/wire"
)

// TestCursorMergesPendingWrites checks the merged cursor against a model:
// committed keys, then pending layers (commits held by a barrier) that put
// and delete keys, then the running operation's own writes, walked
// forward, backward and from random seeks with mixed directions.
func TestCursorMergesPendingWrites(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { cursorModel(t, seed) })
	}
}

func cursorModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := newStore(t, label0, Options{NoSync: true})
	ctx := context.Background()
	model := map[string]string{}
	key := func() []byte { return []byte{byte(rng.IntN(3)), byte(rng.IntN(40))} }
	write := func(tx *Tx, n int) error {
		b := tx.bk(bkUpdates)
		for range n {
			k := key()
			if rng.IntN(3) == 0 {
				if err := tx.del(b, k); err != nil {
					return err
				}
				delete(model, string(k))
				continue
			}
			v := fmt.Sprint(rng.Uint32())
			if err := tx.put(b, k, []byte(v)); err != nil {
				return err
			}
			model[string(k)] = v
		}
		return nil
	}
	if _, err := s.Update(ctx, func(tx *Tx) error { return write(tx, 60) }); err != nil {
		t.Fatal(err)
	}
	s.Barrier()
	for range 1 + rng.IntN(5) {
		if _, err := s.Apply(ctx, func(tx *Tx) error { return write(tx, 1+rng.IntN(20)) }); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Apply(ctx, func(tx *Tx) error {
		if err := write(tx, rng.IntN(10)); err != nil {
			return err
		}
		keys := make([]string, 0, len(model))
		for k := range model {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		c := tx.bk(bkUpdates).Cursor()
		var got []string
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if model[string(k)] != string(v) {
				return fmt.Errorf("forward: %x = %q, want %q", k, v, model[string(k)])
			}
			got = append(got, string(k))
		}
		if !slices.Equal(got, keys) {
			return fmt.Errorf("forward: %x, want %x", got, keys)
		}
		got = got[:0]
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			got = append(got, string(k))
		}
		slices.Reverse(got)
		if !slices.Equal(got, keys) {
			return fmt.Errorf("backward: %x, want %x", got, keys)
		}
		for range 50 {
			seek := key()
			i, _ := slices.BinarySearch(keys, string(seek))
			k, _ := c.Seek(seek)
			for range 6 {
				var want []byte
				if i >= 0 && i < len(keys) {
					want = []byte(keys[i])
				}
				if string(k) != string(want) {
					return fmt.Errorf("after seek %x: %x, want %x", seek, k, want)
				}
				if k == nil {
					break
				}
				if rng.IntN(2) == 0 {
					k, _ = c.Next()
					i++
				} else {
					k, _ = c.Prev()
					i--
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// gate holds the flusher of s before each commit until released.
func gate(s *Store) (release func()) {
	ch := make(chan struct{})
	s.commitHook = func() error { <-ch; return nil }
	return func() { close(ch) }
}

// TestApplyAnswersBeforeCommit: an applied create is seen at once by its
// owner and by later operations; another owner's read of it waits for
// its commit (commit on share); Update waits for its own commit.
func TestApplyAnswersBeforeCommit(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	release := gate(s)
	a, b := WithOwner(context.Background(), 1), WithOwner(context.Background(), 2)
	var f wire.FID
	tn, err := s.Apply(a, createOp(wire.RootFID, "early", &f))
	if err != nil || tn == 0 {
		t.Fatalf("apply: %d, %v", tn, err)
	}
	if lc := s.LastCommitted(); lc >= tn {
		t.Fatalf("committed %d before the gate opened", lc)
	}
	if err := s.View(a, func(tx *Tx) error { _, err := tx.Dirent(wire.RootFID, "early"); return err }); err != nil {
		t.Fatalf("owner's view: %v", err)
	}
	if _, err := s.Apply(a, createOp(wire.RootFID, "early", nil)); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second create of the name: %v", err)
	}
	seen := make(chan error, 1)
	go func() {
		seen <- s.View(b, func(tx *Tx) error { _, err := tx.Inode(f); return err })
	}()
	updated := make(chan error, 1)
	go func() {
		_, err := s.Update(a, createOp(wire.RootFID, "sync", nil))
		updated <- err
	}()
	select {
	case err := <-seen:
		t.Fatalf("another owner read an uncommitted create: %v", err)
	case err := <-updated:
		t.Fatalf("update returned before its commit: %v", err)
	default:
	}
	release()
	if err := <-seen; err != nil {
		t.Fatal(err)
	}
	if s.LastCommitted() < tn {
		t.Fatalf("view returned at last committed %d < %d", s.LastCommitted(), tn)
	}
	if err := <-updated; err != nil {
		t.Fatal(err)
	}
}

// TestBarrierLosesChangesAtRestart: under a barrier, Update answers at
// once with transnos above LastCommitted, and a restart finds the store
// as it was at the barrier.
func TestBarrierLosesChangesAtRestart(t *testing.T) {
	s := newStore(t, label0, Options{NoSync: true})
	ctx := context.Background()
	if _, err := s.Update(ctx, createOp(wire.RootFID, "kept", nil)); err != nil {
		t.Fatal(err)
	}
	last := s.LastCommitted()
	s.Barrier()
	tn, err := s.Update(ctx, createOp(wire.RootFID, "lost", nil))
	if err != nil || tn <= last || s.LastCommitted() != last {
		t.Fatalf("update under a barrier: %d, %v, last committed %d", tn, err, s.LastCommitted())
	}
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{NoSync: true})
	if s.LastCommitted() != last {
		t.Fatalf("last committed %d after restart, want %d", s.LastCommitted(), last)
	}
	err = s.View(ctx, func(tx *Tx) error {
		if _, err := tx.Dirent(wire.RootFID, "kept"); err != nil {
			return err
		}
		if _, err := tx.Dirent(wire.RootFID, "lost"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("lost create: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFailedCommitStopsTheStore: the pending operations' rollback hooks
// run, waiters get ErrCommit, OnFailure is called and the store refuses
// everything after.
func TestFailedCommitStopsTheStore(t *testing.T) {
	failed := make(chan error, 1)
	s := newStore(t, label0, Options{NoSync: true, OnFailure: func(err error) { failed <- err }})
	disk := errors.New("disk gone")
	s.commitHook = func() error { return disk }
	ctx := context.Background()
	rolledBack := make(chan struct{})
	_, err := s.Update(ctx, func(tx *Tx) error {
		tx.OnRollback(func() { close(rolledBack) })
		return createOp(wire.RootFID, "f", nil)(tx)
	})
	if !errors.Is(err, ErrCommit) || !errors.Is(err, disk) {
		t.Fatalf("update: %v", err)
	}
	<-rolledBack
	if err := <-failed; !errors.Is(err, disk) {
		t.Fatalf("OnFailure: %v", err)
	}
	if _, err := s.Apply(ctx, createOp(wire.RootFID, "g", nil)); !errors.Is(err, ErrCommit) {
		t.Fatalf("apply after the failure: %v", err)
	}
	if err := s.View(ctx, func(*Tx) error { return nil }); !errors.Is(err, ErrCommit) {
		t.Fatalf("view after the failure: %v", err)
	}
}
