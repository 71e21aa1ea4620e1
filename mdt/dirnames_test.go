package mdt

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// reint sends an MDS_REINT of op with body as this client.
func (c *negClient) reint(op wire.ReintOp, body wire.Body, rep wire.Body) error {
	c.t.Helper()
	r, err := c.imp.Call(ptlrpc.WithCreds(ctx, rootCreds), &ptlrpc.Req{Opcode: wire.MDSReint,
		Body: wire.AppendReint(nil, op, body)})
	defer r.Release()
	if err == nil && rep != nil {
		err = wire.DecodeBody(append([]byte(nil), r.Body...), rep)
	}
	return err
}

func (c *negClient) mkdir(parent wire.FID, name string) wire.FID {
	c.t.Helper()
	var rep wire.InodeReply
	if err := c.reint(wire.ReintCreate, &wire.CreateRequest{Parent: parent, Name: name,
		Mode: syscall.S_IFDIR | 0o755, MDTIndex: -1}, &rep); err != nil {
		c.t.Fatalf("mkdir %s: %v", name, err)
	}
	return rep.FID
}

func (c *negClient) mknod(parent wire.FID, name string) {
	c.t.Helper()
	if err := c.reint(wire.ReintCreate, &wire.CreateRequest{Parent: parent, Name: name,
		Mode: syscall.S_IFREG | 0o644, MDTIndex: -1}, nil); err != nil {
		c.t.Fatalf("mknod %s: %v", name, err)
	}
}

// missing looks parent/name up, wants it missing, and returns the
// resource of the lock granted with the answer (zero if none).
func (c *negClient) missing(parent wire.FID, name string) wire.ResID {
	c.t.Helper()
	rep, l, err := c.lookup(parent, name)
	if errors.Is(err, syscall.ENOENT) {
		return wire.ResID{} // answered without a lock
	}
	if err != nil || !rep.FID.IsZero() {
		c.t.Fatalf("lookup of missing %s: %+v %v", name, rep, err)
	}
	if l == nil {
		return wire.ResID{}
	}
	if l.Desc().Type != wire.LockPlain || l.Desc().Mode != wire.LockPR {
		c.t.Fatalf("lookup of missing %s: lock %v, want PR plain", name, l.Desc())
	}
	return l.Desc().Res
}

func (c *negClient) noCancel(what string) {
	c.t.Helper()
	select {
	case got := <-c.cancelled:
		c.t.Fatalf("%s: %v called back", what, got)
	default:
	}
}

// TestDirNamesLock: the client that made a directory, and every name in
// it, gets the directory's DirNames lock with a lookup of a missing name;
// its own names leave the lock alone; another client's name calls it
// back, and nobody gets it for that directory again.
func TestDirNamesLock(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	a, b := e.negClient("client-a"), e.negClient("client-b")
	dir := a.mkdir(wire.RootFID, "mine")
	res := wire.DirNames(dir)

	if got := b.missing(dir, "x"); got == res {
		t.Fatalf("a client that did not make the directory got %v", got)
	}
	if got := a.missing(dir, "x"); got != res {
		t.Fatalf("the maker's lookup got %v, want %v", got, res)
	}
	a.mknod(dir, "x")
	sub := a.mkdir(dir, "sub")
	a.noCancel("the maker's own names")

	// The subdirectory is a's too.
	if got := a.missing(sub, "y"); got != wire.DirNames(sub) {
		t.Fatalf("lookup in the maker's subdirectory got %v", got)
	}
	b.mknod(dir, "z")
	a.wantCancel("another client's create", res)
	a.noCancel("another client's create") // the subdirectory's stays
	if got := a.missing(dir, "w"); got == res {
		t.Fatal("the directory's lock was granted again after another client's name")
	}

	// Another client's rename into a directory calls its lock back too.
	b.mknod(wire.RootFID, "from")
	if err := b.reint(wire.ReintRename, &wire.RenameRequest{SrcParent: wire.RootFID, SrcName: "from",
		DstParent: sub, DstName: "to"}, nil); err != nil {
		t.Fatal(err)
	}
	a.wantCancel("another client's rename", wire.DirNames(sub))
}
