package ptlrpc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/lnet/netfault"
	"github.com/stria-fs/stria/wire"
)

// No timer is armed per call or per bulk transfer: these test the shared
// ones that replace them.

// TestImportDeadlineTimer: one timer times out every waiting attempt of an
// import, moved only to an earlier deadline, and re-armed for the earliest
// one left after it fires.
func TestImportDeadlineTimer(t *testing.T) {
	leaktest.Check(t)
	_, imp := pairSetup(t, map[wire.Opcode]Handler{opEcho: echo}, nil)
	now := time.Now()
	late, later := imp.callPool.Get().(*call), imp.callPool.Get().(*call)
	timedOut := func(c *call) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.timedOut
	}
	imp.mu.Lock()
	imp.dlTimer.Stop() // still armed for the connect's deadline
	imp.dlArmed = time.Time{}
	imp.addWaitingLocked(later, now.Add(2*time.Hour))
	armed := imp.dlArmed
	imp.addWaitingLocked(late, now.Add(time.Hour))
	if !imp.dlArmed.Equal(late.deadline) || !armed.Equal(later.deadline) {
		t.Errorf("armed for %v then %v, want the earliest deadline each time", armed, imp.dlArmed)
	}
	imp.addWaitingLocked(imp.callPool.Get().(*call), now.Add(3*time.Hour))
	if !imp.dlArmed.Equal(late.deadline) {
		t.Errorf("a later deadline moved the timer to %v", imp.dlArmed)
	}
	late.deadline = now // overdue now
	imp.armLocked(now)
	imp.mu.Unlock()
	waitUntil(t, "the overdue attempt timed out", func() bool { return timedOut(late) })
	<-late.wake
	imp.mu.Lock()
	if timedOut(later) || !imp.dlArmed.Equal(later.deadline) {
		t.Errorf("after the first timeout: later timed out %v, timer armed for %v, want %v",
			timedOut(later), imp.dlArmed, later.deadline)
	}
	for c := imp.waitHead; c != nil; c = imp.waitHead {
		imp.removeWaitingLocked(c)
	}
	imp.mu.Unlock()
}

// TestBulkTimeout: a bulk transfer that gets no answer ends after the
// service's BulkTimeout (kept by the early-reply loop, not a timer of its
// own) with ErrBulk and context.DeadlineExceeded.
func TestBulkTimeout(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	sln := node(t, f, "lo(1)", netfault.Wrap(lolnd.New(f), rules))
	cln := node(t, f, "lo(2)")
	got := make(chan error, 1)
	startServer(t, sln, map[wire.Opcode]Handler{wire.OSTWrite: func(ctx context.Context, r *Request) error {
		_, err := r.BulkGet(ctx, make([]byte, r.BulkLen()))
		got <- err
		return err
	}}, func(sc *ServiceConfig, _ *TargetConfig) { sc.BulkTimeout = 100 * time.Millisecond })
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)})
	connect(t, imp)
	rules.Add(netfault.Rule{Match: netfault.Match{Src: lnet.LoNID(1), Types: []lnet.MsgType{lnet.MsgGet},
		Portals: []uint32{testBulkPortal}}, Action: netfault.Drop, Count: 1})
	rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.OSTWrite, BulkOut: []byte("lost")})
	rep.Release()
	if err == nil {
		t.Fatal("the call succeeded without its bulk")
	}
	if err := <-got; !errors.Is(err, ErrBulk) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BulkGet: %v", err)
	}
}
