package mdt

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// negClient is a client of the env's MDT that looks names up with an
// intent, and reports the resources of the locks it loses.
type negClient struct {
	t         testing.TB
	imp       *ptlrpc.Import
	cl        *ldlm.Client
	cancelled chan wire.ResID
}

func (e *env) negClient(uuid string) *negClient {
	c := &negClient{t: e.t, cancelled: make(chan wire.ResID, 16)}
	c.imp, c.cl = e.lockClientHooks(uuid, ldlm.Hooks{Cancel: func(_ context.Context, l *ldlm.Lock, _ bool) {
		c.cancelled <- l.Desc().Res
	}})
	e.t.Cleanup(func() { _ = c.cl.Close(ctx); _ = c.imp.Close() })
	return c
}

// lookup looks parent/name up with an intent: the reply, the lock granted
// (nil if none) and the RPC's error.
func (c *negClient) lookup(parent wire.FID, name string) (*wire.InodeReply, *ldlm.Lock, error) {
	c.t.Helper()
	var rep wire.InodeReply
	var callErr error
	l, err := c.cl.EnqueueIntent(ctx, wire.LockDesc{Type: wire.LockIBits, Mode: wire.LockPR,
		Policy: wire.Policy{Bits: wire.IntentBits}}, func(req *wire.LockRequest) (*wire.LockReply, error) {
		r, err := c.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetattrName,
			Encode: &wire.GetattrNameRequest{Parent: parent, Name: name, Lock: req.Handle}})
		defer r.Release()
		if err != nil {
			callErr = err
			return nil, err
		}
		if err := wire.DecodeBody(append([]byte(nil), r.Body...), &rep); err != nil {
			return nil, err
		}
		return rep.Lock, nil
	})
	if callErr != nil {
		return nil, nil, callErr
	}
	if err != nil {
		c.t.Fatalf("lookup %s: %v", name, err)
	}
	if l != nil {
		l.Release()
	}
	return &rep, l, nil
}

// negative looks parent/name up and wants its absence granted under a
// lock on the name's slot.
func (c *negClient) negative(parent wire.FID, name string) {
	c.t.Helper()
	rep, l, err := c.lookup(parent, name)
	if err != nil {
		c.t.Fatalf("lookup of missing %s: %v", name, err)
	}
	want := wire.NameSlot(parent, name)
	if !rep.FID.IsZero() || l == nil || l.Desc().Res != want || l.Desc().Type != wire.LockPlain ||
		l.Desc().Mode != wire.LockPR {
		c.t.Fatalf("lookup of missing %s: %+v lock %v, want a PR plain lock on %v", name, rep, l, want)
	}
}

// wantCancel wants the lock on res called back, before the change that
// called it back returned.
func (c *negClient) wantCancel(what string, res wire.ResID) {
	c.t.Helper()
	select {
	case got := <-c.cancelled:
		if got != res {
			c.t.Fatalf("%s: %v called back, want %v", what, got, res)
		}
	default:
		c.t.Fatalf("%s: nothing called back, want %v", what, res)
	}
}

// TestNegativeLocks: a lookup of a missing name in a quiet directory gets
// a PR lock on the name's slot, which every way of making the name calls
// back; a name made meanwhile, or a slot the server holds, gets none.
func TestNegativeLocks(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.NegativeQuiet = time.Nanosecond }))
	dir := e.mkdir(wire.RootFID, "d", nil)
	f, err := e.create(dir, "f", nil)
	mustOK(t, "create", err)
	c := e.negClient("client-neg")

	makers := []struct {
		what string
		make func(name string) error
	}{
		{"create", func(n string) error { _, err := e.create(dir, n, nil); return err }},
		{"mkdir", func(n string) error {
			_, err := e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: dir, Name: n,
				Mode: syscall.S_IFDIR | 0o755, MDTIndex: -1}, nil)
			return err
		}},
		{"symlink", func(n string) error {
			_, err := e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: dir, Name: n,
				Mode: syscall.S_IFLNK | 0o777, Target: "f", MDTIndex: -1}, nil)
			return err
		}},
		{"mknod", func(n string) error {
			_, err := e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: dir, Name: n,
				Mode: syscall.S_IFIFO | 0o644, MDTIndex: -1}, nil)
			return err
		}},
		{"link", func(n string) error {
			_, err := e.reint(rootCreds, wire.ReintLink, &wire.LinkRequest{FID: f.FID, Parent: dir, Name: n}, nil)
			return err
		}},
		{"rename", func(n string) error {
			if _, err := e.create(dir, "src", nil); err != nil {
				return err
			}
			_, err := e.reint(rootCreds, wire.ReintRename, &wire.RenameRequest{SrcParent: dir, SrcName: "src",
				DstParent: dir, DstName: n}, nil)
			return err
		}},
	}
	for _, m := range makers {
		name := "x-" + m.what
		c.negative(dir, name)
		mustOK(t, m.what, m.make(name))
		c.wantCancel(m.what, wire.NameSlot(dir, name))
		if rep, l, err := c.lookup(dir, name); err != nil || rep.FID.IsZero() || l == nil ||
			l.Desc().Res != wire.ResIDOfFID(rep.FID) {
			t.Fatalf("lookup after %s: %+v lock %v %v", m.what, rep, l, err)
		}
	}

	// While the server holds the slot (a create under way), the lookup
	// answers ENOENT without a lock.
	held, err := e.srv.Namespace().Lock(ctx, wire.LockDesc{Res: wire.NameSlot(dir, "y"), Type: wire.LockPlain,
		Mode: wire.LockEX}, 0)
	mustOK(t, "server lock", err)
	_, l, err := c.lookup(dir, "y")
	held.Release()
	wantErrno(t, "lookup of a name being made", err, syscall.ENOENT)
	if l != nil {
		t.Fatalf("a lock granted over the server's: %v", l)
	}
	if err := e.srv.Namespace().Check(); err != nil {
		t.Fatal(err)
	}
}

// TestNegativeLocksBusyDirectory: a directory where a name was made within
// NegativeQuiet gets no negative locks; another one does; a negative
// NegativeQuiet grants none anywhere.
func TestNegativeLocksBusyDirectory(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.NegativeQuiet = time.Hour }))
	busy := e.mkdir(wire.RootFID, "busy", nil)
	quiet := e.mkdir(wire.RootFID, "quiet", nil)
	_, err := e.create(busy, "f", nil)
	mustOK(t, "create", err)
	c := e.negClient("client-busy")
	_, l, err := c.lookup(busy, "x")
	wantErrno(t, "lookup in a busy directory", err, syscall.ENOENT)
	if l != nil {
		t.Fatalf("a negative lock in a busy directory: %v", l)
	}
	c.negative(quiet, "x")
}

// TestNegativeLocksNever: a negative NegativeQuiet grants no negative
// lock.
func TestNegativeLocksNever(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withConfig(func(c *Config) { c.NegativeQuiet = -1 }))
	quiet := e.mkdir(wire.RootFID, "quiet", nil)
	c := e.negClient("client-never")
	_, l, err := c.lookup(quiet, "x")
	wantErrno(t, "lookup", err, syscall.ENOENT)
	if l != nil {
		t.Fatalf("NegativeQuiet < 0: lock %v", l)
	}
}
