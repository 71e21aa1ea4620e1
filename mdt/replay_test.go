package mdt

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// createReplayOf is mdc's create replay of an open (req) that created
// its file (answered r), with handle.
func createReplayOf(req *wire.OpenRequest, r *wire.InodeReply, handle uint64) *wire.OpenRequest {
	return &wire.OpenRequest{Parent: req.Parent, Name: req.Name, FID: r.FID,
		Flags: (req.Flags | syscall.O_CREAT) &^ (syscall.O_EXCL | syscall.O_TRUNC), Mode: req.Mode,
		Layout: r.Layout, Handle: handle}
}

// createKept creates parent/name through REINT_OPEN (O_CREAT|O_EXCL|
// O_RDWR), keeping the request for replay with the body replay makes of
// the request and its reply (nil: mdc's create replay with the reply's
// handle).
func (e *env) createKept(parent wire.FID, name string, replay func(req *wire.OpenRequest, r *wire.InodeReply) *wire.OpenRequest) (*wire.InodeReply, *ptlrpc.Kept) {
	e.t.Helper()
	if replay == nil {
		replay = func(req *wire.OpenRequest, r *wire.InodeReply) *wire.OpenRequest {
			return createReplayOf(req, r, r.Handle)
		}
	}
	req := &wire.OpenRequest{Parent: parent, Name: name, Flags: syscall.O_CREAT | syscall.O_EXCL | syscall.O_RDWR, Mode: 0o640}
	body := func(rep *ptlrpc.Reply) []byte {
		var r wire.InodeReply
		if rep.Decode(&r) != nil || !r.Created {
			return nil
		}
		return wire.AppendReint(nil, wire.ReintOpen, replay(req, &r))
	}
	rep, kept, err := e.cli.CallKeep(ctxTimeout(e.t), &ptlrpc.Req{Opcode: wire.MDSReint,
		Body: wire.AppendReint(nil, wire.ReintOpen, req), ReplayBody: body})
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	e.t.Cleanup(kept.Drop)
	defer rep.Release()
	var r wire.InodeReply
	if err := wire.DecodeBody(append([]byte(nil), rep.Body...), &r); err != nil {
		e.t.Fatal(err)
	}
	if !r.Created {
		e.t.Fatalf("create %s: not created", name)
	}
	return &r, kept
}

// lose makes the file of r disappear as if the MDS had crashed before its
// create committed: closed, unlinked and destroyed, objects included.
func (e *env) lose(parent wire.FID, name string, r *wire.InodeReply) {
	e.t.Helper()
	e.mustClose(r)
	e.unlink(parent, name)
	waitFor(e.t, "the objects of "+name+" destroyed", func() bool { return e.gone(objects(decode(e.t, r.Layout))) })
	if _, err := e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: r.FID}, nil); err == nil {
		e.t.Fatalf("%s still exists", name)
	}
}

// replayDone waits, through a first request after a restart, until the
// client replayed what it keeps.
func (e *env) replayDone() {
	e.t.Helper()
	_, err := e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: wire.RootFID}, nil)
	mustOK(e.t, "getattr after the restart", err)
}

