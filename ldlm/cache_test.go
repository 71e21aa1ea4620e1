package ldlm

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

func param(t *testing.T, ps []Param, name string) Param {
	t.Helper()
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no parameter %s", name)
	return Param{}
}

// lru_size bounds the unused locks kept; lru_max_age ages them out; both
// through the parameters lctl will use, with lock_count.
func TestLRU(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a := cl.addClient(false)
	ps := a.c.Params()
	size, age := param(t, ps, "lru_size"), param(t, ps, "lru_max_age")
	count, unused := param(t, ps, "lock_count"), param(t, ps, "lock_unused_count")
	srvCount := param(t, cl.ns.Params(), "lock_count")
	if size.Get() != "0" || age.Get() != strconv.Itoa(int(DefaultLRUMaxAge.Milliseconds())) {
		t.Fatalf("defaults: lru_size %s, lru_max_age %s", size.Get(), age.Get())
	}
	if err := size.Set("3"); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 8; i++ {
		a.enqueue(plain(100+i, wire.LockPR)).Release()
	}
	waitUntil(t, "LRU down to lru_size", func() bool {
		return count.Get() == "3" && unused.Get() == "3" && srvCount.Get() == "3"
	})
	if a.cancelCount() != 5 || a.c.Stats().LRUCancels != 5 {
		t.Fatalf("cancel hooks %d, stats %+v", a.cancelCount(), a.c.Stats())
	}
	// The most recently used survived.
	for i := uint64(5); i < 8; i++ {
		l := a.c.Match(plain(100+i, wire.LockPR))
		if l == nil {
			t.Fatalf("lock %d was cancelled", i)
		}
		l.Release()
	}
	// A lock in use is never cancelled by the LRU.
	held := a.enqueue(plain(200, wire.LockPR))
	if err := size.Set("1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "shrunk to 1 unused + 1 in use", func() bool { return count.Get() == "2" && srvCount.Get() == "2" })
	if err := age.Set("30ms"); err != nil || age.Get() != "30" {
		t.Fatalf("lru_max_age=30ms: %v, reads %s", err, age.Get())
	}
	waitUntil(t, "aged out", func() bool { return count.Get() == "1" && srvCount.Get() == "1" })
	held.Release()
	waitUntil(t, "the last one aged out", func() bool { return count.Get() == "0" && srvCount.Get() == "0" })

	for _, bad := range []struct {
		p Param
		v string
	}{{size, "-1"}, {size, "lots"}, {age, "0"}, {age, "-5s"},
		{age, "x"}, {param(t, ps, "early_lock_cancel"), "2"}} {
		if err := bad.p.Set(bad.v); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s=%s: %v", bad.p.Name, bad.v, err)
		}
	}
	if err := age.Set("2s"); err != nil || age.Get() != "2000" {
		t.Fatalf("lru_max_age=2s: %v %s", err, age.Get())
	}
	// "clear" drops every unused lock at once.
	if err := size.Set("0"); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 4; i++ {
		a.enqueue(plain(300+i, wire.LockPR)).Release()
	}
	if err := size.Set("clear"); err != nil {
		t.Fatal(err)
	}
	if count.Get() != "0" || srvCount.Get() != "0" || param(t, cl.ns.Params(), "resource_count").Get() != "0" {
		t.Fatalf("after clear: client %s, server %s", count.Get(), srvCount.Get())
	}
	cl.mustCheck()
}

