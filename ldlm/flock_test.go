package ldlm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ptlrpc"

	"github.com/stria-fs/stria/wire"
)

// bareNamespace is a namespace without LNet, timers or RPCs, for driving
// the policies directly.
func bareNamespace() *Namespace {
	ns := &Namespace{
		cfg: Config{Name: "bare", MaxWaiting: 1 << 10, MaxWaitingPerClient: 1 << 10}, log: zap.NewNop(),
		resources: map[wire.ResID]*resource{}, locks: map[wire.LockHandle]*lock{},
		clients: map[*ptlrpc.Export]*client{}, gone: map[*ptlrpc.Export]time.Time{}, armed: map[*lock]struct{}{},
		flockWaiters: map[flockOwner][]*lock{},
	}
	for t := wire.LockPlain; t <= wire.LockIBits; t++ {
		ns.types[t] = true
	}
	ns.ctx, ns.cancel = context.WithCancel(context.Background())
	return ns
}

func fakeClient() *client {
	c := &client{locks: map[*lock]struct{}{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

type flockOp struct {
	ns *Namespace
	t  *testing.T
}

// do runs one flock request of (cl, owner) and returns the reply, the
// completion callbacks it caused and the error.
func (f flockOp) do(cl *client, owner uint64, res uint64, mode wire.LockMode, s, e uint64, flags wire.LockFlags) (wire.LockReply, []ast, error) {
	d := wire.LockDesc{Res: resN(res), Type: wire.LockFlock, Mode: mode,
		Policy: wire.Policy{Start: s, End: e, Owner: owner, PID: uint32(owner)}}
	var work []ast
	f.ns.mu.Lock()
	rep, err := f.ns.enqueueLocked(cl, nil, &d, flags, 1, &work)
	f.ns.mu.Unlock()
	if cerr := f.ns.Check(); cerr != nil {
		f.t.Fatal(cerr)
	}
	return rep, work, err
}

func (f flockOp) must(cl *client, owner uint64, res uint64, mode wire.LockMode, s, e uint64) wire.LockReply {
	f.t.Helper()
	rep, _, err := f.do(cl, owner, res, mode, s, e, 0)
	if err != nil || rep.Flags.Blocked() {
		f.t.Fatalf("%v [%d, %d]: %+v %v", mode, s, e, rep, err)
	}
	return rep
}

// locks lists the granted flocks of res as "MODE[s,e]/owner", sorted.
func (f flockOp) locks(res uint64) []string {
	f.ns.mu.Lock()
	defer f.ns.mu.Unlock()
	var out []string
	if r := f.ns.resources[resN(res)]; r != nil {
		for _, g := range r.granted {
			out = append(out, fmt.Sprintf("%v[%d,%d]/%d", g.mode, g.policy.Start, g.policy.End, g.policy.Owner))
		}
	}
	slices.Sort(out)
	return out
}

func (f flockOp) expect(res uint64, want ...string) {
	f.t.Helper()
	slices.Sort(want)
	if got := f.locks(res); !slices.Equal(got, want) {
		f.t.Fatalf("locks %v, want %v", got, want)
	}
}

func TestFlockMergeSplitUnlock(t *testing.T) {
	f := flockOp{bareNamespace(), t}
	a := fakeClient()
	f.must(a, 1, 1, wire.LockPW, 0, 99)
	rep := f.must(a, 1, 1, wire.LockPW, 100, 199)
	if rep.Desc.Policy.Start != 0 || rep.Desc.Policy.End != 199 || rep.Flags&wire.LockFlagChanged == 0 {
		t.Fatalf("merged reply %+v", rep)
	}
	f.expect(1, "PW[0,199]/1")
	f.must(a, 1, 1, wire.LockPR, 50, 149) // a read lock inside a write lock splits it
	f.expect(1, "PW[0,49]/1", "PR[50,149]/1", "PW[150,199]/1")
	f.must(a, 1, 1, wire.LockPR, 40, 60) // overlapping other modes on both sides
	f.expect(1, "PW[0,39]/1", "PR[40,149]/1", "PW[150,199]/1")
	f.must(a, 1, 1, wire.LockNL, 100, 159) // unlock across two locks
	f.expect(1, "PW[0,39]/1", "PR[40,99]/1", "PW[160,199]/1")
	f.must(a, 1, 1, wire.LockNL, 10, 19) // unlock inside a lock splits it
	f.expect(1, "PW[0,9]/1", "PW[20,39]/1", "PR[40,99]/1", "PW[160,199]/1")
	f.must(a, 1, 1, wire.LockPW, 200, eof) // adjacent to the end: merges
	f.expect(1, "PW[0,9]/1", "PW[20,39]/1", "PR[40,99]/1", "PW[160,18446744073709551615]/1")
	// Another owner of the same client is someone else.
	if _, _, err := f.do(a, 2, 1, wire.LockPR, 0, 0, wire.LockFlagBlockNoWait); !errors.Is(err, ErrWouldBlock) ||
		!errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("other owner: %v", err)
	}
	f.must(a, 1, 1, wire.LockNL, 0, eof)
	f.expect(1)
	if n := len(f.ns.locks); n != 0 || len(f.ns.resources) != 0 {
		t.Fatalf("%d locks, %d resources left", n, len(f.ns.resources))
	}
}

func TestFlockTestLock(t *testing.T) {
	f := flockOp{bareNamespace(), t}
	a, b := fakeClient(), fakeClient()
	f.must(a, 7, 1, wire.LockPR, 10, 19)
	// Readers share.
	f.must(b, 8, 1, wire.LockPR, 0, 100)
	rep, _, err := f.do(b, 8, 1, wire.LockPW, 15, 15, wire.LockFlagTestLock)
	if err != nil || rep.Desc.Mode != wire.LockPR || rep.Desc.Policy.Start != 10 || rep.Desc.Policy.End != 19 ||
		rep.Desc.Policy.PID != 7 {
		t.Fatalf("F_GETLK: %+v %v", rep.Desc, err)
	}
	rep, _, err = f.do(b, 8, 1, wire.LockPW, 20, 30, wire.LockFlagTestLock)
	if err != nil || rep.Desc.Mode != wire.LockNL {
		t.Fatalf("F_GETLK without conflict: %+v %v", rep.Desc, err)
	}
	f.expect(1, "PR[10,19]/7", "PR[0,100]/8") // F_GETLK granted nothing
}

func TestFlockWaitAndCancel(t *testing.T) {
	f := flockOp{bareNamespace(), t}
	a, b := fakeClient(), fakeClient()
	f.must(a, 1, 1, wire.LockPW, 0, 99)
	rep, _, err := f.do(b, 2, 1, wire.LockPW, 50, 149, 0)
	if err != nil || rep.Flags&wire.LockFlagBlockGranted == 0 {
		t.Fatalf("waiter: %+v %v", rep, err)
	}
	// Unlocking part of a's range is not enough; all of it is.
	_, work, _ := f.do(a, 1, 1, wire.LockNL, 0, 49, 0)
	if len(work) != 0 {
		t.Fatalf("granted early: %+v", work)
	}
	_, work, _ = f.do(a, 1, 1, wire.LockNL, 50, 99, 0)
	if len(work) != 1 || work[0].kind != astCP || work[0].body.ServerHandle != rep.Handle ||
		work[0].body.Desc.Policy.Start != 50 {
		t.Fatalf("completion: %+v", work)
	}
	f.expect(1, "PW[50,149]/2")

	// A waiter that gives up (its F_SETLKW was interrupted) is cancelled.
	rep, _, _ = f.do(a, 1, 1, wire.LockPR, 0, eof, 0)
	if !rep.Flags.Blocked() {
		t.Fatal("not queued")
	}
	f.ns.mu.Lock()
	var w2 []ast
	f.ns.cancelLocked(f.ns.locks[rep.Handle], &w2)
	waiters := len(f.ns.flockWaiters)
	f.ns.mu.Unlock()
	if waiters != 0 || len(w2) != 0 {
		t.Fatalf("waiter still known: %d, work %v", waiters, w2)
	}
	f.expect(1, "PW[50,149]/2")
}

func TestFlockDeadlock(t *testing.T) {
	f := flockOp{bareNamespace(), t}
	a, b, c := fakeClient(), fakeClient(), fakeClient()
	f.must(a, 1, 1, wire.LockPW, 0, 9)
	f.must(b, 2, 2, wire.LockPW, 0, 9)
	f.must(c, 3, 3, wire.LockPW, 0, 9)
	if rep, _, err := f.do(a, 1, 2, wire.LockPW, 0, 9, 0); err != nil || !rep.Flags.Blocked() {
		t.Fatalf("a waits for b: %v", err)
	}
	if rep, _, err := f.do(b, 2, 3, wire.LockPW, 5, 5, 0); err != nil || !rep.Flags.Blocked() {
		t.Fatalf("b waits for c: %v", err)
	}
	// c closing the cycle c → a → b → c is refused.
	_, _, err := f.do(c, 3, 1, wire.LockPR, 0, 0, 0)
	if !errors.Is(err, ErrDeadlock) || wire.ErrnoOf(err) != wire.Errno(syscall.EDEADLK) {
		t.Fatalf("cycle: %v", err)
	}
	// A request that waits without a cycle is fine.
	d := fakeClient()
	f.must(d, 4, 4, wire.LockPW, 0, 9)
	if rep, _, err := f.do(c, 3, 4, wire.LockPR, 0, 0, 0); err != nil || !rep.Flags.Blocked() {
		t.Fatalf("c waits for d: %v", err)
	}
}

// A cycle can also form when a grant changes who blocks whom: an owner
// with two waiting threads.
func TestFlockDeadlockOnReprocess(t *testing.T) {
	f := flockOp{bareNamespace(), t}
	cc, x, y := fakeClient(), fakeClient(), fakeClient()
	f.must(cc, 1, 1, wire.LockPW, 0, 9)
	f.must(y, 3, 3, wire.LockPW, 0, 9)
	if rep, _, _ := f.do(x, 2, 1, wire.LockPW, 0, 9, 0); !rep.Flags.Blocked() { // x → c
		t.Fatal("x not queued")
	}
	yrep, _, _ := f.do(y, 3, 1, wire.LockPW, 0, 9, 0) // y → c
	if !yrep.Flags.Blocked() {
		t.Fatal("y not queued")
	}
	if rep, _, err := f.do(x, 2, 3, wire.LockPW, 0, 9, 0); err != nil || !rep.Flags.Blocked() { // x → y
		t.Fatalf("x's second thread: %v", err)
	}
	// c lets go: x gets r1, and y, now waiting for x while x waits for y,
	// is refused.
	_, work, _ := f.do(cc, 1, 1, wire.LockNL, 0, eof, 0)
	var granted, refused int
	for _, w := range work {
		switch {
		case w.body.Flags&wire.LockFlagFlockDeadlock != 0 && w.body.ServerHandle == yrep.Handle:
			refused++
		case w.body.Flags == 0:
			granted++
		}
	}
	if granted != 1 || refused != 1 || len(work) != 2 {
		t.Fatalf("work %+v", work)
	}
	f.expect(1, "PW[0,9]/2")
}
