package osp

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

var ctx = context.Background()

func TestAllocFromPrecreatedPool(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	d := e.device(0)
	waitReady(t, d)
	seen := map[wire.FID]bool{}
	const n = 500
	for range n {
		f, err := d.Alloc(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seen[f] {
			t.Fatalf("object %v handed out twice", f)
		}
		seen[f] = true
		if !e.oss.Has(0, f) {
			t.Fatalf("object %v does not exist on the OST", f)
		}
	}
	in := d.Info()
	if in.Allocated != n || in.Created < n {
		t.Fatalf("info %+v", in)
	}
	// Objects come in batches: far fewer precreate RPCs than objects.
	if in.Precreates > n/16 {
		t.Fatalf("%d precreate RPCs for %d objects", in.Precreates, n)
	}
	// Creators found the pool empty now and then: the batch grew.
	if in.CreateCount <= d.cfg.MinBatch {
		t.Fatalf("batch stayed at %d", in.CreateCount)
	}
	if in.PreallocLastID.IsZero() || in.PreallocStatus != 0 || in.State != ptlrpc.StateFull {
		t.Fatalf("info %+v", in)
	}
}

func TestReleaseReturnsObjectsFirst(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	d := e.device(0)
	waitReady(t, d)
	a, _ := d.Alloc(ctx)
	b, _ := d.Alloc(ctx)
	before := d.Info().PreallocCount
	d.Release(a, b)
	if got := d.Info(); got.PreallocCount != before+2 || got.PreallocNextID != a {
		t.Fatalf("after release: %+v", got)
	}
	if f, _ := d.Alloc(ctx); f != a {
		t.Fatalf("first alloc after release %v, want %v", f, a)
	}
	if f, _ := d.Alloc(ctx); f != b {
		t.Fatalf("second alloc after release %v, want %v", f, b)
	}
}

func TestStatfsFeedsQOS(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 3)
	d := e.device(3)
	waitReady(t, d)
	q := d.QOS()
	st := e.oss.StatFS(3)
	if q.Index != 3 || q.Free != st.BAvail*uint64(st.BSize) || q.Total != st.Blocks*uint64(st.BSize) {
		t.Fatalf("qos %+v for statfs %+v", q, st)
	}
	for _, state := range []wire.StatFSState{wire.StateNoCreate, wire.StateReadOnly, wire.StateDegraded, wire.StateNoSpace} {
		st.State = state
		e.oss.SetStatFS(3, st)
		waitFor(t, "OST inactive in state "+string(rune('0'+state)), func() bool { return !d.QOS().Avail })
	}
	st.State = 0
	st.BAvail = 12345
	e.oss.SetStatFS(3, st)
	waitFor(t, "OST active again", func() bool { return d.QOS().Avail && d.QOS().Free == 12345*4096 })
}

func TestDownOSTIsSkipped(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	d := e.device(0, func(c *Config) { c.MinBatch, c.MaxBatch = 4, 4 })
	waitReady(t, d)
	e.oss.Down()
	waitFor(t, "down OST inactive", func() bool { return !d.QOS().Avail })
	// The pool still holds objects: they are handed out without the OST.
	for d.Info().PreallocCount > 0 {
		if _, err := d.Alloc(ctx); err != nil {
			t.Fatalf("alloc from the pool of a down OST: %v", err)
		}
	}
	waitFor(t, "precreate failure noticed", func() bool { return d.Info().PreallocStatus != 0 })
	if _, err := d.Alloc(ctx); !errors.Is(err, ErrNoObjects) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("alloc from an empty pool of a down OST: %v", err)
	}
	if err := e.oss.Up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OST back", func() bool { return d.QOS().Avail })
	f, err := d.Alloc(ctx)
	if err != nil || !e.oss.Has(0, f) {
		t.Fatalf("alloc after the OST came back: %v %v", f, err)
	}
}

