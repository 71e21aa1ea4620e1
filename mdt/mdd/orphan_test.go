package mdd

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

func TestOrphanUntilLastClose(t *testing.T) {
	e := newEnv(t)
	f, _, err := e.m.Create(ctx, root, wire.RootFID, "f", CreateArgs{Mode: 0o644, Layout: []byte("objs"), Open: true})
	mustOK(t, "create+open", err)
	_, err = e.m.Open(ctx, root, f.FID, os.O_RDWR)
	mustOK(t, "second open", err)
	r, tn, err := e.m.Unlink(ctx, root, wire.RootFID, "f")
	if err != nil || !r.Orphan || r.Destroyed || r.Layout != nil || tn == 0 {
		t.Fatalf("unlink of an open file: %+v %d %v", r, tn, err)
	}
	a := e.attr(f.FID)
	if a.Nlink != 0 {
		t.Fatalf("orphan nlink %d", a.Nlink)
	}
	_, _, err = e.m.Link(ctx, root, f.FID, wire.RootFID, "back")
	wantErrno(t, "link an orphan", err, syscall.ENOENT)
	_, err = e.m.SetXattr(ctx, root, f.FID, "user.x", []byte("still usable"), 0)
	mustOK(t, "setxattr on an orphan", err)
	r, tn, err = e.m.Close(ctx, f.FID)
	if err != nil || r.Destroyed || tn != 0 {
		t.Fatalf("first close: %+v %d %v", r, tn, err)
	}
	r, tn, err = e.m.Close(ctx, f.FID)
	if err != nil || !r.Destroyed || string(r.Layout) != "objs" || tn == 0 {
		t.Fatalf("last close: %+v %d %v", r, tn, err)
	}
	_, err = e.m.GetAttr(ctx, f.FID)
	wantErrno(t, "getattr after last close", err, syscall.ENOENT)
	// Closing a file that is not an orphan destroys nothing.
	g, _, err := e.m.Create(ctx, root, wire.RootFID, "g", CreateArgs{Open: true})
	mustOK(t, "create", err)
	if r, tn, err := e.m.Close(ctx, g.FID); err != nil || r.Destroyed || tn != 0 {
		t.Fatalf("close of a linked file: %+v %d %v", r, tn, err)
	}
}

func TestOrphanSurvivesRestartAndIsSwept(t *testing.T) {
	e := newEnv(t)
	var fids []wire.FID
	for _, n := range []string{"a", "b"} {
		f, _, err := e.m.Create(ctx, root, wire.RootFID, n, CreateArgs{Layout: []byte("L-" + n), Open: true})
		mustOK(t, "create", err)
		_, _, err = e.m.Unlink(ctx, root, wire.RootFID, n)
		mustOK(t, "unlink", err)
		fids = append(fids, f.FID)
	}
	e.restart()
	for _, f := range fids {
		if a := e.attr(f); a.Nlink != 0 {
			t.Fatalf("orphan %v after restart: %+v", f, a)
		}
	}
	// A replayed open (recovery) takes b again; the sweep spares it.
	_, err := e.m.Open(ctx, root, fids[1], os.O_RDONLY)
	mustOK(t, "replayed open of an orphan", err)
	swept, tn, err := e.m.SweepOrphans(ctx)
	if err != nil || len(swept) != 1 || !swept[0].Destroyed || string(swept[0].Layout) != "L-a" || tn == 0 {
		t.Fatalf("sweep: %+v %d %v", swept, tn, err)
	}
	_, err = e.m.GetAttr(ctx, fids[0])
	wantErrno(t, "swept orphan", err, syscall.ENOENT)
	mustOK(t, "check after sweep", e.m.Check(ctx))
	r, _, err := e.m.Close(ctx, fids[1])
	if err != nil || !r.Destroyed || string(r.Layout) != "L-b" {
		t.Fatalf("close of the replayed orphan: %+v %v", r, err)
	}
	if swept, tn, err := e.m.SweepOrphans(ctx); err != nil || len(swept) != 0 || tn != 0 {
		t.Fatalf("empty sweep: %v %d %v", swept, tn, err)
	}
}

