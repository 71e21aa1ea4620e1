package mdt

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// lockClient is a second client of the env's MDT with a lock namespace.
func (e *env) lockClient(uuid string) (*ptlrpc.Import, *ldlm.Client) {
	return e.lockClientHooks(uuid, ldlm.Hooks{})
}

func (e *env) lockClientHooks(uuid string, hooks ldlm.Hooks) (*ptlrpc.Import, *ldlm.Client) {
	e.t.Helper()
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{Target: "testfs-MDT0000", NIDs: []lnet.NID{lnet.LoNID(1)},
		LNet: e.cliLN, RequestPortal: wire.MDSRequestPortal, ReplyPortal: wire.MDCReplyPortal,
		BulkPortal: wire.MDSBulkPortal, ConnectOpcode: wire.MDSConnect, ClientUUID: uuid,
		ConnectTimeout: 500 * time.Millisecond, ReconnectBackoff: 20 * time.Millisecond, PingInterval: -1,
		AT: testAT, Logger: zaptest.NewLogger(e.t).Named(uuid)})
	if err != nil {
		e.t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := imp.Connect(cctx); err != nil {
		e.t.Fatal(err)
	}
	cl, err := ldlm.NewClient(ldlm.ClientConfig{Name: "testfs-MDT0000-mdc-" + uuid, Import: imp,
		Callbacks: e.cbs(), Hooks: hooks, Logger: zaptest.NewLogger(e.t).Named(uuid + "-ldlm")})
	if err != nil {
		e.t.Fatal(err)
	}
	return imp, cl
}

// cbs returns the client node's callback service, started at first use.
func (e *env) cbs() *ldlm.CallbackServer {
	e.t.Helper()
	if e.cb == nil {
		cb, err := ldlm.StartCallbackServer(ctx, ldlm.CallbackConfig{LNet: e.cliLN, AT: testAT,
			Logger: zaptest.NewLogger(e.t).Named("cbs")})
		if err != nil {
			e.t.Fatal(err)
		}
		e.cb = cb
		e.t.Cleanup(func() { _ = cb.Close() })
	}
	return e.cb
}

// Flocks of two clients on the MDT's namespace exclude each other; the
// flocks of a client whose export goes are dropped, and the namespace's
// parameters are registered.
func TestFlockAcrossClients(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	rep, err := e.create(wire.RootFID, "f", nil)
	mustOK(t, "create", err)
	res := wire.ResIDOfFID(rep.FID)
	impA, a := e.lockClient("client-a")
	impB, b := e.lockClient("client-b")
	defer func() { _ = b.Close(ctx); _ = impB.Close() }()
	wr := ldlm.Flock{Mode: wire.LockPW, Start: 0, End: wire.LockEOF, PID: 10, Owner: 1}
	if _, err := a.Flock(ctx, res, ldlm.FlockSet, wr); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flock(ctx, res, ldlm.FlockSet, wr); !errors.Is(err, ldlm.ErrWouldBlock) {
		t.Fatalf("conflicting flock: %v", err)
	}
	vals, err := e.node.Params.Get("ldlm.namespaces.mdt-testfs-MDT0000_UUID.lock_count")
	if err != nil || len(vals) != 1 || vals[0].Value != "1" {
		t.Fatalf("lock_count: %v %v", vals, err)
	}
	// b waits; a goes away without unlocking (its export is evicted):
	// b gets the lock.
	done := make(chan error, 1)
	go func() {
		_, err := b.Flock(ctx, res, ldlm.FlockWait, wr)
		done <- err
	}()
	waitFor(t, "b waiting", func() bool { return e.srv.Namespace().Stats().Waiting == 1 })
	if !e.srv.Target().Evict("client-a") {
		t.Fatal("client-a unknown")
	}
	if err := <-done; err != nil {
		t.Fatalf("F_SETLKW after the holder left: %v", err)
	}
	_ = a.Close(ctx)
	_ = impA.Close()
	if err := e.srv.Namespace().Check(); err != nil {
		t.Fatal(err)
	}
}