func TestAllocWaitsBounded(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	e.oss.FailCreate(0, 0) // succeed, but
	e.oss.Down()           // nothing answers: the first precreate hangs
	d := e.device(0, func(c *Config) { c.CreateTimeout = 100 * time.Millisecond; c.RPCTimeout = 5 * time.Second })
	_, err := d.Alloc(ctx)
	if !errors.Is(err, ErrNoObjects) {
		t.Fatalf("alloc with no OST answering: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Alloc(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("alloc with a cancelled context: %v", err)
	}
}

// queue records destroys of objs on OST ost as the MDT does at unlink.
func queue(t *testing.T, s *store.Store, ost uint32, objs ...wire.FID) {
	t.Helper()
	if _, err := s.Update(ctx, func(tx *store.Tx) error {
		for _, f := range objs {
			if err := tx.AddOSTDestroy(ost, f, store.OSTDestroy{File: wire.FID{Seq: wire.SeqNormalStart, Oid: 1}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func pending(t *testing.T, s *store.Store, ost uint32) int {
	t.Helper()
	n := 0
	if err := s.View(ctx, func(tx *store.Tx) error {
		return tx.OSTDestroys(ost, wire.FID{}, func(wire.FID, store.OSTDestroy) bool { n++; return true })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDestroyQueueDrains(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0, 1)
	d0, d1 := e.device(0, func(c *Config) { c.DestroyBatch = 7 }), e.device(1)
	waitReady(t, d0)
	var objs []wire.FID
	for range 20 {
		f, err := d0.Alloc(ctx)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, f)
	}
	missing := wire.IDIF(0, 999999) // never created: ENOENT counts as done
	queue(t, e.store, 0, append(objs, missing)...)
	other, _ := d1.Alloc(ctx)
	d0.Kick()
	waitFor(t, "queue drained", func() bool { return pending(t, e.store, 0) == 0 && d0.Info().PendingDestroys == 0 })
	for _, f := range objs {
		if e.oss.Has(0, f) {
			t.Fatalf("object %v not destroyed", f)
		}
	}
	if !e.oss.Has(1, other) {
		t.Fatal("another OST's object was destroyed")
	}
	if in := d0.Info(); in.Destroyed != 21 || in.DestroysInFlight != 0 || in.PendingDestroys != 0 {
		t.Fatalf("info %+v", in)
	}
}

func TestDestroyRetriesAndSurvivesRestart(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	d := e.device(0)
	waitReady(t, d)
	a, _ := d.Alloc(ctx)
	b, _ := d.Alloc(ctx)
	e.oss.FailDestroy(0, syscall.EIO)
	queue(t, e.store, 0, a, b)
	d.Kick()
	waitFor(t, "a failed destroy", func() bool { return d.Info().DestroyErrors > 0 })
	if pending(t, e.store, 0) != 2 || !e.oss.Has(0, a) || !e.oss.Has(0, b) {
		t.Fatal("a failed destroy dropped its record")
	}
	// The MDS restarts with the queue pending: a new device finds it.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	path := e.store.Path()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	e.openStore(path)
	e.oss.FailDestroy(0, 0)
	d2 := e.device(0)
	waitFor(t, "queue drained after restart", func() bool { return pending(t, e.store, 0) == 0 })
	if e.oss.Has(0, a) || e.oss.Has(0, b) {
		t.Fatal("objects survived")
	}
	_ = d2
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{}, {Target: "x"}, {Target: "x", LNet: nil, Store: &store.Store{}}} {
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if DeviceName("fs-OST000a", 1) != "fs-OST000a-osc-MDT0001" {
		t.Fatal(DeviceName("fs-OST000a", 1))
	}
}

func TestOrphanCleanupAtStart(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 0)
	objs, all := previousRun(t, e) // layouts committed objs[0..2]
	if e.oss.OrphanCalls(0) != 1 {
		t.Fatalf("%d orphan cleanups at the first connection", e.oss.OrphanCalls(0))
	}
	precreated := len(all)
	d2 := e.device(0)
	waitReady(t, d2)
	// The fake OSS counts the call before it answers; the device records
	// what was destroyed once the answer is in.
	waitFor(t, "orphan cleanup", func() bool { return e.oss.OrphanCalls(0) == 2 && d2.Info().OrphansDestroyed != 0 })
	for i, f := range objs {
		if used := i < 3; e.oss.Has(0, f) != used {
			t.Fatalf("object %v (used %v) exists %v after the cleanup", f, used, e.oss.Has(0, f))
		}
	}
	if in := d2.Info(); in.OrphansDestroyed != uint64(precreated-3) {
		t.Fatalf("orphans destroyed %d, precreated %d", in.OrphansDestroyed, precreated)
	}
	f, err := d2.Alloc(ctx)
	if err != nil || !e.oss.Has(0, f) || f.Oid <= objs[4].Oid {
		t.Fatalf("alloc after the cleanup: %v %v", f, err)
	}
}