func TestCheckFindsBrokenNamespace(t *testing.T) {
	for name, breakIt := range map[string]func(t *store.Tx, f wire.FID) error{
		"nlink too high": func(t *store.Tx, f wire.FID) error {
			ino, _ := t.Inode(f)
			ino.Nlink++
			return t.PutInode(f, &ino)
		},
		"dangling entry": func(t *store.Tx, f wire.FID) error {
			return t.PutDirent(wire.RootFID, "dangling", store.Dirent{FID: wire.FID{Seq: wire.SeqNormalStart, Oid: 500}, Type: 8})
		},
		"entry without link": func(t *store.Tx, f wire.FID) error { return t.RemoveLink(f, wire.RootFID, "f") },
		"root nlink": func(t *store.Tx, f wire.FID) error {
			ino, _ := t.Inode(wire.RootFID)
			ino.Nlink = 7
			return t.PutInode(wire.RootFID, &ino)
		},
		"unopened orphan after sweep": func(t *store.Tx, f wire.FID) error {
			if err := t.DeleteDirent(wire.RootFID, "f"); err != nil {
				return err
			}
			if err := t.RemoveLink(f, wire.RootFID, "f"); err != nil {
				return err
			}
			ino, _ := t.Inode(f)
			ino.Nlink = 0
			if err := t.PutInode(f, &ino); err != nil {
				return err
			}
			return t.AddOrphan(f, store.Orphan{})
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := &env{t: t, path: t.TempDir() + "/mdt.db"}
			mustOK(t, "format", Format(e.path, store.Label{FSName: "t", UUID: "u"}, store.FormatOptions{NoSync: true}))
			e.open()
			defer e.s.Close()
			f := e.create(root, wire.RootFID, "f")
			_, _, err := e.m.SweepOrphans(ctx)
			mustOK(t, "sweep", err)
			mustOK(t, "check", e.m.Check(ctx))
			if _, err := e.s.Update(ctx, func(t *store.Tx) error { return breakIt(t, f.FID) }); err != nil {
				t.Fatal(err)
			}
			if err := e.m.Check(ctx); !errors.Is(err, ErrInvariant) {
				t.Fatalf("check: %v, want ErrInvariant", err)
			}
		})
	}
}

// TestRemoteObjects: entries and FIDs that the FLD puts on MDT0001.
func TestRemoteObjects(t *testing.T) {
	e := newEnv(t)
	var remote wire.FID
	_, err := e.s.Update(ctx, func(t *store.Tx) error {
		r, err := t.GrantSuperSeq(store.FLDMDT, 1)
		if err != nil {
			return err
		}
		remote = wire.FID{Seq: r.Start, Oid: 1}
		// A remote directory: its entry lives here, its inode on MDT0001.
		return t.PutDirent(wire.RootFID, "remote", store.Dirent{FID: remote, Type: dtDir})
	})
	mustOK(t, "grant", err)
	a, err := e.m.Lookup(ctx, root, wire.RootFID, "remote")
	if !errors.Is(err, ErrRemote) || !errors.Is(err, syscall.EREMOTE) || a.FID != remote || !a.IsDir() {
		t.Fatalf("lookup of a remote entry: %+v %v", a, err)
	}
	_, err = e.m.GetAttr(ctx, remote)
	wantErrno(t, "getattr of a remote FID", err, syscall.EREMOTE)
	_, _, err = e.m.Create(ctx, root, remote, "x", CreateArgs{})
	wantErrno(t, "create in a remote dir", err, syscall.EREMOTE)
	_, _, err = e.m.Unlink(ctx, root, wire.RootFID, "remote")
	wantErrno(t, "unlink a remote entry", err, syscall.EXDEV)
	f := e.create(root, wire.RootFID, "f")
	_, _, err = e.m.Rename(ctx, root, wire.RootFID, "f", remote, "f", 0)
	wantErrno(t, "rename into a remote dir", err, syscall.EXDEV)
	_, _, err = e.m.Link(ctx, root, remote, wire.RootFID, "l")
	wantErrno(t, "link a remote inode", err, syscall.EXDEV)
	_, _, err = e.m.Create(ctx, root, wire.RootFID, "y", CreateArgs{FID: wire.FID{Seq: remote.Seq, Oid: 9}})
	wantErrno(t, "create with another MDT's FID", err, syscall.EINVAL)
	_ = f
	// Clean up the remote entry for the check (its MDT is not here).
	_, err = e.s.Update(ctx, func(t *store.Tx) error { return t.DeleteDirent(wire.RootFID, "remote") })
	mustOK(t, "cleanup", err)
}