// Every change of an object first calls back the PR inode-bits locks
// clients cache it under: setattr (UPDATE, PERM), link, unlink and rename
// (LOOKUP of the names' objects), setxattr; a create in a directory does
// not disturb a lock on the directory's own name.
func TestChangesCallBackCachedLocks(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	dir := e.mkdir(wire.RootFID, "d", nil)
	f, err := e.create(dir, "f", nil)
	mustOK(t, "create", err)
	cancelled := make(chan wire.ResID, 16)
	imp, cl := e.lockClientHooks("client-cache", ldlm.Hooks{Cancel: func(_ context.Context, l *ldlm.Lock, _ bool) {
		cancelled <- l.Desc().Res
	}})
	defer func() { _ = cl.Close(ctx); _ = imp.Close() }()
	take := func(fid wire.FID, bits uint64) {
		t.Helper()
		l, err := cl.Enqueue(ctx, wire.LockDesc{Res: wire.ResIDOfFID(fid), Type: wire.LockIBits, Mode: wire.LockPR,
			Policy: wire.Policy{Bits: bits}}, 0)
		mustOK(t, "enqueue", err)
		l.Release()
	}
	// The server waits for the cancels before it changes anything, so
	// the hooks have all run when the request returns.
	wantCancel := func(what string, fid wire.FID) {
		t.Helper()
		n := 0
		for {
			select {
			case res := <-cancelled:
				if res != wire.ResIDOfFID(fid) {
					t.Fatalf("%s: lock on %v called back, want %v", what, res, fid)
				}
				n++
				continue
			default:
			}
			break
		}
		if n == 0 {
			t.Fatalf("%s: no lock called back", what)
		}
	}
	all := wire.InodeLockLookup | wire.InodeLockUpdate | wire.InodeLockPerm

	take(f.FID, all)
	_, err = e.reint(rootCreds, wire.ReintSetattr, &wire.SetattrRequest{FID: f.FID,
		Attr: wire.Attr{Valid: wire.AttrMode, Mode: 0o600}}, nil)
	mustOK(t, "setattr", err)
	wantCancel("setattr", f.FID)

	take(f.FID, wire.InodeLockLookup)
	take(dir, wire.InodeLockLookup|wire.InodeLockPerm)
	_, err = e.create(dir, "g", nil)
	mustOK(t, "create beside", err)
	_, err = e.reint(rootCreds, wire.ReintLink, &wire.LinkRequest{FID: f.FID, Parent: dir, Name: "f2"}, nil)
	mustOK(t, "link", err)
	select {
	case res := <-cancelled:
		t.Fatalf("a create or link called back %v", res)
	default:
	}
	take(f.FID, all)
	_, err = e.reint(rootCreds, wire.ReintRename, &wire.RenameRequest{SrcParent: dir, SrcName: "f2", DstParent: dir,
		DstName: "f3"}, nil)
	mustOK(t, "rename", err)
	wantCancel("rename", f.FID)

	take(f.FID, all)
	e.unlink(dir, "f3")
	wantCancel("unlink", f.FID)

	take(f.FID, wire.InodeLockUpdate)
	_, err = e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: f.FID, Name: "user.x", Value: []byte("v")}, nil)
	mustOK(t, "setxattr", err)
	wantCancel("setxattr", f.FID)
	if err := e.srv.Namespace().Check(); err != nil {
		t.Fatal(err)
	}
}

