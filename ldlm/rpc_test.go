package ldlm

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/netfault"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// A granted lock is cached and matched; a weaker request is served by a
// stronger lock, a wider one is not.
func TestEnqueueMatch(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a := cl.addClient(false)
	l := a.enqueue(ibits(1, wire.LockPW, wire.InodeLockLookup|wire.InodeLockUpdate))
	if l.Handle() == 0 || l.Desc().Mode != wire.LockPW {
		t.Fatalf("granted %+v handle %#x", l.Desc(), l.Handle())
	}
	l.Release()
	m := a.enqueue(ibits(1, wire.LockPR, wire.InodeLockUpdate))
	if m != l {
		t.Fatal("a PR UPDATE request was not served by the cached PW LOOKUP|UPDATE lock")
	}
	m.Release()
	if s := a.c.Stats(); s.Matches != 1 || s.Enqueues != 1 || s.Unused != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Another bit needs another lock; it does not conflict with ours.
	o := a.enqueue(ibits(1, wire.LockPR, wire.InodeLockPerm))
	o.Release()
	if s := cl.ns.Stats(); s.Granted != 2 || s.BLASTs != 0 {
		t.Fatalf("server %+v", s)
	}
	if a.c.Match(ibits(1, wire.LockEX, wire.InodeLockUpdate)) != nil {
		t.Fatal("EX matched a PW lock")
	}
	cl.mustCheck()
}

// A conflicting request revokes a cached lock: blocking callback, the
// holder's Cancel hook, its cancel, then the waiter's grant by a
// completion callback.
func TestBlockingCallback(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	la := a.enqueue(extent(1, wire.LockPW, 0, 4095))
	if d := la.Desc(); d.Policy.Start != 0 || d.Policy.End != wire.LockEOF {
		t.Fatalf("uncontended extent not expanded: %+v", d.Policy)
	}
	// Hold it: b waits until a lets go.
	got := make(chan *Lock)
	go func() {
		l, err := b.c.Enqueue(testCtx(t), extent(1, wire.LockPR, 8192, 12287), 0)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitUntil(t, "b's request queued", func() bool { return cl.ns.Stats().Waiting == 1 })
	waitUntil(t, "the blocking callback", func() bool { return a.c.Stats().Blocking == 1 })
	if !la.BlockPending() || a.cancelCount() != 0 {
		t.Fatal("a lock in use was cancelled or not marked")
	}
	cl.mustCheck()
	select {
	case <-got:
		t.Fatal("granted while a conflicting lock is held")
	default:
	}
	if a.c.Match(extent(1, wire.LockPR, 0, 10)) != nil {
		t.Fatal("a lock being revoked was matched")
	}
	la.Release()
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	if a.cancelCount() != 1 {
		t.Fatalf("a's Cancel hook ran %d times", a.cancelCount())
	}
	// b's lock grows over the whole object now a is gone.
	if d := lb.Desc(); d.Mode != wire.LockPR || d.Policy.Start != 0 || d.Policy.End != wire.LockEOF {
		t.Fatalf("b granted %+v", d)
	}
	lb.Release()
	waitUntil(t, "a's lock gone", func() bool { return a.c.Stats().Locks == 0 })
	if s := cl.ns.Stats(); s.BLASTs != 1 || s.CPASTs != 1 || s.Granted != 1 {
		t.Fatalf("server %+v", s)
	}
	cl.mustCheck()
}

// An unused lock is cancelled as soon as the blocking callback arrives,
// and a lock still being enqueued when the callback comes is cancelled
// once used.
func TestBlockingCallbackUnused(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	for i := 0; i < 3; i++ {
		la := a.enqueue(plain(7, wire.LockEX))
		la.Release()
		lb := b.enqueue(plain(7, wire.LockEX))
		lb.Release()
		cl.mustCheck()
	}
	if a.cancelCount() != 3 || b.cancelCount() != 2 {
		t.Fatalf("cancel hooks: a %d, b %d", a.cancelCount(), b.cancelCount())
	}
}

// Glimpse: the holder of the furthest-reaching write lock tells its size;
// the lock stays.
func TestGlimpse(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	if _, err := cl.ns.Glimpse(testCtx(t), resN(3)); !errors.Is(err, ErrNoData) {
		t.Fatalf("glimpse without locks: %v", err)
	}
	la := a.enqueue(extent(3, wire.LockPW, 0, wire.LockEOF))
	defer la.Release()
	lb := b.enqueue(extent(4, wire.LockPR, 0, wire.LockEOF)) // another object, a reader
	defer lb.Release()
	a.size.Store(12345)
	lvb, err := cl.ns.Glimpse(testCtx(t), resN(3))
	if err != nil || lvb.Size != 12345 {
		t.Fatalf("glimpse: %+v %v", lvb, err)
	}
	if _, err := cl.ns.Glimpse(testCtx(t), resN(4)); !errors.Is(err, ErrNoData) {
		t.Fatalf("glimpse of a read lock: %v", err)
	}
	a.size.Store(0) // the hook has nothing to say
	if _, err := cl.ns.Glimpse(testCtx(t), resN(3)); !errors.Is(err, ErrNoData) {
		t.Fatalf("glimpse without data: %v", err)
	}
	if la.BlockPending() || a.cancelCount() != 0 || cl.ns.Stats().GLASTs != 2 {
		t.Fatalf("glimpse revoked the lock (stats %+v)", cl.ns.Stats())
	}
}

// A client that does not answer a blocking callback is evicted within the
// AST timeout: its locks are freed, the waiter is granted, the target is
// told, other clients go on, and the evicted client drops its cache when
// it learns of it and then works again.
func TestEvictSilentClient(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a := cl.addClient(true)
	b, c := cl.addClient(false), cl.addClient(false)
	la := a.enqueue(ibits(1, wire.LockPR, wire.InodeLockUpdate))
	la.Release()
	a.enqueue(ibits(2, wire.LockPR, wire.InodeLockLookup)).Release()
	cl.rules.Add(netfault.Rule{Match: netfault.Match{Dst: a.nid, Portals: []uint32{wire.LDLMCBRequestPortal}},
		Action: netfault.Drop})
	lb := b.enqueue(ibits(1, wire.LockEX, wire.InodeLockUpdate))
	lb.Release()
	if ev := cl.evictedUUIDs(); len(ev) != 1 || ev[0] != a.uuid {
		t.Fatalf("evicted %v, want %s", ev, a.uuid)
	}
	if s := cl.ns.Stats(); s.Evictions != 1 || s.Timeouts != 1 || s.Clients != 1 {
		t.Fatalf("server %+v", s)
	}
	if v := param(t, cl.ns.Params(), "lock_timeouts").Get(); v != "1" {
		t.Fatalf("lock_timeouts %s", v)
	}
	// c never noticed.
	c.enqueue(ibits(2, wire.LockEX, wire.InodeLockLookup)).Release()
	cl.mustCheck()
	// a's next request finds it evicted: everything it cached is dropped
	// (hooks told so), and it works again as a new client.
	if _, err := a.c.Enqueue(testCtx(t), plain(9, wire.LockPR), 0); !errors.Is(err, ptlrpc.ErrEvicted) {
		t.Fatalf("first request after the eviction: %v", err)
	}
	waitUntil(t, "a's locks dropped", func() bool { return a.c.Stats().Locks == 0 })
	a.mu.Lock()
	ev := a.evictedN
	a.mu.Unlock()
	if ev != 2 || a.c.Stats().Evictions != 1 {
		t.Fatalf("evicted hooks %d, stats %+v", ev, a.c.Stats())
	}
	a.enqueue(plain(9, wire.LockPR)).Release()
	cl.mustCheck()
}

// A client that answers the blocking callback but never cancels (its
// flush hangs) is evicted when the cancel timer expires.
func TestEvictClientThatDoesNotCancel(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t, func(c *Config) { c.CancelTimeout = 300 * time.Millisecond })
	a, b := cl.addClient(false), cl.addClient(false)
	a.mu.Lock()
	a.hold = make(chan struct{})
	a.mu.Unlock()
	defer close(a.hold)
	a.enqueue(extent(1, wire.LockPW, 0, wire.LockEOF)).Release()
	lb := b.enqueue(extent(1, wire.LockPW, 0, 100))
	lb.Release()
	if ev := cl.evictedUUIDs(); len(ev) != 1 || ev[0] != a.uuid {
		t.Fatalf("evicted %v", ev)
	}
	if a.c.Stats().Blocking != 1 {
		t.Fatal("a never saw the blocking callback")
	}
}