// TestOnDestroyInSameTransaction checks that OnDestroy runs inside the
// operation that destroys a file with a layout — unlink, last close of an
// orphan, rename over it, the sweep — so what it writes commits with it,
// and that its error fails the operation with nothing done.
func TestOnDestroyInSameTransaction(t *testing.T) {
	e := newEnv(t)
	destroyed := map[wire.FID]string{}
	var fail error
	e.onDestroy = func(t *store.Tx, f wire.FID, layout []byte) error {
		if fail != nil {
			return fail
		}
		destroyed[f] = string(layout) // the test's own record; runs once per committed op here
		return t.SetXattr(wire.RootFID, "user.destroyed."+string(layout), nil)
	}
	e.restart()
	mk := func(name string, open bool) wire.FID {
		f, _, err := e.m.Create(ctx, root, wire.RootFID, name, CreateArgs{Layout: []byte(name), Open: open})
		mustOK(t, "create "+name, err)
		return f.FID
	}
	recorded := func(name string) bool {
		_, err := e.m.GetXattr(ctx, root, wire.RootFID, "user.destroyed."+name)
		return err == nil
	}
	a := mk("a", false)
	fail = errors.New("queue full")
	_, _, err := e.m.Unlink(ctx, root, wire.RootFID, "a")
	if !errors.Is(err, fail) {
		t.Fatalf("unlink with failing OnDestroy: %v", err)
	}
	if _, err := e.m.GetAttr(ctx, a); err != nil || recorded("a") {
		t.Fatalf("failed unlink left effects: %v, recorded %v", err, recorded("a"))
	}
	fail = nil
	_, _, err = e.m.Unlink(ctx, root, wire.RootFID, "a")
	mustOK(t, "unlink a", err)
	if !recorded("a") || destroyed[a] != "a" {
		t.Fatal("unlink did not record a's objects")
	}
	b := mk("b", true)
	_, _, err = e.m.Unlink(ctx, root, wire.RootFID, "b")
	mustOK(t, "unlink open b", err)
	if recorded("b") {
		t.Fatal("orphan's objects recorded before its last close")
	}
	_, _, err = e.m.Close(ctx, b)
	mustOK(t, "close b", err)
	if !recorded("b") {
		t.Fatal("last close did not record b's objects")
	}
	mk("c", false)
	mk("d", false)
	_, _, err = e.m.Rename(ctx, root, wire.RootFID, "d", wire.RootFID, "c", 0)
	mustOK(t, "rename d over c", err)
	if !recorded("c") || recorded("d") {
		t.Fatalf("rename victim: c %v, d %v", recorded("c"), recorded("d"))
	}
	// A file without a layout calls nothing.
	_, _, err = e.m.Mknod(ctx, root, wire.RootFID, "plain", CreateArgs{Mode: store.TypeReg | 0o644})
	mustOK(t, "mknod", err)
	_, _, err = e.m.Unlink(ctx, root, wire.RootFID, "plain")
	mustOK(t, "unlink plain", err)
	if len(destroyed) != 3 {
		t.Fatalf("OnDestroy calls %v", destroyed)
	}
}