// TestIntentLocks: MDS_GETATTR_NAME and REINT_OPEN of a name grant the
// lock their request asks for (an intent) on the inode they find or make,
// at once or not at all; the lock is a lock like any other, called back by
// a change of what it covers.
func TestIntentLocks(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	dir := e.mkdir(wire.RootFID, "d", nil)
	f, err := e.create(dir, "f", nil)
	mustOK(t, "create", err)
	cancelled := make(chan wire.ResID, 16)
	imp, cl := e.lockClientHooks("client-intent", ldlm.Hooks{Cancel: func(_ context.Context, l *ldlm.Lock, _ bool) {
		cancelled <- l.Desc().Res
	}})
	defer func() { _ = cl.Close(ctx); _ = imp.Close() }()
	desc := wire.LockDesc{Type: wire.LockIBits, Mode: wire.LockPR, Policy: wire.Policy{Bits: wire.IntentBits}}
	lookup := func(name string) (*wire.InodeReply, *ldlm.Lock) {
		t.Helper()
		var rep wire.InodeReply
		l, err := cl.EnqueueIntent(ctx, desc, func(req *wire.LockRequest) (*wire.LockReply, error) {
			r, err := imp.Call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetattrName,
				Encode: &wire.GetattrNameRequest{Parent: dir, Name: name, Lock: req.Handle}})
			defer r.Release()
			if err != nil {
				return nil, err
			}
			if err := wire.DecodeBody(append([]byte(nil), r.Body...), &rep); err != nil {
				return nil, err
			}
			return rep.Lock, nil
		})
		mustOK(t, "lookup with an intent", err)
		return &rep, l
	}
	rep, l := lookup("f")
	if l == nil || rep.FID != f.FID || l.Desc().Res != wire.ResIDOfFID(f.FID) || l.Desc().Policy.Bits != wire.IntentBits {
		t.Fatalf("intent lookup: %+v lock %v", rep, l)
	}
	l.Release()
	if m := cl.Match(wire.LockDesc{Res: wire.ResIDOfFID(f.FID), Type: wire.LockIBits, Mode: wire.LockPR,
		Policy: wire.Policy{Bits: wire.InodeLockLookup}}); m != l {
		t.Fatalf("the intent lock is not cached: %v", m)
	} else {
		m.Release()
	}
	// A change of the inode calls it back.
	_, err = e.reint(rootCreds, wire.ReintSetattr, &wire.SetattrRequest{FID: f.FID,
		Attr: wire.Attr{Valid: wire.AttrMode, Mode: 0o600}}, nil)
	mustOK(t, "setattr", err)
	if res := <-cancelled; res != wire.ResIDOfFID(f.FID) {
		t.Fatalf("called back %v, want %v", res, f.FID)
	}
	// While the server changes it, the lookup answers without a lock.
	held, err := e.srv.Namespace().Lock(ctx, wire.LockDesc{Res: wire.ResIDOfFID(f.FID), Type: wire.LockIBits,
		Mode: wire.LockEX, Policy: wire.Policy{Bits: wire.InodeLockUpdate}}, 0)
	mustOK(t, "server lock", err)
	rep, l = lookup("f")
	held.Release()
	if l != nil || rep.FID != f.FID || rep.Lock != nil {
		t.Fatalf("intent over a conflicting lock: %+v lock %v", rep, l)
	}
	// An open that creates grants the lock on the new file.
	var orep wire.InodeReply
	l, err = cl.EnqueueIntent(ctx, desc, func(req *wire.LockRequest) (*wire.LockReply, error) {
		body := wire.AppendReint(nil, wire.ReintOpen, &wire.OpenRequest{Parent: dir, Name: "g",
			Flags: uint32(syscall.O_CREAT | syscall.O_WRONLY), Mode: 0o644, Lock: req.Handle})
		r, err := imp.Call(ctx, &ptlrpc.Req{Opcode: wire.MDSReint, Body: body, Replayable: true})
		defer r.Release()
		if err != nil {
			return nil, err
		}
		if err := wire.DecodeBody(append([]byte(nil), r.Body...), &orep); err != nil {
			return nil, err
		}
		return orep.Lock, nil
	})
	mustOK(t, "open with an intent", err)
	if l == nil || !orep.Created || l.Desc().Res != wire.ResIDOfFID(orep.FID) {
		t.Fatalf("intent open: %+v lock %v", orep, l)
	}
	l.Release()
	if _, err := imp.Call(ctx, &ptlrpc.Req{Opcode: wire.MDSClose,
		Encode: &wire.CloseRequest{FID: orep.FID, Handle: orep.Handle}}); err != nil {
		t.Fatal(err)
	}
	// Its name goes: called back.
	e.unlink(dir, "g")
	if res := <-cancelled; res != wire.ResIDOfFID(orep.FID) {
		t.Fatalf("called back %v, want %v", res, orep.FID)
	}
	if err := e.srv.Namespace().Check(); err != nil {
		t.Fatal(err)
	}
}
