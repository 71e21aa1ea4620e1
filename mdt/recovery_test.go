package mdt

import (
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// openKept opens parent/name as mdc does: the request is kept for replay
// as an open of the FID with the reply's handle.
func (e *env) openKept(parent wire.FID, name string, flags int) (*wire.InodeReply, *ptlrpc.Kept) {
	e.t.Helper()
	req := &wire.OpenRequest{Parent: parent, Name: name, Flags: uint32(flags), Mode: 0o644}
	reopen := func(rep *ptlrpc.Reply) []byte {
		var r wire.InodeReply
		if rep.Decode(&r) != nil {
			return nil
		}
		return wire.AppendReint(nil, wire.ReintOpen, &wire.OpenRequest{FID: r.FID,
			Flags: uint32(flags) &^ (syscall.O_CREAT | syscall.O_EXCL | syscall.O_TRUNC), Handle: r.Handle})
	}
	rep, kept, err := e.cli.CallKeep(ctxTimeout(e.t), &ptlrpc.Req{Opcode: wire.MDSReint,
		Body: wire.AppendReint(nil, wire.ReintOpen, req), ReplayBody: reopen})
	if err != nil {
		e.t.Fatalf("open %s: %v", name, err)
	}
	defer rep.Release()
	var r wire.InodeReply
	if err := wire.DecodeBody(append([]byte(nil), rep.Body...), &r); err != nil {
		e.t.Fatal(err)
	}
	return &r, kept
}

// restartServer restarts the MDS under the client, whose import
// reconnects to the new instance and replays what it keeps.
func (e *env) restartServer() {
	e.t.Helper()
	if err := e.srv.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.srv = nil
	e.start()
}

// Opens replayed after a restart bring their handles back: closes with
// the old handles work, and a file unlinked while open outlives the
// orphan sweep until its last close.
func TestReplayedOpenRestoresHandle(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.RecoveryWindow = 10 * waitLimit }))
	f, keptF := e.openKept(wire.RootFID, "f", syscall.O_CREAT|syscall.O_RDWR)
	fObjs := objects(decode(t, f.Layout))
	g0, err := e.create(wire.RootFID, "g", nil)
	mustOK(t, "create g", err)
	g, keptG := e.openKept(wire.RootFID, "g", syscall.O_RDONLY)
	// h is open too, but not kept for replay: it is swept.
	h, err := e.open(rootCreds, wire.RootFID, "h", syscall.O_CREAT|syscall.O_RDWR, nil)
	mustOK(t, "create h", err)
	hObjs := objects(decode(t, h.Layout))
	e.unlink(wire.RootFID, "f")
	e.unlink(wire.RootFID, "h")

	e.restartServer()
	// The first request after the restart waits for the replays.
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: g0.FID}, nil)
	mustOK(t, "getattr after the restart", err)
	if n, m := e.srv.MDD().OpenCount(f.FID), e.srv.MDD().OpenCount(g.FID); n != 1 || m != 1 {
		t.Fatalf("open counts after replay: f %d, g %d", n, m)
	}
	if info := e.cli.Info(); info.Replays != 2 || info.Kept != 2 {
		t.Fatalf("import %+v", info)
	}
	status := func() string {
		t.Helper()
		vals, err := e.node.Params.Get("mdt.testfs-MDT0000.recovery_status")
		if err != nil || len(vals) != 1 {
			t.Fatalf("recovery_status: %v %v", vals, err)
		}
		return vals[0].Value
	}
	if st := status(); !strings.Contains(st, "status: RECOVERING\n") || !strings.Contains(st, "time_remaining: ") ||
		!strings.Contains(st, "replayed_requests: 2\n") {
		t.Fatalf("recovery_status during the window:\n%s", st)
	}
	e.srv.EndRecovery()
	if st := status(); !strings.Contains(st, "status: COMPLETE\n") || !strings.Contains(st, "recovery_duration: ") {
		t.Fatalf("recovery_status after the window:\n%s", st)
	}
	waitFor(t, "the orphan nobody reopened destroyed", func() bool { return e.gone(hObjs) })
	if e.gone(fObjs) {
		t.Fatal("the objects of the reopened orphan were destroyed")
	}
	var ga wire.InodeReply
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: f.FID}, &ga)
	if err != nil || ga.Attr.Nlink != 0 {
		t.Fatalf("getattr of the open unlinked file: %+v %v", ga.Attr, err)
	}

	// The old handles close.
	e.mustClose(g)
	keptG.Drop()
	e.mustClose(f)
	keptF.Drop()
	waitFor(t, "objects destroyed at the last close", func() bool { return e.gone(fObjs) })
	_, err = e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: f.FID, Handle: f.Handle}, nil)
	wantErrno(t, "close twice", err, syscall.EBADF)
	if n := e.srv.MDD().OpenCount(g.FID); n != 0 {
		t.Fatalf("open count of g after its close: %d", n)
	}

	// A replay after the window (here none) is refused: nothing is
	// reopened.
	g2, kept := e.openKept(wire.RootFID, "g", syscall.O_RDONLY)
	defer kept.Drop()
	e.tweak = func(c *Config) { c.RecoveryWindow = -1 }
	e.restartServer()
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: g0.FID}, nil)
	mustOK(t, "getattr after the second restart", err)
	if n := e.srv.MDD().OpenCount(g.FID); n != 0 {
		t.Fatalf("open count of g after a replay out of the window: %d", n)
	}
	_, err = e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: g2.FID, Handle: g2.Handle}, nil)
	wantErrno(t, "close of an open not replayed in time", err, syscall.EBADF)
}
