package ldlm

import (
	"context"
	"sync"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// A client called back for some bits of its inode-bits lock gives up only
// those (LDLM_CONVERT) and keeps the lock with the rest; a callback for
// the bits kept then cancels it.
func TestConvertKeepsOtherBits(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	var mu sync.Mutex
	var dropped []uint64
	a := cl.addClient(false, func(c *ClientConfig) {
		c.Hooks.Convert = func(_ context.Context, _ *Lock, bits uint64) {
			mu.Lock()
			dropped = append(dropped, bits)
			mu.Unlock()
		}
	})
	const name, attr = wire.InodeLockLookup, wire.InodeLockUpdate | wire.InodeLockPerm
	a.enqueue(ibits(30, wire.LockPR, name|attr)).Release()

	// The server changes attributes: EX on UPDATE|PERM.
	ll, err := cl.ns.Lock(testCtx(t), ibits(30, wire.LockEX, attr), 0)
	if err != nil {
		t.Fatalf("EX UPDATE|PERM: %v", err)
	}
	ll.Release()
	mu.Lock()
	got := append([]uint64(nil), dropped...)
	mu.Unlock()
	if len(got) != 1 || got[0] != attr {
		t.Fatalf("Convert hook calls %#x, want one for %#x", got, attr)
	}
	if n := a.cancelCount(); n != 0 {
		t.Fatalf("%d Cancel hook calls for a convert", n)
	}
	// The server grants once it converted; the client files the lock
	// back when the reply comes.
	waitUntil(t, "the LOOKUP bit cached again", func() bool {
		l := a.c.Match(ibits(30, wire.LockPR, name))
		if l != nil {
			l.Release()
		}
		return l != nil
	})
	if l := a.c.Match(ibits(30, wire.LockPR, name|wire.InodeLockUpdate)); l != nil {
		l.Release()
		t.Fatal("UPDATE still cached after the convert")
	}
	if st := cl.ns.Stats(); st.Converts != 1 || a.c.Stats().Converts != 1 {
		t.Errorf("converts: server %d, client %d, want 1", st.Converts, a.c.Stats().Converts)
	}
	cl.mustCheck()

	// A rename: EX on LOOKUP. The rest goes.
	ll, err = cl.ns.Lock(testCtx(t), ibits(30, wire.LockEX, name), 0)
	if err != nil {
		t.Fatalf("EX LOOKUP: %v", err)
	}
	ll.Release()
	waitUntil(t, "the lock cancelled", func() bool { return a.cancelCount() == 1 && a.c.Stats().Locks == 0 })
	cl.mustCheck()
}

// A convert of a lock the server no longer has, of another type, or to
// bits it does not hold is refused.
func TestConvertRefused(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a := cl.addClient(false)
	l := a.enqueue(ibits(31, wire.LockPR, wire.InodeLockLookup|wire.InodeLockUpdate))
	defer l.Release()
	e := a.enqueue(extent(32, wire.LockPR, 0, 10))
	defer e.Release()
	for _, c := range []struct {
		h    wire.LockHandle
		keep uint64
		want syscall.Errno
	}{
		{l.Handle() + 1000, wire.InodeLockLookup, syscall.ESTALE},
		{l.Handle(), 0, syscall.EINVAL},
		{l.Handle(), wire.InodeLockPerm, syscall.EINVAL},
		{e.Handle(), 1, syscall.EINVAL},
	} {
		d := ibits(31, wire.LockPR, c.keep)
		rep, err := a.imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.LDLMConvert,
			Encode: &wire.LockCallback{ServerHandle: c.h, Desc: d}})
		rep.Release()
		if remoteErrno(err) != c.want {
			t.Errorf("convert %#x to %#x: %v, want %v", uint64(c.h), c.keep, err, c.want)
		}
	}
	cl.mustCheck()
}