// Create replays recreate the files an MDS lost with their create: at the
// same name, with the same FID and layout, open under the replayed handle
// (which closes) or not open at all once closed; files that are there are
// reopened, or left alone.
func TestReplayedCreateRestoresLostFile(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.RecoveryWindow = 10 * waitLimit }))
	dir := e.mkdir(wire.RootFID, "d", nil)
	f, _ := e.createKept(dir, "f", nil) // lost while open
	g, _ := e.createKept(dir, "g", func(req *wire.OpenRequest, r *wire.InodeReply) *wire.OpenRequest {
		return createReplayOf(req, r, 0) // lost after its close
	})
	k, _ := e.createKept(dir, "k", nil) // still there, open
	m, _ := e.createKept(dir, "m", func(req *wire.OpenRequest, r *wire.InodeReply) *wire.OpenRequest {
		return createReplayOf(req, r, 0) // still there, closed
	})
	e.mustClose(m)
	e.lose(dir, "f", f)
	e.lose(dir, "g", g)

	e.restartServer()
	e.replayDone()
	for _, c := range []struct {
		name string
		r    *wire.InodeReply
		open int
	}{{"f", f, 1}, {"g", g, 0}, {"k", k, 1}, {"m", m, 0}} {
		got, err := e.lookup(dir, c.name)
		if err != nil || got.FID != c.r.FID || !bytes.Equal(got.Layout, c.r.Layout) || got.Attr.Mode&0o7777 != 0o640 {
			t.Fatalf("%s after the replay: %v %v (%o), want %v with its layout", c.name, got.FID, err, got.Attr.Mode, c.r.FID)
		}
		if n := e.srv.MDD().OpenCount(c.r.FID); n != c.open {
			t.Fatalf("%s open %d times after the replay, want %d", c.name, n, c.open)
		}
	}
	if n := e.srv.rec.replayed.Load(); n != 3 { // f and g recreated, k reopened
		t.Fatalf("replayed %d requests, want 3", n)
	}
	// The replayed handles close.
	e.mustClose(f)
	e.mustClose(k)
	if n := e.srv.MDD().OpenCount(f.FID); n != 0 {
		t.Fatalf("f open %d times after its close", n)
	}
}

// A create replay after the recovery window recreates nothing.
func TestReplayedCreateAfterRecoveryRefused(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	f, _ := e.createKept(wire.RootFID, "f", nil)
	e.lose(wire.RootFID, "f", f)
	e.tweak = func(c *Config) { c.RecoveryWindow = -1 }
	e.restartServer()
	e.replayDone()
	_, err := e.lookup(wire.RootFID, "f")
	wantErrno(t, "lookup of a file replayed after the window", err, syscall.ENOENT)
	if n := e.srv.MDD().OpenCount(f.FID); n != 0 {
		t.Fatalf("f open %d times", n)
	}
}

// A create replay whose name another file took meanwhile fails: neither
// file changes.
func TestReplayedCreateNameTaken(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.RecoveryWindow = 10 * waitLimit }))
	logs := e.observeClient()
	f, _ := e.createKept(wire.RootFID, "f", nil)
	e.lose(wire.RootFID, "f", f)
	other, err := e.create(wire.RootFID, "f", nil)
	mustOK(t, "create another f", err)
	e.restartServer()
	e.replayDone()
	got, err := e.lookup(wire.RootFID, "f")
	if err != nil || got.FID != other.FID {
		t.Fatalf("f after the replay: %v %v, want %v", got.FID, err, other.FID)
	}
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: f.FID}, nil)
	wantErrno(t, "getattr of the lost file", err, syscall.ENOENT)
	if n := e.srv.rec.replayed.Load(); n != 0 {
		t.Fatalf("replayed %d requests, want 0", n)
	}
	if errs := logs.FilterMessage("ptlrpc: replay failed on the server").All(); len(errs) != 1 ||
		!errors.Is(fieldError(errs[0]), syscall.EEXIST) {
		t.Fatalf("replay failures logged: %v", errs)
	}
}

// observeClient replaces the env's client import with one that logs to
// the observer it returns.
func (e *env) observeClient() *observer.ObservedLogs {
	e.t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	_ = e.cli.Close()
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{Target: "testfs-MDT0000", NIDs: []lnet.NID{lnet.LoNID(1)},
		LNet: e.cliLN, RequestPortal: wire.MDSRequestPortal, ReplyPortal: wire.MDCReplyPortal,
		BulkPortal: wire.MDSBulkPortal, ConnectOpcode: wire.MDSConnect, ClientUUID: "client-1",
		ConnectTimeout: 500 * time.Millisecond, ReconnectBackoff: 20 * time.Millisecond, PingInterval: -1,
		MaxReplySize: 1 << 20, AT: testAT, Logger: zap.New(core)})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := imp.Connect(ctxTimeout(e.t)); err != nil {
		e.t.Fatal(err)
	}
	e.cli = imp
	return logs
}

// fieldError returns the error field of a logged entry.
func fieldError(entry observer.LoggedEntry) error {
	for _, f := range entry.Context {
		if err, ok := f.Interface.(error); ok && f.Key == "error" {
			return err
		}
	}
	return nil
}

