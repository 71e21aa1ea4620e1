package mdt

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

func TestOpenFlags(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	_, err := e.open(rootCreds, wire.RootFID, "none", syscall.O_RDONLY, nil)
	wantErrno(t, "open of a missing file", err, syscall.ENOENT)
	f, err := e.open(rootCreds, wire.RootFID, "f", syscall.O_CREAT|syscall.O_RDWR, nil)
	mustOK(t, "open O_CREAT", err)
	if !f.Created || f.Handle == 0 || len(f.Layout) == 0 {
		t.Fatalf("create reply %+v", f)
	}
	// O_CREAT without O_EXCL on an existing file opens it.
	g, err := e.open(rootCreds, wire.RootFID, "f", syscall.O_CREAT|syscall.O_RDWR, nil)
	if err != nil || g.Created || g.FID != f.FID || g.Handle == f.Handle || string(g.Layout) != string(f.Layout) {
		t.Fatalf("second O_CREAT open: %+v %v", g, err)
	}
	_, err = e.open(rootCreds, wire.RootFID, "f", syscall.O_CREAT|syscall.O_EXCL|syscall.O_RDWR, nil)
	wantErrno(t, "O_EXCL over a file", err, syscall.EEXIST)
	_, err = e.open(aliceCreds, wire.RootFID, "f", syscall.O_WRONLY, nil)
	wantErrno(t, "alice opens root's 0644 file for writing", err, syscall.EACCES)
	r, err := e.open(aliceCreds, wire.RootFID, "f", syscall.O_RDONLY, nil)
	mustOK(t, "alice opens it for reading", err)
	// Close reports the size the client knows; the MDT keeps it.
	_, err = e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: f.FID, Handle: f.Handle,
		Attr: wire.Attr{Valid: wire.AttrSize | wire.AttrMtime, Size: 12345, Mtime: 777}}, nil)
	mustOK(t, "close with size", err)
	got, _ := e.lookup(wire.RootFID, "f")
	if got.Attr.Size != 12345 || got.Attr.Mtime != 777 {
		t.Fatalf("lazy size %d mtime %d", got.Attr.Size, got.Attr.Mtime)
	}
	// A writer's close that reports what the MDT has changes nothing: no
	// transno (no commit), ctime kept.
	w, err := e.open(rootCreds, wire.RootFID, "f", syscall.O_WRONLY, nil)
	mustOK(t, "open for writing", err)
	tn, err := e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: f.FID, Handle: w.Handle,
		Attr: wire.Attr{Valid: wire.AttrSize | wire.AttrMtime, Size: 12345, Mtime: 777}}, nil)
	if err != nil || tn != 0 {
		t.Fatalf("close reporting unchanged attributes: transno %d, %v", tn, err)
	}
	if again, _ := e.lookup(wire.RootFID, "f"); again.Attr.Ctime != got.Attr.Ctime {
		t.Fatalf("an unchanging close moved ctime from %d to %d", got.Attr.Ctime, again.Attr.Ctime)
	}
	// A reader's close does not change attributes.
	_, err = e.call(aliceCreds, wire.MDSClose, &wire.CloseRequest{FID: f.FID, Handle: r.Handle,
		Attr: wire.Attr{Valid: wire.AttrSize, Size: 1}}, nil)
	mustOK(t, "close of the reader", err)
	if got, _ := e.lookup(wire.RootFID, "f"); got.Attr.Size != 12345 {
		t.Fatalf("a reader's close changed the size to %d", got.Attr.Size)
	}
	_, err = e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: f.FID, Handle: f.Handle}, nil)
	wantErrno(t, "close twice", err, syscall.EBADF)
	_, err = e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: wire.RootFID, Handle: g.Handle}, nil)
	wantErrno(t, "close with another file's FID", err, syscall.EBADF)
	// O_TRUNC sets the size to 0.
	tr, err := e.open(rootCreds, wire.RootFID, "f", syscall.O_WRONLY|syscall.O_TRUNC, nil)
	if err != nil || tr.Attr.Size != 0 {
		t.Fatalf("O_TRUNC: size %d %v", tr.Attr.Size, err)
	}
	e.mustClose(tr)
	e.mustClose(g)
	// Open by FID; a directory opens read-only only.
	byFID, err := e.reintOpenFID(f.FID, syscall.O_RDONLY)
	mustOK(t, "open by FID", err)
	e.mustClose(byFID)
	_, err = e.reintOpenFID(wire.RootFID, syscall.O_WRONLY)
	wantErrno(t, "open a directory for writing", err, syscall.EISDIR)
}

