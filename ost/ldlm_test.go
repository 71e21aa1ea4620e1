package ost

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// lockClient is a client namespace of OST 0 with its own import and the
// given hooks.
func (c *cluster) lockClient(cbs *ldlm.CallbackServer, uuid string, hooks ldlm.Hooks) (*ldlm.Client, *ptlrpc.Import) {
	c.t.Helper()
	imp := c.connect(0, wire.OSTRequestPortal, uuid)
	lc, err := ldlm.NewClient(ldlm.ClientConfig{Name: uuid, Import: imp, Callbacks: cbs, Hooks: hooks,
		Logger: zaptest.NewLogger(c.t).Named(uuid)})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = lc.Close(context.Background()) })
	return lc, imp
}

func (c *cluster) callbacks() *ldlm.CallbackServer {
	c.t.Helper()
	cbs, err := ldlm.StartCallbackServer(context.Background(), ldlm.CallbackConfig{LNet: c.cln, AT: testAT,
		Logger: zaptest.NewLogger(c.t).Named("cbd")})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cbs.Close() })
	return cbs
}

func extent(fid wire.FID, mode wire.LockMode, start, end uint64) wire.LockDesc {
	return wire.LockDesc{Res: wire.ResIDOfFID(fid), Type: wire.LockExtent, Mode: mode,
		Policy: wire.Policy{Start: start, End: end}}
}

// TestExtentLocks: an OST serves extent locks (expanded when uncontended,
// with the object's size in the LVB), a getattr glimpses the holder of a
// write lock for the size it caches, and a conflicting request calls the
// holder's lock back.
func TestExtentLocks(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	ctx := testCtx(t)
	cbs := c.callbacks()
	fid := wire.FID{Seq: Sequence(0, 0), Oid: precreate(t, c.io(), 0, 1).First.Oid}
	mustWrite(t, c.io(), fid, 0, pattern(100, 1))

	var cancels atomic.Int32
	a, _ := c.lockClient(cbs, "client-a", ldlm.Hooks{
		Cancel:  func(context.Context, *ldlm.Lock, bool) { cancels.Add(1) },
		Glimpse: func(*ldlm.Lock) (wire.LVB, error) { return wire.LVB{Size: 12345}, nil },
	})
	l, err := a.Enqueue(ctx, extent(fid, wire.LockPW, 0, 4095), 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Desc(); d.Policy.Start != 0 || d.Policy.End != wire.LockEOF {
		t.Errorf("uncontended lock granted %+v, want [0, EOF]", d.Policy)
	}
	if got := l.LVB().Size; got != 100 {
		t.Errorf("LVB size %d, want the object's 100", got)
	}
	l.Release()

	b, bimp := c.lockClient(cbs, "client-b", ldlm.Hooks{})
	var attr wire.ObjectAttrRequest
	call(t, bimp, wire.OSTGetattr, &wire.FIDRequest{FID: fid}, &attr)
	if attr.Attr.Size != 12345 {
		t.Errorf("getattr size %d, want 12345 from the glimpse of the PW holder", attr.Attr.Size)
	}
	lb, err := b.Enqueue(ctx, extent(fid, wire.LockPR, 0, 4095), 0)
	if err != nil {
		t.Fatal(err)
	}
	lb.Release()
	if cancels.Load() != 1 {
		t.Errorf("%d cancels of A's lock, want 1", cancels.Load())
	}
	call(t, bimp, wire.OSTGetattr, &wire.FIDRequest{FID: fid}, &attr)
	if attr.Attr.Size != 100 {
		t.Errorf("getattr size %d with no write lock left, want 100", attr.Attr.Size)
	}
	if got := c.param("ldlm.namespaces.filter-" + ostName(0) + "_UUID.lock_count"); got != "1" {
		t.Errorf("lock_count %q, want 1", got)
	}
}

// TestEvictSilentHolder: a client that does not cancel a called-back lock
// in time is evicted (its export too) and the waiting request is granted.
func TestEvictSilentHolder(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, func(cfg *Config) {
		cfg.ASTTimeout, cfg.CancelTimeout = time.Second, 200*time.Millisecond
	})
	ctx := testCtx(t)
	cbs := c.callbacks()
	fid := wire.FID{Seq: Sequence(0, 0), Oid: precreate(t, c.io(), 0, 1).First.Oid}
	a, _ := c.lockClient(cbs, "client-a", ldlm.Hooks{})
	held, err := a.Enqueue(ctx, extent(fid, wire.LockPW, 0, wire.LockEOF), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release() // never released while B waits: A is stuck
	b, _ := c.lockClient(cbs, "client-b", ldlm.Hooks{})
	lb, err := b.Enqueue(ctx, extent(fid, wire.LockPW, 0, 4095), 0)
	if err != nil {
		t.Fatal(err)
	}
	lb.Release()
	for _, e := range c.srv.targets[0].ptl.Exports() {
		if e.ClientUUID == "client-a" {
			t.Errorf("client-a still has an export after its eviction")
		}
	}
}

// TestEvictDeadHolder: a client that dies holding a lock (its node gone,
// as a killed process) is evicted once it misses the callback, and a
// conflicting request of another client is granted.
func TestEvictDeadHolder(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, func(cfg *Config) {
		cfg.ASTTimeout, cfg.CancelTimeout = 300*time.Millisecond, 300*time.Millisecond
	})
	ctx := testCtx(t)
	fid := wire.FID{Seq: Sequence(0, 0), Oid: precreate(t, c.io(), 0, 1).First.Oid}

	// A lives on a node of its own, lo(3), which dies.
	aln := lnetNode(t, c.fab, "lo(3)")
	saved := c.cln
	c.cln = aln
	acbs := c.callbacks()
	a, _ := c.lockClient(acbs, "client-a", ldlm.Hooks{})
	c.cln = saved
	la, err := a.Enqueue(ctx, extent(fid, wire.LockPW, 0, wire.LockEOF), 0)
	if err != nil {
		t.Fatal(err)
	}
	la.Release()
	if err := aln.Close(); err != nil {
		t.Fatal(err)
	}

	b, _ := c.lockClient(c.callbacks(), "client-b", ldlm.Hooks{})
	lb, err := b.Enqueue(ctx, extent(fid, wire.LockPW, 0, 4095), 0)
	if err != nil {
		t.Fatal(err)
	}
	lb.Release()
	for _, e := range c.srv.targets[0].ptl.Exports() {
		if e.ClientUUID == "client-a" {
			t.Errorf("the dead client-a still has an export")
		}
	}
}
