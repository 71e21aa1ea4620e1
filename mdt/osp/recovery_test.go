package osp

import (
	"sync"
	"testing"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// previousRun runs a device that hands out 5 objects, of which layouts
// commit the first 3, and closes it, as an MDS that stops. It returns
// the 5 objects and every object the OST then holds.
func previousRun(t *testing.T, e *env) (objs, all []wire.FID) {
	t.Helper()
	d := e.device(0)
	waitReady(t, d)
	for range 5 {
		f, err := d.Alloc(ctx)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, f)
	}
	if _, err := e.store.Update(ctx, func(tx *store.Tx) error {
		for _, f := range objs[:3] {
			if err := tx.NoteOSTUsed(0, f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Read after Close: a pool refill may have been in flight before.
	return objs, e.oss.Objects(0)
}

func lastUsed(t *testing.T, s *store.Store) wire.FID {
	t.Helper()
	var f wire.FID
	if err := s.View(ctx, func(tx *store.Tx) error {
		var err error
		f, _, err = tx.OSTLastUsed(0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDeferOrphansUntilEndRecovery(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	objs, all := previousRun(t, e)
	lastID := all[len(all)-1]
	if len(all) <= 5 || e.oss.OrphanCalls(0) != 1 {
		t.Fatalf("%d objects precreated, %d orphan cleanups", len(all), e.oss.OrphanCalls(0))
	}
	d := e.device(0, func(c *Config) { c.DeferOrphans = true })
	waitReady(t, d)
	// Connected, precreating: nothing of the previous run was destroyed.
	for _, f := range all {
		if !e.oss.Has(0, f) {
			t.Fatalf("object %v of the previous run destroyed in recovery", f)
		}
	}
	if e.oss.OrphanCalls(0) != 1 {
		t.Fatal("orphan cleanup sent in recovery")
	}
	// New creates get objects above the old LAST_ID.
	fresh, err := d.Alloc(ctx)
	if err != nil || fresh.Seq != lastID.Seq || fresh.Oid <= lastID.Oid {
		t.Fatalf("alloc in recovery: %v %v, LAST_ID %v", fresh, err, lastID)
	}
	// A replayed create claims objs[4]; claims of objects outside the
	// range (a committed one, a new one) change nothing.
	d.Claim(objs[4])
	d.Claim(objs[0])
	d.Claim(wire.IDIF(0, uint64(lastID.Oid)+100000))
	d.EndRecovery()
	d.EndRecovery()
	want := uint64(len(all) - 4) // all but objs[0..2] and objs[4]
	waitFor(t, "orphans queued", func() bool { return d.Info().OrphansQueued == want })
	waitFor(t, "orphans destroyed", func() bool { return pending(t, e.store, 0) == 0 })
	for _, f := range all {
		keep := f.Oid <= objs[2].Oid || f == objs[4]
		if e.oss.Has(0, f) != keep {
			t.Fatalf("object %v (keep %v) exists %v after recovery", f, keep, e.oss.Has(0, f))
		}
	}
	if !e.oss.Has(0, fresh) {
		t.Fatal("an object precreated in recovery was destroyed")
	}
	if in := d.Info(); in.Destroyed < want || in.OrphansDestroyed != 0 {
		t.Fatalf("info %+v", in)
	}
	// The range is done with: the next start does not go over it again.
	if lu := lastUsed(t, e.store); lu.Seq != lastID.Seq || lu.Oid < lastID.Oid {
		t.Fatalf("last used %v after recovery, LAST_ID was %v", lu, lastID)
	}
	d.Claim(objs[3]) // too late: logged only
}

func TestEndRecoveryBeforeConnectCleansUp(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	objs, all := previousRun(t, e)
	e.oss.Down()
	d := e.device(0, func(c *Config) { c.DeferOrphans = true })
	d.Claim(objs[4])
	d.EndRecovery() // before the OST was ever reached
	if err := e.oss.Up(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, d)
	waitFor(t, "orphan cleanup", func() bool { return e.oss.OrphanCalls(0) == 2 && d.Info().OrphansDestroyed != 0 })
	for _, f := range all {
		if used := f.Oid <= objs[2].Oid; e.oss.Has(0, f) != used {
			t.Fatalf("object %v (used %v) exists %v after the cleanup", f, used, e.oss.Has(0, f))
		}
	}
	if in := d.Info(); in.OrphansDestroyed != uint64(len(all)-3) || in.OrphansQueued != 0 {
		t.Fatalf("info %+v", in)
	}
}

func TestClaimRacesEndRecovery(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	_, all := previousRun(t, e)
	d := e.device(0, func(c *Config) { c.DeferOrphans = true })
	waitReady(t, d)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range all[g:] {
				d.Claim(f)
			}
		}()
	}
	d.EndRecovery()
	wg.Wait()
	d.EndRecovery()
	// Whatever the claims that came in time, the sweep ends.
	waitFor(t, "sweep done", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.sweep == nil
	})
	if q := d.Info().OrphansQueued; q > uint64(len(all)-3) {
		t.Fatalf("%d queued of %d possible orphans", q, len(all)-3)
	}
}

func TestWithoutDeferOrphansClaimAndEndRecoveryDoNothing(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	objs, _ := previousRun(t, e)
	d := e.device(0)
	waitReady(t, d)
	d.Claim(objs[4])
	d.EndRecovery()
	waitFor(t, "orphan cleanup", func() bool { return e.oss.OrphanCalls(0) == 2 && d.Info().OrphansDestroyed != 0 })
	if e.oss.Has(0, objs[4]) || d.Info().OrphansQueued != 0 {
		t.Fatal("without DeferOrphans a claim kept an object")
	}
}