func (e *env) reintOpenFID(f wire.FID, flags int) (*wire.InodeReply, error) {
	var rep wire.InodeReply
	_, err := e.reint(rootCreds, wire.ReintOpen, &wire.OpenRequest{FID: f, Flags: uint32(flags)}, &rep)
	return &rep, err
}

func TestUnlinkDestroysObjects(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 3)
	f, err := e.create(wire.RootFID, "f", tmpl(t, 3, 0, -1))
	mustOK(t, "create", err)
	objs := objects(decode(t, f.Layout))
	if len(objs) != 3 || e.gone(objs) {
		t.Fatalf("objects %v", objs)
	}
	e.unlink(wire.RootFID, "f")
	waitFor(t, "objects destroyed", func() bool { return e.gone(objs) })
	// A rename over a file destroys the victim's objects.
	a, err := e.create(wire.RootFID, "a", nil)
	mustOK(t, "create a", err)
	_, err = e.create(wire.RootFID, "b", nil)
	mustOK(t, "create b", err)
	_, err = e.reint(rootCreds, wire.ReintRename, &wire.RenameRequest{SrcParent: wire.RootFID, SrcName: "b",
		DstParent: wire.RootFID, DstName: "a"}, nil)
	mustOK(t, "rename over a", err)
	waitFor(t, "victim's objects destroyed", func() bool { return e.gone(objects(decode(t, a.Layout))) })
	// An objectless file unlinks without any destroy.
	_, err = e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: wire.RootFID, Name: "empty",
		Mode: syscall.S_IFREG | 0o644, MDTIndex: -1}, nil)
	mustOK(t, "mknod", err)
	e.unlink(wire.RootFID, "empty")
}

func TestDestroysSurviveRestart(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	f, err := e.create(wire.RootFID, "f", tmpl(t, 2, 0, -1))
	mustOK(t, "create", err)
	objs := objects(decode(t, f.Layout))
	e.oss.FailDestroy(0, syscall.EIO)
	e.oss.FailDestroy(1, syscall.EIO)
	e.unlink(wire.RootFID, "f")
	waitFor(t, "a destroy tried and failed", func() bool { return e.srv.OSP(0).Info().DestroyErrors > 0 })
	if e.gone(objs) {
		t.Fatal("objects destroyed despite the failures")
	}
	e.stop()
	e.oss.FailDestroy(0, 0)
	e.oss.FailDestroy(1, 0)
	e.start()
	e.connect()
	waitFor(t, "objects destroyed after the restart", func() bool { return e.gone(objs) })
}

func TestOpenUnlinkedFileDestroyedAtClose(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	f, err := e.open(rootCreds, wire.RootFID, "f", syscall.O_CREAT|syscall.O_RDWR, nil)
	mustOK(t, "create", err)
	objs := objects(decode(t, f.Layout))
	e.unlink(wire.RootFID, "f")
	// Still open: the inode and its objects stay.
	var ga wire.InodeReply
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: f.FID}, &ga)
	if err != nil || ga.Attr.Nlink != 0 {
		t.Fatalf("getattr of the open unlinked file: %+v %v", ga.Attr, err)
	}
	if e.gone(objs) {
		t.Fatal("objects destroyed while the file is open")
	}
	e.mustClose(f)
	waitFor(t, "objects destroyed at the last close", func() bool { return e.gone(objs) })
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: f.FID}, nil)
	wantErrno(t, "getattr after the last close", err, syscall.ENOENT)
}

func TestOrphanOfACrashIsDestroyedAtStart(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	f, err := e.open(rootCreds, wire.RootFID, "f", syscall.O_CREAT|syscall.O_RDWR, nil)
	mustOK(t, "create", err)
	objs := objects(decode(t, f.Layout))
	e.unlink(wire.RootFID, "f")
	e.restart() // the handle is gone with the server
	waitFor(t, "orphan's objects destroyed", func() bool { return e.gone(objs) })
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: f.FID}, nil)
	wantErrno(t, "getattr of the swept orphan", err, syscall.ENOENT)
}