// A create replay may bring a FID the allocator of the restarted MDT has
// not handed out (its allocation was lost with the create): the allocator
// moves past it, so that no later create gets it again.
func TestReplayedCreateReservesItsFID(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.RecoveryWindow = 10 * waitLimit }))
	var lost wire.FID
	a, _ := e.createKept(wire.RootFID, "a", func(req *wire.OpenRequest, r *wire.InodeReply) *wire.OpenRequest {
		// Stands for the create after a's, answered but lost: the next
		// FID of the allocator.
		lost = wire.FID{Seq: r.FID.Seq, Oid: r.FID.Oid + 1}
		return &wire.OpenRequest{Parent: wire.RootFID, Name: "lost", FID: lost, Flags: syscall.O_CREAT | syscall.O_WRONLY, Mode: 0o600}
	})
	e.mustClose(a)
	e.restartServer()
	e.replayDone()
	got, err := e.lookup(wire.RootFID, "lost")
	if err != nil || got.FID != lost {
		t.Fatalf("lost after the replay: %v %v, want %v", got.FID, err, lost)
	}
	b, err := e.create(wire.RootFID, "b", nil)
	mustOK(t, "create after the replay", err)
	if b.FID == lost {
		t.Fatalf("a new file got the replayed FID %v", lost)
	}
	if got, err := e.lookup(wire.RootFID, "lost"); err != nil || got.FID != lost || got.Attr.Mode&0o7777 != 0o600 {
		t.Fatalf("lost after a create: %v %+v %v", got.FID, got.Attr, err)
	}
}

// The real case: creates answered before their commit (behind a replay
// barrier) are lost in a restart; their replays make them again, with
// their FIDs, layouts and objects (which stay when the recovery window
// ends, while the objects of a lost create nobody replays go), and the
// allocator hands none of their FIDs out again.
func TestReplayedCreatesLostInRestart(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.RecoveryWindow = 10 * waitLimit }))
	dir := e.mkdir(wire.RootFID, "d", nil)
	e.srv.store.Barrier()
	f, _ := e.createKept(dir, "f", nil) // open
	g, _ := e.createKept(dir, "g", func(req *wire.OpenRequest, r *wire.InodeReply) *wire.OpenRequest {
		return createReplayOf(req, r, 0) // closed
	})
	e.mustClose(g)
	x, err := e.open(rootCreds, dir, "x", syscall.O_CREAT|syscall.O_RDWR, nil) // not replayed
	mustOK(t, "create x", err)
	xObjs := objects(decode(t, x.Layout))

	e.restartServer()
	e.replayDone()
	for _, c := range []struct {
		name string
		r    *wire.InodeReply
		open int
	}{{"f", f, 1}, {"g", g, 0}} {
		got, err := e.lookup(dir, c.name)
		if err != nil || got.FID != c.r.FID || !bytes.Equal(got.Layout, c.r.Layout) {
			t.Fatalf("%s after the replay: %v %v, want %v with its layout", c.name, got.FID, err, c.r.FID)
		}
		if n := e.srv.MDD().OpenCount(c.r.FID); n != c.open {
			t.Fatalf("%s open %d times after the replay, want %d", c.name, n, c.open)
		}
	}
	_, err = e.lookup(dir, "x")
	wantErrno(t, "lookup of a lost create nobody replayed", err, syscall.ENOENT)
	h, err := e.create(dir, "h", nil)
	mustOK(t, "create after the replays", err)
	if h.FID == f.FID || h.FID == g.FID {
		t.Fatalf("a new file got a replayed FID: %v", h.FID)
	}
	e.srv.EndRecovery()
	waitFor(t, "the objects of the lost create destroyed", func() bool { return e.gone(xObjs) })
	for _, r := range []*wire.InodeReply{f, g} {
		for _, o := range objects(decode(t, r.Layout)) {
			if !e.oss.Has(o.OSTIndex, o.FID) {
				t.Fatalf("object %v of replayed %v destroyed", o.FID, r.FID)
			}
		}
	}
	e.mustClose(f)
}