// TestOnLayoutInSameTransaction checks that OnLayout sees every layout
// stored, inside the storing operation: its error fails the operation.
func TestOnLayoutInSameTransaction(t *testing.T) {
	e := newEnv(t)
	var seen []string
	var fail error
	e.onLayout = func(t *store.Tx, f wire.FID, layout []byte) error {
		if fail != nil {
			return fail
		}
		seen = append(seen, string(layout))
		return t.SetXattr(wire.RootFID, "user.layout."+string(layout), nil)
	}
	e.restart()
	_, _, err := e.m.Create(ctx, root, wire.RootFID, "a", CreateArgs{Layout: []byte("A")})
	mustOK(t, "create with a layout", err)
	_, _, err = e.m.Create(ctx, root, wire.RootFID, "none", CreateArgs{})
	mustOK(t, "create without", err)
	f, _, err := e.m.Mknod(ctx, root, wire.RootFID, "b", CreateArgs{Mode: store.TypeReg | 0o644})
	mustOK(t, "mknod", err)
	_, err = e.m.SetXattr(ctx, root, f.FID, XattrLOV, []byte("B"), XattrCreate)
	mustOK(t, "set layout", err)
	_, err = e.m.SetXattr(ctx, root, f.FID, "user.other", []byte("x"), 0)
	mustOK(t, "set another xattr", err)
	if strings.Join(seen, ",") != "A,B" {
		t.Fatalf("OnLayout saw %q", seen)
	}
	fail = errors.New("no")
	_, _, err = e.m.Create(ctx, root, wire.RootFID, "c", CreateArgs{Layout: []byte("C")})
	if !errors.Is(err, fail) {
		t.Fatalf("create with failing OnLayout: %v", err)
	}
	if _, err := e.m.Lookup(ctx, root, wire.RootFID, "c"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("failed create left a name: %v", err)
	}
	for _, n := range []string{"A", "B"} {
		if _, err := e.m.GetXattr(ctx, root, wire.RootFID, "user.layout."+n); err != nil {
			t.Fatalf("OnLayout's write for %s: %v", n, err)
		}
	}
}

// TestCloseWaitsForNoCommit: a close that destroys nothing is answered
// while the committer is busy (it needs no store operation); the last
// close of an orphan still goes through the committer.
func TestCloseWaitsForNoCommit(t *testing.T) {
	e := newEnv(t)
	f, _, err := e.m.Create(ctx, root, wire.RootFID, "f", CreateArgs{Mode: 0o644, Open: true})
	mustOK(t, "create+open", err)
	_, err = e.m.Open(ctx, root, f.FID, os.O_RDONLY)
	mustOK(t, "second open", err)
	g, _, err := e.m.Create(ctx, root, wire.RootFID, "g", CreateArgs{Mode: 0o644, Open: true})
	mustOK(t, "create+open g", err)
	_, _, err = e.m.Unlink(ctx, root, wire.RootFID, "g")
	mustOK(t, "unlink g", err)

	busy, release := make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		_, err := e.s.Update(ctx, func(*store.Tx) error { close(busy); <-release; return nil })
		blocked <- err
	}()
	<-busy
	for i := range 2 {
		if r, tn, err := e.m.Close(ctx, f.FID); err != nil || r.Destroyed || tn != 0 {
			t.Fatalf("close %d of a linked file while the committer is busy: %+v %d %v", i, r, tn, err)
		}
	}
	if n := e.m.OpenCount(f.FID); n != 0 {
		t.Fatalf("open count after both closes: %d", n)
	}
	// The last close of the orphan g waits for the committer.
	done := make(chan Removed, 1)
	go func() {
		r, _, err := e.m.Close(ctx, g.FID)
		if err != nil {
			t.Errorf("last close of an orphan: %v", err)
		}
		done <- r
	}()
	close(release)
	mustOK(t, "blocking update", <-blocked)
	if r := <-done; !r.Destroyed {
		t.Fatalf("last close of an orphan destroyed nothing: %+v", r)
	}
	_, _, err = e.m.Close(ctx, f.FID)
	wantErrno(t, "close without an open", err, syscall.EBADF)
}

// TestCloseRacesUnlink: closes outside the committer and unlinks of the
// last name, run concurrently, never leave an orphan that nobody holds
// open nor destroy an inode that is still open.
func TestCloseRacesUnlink(t *testing.T) {
	e := newEnv(t)
	const n = 64
	fids := make([]wire.FID, n)
	for i := range fids {
		name := "f" + strconv.Itoa(i)
		a, _, err := e.m.Create(ctx, root, wire.RootFID, name, CreateArgs{Mode: 0o644, Open: true})
		mustOK(t, "create", err)
		fids[i] = a.FID
	}
	var wg sync.WaitGroup
	for i, f := range fids {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, _, err := e.m.Close(ctx, f); err != nil {
				t.Errorf("close %v: %v", f, err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, _, err := e.m.Unlink(ctx, root, wire.RootFID, "f"+strconv.Itoa(i)); err != nil {
				t.Errorf("unlink %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for _, f := range fids {
		if _, err := e.m.GetAttr(ctx, f); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("%v outlived its last close and unlink: %v", f, err)
		}
	}
	mustOK(t, "check", e.m.Check(ctx))
}