// Early lock cancel: the unused conflicting lock goes with the enqueue (no
// blocking callback), and the cancels packed into a modifying request are
// processed before it.
func TestEarlyCancel(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	a.enqueue(ibits(1, wire.LockPR, wire.InodeLockUpdate|wire.InodeLockLookup)).Release()
	l := a.enqueue(ibits(1, wire.LockEX, wire.InodeLockUpdate))
	l.Release()
	if s := cl.ns.Stats(); s.BLASTs != 0 || s.Granted != 1 {
		t.Fatalf("server %+v", s)
	}
	if s := a.c.Stats(); s.EarlyCancels != 1 || a.cancelCount() != 1 {
		t.Fatalf("client %+v, hooks %d", s, a.cancelCount())
	}

	// b caches a PR UPDATE lock on a directory, then unlinks in it: the
	// reint carries the cancel.
	b.enqueue(ibits(2, wire.LockPR, wire.InodeLockUpdate)).Release()
	b.enqueue(ibits(2, wire.LockPR, wire.InodeLockLookup)).Release() // does not conflict with UPDATE
	handles := b.c.EarlyCancel(ibits(2, wire.LockEX, wire.InodeLockUpdate))
	if len(handles) != 1 || b.c.Stats().Locks != 1 {
		t.Fatalf("early cancel picked %v, %d locks left", handles, b.c.Stats().Locks)
	}
	rep, err := b.imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.MDSReint, Encode: &wire.CancelList{Handles: handles}})
	rep.Release()
	if err != nil {
		t.Fatal(err)
	}
	if s := cl.ns.Stats(); s.Granted != 2 {
		t.Fatalf("server after the reint: %+v", s)
	}
	// With early cancel off, the conflict costs a blocking callback.
	if err := param(t, a.c.Params(), "early_lock_cancel").Set("0"); err != nil {
		t.Fatal(err)
	}
	a.enqueue(plain(3, wire.LockPR)).Release()
	a.enqueue(plain(3, wire.LockPW)).Release()
	if s := cl.ns.Stats(); s.BLASTs != 1 {
		t.Fatalf("server %+v", s)
	}
	cl.mustCheck()
}

// Server-side local locks revoke client locks and are granted once the
// clients cancelled; a client waiting for a local lock shows on Blocking.
func TestLocalLock(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a := cl.addClient(false)
	a.enqueue(ibits(5, wire.LockPR, wire.InodeLockUpdate)).Release()
	ll, err := cl.ns.Lock(testCtx(t), ibits(5, wire.LockEX, wire.InodeLockUpdate), 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.cancelCount() != 1 {
		t.Fatalf("client cache not revoked: %d hooks", a.cancelCount())
	}
	if d := ll.Desc(); d.Mode != wire.LockEX {
		t.Fatalf("local lock %+v", d)
	}
	// A client request now waits for the local lock.
	got := make(chan error, 1)
	go func() {
		l, err := a.c.Enqueue(testCtx(t), ibits(5, wire.LockPR, wire.InodeLockUpdate), 0)
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	<-ll.Blocking()
	ll.Release()
	ll.Release() // harmless
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// No-wait and interrupted local requests leave nothing queued.
	held := a.enqueue(ibits(6, wire.LockPW, wire.InodeLockPerm))
	if _, err := cl.ns.Lock(testCtx(t), ibits(6, wire.LockEX, wire.InodeLockPerm), wire.LockFlagBlockNoWait); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("no-wait: %v", err)
	}
	ctx, cancel := contextWithTimeout(50 * time.Millisecond)
	defer cancel()
	if _, err := cl.ns.Lock(ctx, ibits(6, wire.LockEX, wire.InodeLockPerm), 0); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted: %v", err)
	}
	held.Release()
	cl.mustCheck()
	if _, err := cl.ns.Lock(testCtx(t), wire.LockDesc{Res: resN(7), Type: wire.LockFlock, Mode: wire.LockPR}, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("local flock: %v", err)
	}
}

// An enqueue interrupted while it waits is cancelled on the server.
func TestEnqueueInterrupted(t *testing.T) {
	checkLeaks(t)
	// a holds its lock in use throughout and never cancels: give it more
	// time than the test takes on a loaded machine, or it is evicted and
	// the no-wait enqueue below is granted.
	cl := newCluster(t, func(c *Config) { c.CancelTimeout = time.Minute })
	a, b := cl.addClient(false), cl.addClient(false)
	held := a.enqueue(extent(1, wire.LockPW, 0, wire.LockEOF))
	ctx, cancel := contextWithTimeout(time.Hour)
	errc := make(chan error, 1)
	go func() {
		_, err := b.c.Enqueue(ctx, extent(1, wire.LockPW, 0, 10), 0)
		errc <- err
	}()
	waitUntil(t, "b queued", func() bool { return cl.ns.Stats().Waiting == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted enqueue: %v", err)
	}
	waitUntil(t, "b's request cancelled", func() bool { return cl.ns.Stats().Waiting == 0 && b.c.Stats().Locks == 0 })
	if _, err := b.c.Enqueue(testCtx(t), extent(1, wire.LockPW, 0, 10), wire.LockFlagBlockNoWait); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("no-wait enqueue: %v", err)
	}
	held.Release()
	b.enqueue(extent(1, wire.LockPW, 0, 10)).Release()
	cl.mustCheck()
}