func TestEvictionClosesHandles(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	f, err := e.open(rootCreds, wire.RootFID, "f", syscall.O_CREAT|syscall.O_RDWR, nil)
	mustOK(t, "create", err)
	objs := objects(decode(t, f.Layout))
	e.unlink(wire.RootFID, "f")
	if !e.srv.Target().Evict("client-1") {
		t.Fatal("no export to evict")
	}
	waitFor(t, "the evicted client's open file destroyed", func() bool { return e.gone(objs) })
	if n := e.srv.MDD().OpenCount(f.FID); n != 0 {
		t.Fatalf("open count %d", n)
	}
}

func TestReadpage(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	d := e.mkdir(wire.RootFID, "d", nil)
	want := []string{".", ".."}
	for i := range 40 {
		name := fmt.Sprintf("file%02d", i)
		_, err := e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: d, Name: name,
			Mode: syscall.S_IFREG | 0o600, MDTIndex: -1}, nil)
		mustOK(t, "mknod", err)
		want = append(want, name)
	}
	e.mkdir(d, "sub", nil)
	want = append(want, "sub")
	var got []string
	cookie := uint64(0)
	for calls := 0; ; calls++ {
		if calls > 20 {
			t.Fatal("readpage never ends")
		}
		var rep wire.ReadpageReply
		_, err := e.call(rootCreds, wire.MDSReadpage, &wire.ReadpageRequest{FID: d, Cookie: cookie, Count: 7, Plus: true}, &rep)
		mustOK(t, "readpage", err)
		if len(rep.Entries) > 7 {
			t.Fatalf("%d entries for 7", len(rep.Entries))
		}
		for _, de := range rep.Entries {
			got = append(got, de.Name)
			switch de.Name {
			case "sub", ".", "..":
				if de.Type != syscall.S_IFDIR || de.Attr.Mode&syscall.S_IFMT != syscall.S_IFDIR {
					t.Fatalf("entry %+v", de)
				}
			default:
				if de.Type != syscall.S_IFREG || de.Attr.Mode != syscall.S_IFREG|0o600 {
					t.Fatalf("entry %+v", de)
				}
			}
			cookie = de.Cookie
		}
		if rep.End {
			break
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("readdir %v", got)
	}
	_, err := e.call(rootCreds, wire.MDSReadpage, &wire.ReadpageRequest{FID: d, Count: 0}, nil)
	wantErrno(t, "readpage of 0 entries", err, syscall.EPROTO)
	f, err := e.lookup(d, "file00")
	mustOK(t, "lookup", err)
	_, err = e.call(rootCreds, wire.MDSReadpage, &wire.ReadpageRequest{FID: f.FID, Count: 5}, nil)
	wantErrno(t, "readpage of a file", err, syscall.ENOTDIR)
}