// Callbacks naming locks the client does not have are answered without
// harm; bad requests are refused with EINVAL or EPROTO.
func TestBadInput(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t, func(c *Config) { c.Types = []wire.LockType{wire.LockIBits, wire.LockPlain, wire.LockFlock} })
	a := cl.addClient(false)
	l := a.enqueue(plain(1, wire.LockPR))
	defer l.Release()

	ctx := testCtx(t)
	call := func(body wire.Body) error {
		rep, err := a.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.LDLMEnqueue, Encode: body})
		rep.Release()
		return err
	}
	for name, d := range map[string]wire.LockDesc{
		"unknown mode":   {Res: resN(1), Type: wire.LockPlain, Mode: 3},
		"unknown type":   {Res: resN(1), Type: 42, Mode: wire.LockPR},
		"no bits":        ibits(1, wire.LockPR, 0),
		"type not here":  extent(1, wire.LockPR, 0, 1),
		"type mismatch":  ibits(1, wire.LockPR, wire.InodeLockUpdate), // resource 1 holds PLAIN locks
		"flock EX":       {Res: resN(2), Type: wire.LockFlock, Mode: wire.LockEX},
		"group on ibits": {Res: resN(2), Type: wire.LockIBits, Mode: wire.LockGroup, Policy: wire.Policy{Bits: 1}},
	} {
		if err := call(&wire.LockRequest{Desc: d, Handle: 1}); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := call(&wire.CancelList{Handles: []wire.LockHandle{1}}); !errors.Is(err, syscall.EPROTO) {
		t.Errorf("garbage enqueue: %v", err)
	}
	rep, err := a.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.LDLMCancel, Encode: &wire.CancelList{Handles: []wire.LockHandle{12345}}})
	rep.Release()
	if !errors.Is(err, syscall.ESTALE) {
		t.Errorf("cancel of an unknown lock: %v", err)
	}
	if _, err := a.c.Enqueue(ctx, plain(1, wire.LockMode(5)), 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("client-side check: %v", err)
	}

	// Callbacks for locks the client never had, sent straight to its
	// callback service.
	cb, err := ptlrpc.NewImport(ptlrpc.ImportConfig{NIDs: []lnet.NID{a.nid}, LNet: cl.ln, NoConnect: true,
		RequestPortal: wire.LDLMCBRequestPortal, ReplyPortal: wire.LDLMCBReplyPortal, PingInterval: -1, AT: testAT})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if err := cb.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for opc, want := range map[wire.Opcode]syscall.Errno{
		wire.LDLMBLCallback: syscall.EINVAL, wire.LDLMCPCallback: syscall.EINVAL, wire.LDLMGLCallback: syscall.ENODATA,
	} {
		rep, err := cb.Call(ctx, &ptlrpc.Req{Opcode: opc, Encode: &wire.LockCallback{Handle: 0xdead, ServerHandle: 1}})
		rep.Release()
		if !errors.Is(err, want) {
			t.Errorf("%v for an unknown lock: %v", opc, err)
		}
	}
	rep, err = cb.Call(ctx, &ptlrpc.Req{Opcode: wire.LDLMBLCallback, Body: []byte{1, 2, 3}})
	rep.Release()
	if !errors.Is(err, syscall.EPROTO) {
		t.Errorf("garbage callback: %v", err)
	}
	// The client still works, its lock untouched.
	if l.BlockPending() || a.c.Match(plain(1, wire.LockPR)) == nil {
		t.Fatal("the client lost its lock")
	}
	l.Release()
	cl.mustCheck()
}

