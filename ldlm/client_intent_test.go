package ldlm

import (
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// intentVia returns an IntentCall that plays the server's intent handler:
// it puts the request on the resource the server chose (res) and sends it
// as an LDLM_ENQUEUE; a conflict means no lock, as an intent handler
// answers.
func intentVia(tc *tclient, res uint64) IntentCall {
	return func(req *wire.LockRequest) (*wire.LockReply, error) {
		req.Desc.Res = resN(res)
		rep, err := tc.imp.Call(testCtx(tc.t), &ptlrpc.Req{Opcode: wire.LDLMEnqueue, Encode: req})
		defer rep.Release()
		if remoteErrno(err) == syscall.EAGAIN {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var lr wire.LockReply
		if err := rep.Decode(&lr); err != nil {
			return nil, err
		}
		return &lr, nil
	}
}

// An intent lock is on the resource the server chose, cached and matched
// like any other, and called back like any other; a conflict grants
// nothing and waits for nothing.
func TestEnqueueIntent(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	want := ibits(0, wire.LockPR, wire.InodeLockLookup|wire.InodeLockUpdate)
	want.Res = wire.ResID{}
	l, err := a.c.EnqueueIntent(testCtx(t), want, intentVia(a, 1))
	if err != nil || l == nil {
		t.Fatalf("intent: %v %v", l, err)
	}
	if d := l.Desc(); d.Res != resN(1) || d.Mode != wire.LockPR {
		t.Fatalf("intent lock %+v", d)
	}
	l.Release()
	m := a.c.Match(ibits(1, wire.LockPR, wire.InodeLockLookup))
	if m != l {
		t.Fatalf("the cached intent lock is not matched: %v", m)
	}
	m.Release()
	cl.mustCheck()

	// A conflicting holder: no lock, and no callback sent to it.
	lb := b.enqueue(ibits(2, wire.LockEX, wire.InodeLockUpdate))
	if l, err := a.c.EnqueueIntent(testCtx(t), want, intentVia(a, 2)); l != nil || err != nil {
		t.Fatalf("intent over a conflicting lock: %v %v", l, err)
	}
	if lb.BlockPending() {
		t.Fatal("an intent that cannot be granted called the holder back")
	}
	lb.Release()
	cl.mustCheck()

	// Called back while in use: cancelled once released.
	l, err = a.c.EnqueueIntent(testCtx(t), want, intentVia(a, 3))
	if err != nil || l == nil {
		t.Fatalf("intent: %v %v", l, err)
	}
	got := make(chan *Lock)
	go func() {
		lx, err := b.c.Enqueue(testCtx(t), ibits(3, wire.LockEX, wire.InodeLockUpdate), 0)
		if err != nil {
			t.Error(err)
		}
		got <- lx
	}()
	waitUntil(t, "the blocking callback", func() bool { return l.BlockPending() })
	before := a.cancelCount()
	l.Release()
	if lx := <-got; lx != nil {
		lx.Release()
	}
	if a.cancelCount() != before+1 {
		t.Fatalf("a's Cancel hook ran %d times for the called-back intent lock", a.cancelCount()-before)
	}
	cl.mustCheck()
}
