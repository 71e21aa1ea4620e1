package ldlm

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/wire"
)

// flock(2)/fcntl(2) semantics between two clients over RPC.
func TestFlockClients(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	ctx := testCtx(t)
	res := resN(20)
	wr := func(s, e uint64, owner uint64) Flock {
		return Flock{Mode: wire.LockPW, Start: s, End: e, PID: uint32(owner), Owner: owner}
	}
	got, err := a.c.Flock(ctx, res, FlockSet, wr(0, 99, 1))
	if err != nil || got.Start != 0 || got.End != 99 || got.Mode != wire.LockPW {
		t.Fatalf("F_SETLK: %+v %v", got, err)
	}
	if _, err := b.c.Flock(ctx, res, FlockSet, wr(50, 60, 2)); !errors.Is(err, ErrWouldBlock) ||
		!errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("conflicting F_SETLK: %v", err)
	}
	got, err = b.c.Flock(ctx, res, FlockTest, wr(50, 60, 2))
	if err != nil || got.Mode != wire.LockPW || got.Start != 0 || got.End != 99 || got.PID != 1 {
		t.Fatalf("F_GETLK: %+v %v", got, err)
	}
	// F_SETLKW waits until a unlocks.
	done := make(chan error, 1)
	go func() {
		fl, err := b.c.Flock(ctx, res, FlockWait, wr(50, 60, 2))
		if err == nil && (fl.Start != 50 || fl.End != 60) {
			err = errors.New("wrong range granted")
		}
		done <- err
	}()
	waitUntil(t, "b queued", func() bool { return cl.ns.Stats().Waiting == 1 })
	select {
	case err := <-done:
		t.Fatalf("granted over a's lock: %v", err)
	default:
	}
	if _, err := a.c.Flock(ctx, res, FlockSet, Flock{Mode: wire.LockNL, Start: 0, End: wire.LockEOF, Owner: 1}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("F_SETLKW: %v", err)
	}
	got, err = a.c.Flock(ctx, res, FlockTest, wr(0, wire.LockEOF, 1))
	if err != nil || got.Start != 50 || got.End != 60 || got.PID != 2 {
		t.Fatalf("F_GETLK after: %+v %v", got, err)
	}
	cl.mustCheck()
}

// Deadlock across two clients is refused with EDEADLK; an interrupted
// F_SETLKW leaves nothing queued; an evicted owner's flocks are freed.
func TestFlockDeadlockAndInterrupt(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	ctx := testCtx(t)
	r1, r2 := resN(21), resN(22)
	w := func(owner uint64) Flock { return Flock{Mode: wire.LockPW, End: 9, PID: uint32(owner), Owner: owner} }
	if _, err := a.c.Flock(ctx, r1, FlockSet, w(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.Flock(ctx, r2, FlockSet, w(2)); err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	aerr := make(chan error, 1)
	go func() {
		_, err := a.c.Flock(actx, r2, FlockWait, w(1))
		aerr <- err
	}()
	waitUntil(t, "a queued", func() bool { return cl.ns.Stats().Waiting == 1 })
	if _, err := b.c.Flock(ctx, r1, FlockWait, w(2)); !errors.Is(err, ErrDeadlock) || !errors.Is(err, syscall.EDEADLK) {
		t.Fatalf("b closing the cycle: %v", err)
	}
	// a's process gets a signal.
	acancel()
	if err := <-aerr; !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted wait: %v", err)
	}
	waitUntil(t, "a's request gone", func() bool { return cl.ns.Stats().Waiting == 0 })
	if _, err := b.c.Flock(ctx, r1, FlockTest, w(2)); err != nil {
		t.Fatal(err)
	}
	cl.mustCheck()
	// b's own lock is still there for a.
	if _, err := a.c.Flock(ctx, r2, FlockSet, w(1)); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("after the interrupt: %v", err)
	}
	// Eviction frees b's flocks and a's waiting request gets them.
	aerr2 := make(chan error, 1)
	go func() {
		_, err := a.c.Flock(ctx, r2, FlockWait, w(1))
		aerr2 <- err
	}()
	waitUntil(t, "a queued again", func() bool { return cl.ns.Stats().Waiting == 1 })
	if !cl.ns.EvictClient(b.uuid) {
		t.Fatal("b unknown")
	}
	if err := <-aerr2; err != nil {
		t.Fatal(err)
	}
	cl.mustCheck()
}

// A server resends a completion callback that was slow to answer (its
// first attempt is short). The resend of the callback that granted a
// flock the client already handed to its caller is answered as done: an
// EINVAL would make the server cancel the granted lock, and another owner
// would get it while the first still holds it.
func TestFlockCompletionResent(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	ctx := testCtx(t)
	res := resN(23)
	wr := func(owner uint64) Flock {
		return Flock{Mode: wire.LockPW, End: wire.LockEOF, PID: uint32(owner), Owner: owner}
	}
	if _, err := a.c.Flock(ctx, res, FlockSet, wr(1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.c.Flock(ctx, res, FlockWait, wr(2))
		done <- err
	}()
	waitUntil(t, "b queued", func() bool { return cl.ns.Stats().Waiting == 1 })
	if _, err := a.c.Flock(ctx, res, FlockSet, Flock{Mode: wire.LockNL, End: wire.LockEOF, Owner: 1}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("F_SETLKW: %v", err)
	}
	// The server sends b's completion callback again.
	var work []ast
	cl.ns.mu.Lock()
	for _, lk := range cl.ns.locks {
		if lk.res.id == res && lk.granted {
			work = append(work, ast{kind: astCP, lk: lk, cl: lk.cl,
				body: wire.LockCallback{Handle: lk.remote, ServerHandle: lk.handle, Desc: lk.desc()}})
		}
	}
	cl.ns.mu.Unlock()
	if len(work) != 1 {
		t.Fatalf("%d granted locks on the resource, want b's", len(work))
	}
	cl.ns.wg.Add(1)
	cl.ns.sendAST(work[0]) // as dispatch does, but waited for
	if _, err := a.c.Flock(ctx, res, FlockSet, wr(1)); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("a's F_SETLK over b's lock after a resent completion: %v, want EAGAIN", err)
	}
	cl.mustCheck()
}