// Prolong keeps a client that is still working under a revoked lock from
// being evicted.
func TestProlong(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t)
	a, b := cl.addClient(false), cl.addClient(false)
	la := a.enqueue(extent(1, wire.LockPW, 0, wire.LockEOF))
	got := make(chan error, 1)
	go func() {
		l, err := b.c.Enqueue(testCtx(t), extent(1, wire.LockPW, 0, 10), 0)
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	armed := func() *lock {
		cl.ns.mu.Lock()
		defer cl.ns.mu.Unlock()
		for lk := range cl.ns.armed {
			return lk
		}
		return nil
	}
	waitUntil(t, "the cancel timer armed", func() bool { return armed() != nil })
	cl.ns.Prolong(la.Handle(), time.Hour)
	cl.ns.Prolong(12345, time.Hour) // unknown: ignored
	lk := armed()
	cl.ns.mu.Lock()
	left := time.Until(lk.deadline)
	cl.ns.mu.Unlock()
	if left < 30*time.Minute {
		t.Fatalf("deadline in %v after Prolong", left)
	}
	la.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if ev := cl.evictedUUIDs(); len(ev) != 0 {
		t.Fatalf("evicted %v", ev)
	}
}

// Group locks of one group share the object; others wait for the whole
// group to let go, and group holders are never timed out.
func TestGroupLock(t *testing.T) {
	checkLeaks(t)
	cl := newCluster(t, func(c *Config) { c.CancelTimeout = 200 * time.Millisecond })
	a, b, c := cl.addClient(false), cl.addClient(false), cl.addClient(false)
	group := func(gid uint64) wire.LockDesc {
		d := extent(1, wire.LockGroup, 0, wire.LockEOF)
		d.Policy.GID = gid
		return d
	}
	la, lb := a.enqueue(group(7)), b.enqueue(group(7))
	if _, err := c.c.Enqueue(testCtx(t), group(8), wire.LockFlagBlockNoWait); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("another group: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := c.c.Enqueue(testCtx(t), extent(1, wire.LockPR, 0, 4095), 0)
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	waitUntil(t, "both holders asked", func() bool { return a.c.Stats().Blocking == 1 && b.c.Stats().Blocking == 1 })
	cl.ns.mu.Lock()
	armed := len(cl.ns.armed)
	cl.ns.mu.Unlock()
	if armed != 0 {
		t.Fatalf("%d group locks on a cancel timer", armed)
	}
	cl.mustCheck()
	la.Release()
	lb.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if ev := cl.evictedUUIDs(); len(ev) != 0 {
		t.Fatalf("evicted %v", ev)
	}
	// The target evicts c's export: its locks go, the hook is not called.
	cl.ns.mu.Lock()
	var exp *ptlrpc.Export
	for e := range cl.ns.clients {
		if e.ClientUUID() == c.uuid {
			exp = e
		}
	}
	cl.ns.mu.Unlock()
	if exp == nil || !cl.ns.EvictExport(exp) || cl.ns.EvictExport(exp) {
		t.Fatal("EvictExport")
	}
	if s := cl.ns.Stats(); s.Locks != 0 || len(cl.evictedUUIDs()) != 0 {
		t.Fatalf("after EvictExport: %+v", s)
	}
}