func TestXattrs(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	f, err := e.create(wire.RootFID, "f", nil)
	mustOK(t, "create", err)
	set := func(c ptlrpc.Creds, name string, v string, flags uint32) error {
		_, err := e.reint(c, wire.ReintSetxattr, &wire.SetxattrRequest{FID: f.FID, Name: name, Value: []byte(v), Flags: flags}, nil)
		return err
	}
	get := func(name string, size uint32) (wire.GetxattrReply, error) {
		var r wire.GetxattrReply
		_, err := e.call(rootCreds, wire.MDSGetxattr, &wire.GetxattrRequest{FID: f.FID, Name: name, Size: size}, &r)
		return r, err
	}
	mustOK(t, "set user.a", set(rootCreds, "user.a", "hello", 0))
	wantErrno(t, "create over user.a", set(rootCreds, "user.a", "x", wire.XattrCreate), syscall.EEXIST)
	wantErrno(t, "replace of user.b", set(rootCreds, "user.b", "x", wire.XattrReplace), syscall.ENODATA)
	wantErrno(t, "alice sets trusted.x", set(aliceCreds, "trusted.x", "x", 0), syscall.EPERM)
	wantErrno(t, "bad flags", set(rootCreds, "user.c", "x", 64), syscall.EINVAL)
	if r, err := get("user.a", 0); err != nil || r.Len != 5 || len(r.Value) != 0 {
		t.Fatalf("size query: %+v %v", r, err)
	}
	if r, err := get("user.a", 5); err != nil || string(r.Value) != "hello" || r.Len != 5 {
		t.Fatalf("get: %+v %v", r, err)
	}
	_, err = get("user.a", 4)
	wantErrno(t, "get into a small buffer", err, syscall.ERANGE)
	_, err = get("user.none", 10)
	wantErrno(t, "get of a missing xattr", err, syscall.ENODATA)
	if r, err := get("lustre.lov", 1<<16); err != nil || string(r.Value) != string(f.Layout) {
		t.Fatalf("get lustre.lov: %v", err)
	}
	if r, err := get("trusted.lov", 1<<16); err != nil || string(r.Value) != string(f.Layout) {
		t.Fatalf("get trusted.lov: %v", err)
	}
	r, err := get("", 4096)
	mustOK(t, "list", err)
	names := strings.Split(strings.TrimSuffix(string(r.Value), "\x00"), "\x00")
	sort.Strings(names)
	if strings.Join(names, ",") != "lustre.lov,user.a" || r.Len != uint32(len(r.Value)) {
		t.Fatalf("list %q", r.Value)
	}
	mustOK(t, "remove user.a", set(rootCreds, "user.a", "", wire.XattrRemove))
	wantErrno(t, "remove again", set(rootCreds, "user.a", "", wire.XattrRemove), syscall.ENODATA)
	// A directory lists its default as lustre.lov.
	d := e.mkdir(wire.RootFID, "d", tmpl(t, 1, 0, -1))
	var lr wire.GetxattrReply
	_, err = e.call(rootCreds, wire.MDSGetxattr, &wire.GetxattrRequest{FID: d, Size: 4096}, &lr)
	if err != nil || string(lr.Value) != "lustre.lov\x00" {
		t.Fatalf("list of a directory: %q %v", lr.Value, err)
	}
}

// TestUnusedPrecreatedObjectsDestroyedAtRestart: after a restart (and its
// recovery window) each OST destroys the objects it precreated that no
// file uses.
func TestUnusedPrecreatedObjectsDestroyedAtRestart(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	var used []layout.Object
	for i := range 5 {
		f, err := e.create(wire.RootFID, fmt.Sprintf("f%d", i), tmpl(t, 2, 0, -1))
		mustOK(t, "create", err)
		used = append(used, objects(decode(t, f.Layout))...)
	}
	if n := len(e.oss.Objects(0)) + len(e.oss.Objects(1)); n <= len(used) {
		t.Fatalf("%d objects on the OSTs for %d used: nothing precreated ahead?", n, len(used))
	}
	before := [][]wire.FID{e.oss.Objects(0), e.oss.Objects(1)}
	e.stop()
	e.start()
	e.connect()
	// The restarted MDT is in recovery: its OST proxies keep the objects
	// of the previous run until the window ends, then destroy those no
	// replayed create claimed.
	waitFor(t, "orphans destroyed", func() bool {
		left := 0
		for i, objs := range before {
			for _, f := range objs {
				if e.oss.Has(uint32(i), f) {
					left++
				}
			}
		}
		return left == len(used)
	})
	for _, o := range used {
		if !e.oss.Has(o.OSTIndex, o.FID) {
			t.Fatalf("used object %v destroyed", o)
		}
	}
	if n := len(e.oss.Objects(0)) + len(e.oss.Objects(1)); n < len(used) {
		t.Fatalf("%d objects left for %d used", n, len(used))
	}
	mustOK(t, "OSTs back", e.srv.WaitOSTs(ctxTimeout(t), 2))
	// Objects precreated after the cleanup are new ones.
	f, err := e.create(wire.RootFID, "after", tmpl(t, 2, 0, -1))
	mustOK(t, "create after the restart", err)
	for _, o := range objects(decode(t, f.Layout)) {
		for _, u := range used {
			if u == o {
				t.Fatalf("object %v given twice", o)
			}
		}
	}
}
