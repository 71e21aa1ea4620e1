package mdd

import (
	"syscall"
	"testing"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// tree is the starting namespace of every rename case:
//
//	/d1/file  /d1/file2  /d1/hard (= /d1/file2)  /d1/empty/  /d1/full/x
//	/d1/sub/deep/  /d2/  /d2/target  /d2/tdir/  /top (a file in root)
type tree struct {
	e *env
	f map[string]wire.FID
}

func newTree(t *testing.T) *tree {
	e := newEnv(t)
	tr := &tree{e: e, f: map[string]wire.FID{"/": wire.RootFID}}
	mk := func(dir bool, parent, name, path string) {
		if dir {
			tr.f[path] = e.mkdir(root, tr.f[parent], name, 0o777).FID
		} else {
			a, _, err := e.m.Create(ctx, root, tr.f[parent], name, CreateArgs{Mode: 0o666, Layout: []byte("L:" + path)})
			mustOK(t, "create "+path, err)
			tr.f[path] = a.FID
		}
	}
	mk(true, "/", "d1", "/d1")
	mk(true, "/", "d2", "/d2")
	mk(false, "/d1", "file", "/d1/file")
	mk(false, "/d1", "file2", "/d1/file2")
	_, _, err := e.m.Link(ctx, root, tr.f["/d1/file2"], tr.f["/d1"], "hard")
	mustOK(t, "link", err)
	mk(true, "/d1", "empty", "/d1/empty")
	mk(true, "/d1", "full", "/d1/full")
	mk(false, "/d1/full", "x", "/d1/full/x")
	mk(true, "/d1", "sub", "/d1/sub")
	mk(true, "/d1/sub", "deep", "/d1/sub/deep")
	mk(false, "/d2", "target", "/d2/target")
	mk(true, "/d2", "tdir", "/d2/tdir")
	mk(false, "/", "top", "/top")
	return tr
}

func (tr *tree) rename(c Creds, sp, sn, dp, dn string, flags uint32) (RenameResult, uint64, error) {
	return tr.e.m.Rename(ctx, c, tr.f[sp], sn, tr.f[dp], dn, flags)
}

func (tr *tree) nlink(path string) uint32 { return tr.e.attr(tr.f[path]).Nlink }

func TestRenameErrors(t *testing.T) {
	tr := newTree(t)
	for _, c := range []struct {
		name           string
		sp, sn, dp, dn string
		flags          uint32
		want           syscall.Errno
	}{
		{"missing source", "/d1", "nope", "/d2", "x", 0, syscall.ENOENT},
		{"dir over non-empty dir", "/d1", "empty", "/d1", "full", 0, syscall.ENOTEMPTY},
		{"dir over file", "/d1", "empty", "/d2", "target", 0, syscall.ENOTDIR},
		{"file over dir", "/d1", "file", "/d1", "empty", 0, syscall.EISDIR},
		{"dir into itself", "/d1", "sub", "/d1/sub", "x", 0, syscall.EINVAL},
		{"dir into its subtree", "/d1", "sub", "/d1/sub/deep", "x", 0, syscall.EINVAL},
		{"ancestor into descendant", "/", "d1", "/d1/sub/deep", "d1", 0, syscall.EINVAL},
		{"dir over its parent", "/d1/sub", "deep", "/d1", "sub", 0, syscall.ENOTEMPTY},
		{"noreplace over existing", "/d1", "file", "/d2", "target", RenameNoReplace, syscall.EEXIST},
		{"noreplace same inode", "/d1", "file2", "/d1", "hard", RenameNoReplace, syscall.EEXIST},
		{"exchange missing target", "/d1", "file", "/d2", "nope", RenameExchange, syscall.ENOENT},
		{"exchange dir into its subtree", "/d1", "sub", "/d1/sub/deep", "x", RenameExchange, syscall.ENOENT},
		{"both flags", "/d1", "file", "/d2", "x", RenameNoReplace | RenameExchange, syscall.EINVAL},
		{"unknown flag", "/d1", "file", "/d2", "x", 4, syscall.EINVAL},
		{"target parent is a file", "/d1", "file", "/top", "x", 0, syscall.ENOTDIR},
		{"source parent missing", "/nope", "file", "/d2", "x", 0, syscall.ENOENT},
		{"dot name", "/d1", ".", "/d2", "x", 0, syscall.EINVAL},
		{"long name", "/d1", "file", "/d2", string(make([]byte, 256)), 0, syscall.ENAMETOOLONG},
	} {
		_, _, err := tr.rename(root, c.sp, c.sn, c.dp, c.dn, c.flags)
		wantErrno(t, c.name, err, c.want)
	}
	// Exchanging a directory with an entry inside its own subtree.
	tr.e.mkdir(root, tr.f["/d1/sub/deep"], "x", 0o755)
	_, _, err := tr.rename(root, "/d1", "sub", "/d1/sub/deep", "x", RenameExchange)
	wantErrno(t, "exchange dir with its descendant", err, syscall.EINVAL)

	// Permissions: write on both parents; write on a directory that moves.
	d := tr.e.mkdir(alice, wire.RootFID, "alice", 0o755)
	tr.e.create(alice, d.FID, "mine")
	_, _, err = tr.e.m.Rename(ctx, bob, d.FID, "mine", tr.f["/d2"], "stolen", 0)
	wantErrno(t, "rename out of a dir without write", err, syscall.EACCES)
	ro := tr.e.mkdir(alice, tr.f["/d2"], "ro", 0o555)
	_, _, err = tr.e.m.Rename(ctx, alice, tr.f["/d2"], "ro", d.FID, "ro", 0)
	wantErrno(t, "move a dir without write on it", err, syscall.EACCES)
	_, _, err = tr.e.m.Rename(ctx, alice, tr.f["/d2"], "ro", tr.f["/d2"], "ro2", 0)
	mustOK(t, "rename a read-only dir within its parent", err)
	_ = ro
}

func TestRenameFile(t *testing.T) {
	tr := newTree(t)
	_, tn, err := tr.rename(root, "/d1", "file", "/d1", "renamed", 0)
	if err != nil || tn == 0 {
		t.Fatalf("rename: %d %v", tn, err)
	}
	if tr.e.lookup(tr.f["/d1"], "file") != (wire.FID{}) || tr.e.lookup(tr.f["/d1"], "renamed") != tr.f["/d1/file"] {
		t.Fatal("rename within a dir")
	}
	if a := tr.e.attr(tr.f["/d1/file"]); a.Ctime == 0 || a.Nlink != 1 {
		t.Fatalf("renamed attrs %+v", a)
	}
	_, _, err = tr.rename(root, "/d1", "renamed", "/d2", "moved", RenameNoReplace)
	mustOK(t, "noreplace to a free name", err)
	if ps, _ := tr.e.m.Paths(ctx, tr.f["/d1/file"]); len(ps) != 1 || ps[0].Path != "/d2/moved" {
		t.Fatalf("paths %v", ps)
	}
	// Over a file: the victim is destroyed, its layout handed back.
	res, _, err := tr.rename(root, "/d2", "moved", "/d2", "target", 0)
	if err != nil || res.Victim == nil || !res.Victim.Destroyed || string(res.Victim.Layout) != "L:/d2/target" {
		t.Fatalf("over a file: %+v %v", res.Victim, err)
	}
	// Over one of two names of another inode: that inode loses a link.
	res, _, err = tr.rename(root, "/d2", "target", "/d1", "hard", 0)
	if err != nil || res.Victim == nil || res.Victim.Destroyed || res.Victim.Attr.Nlink != 1 {
		t.Fatalf("over a hard link: %+v %v", res.Victim, err)
	}
	// Over an open file: the victim becomes an orphan.
	_, err = tr.e.m.Open(ctx, root, tr.f["/d1/file2"], 0)
	mustOK(t, "open", err)
	res, _, err = tr.rename(root, "/d1", "hard", "/d1", "file2", 0)
	if err != nil || res.Victim == nil || !res.Victim.Orphan || res.Victim.Destroyed {
		t.Fatalf("over an open file: %+v %v", res.Victim, err)
	}
	r, _, err := tr.e.m.Close(ctx, tr.f["/d1/file2"])
	if err != nil || !r.Destroyed || string(r.Layout) != "L:/d1/file2" {
		t.Fatalf("close of the orphan: %+v %v", r, err)
	}
}

func TestRenameSameInodeIsNoop(t *testing.T) {
	tr := newTree(t)
	res, tn, err := tr.rename(root, "/d1", "file2", "/d1", "hard", 0)
	if err != nil || tn != 0 || res.Victim != nil {
		t.Fatalf("same inode: %+v %d %v", res, tn, err)
	}
	if tr.nlink("/d1/file2") != 2 || tr.e.lookup(tr.f["/d1"], "file2") == (wire.FID{}) {
		t.Fatal("names changed")
	}
	_, tn, err = tr.rename(root, "/d1", "file", "/d1", "file", 0)
	if err != nil || tn != 0 {
		t.Fatalf("same name: %d %v", tn, err)
	}
}

func TestRenameDirectories(t *testing.T) {
	tr := newTree(t)
	d1, d2 := tr.nlink("/d1"), tr.nlink("/d2")
	if d1 != 2+3 || d2 != 2+1 {
		t.Fatalf("starting nlinks %d %d", d1, d2)
	}
	// A directory over an empty directory in another parent.
	res, _, err := tr.rename(root, "/d1", "sub", "/d2", "tdir", 0)
	if err != nil || res.Victim == nil || !res.Victim.Destroyed {
		t.Fatalf("dir over empty dir: %+v %v", res.Victim, err)
	}
	if tr.nlink("/d1") != d1-1 || tr.nlink("/d2") != d2 {
		t.Fatalf("nlinks after: %d %d", tr.nlink("/d1"), tr.nlink("/d2"))
	}
	if dd, err := tr.e.m.Lookup(ctx, root, tr.f["/d1/sub"], ".."); err != nil || dd.FID != tr.f["/d2"] {
		t.Fatalf(".. after move: %v %v", dd.FID, err)
	}
	// A directory to a new name in another parent.
	_, _, err = tr.rename(root, "/d1", "empty", "/", "moved", 0)
	mustOK(t, "move dir", err)
	if tr.nlink("/d1") != d1-2 || tr.nlink("/") != 2+3 {
		t.Fatalf("nlinks after move: %d %d", tr.nlink("/d1"), tr.nlink("/"))
	}
	// Within one parent, over an empty sibling: the parent loses one.
	tr.e.mkdir(root, tr.f["/"], "sibling", 0o755)
	_, _, err = tr.rename(root, "/", "moved", "/", "sibling", 0)
	mustOK(t, "dir over sibling", err)
	if tr.nlink("/") != 2+3 {
		t.Fatalf("root nlink %d", tr.nlink("/"))
	}
	// An open empty directory replaced becomes an orphan.
	od := tr.e.mkdir(root, tr.f["/d2"], "opened", 0o755)
	_, err = tr.e.m.Open(ctx, root, od.FID, 0)
	mustOK(t, "opendir", err)
	res, _, err = tr.rename(root, "/", "sibling", "/d2", "opened", 0)
	if err != nil || res.Victim == nil || !res.Victim.Orphan {
		t.Fatalf("over an open dir: %+v %v", res.Victim, err)
	}
	_, err = tr.e.m.Lookup(ctx, root, od.FID, "x")
	wantErrno(t, "lookup in the replaced dir", err, syscall.ENOENT)
	_, _, err = tr.e.m.Close(ctx, od.FID)
	mustOK(t, "closedir", err)
}

func TestRenameExchange(t *testing.T) {
	tr := newTree(t)
	d1, d2 := tr.nlink("/d1"), tr.nlink("/d2")
	// A directory (/d1/sub) and a file (/d2/target) across parents.
	res, tn, err := tr.rename(root, "/d1", "sub", "/d2", "target", RenameExchange)
	if err != nil || tn == 0 || res.Victim != nil {
		t.Fatalf("exchange: %+v %d %v", res, tn, err)
	}
	if tr.e.lookup(tr.f["/d1"], "sub") != tr.f["/d2/target"] || tr.e.lookup(tr.f["/d2"], "target") != tr.f["/d1/sub"] {
		t.Fatal("names not swapped")
	}
	if tr.nlink("/d1") != d1-1 || tr.nlink("/d2") != d2+1 {
		t.Fatalf("nlinks %d→%d %d→%d", d1, tr.nlink("/d1"), d2, tr.nlink("/d2"))
	}
	if ps, _ := tr.e.m.Paths(ctx, tr.f["/d1/sub/deep"]); len(ps) != 1 || ps[0].Path != "/d2/target/deep" {
		t.Fatalf("path under exchanged dir %v", ps)
	}
	// Two files in one directory.
	_, _, err = tr.rename(root, "/d1", "file", "/d1", "file2", RenameExchange)
	mustOK(t, "exchange files", err)
	if tr.e.lookup(tr.f["/d1"], "file") != tr.f["/d1/file2"] {
		t.Fatal("files not swapped")
	}
	if tr.e.attr(tr.f["/d1/file"]).Type() != store.TypeReg {
		t.Fatal("type changed")
	}
}
