package mdd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

func TestErrorsAreErrnos(t *testing.T) {
	err := fmt.Errorf("lookup x: %w", ErrNotFound)
	if !errors.Is(err, syscall.ENOENT) || !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrNotFound) {
		t.Fatal("wrapped ErrNotFound is not ENOENT")
	}
	if errors.Is(err, syscall.EEXIST) || errors.Is(err, ErrExist) {
		t.Fatal("ErrNotFound is EEXIST")
	}
	var e *Error
	if !errors.As(fmt.Errorf("x: %w", ErrNotEmpty), &e) || e.Errno() != syscall.ENOTEMPTY {
		t.Fatal("errors.As")
	}
}

func TestFormatAndRoot(t *testing.T) {
	e := newEnv(t)
	r := e.attr(wire.RootFID)
	if r.Mode != store.TypeDir|0o755 || r.Nlink != 2 || r.UID != 0 {
		t.Fatalf("root %+v", r)
	}
	if e.m.Label().Name() != "testfs-MDT0000" {
		t.Fatalf("label %v", e.m.Label())
	}
	err := Format(e.path, store.Label{FSName: "x", UUID: "x"}, store.FormatOptions{})
	if !errors.Is(err, store.ErrFormatted) {
		t.Fatalf("format over a formatted store: %v", err)
	}

	p1 := filepath.Join(t.TempDir(), "mdt1.db")
	mustOK(t, "format MDT1", Format(p1, store.Label{FSName: "testfs", Index: 1, UUID: "testfs-MDT0001_UUID"}, store.FormatOptions{NoSync: true}))
	s1, err := store.Open(p1, store.Options{NoSync: true})
	mustOK(t, "open MDT1", err)
	defer s1.Close()
	m1, err := New(s1, Config{})
	mustOK(t, "new MDT1", err)
	_, err = m1.GetAttr(ctx, wire.RootFID)
	wantErrno(t, "root on MDT1", err, syscall.ENOENT)
	mustOK(t, "check MDT1", m1.Check(ctx))
	if _, err := store.Open(filepath.Join(t.TempDir(), "none.db"), store.Options{}); !errors.Is(err, store.ErrNotFormatted) {
		t.Fatalf("open unformatted: %v", err)
	}
}

func TestCreateLookupGetAttr(t *testing.T) {
	e := newEnv(t)
	before := e.attr(wire.RootFID)
	a, tn, err := e.m.Create(ctx, root, wire.RootFID, "file", CreateArgs{Mode: 0o640 | 0o170000, Layout: []byte("LOV")})
	mustOK(t, "create", err)
	if tn == 0 || a.Mode != store.TypeReg|0o640 || a.Nlink != 1 || a.LayoutGen != 1 || a.Version != tn {
		t.Fatalf("created %+v transno %d", a, tn)
	}
	if e.m.LastCommitted() < tn {
		t.Fatalf("returned before commit: %d < %d", e.m.LastCommitted(), tn)
	}
	after := e.attr(wire.RootFID)
	if after.Mtime <= before.Mtime || after.Ctime <= before.Ctime || after.Nlink != 2 {
		t.Fatalf("parent times not updated: %+v -> %+v", before, after)
	}
	got, err := e.m.Lookup(ctx, alice, wire.RootFID, "file")
	if err != nil || got.FID != a.FID || got.Mtime != a.Mtime {
		t.Fatalf("lookup %+v, %v", got, err)
	}
	lov, err := e.m.GetXattr(ctx, alice, a.FID, XattrLOV)
	if err != nil || string(lov) != "LOV" {
		t.Fatalf("layout %q, %v", lov, err)
	}
	if dot, err := e.m.Lookup(ctx, alice, wire.RootFID, "."); err != nil || dot.FID != wire.RootFID {
		t.Fatalf("lookup .: %v %v", dot.FID, err)
	}
	if dd, err := e.m.Lookup(ctx, alice, wire.RootFID, ".."); err != nil || dd.FID != wire.RootFID {
		t.Fatalf("lookup .. of root: %v %v", dd.FID, err)
	}

	_, _, err = e.m.Create(ctx, root, wire.RootFID, "file", CreateArgs{})
	wantErrno(t, "create existing", err, syscall.EEXIST)
	_, _, err = e.m.Create(ctx, root, wire.FID{Seq: wire.SeqNormalStart, Oid: 999}, "x", CreateArgs{})
	wantErrno(t, "create in missing dir", err, syscall.ENOENT)
	_, _, err = e.m.Create(ctx, root, a.FID, "x", CreateArgs{})
	wantErrno(t, "create in a file", err, syscall.ENOTDIR)
	for _, bad := range []string{"", ".", "..", "a/b", "nul\x00"} {
		_, _, err = e.m.Create(ctx, root, wire.RootFID, bad, CreateArgs{})
		wantErrno(t, fmt.Sprintf("create %q", bad), err, syscall.EINVAL)
	}
	_, _, err = e.m.Create(ctx, root, wire.RootFID, strings.Repeat("n", 256), CreateArgs{})
	wantErrno(t, "create 256-byte name", err, syscall.ENAMETOOLONG)
	e.create(root, wire.RootFID, strings.Repeat("n", 255))

	_, err = e.m.Lookup(ctx, root, wire.RootFID, "nope")
	wantErrno(t, "lookup missing", err, syscall.ENOENT)
	_, err = e.m.Lookup(ctx, root, wire.RootFID, strings.Repeat("n", 256))
	wantErrno(t, "lookup long", err, syscall.ENAMETOOLONG)
	_, err = e.m.Lookup(ctx, root, a.FID, "x")
	wantErrno(t, "lookup in a file", err, syscall.ENOTDIR)
	_, err = e.m.GetAttr(ctx, wire.FID{Seq: wire.SeqNormalStart, Oid: 999})
	wantErrno(t, "getattr missing", err, syscall.ENOENT)

	// Permissions: search needs x, create needs w+x; root bypasses.
	d := e.mkdir(alice, wire.RootFID, "private", 0o700)
	e.create(alice, d.FID, "mine")
	_, err = e.m.Lookup(ctx, bob, d.FID, "mine")
	wantErrno(t, "lookup without x", err, syscall.EACCES)
	_, _, err = e.m.Create(ctx, bob, d.FID, "theirs", CreateArgs{})
	wantErrno(t, "create without w", err, syscall.EACCES)
	_, _, err = e.m.Create(ctx, bob, wire.RootFID, "x", CreateArgs{})
	wantErrno(t, "create in root-owned 0755", err, syscall.EACCES)
	// An existing name is EEXIST before the w check, as Linux has it.
	shared := e.mkdir(alice, wire.RootFID, "shared", 0o755)
	e.create(alice, shared.FID, "there")
	_, _, err = e.m.Create(ctx, bob, shared.FID, "there", CreateArgs{})
	wantErrno(t, "create of an existing name without w", err, syscall.EEXIST)
	_, _, err = e.m.Mkdir(ctx, bob, shared.FID, "there", CreateArgs{})
	wantErrno(t, "mkdir of an existing name without w", err, syscall.EEXIST)
	_, _, err = e.m.Create(ctx, bob, d.FID, "mine", CreateArgs{})
	wantErrno(t, "create of an existing name without x", err, syscall.EACCES)
	if _, err := e.m.Lookup(ctx, root, d.FID, "mine"); err != nil {
		t.Fatalf("root lookup: %v", err)
	}
	m := e.create(alice, d.FID, "owned")
	if m.UID != alice.UID || m.GID != alice.GID {
		t.Fatalf("owner %d:%d", m.UID, m.GID)
	}
}

func TestCreateWithClientFID(t *testing.T) {
	e := newEnv(t)
	f := wire.FID{Seq: wire.SeqNormalStart + 5, Oid: 1}
	a, _, err := e.m.Create(ctx, root, wire.RootFID, "a", CreateArgs{FID: f})
	if err != nil || a.FID != f {
		t.Fatalf("create with FID: %v, %v", a.FID, err)
	}
	_, _, err = e.m.Create(ctx, root, wire.RootFID, "b", CreateArgs{FID: f})
	wantErrno(t, "FID in use", err, syscall.EEXIST)
	_, _, err = e.m.Create(ctx, root, wire.RootFID, "c", CreateArgs{FID: wire.FID{Seq: 0x200000003, Oid: 1}})
	wantErrno(t, "reserved sequence", err, syscall.EINVAL)
}

func TestMkdirMknodSymlink(t *testing.T) {
	e := newEnv(t)
	mustOK(t, "set default layout", func() error {
		_, err := e.m.SetXattr(ctx, root, wire.RootFID, XattrDefaultLOV, []byte("DEF"), 0)
		return err
	}())
	d := e.mkdir(alice, wire.RootFID, "d", 0o2777|0o170000)
	if d.Mode != store.TypeDir|0o2777 || d.Nlink != 2 || d.Size != DirSize {
		t.Fatalf("mkdir %+v", d)
	}
	if e.attr(wire.RootFID).Nlink != 3 {
		t.Fatal("parent nlink not bumped")
	}
	// The root default is the file system default: inherited at runtime,
	// never copied; a non-root directory's default is copied.
	_, err := e.m.GetXattr(ctx, alice, d.FID, XattrDefaultLOV)
	wantErrno(t, "root default copied to a subdirectory", err, syscall.ENODATA)
	mustOK(t, "set default of d", func() error {
		_, err := e.m.SetXattr(ctx, alice, d.FID, XattrDefaultLOV, []byte("DDEF"), 0)
		return err
	}())
	if dd, _ := e.m.Lookup(ctx, alice, d.FID, ".."); dd.FID != wire.RootFID {
		t.Fatalf(".. of d = %v", dd.FID)
	}
	// setgid directory: new entries take its group, subdirectories its bit.
	sub, _, err := e.m.Mkdir(ctx, bob, d.FID, "sub", CreateArgs{Mode: 0o777})
	mustOK(t, "mkdir in setgid dir", err)
	if v, err := e.m.GetXattr(ctx, alice, sub.FID, XattrDefaultLOV); err != nil || string(v) != "DDEF" {
		t.Fatalf("default layout of d not copied: %q %v", v, err)
	}
	if sub.GID != alice.GID || sub.Mode&modeSetGID == 0 {
		t.Fatalf("subdir of setgid dir %+v", sub)
	}
	f, _, err := e.m.Create(ctx, bob, d.FID, "f", CreateArgs{Mode: 0o2755})
	mustOK(t, "create in setgid dir", err)
	if f.GID != alice.GID || f.Mode&modeSetGID != 0 {
		t.Fatalf("file in setgid dir by non-member: %+v", f)
	}

	fifo, _, err := e.m.Mknod(ctx, bob, d.FID, "fifo", CreateArgs{Mode: store.TypeFIFO | 0o600})
	if err != nil || fifo.Type() != store.TypeFIFO {
		t.Fatalf("mknod fifo: %+v %v", fifo, err)
	}
	_, _, err = e.m.Mknod(ctx, bob, d.FID, "sock", CreateArgs{Mode: store.TypeSock | 0o600})
	mustOK(t, "mknod socket", err)
	_, _, err = e.m.Mknod(ctx, bob, d.FID, "chr", CreateArgs{Mode: store.TypeChar | 0o600, Rdev: 0x0103})
	wantErrno(t, "mknod device as user", err, syscall.EPERM)
	chr, _, err := e.m.Mknod(ctx, root, d.FID, "chr", CreateArgs{Mode: store.TypeChar | 0o600, Rdev: 0x0103})
	if err != nil || chr.Rdev != 0x0103 || chr.Type() != store.TypeChar {
		t.Fatalf("mknod chr: %+v %v", chr, err)
	}
	_, _, err = e.m.Mknod(ctx, root, d.FID, "blk", CreateArgs{Mode: store.TypeBlock | 0o600, Rdev: 0x0801})
	mustOK(t, "mknod blk", err)
	_, _, err = e.m.Mknod(ctx, root, d.FID, "dir", CreateArgs{Mode: store.TypeDir | 0o600})
	wantErrno(t, "mknod of a directory", err, syscall.EINVAL)

	ln, _, err := e.m.Symlink(ctx, alice, d.FID, "ln", "../target", CreateArgs{})
	if err != nil || ln.Mode != store.TypeLink|0o777 || ln.Size != 9 {
		t.Fatalf("symlink %+v %v", ln, err)
	}
	if tg, err := e.m.Readlink(ctx, ln.FID); err != nil || tg != "../target" {
		t.Fatalf("readlink %q %v", tg, err)
	}
	_, err = e.m.Readlink(ctx, fifo.FID)
	wantErrno(t, "readlink of a fifo", err, syscall.EINVAL)
	_, _, err = e.m.Symlink(ctx, alice, d.FID, "empty", "", CreateArgs{})
	wantErrno(t, "empty symlink", err, syscall.ENOENT)
	_, _, err = e.m.Symlink(ctx, alice, d.FID, "long", strings.Repeat("x", 4096), CreateArgs{})
	wantErrno(t, "long symlink", err, syscall.ENAMETOOLONG)
	_, _, err = e.m.Symlink(ctx, alice, d.FID, "ln", "x", CreateArgs{})
	wantErrno(t, "symlink over existing", err, syscall.EEXIST)
}

func TestLinkUnlinkRmdir(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, wire.RootFID, "d", 0o755)
	f, _, err := e.m.Create(ctx, alice, d.FID, "f", CreateArgs{Mode: 0o644, Layout: []byte("objects")})
	mustOK(t, "create", err)
	l, tn, err := e.m.Link(ctx, alice, f.FID, wire.RootFID, "hard")
	wantErrno(t, "link into root as alice", err, syscall.EACCES)
	l, tn, err = e.m.Link(ctx, alice, f.FID, d.FID, "hard")
	if err != nil || l.Nlink != 2 || tn == 0 {
		t.Fatalf("link %+v %d %v", l, tn, err)
	}
	_, _, err = e.m.Link(ctx, alice, f.FID, d.FID, "hard")
	wantErrno(t, "link to existing name", err, syscall.EEXIST)
	_, _, err = e.m.Link(ctx, root, d.FID, wire.RootFID, "dirlink")
	wantErrno(t, "link to a directory", err, syscall.EPERM)
	_, _, err = e.m.Link(ctx, root, f.FID, f.FID, "x")
	wantErrno(t, "link into a file", err, syscall.ENOTDIR)
	_, _, err = e.m.Link(ctx, root, wire.FID{Seq: wire.SeqNormalStart, Oid: 999}, d.FID, "x")
	wantErrno(t, "link of missing", err, syscall.ENOENT)

	r, _, err := e.m.Unlink(ctx, alice, d.FID, "f")
	if err != nil || r.Destroyed || r.Orphan || r.Attr.Nlink != 1 {
		t.Fatalf("unlink of one of two names: %+v %v", r, err)
	}
	r, _, err = e.m.Unlink(ctx, alice, d.FID, "hard")
	if err != nil || !r.Destroyed || !bytes.Equal(r.Layout, []byte("objects")) || r.Attr.Nlink != 0 {
		t.Fatalf("last unlink: %+v %v", r, err)
	}
	_, err = e.m.GetAttr(ctx, f.FID)
	wantErrno(t, "getattr destroyed", err, syscall.ENOENT)
	_, _, err = e.m.Link(ctx, alice, f.FID, d.FID, "again")
	wantErrno(t, "link destroyed", err, syscall.ENOENT)
	_, _, err = e.m.Unlink(ctx, alice, d.FID, "hard")
	wantErrno(t, "unlink missing", err, syscall.ENOENT)
	_, _, err = e.m.Unlink(ctx, root, wire.RootFID, "d")
	wantErrno(t, "unlink a directory", err, syscall.EISDIR)
	_, _, err = e.m.Unlink(ctx, root, wire.RootFID, "..")
	wantErrno(t, "unlink ..", err, syscall.EINVAL)

	sub := e.mkdir(alice, d.FID, "sub", 0o755)
	e.create(alice, sub.FID, "inside")
	_, _, err = e.m.Rmdir(ctx, alice, d.FID, "sub")
	wantErrno(t, "rmdir non-empty", err, syscall.ENOTEMPTY)
	_, _, err = e.m.Rmdir(ctx, alice, sub.FID, "inside")
	wantErrno(t, "rmdir a file", err, syscall.ENOTDIR)
	_, _, err = e.m.Rmdir(ctx, alice, sub.FID, "nope")
	wantErrno(t, "rmdir missing", err, syscall.ENOENT)
	_, _, err = e.m.Unlink(ctx, alice, sub.FID, "inside")
	mustOK(t, "unlink inside", err)
	if e.attr(d.FID).Nlink != 3 {
		t.Fatalf("nlink with a subdir %d", e.attr(d.FID).Nlink)
	}
	r, _, err = e.m.Rmdir(ctx, bob, d.FID, "sub")
	wantErrno(t, "rmdir without write permission", err, syscall.EACCES)
	r, _, err = e.m.Rmdir(ctx, alice, d.FID, "sub")
	if err != nil || !r.Destroyed {
		t.Fatalf("rmdir: %+v %v", r, err)
	}
	if e.attr(d.FID).Nlink != 2 {
		t.Fatalf("nlink after rmdir %d", e.attr(d.FID).Nlink)
	}
	_, _, err = e.m.Create(ctx, alice, sub.FID, "x", CreateArgs{})
	wantErrno(t, "create in removed dir", err, syscall.ENOENT)
}

func TestStickyDirectory(t *testing.T) {
	e := newEnv(t)
	tmp := e.mkdir(root, wire.RootFID, "tmp", 0o1777)
	e.create(alice, tmp.FID, "a")
	e.create(bob, tmp.FID, "b")
	_, _, err := e.m.Unlink(ctx, bob, tmp.FID, "a")
	wantErrno(t, "unlink another's file in sticky dir", err, syscall.EPERM)
	_, _, err = e.m.Rename(ctx, bob, tmp.FID, "a", tmp.FID, "stolen", 0)
	wantErrno(t, "rename another's file in sticky dir", err, syscall.EPERM)
	_, _, err = e.m.Rename(ctx, bob, tmp.FID, "b", tmp.FID, "a", 0)
	wantErrno(t, "rename over another's file in sticky dir", err, syscall.EPERM)
	_, _, err = e.m.Unlink(ctx, bob, tmp.FID, "b")
	mustOK(t, "unlink own file in sticky dir", err)
	_, _, err = e.m.Unlink(ctx, root, tmp.FID, "a")
	mustOK(t, "root unlinks in sticky dir", err)
	own := e.mkdir(alice, wire.RootFID, "own", 0o1777)
	e.create(bob, own.FID, "b")
	_, _, err = e.m.Unlink(ctx, alice, own.FID, "b")
	mustOK(t, "directory owner unlinks in sticky dir", err)
}

func TestOpenPermissions(t *testing.T) {
	e := newEnv(t)
	f, _, err := e.m.Create(ctx, alice, wire.RootFID, "f", CreateArgs{Mode: 0o644})
	wantErrno(t, "alice creates in root", err, syscall.EACCES)
	f, _, err = e.m.Create(ctx, root, wire.RootFID, "f", CreateArgs{Mode: 0o644})
	mustOK(t, "create", err)
	_, err = e.m.Open(ctx, alice, f.FID, os.O_RDONLY)
	mustOK(t, "open for reading", err)
	_, err = e.m.Open(ctx, alice, f.FID, os.O_WRONLY)
	wantErrno(t, "open for writing without permission", err, syscall.EACCES)
	_, err = e.m.Open(ctx, alice, f.FID, os.O_RDONLY|os.O_TRUNC)
	wantErrno(t, "open O_TRUNC without permission", err, syscall.EACCES)
	_, err = e.m.Open(ctx, root, wire.RootFID, os.O_RDWR)
	wantErrno(t, "open a directory for writing", err, syscall.EISDIR)
	_, err = e.m.Open(ctx, root, wire.FID{Seq: wire.SeqNormalStart, Oid: 999}, os.O_RDONLY)
	wantErrno(t, "open missing", err, syscall.ENOENT)
	if n := e.m.OpenCount(f.FID); n != 1 {
		t.Fatalf("open count %d", n)
	}
	// A file created with mode 0 is opened by its creating open.
	z, _, err := e.m.Create(ctx, root, wire.RootFID, "zero", CreateArgs{Mode: 0, Open: true})
	mustOK(t, "create+open", err)
	if e.m.OpenCount(z.FID) != 1 {
		t.Fatal("create with Open did not open")
	}
	for _, fid := range []wire.FID{f.FID, z.FID} {
		if _, _, err := e.m.Close(ctx, fid); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = e.m.Close(ctx, f.FID)
	wantErrno(t, "close of a closed file", err, syscall.EBADF)
}

func TestConcurrentCreatesInOneDirectory(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(root, wire.RootFID, "shared", 0o777)
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each+workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Creds{UID: uint32(2000 + w), GID: 100}
			for i := range each {
				var err error
				if i%5 == 0 {
					_, _, err = e.m.Mkdir(ctx, c, d.FID, fmt.Sprintf("dir-%d-%d", w, i), CreateArgs{Mode: 0o755})
				} else {
					_, _, err = e.m.Create(ctx, c, d.FID, fmt.Sprintf("file-%d-%d", w, i), CreateArgs{Mode: 0o644})
				}
				if err != nil {
					errs <- err
				}
			}
			// Every worker races for one name: exactly one wins.
			_, _, err := e.m.Create(ctx, c, d.FID, "contended", CreateArgs{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, syscall.EEXIST):
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creators of one name succeeded", wins)
	}
	ents, eof, err := e.m.Readdir(ctx, root, d.FID, 0, 1000)
	if err != nil || !eof || len(ents) != 2+workers*each+1 {
		t.Fatalf("readdir: %d entries, eof %v, %v", len(ents), eof, err)
	}
	if n := e.attr(d.FID).Nlink; n != 2+workers*each/5 {
		t.Fatalf("nlink %d", n)
	}
}

func TestFIDsNeverReusedAcrossRestart(t *testing.T) {
	e := newEnv(t)
	seen := map[wire.FID]bool{}
	var last wire.FID
	for round := range 3 {
		for i := range 5 {
			a := e.create(root, wire.RootFID, fmt.Sprintf("r%d-%d", round, i))
			if seen[a.FID] || a.FID.Seq != wire.SeqNormalStart || a.FID.Oid <= last.Oid {
				t.Fatalf("FID %v after %v (seen %v)", a.FID, last, seen[a.FID])
			}
			seen[a.FID], last = true, a.FID
			if i == 4 {
				_, _, err := e.m.Unlink(ctx, root, wire.RootFID, fmt.Sprintf("r%d-%d", round, i))
				mustOK(t, "unlink", err)
			}
		}
		e.restart()
	}
}

func TestStatFS(t *testing.T) {
	e := newEnv(t)
	s1, err := e.m.StatFS(ctx)
	mustOK(t, "statfs", err)
	e.create(root, wire.RootFID, "f")
	s2, err := e.m.StatFS(ctx)
	mustOK(t, "statfs", err)
	if s1.Files-s1.Ffree != 1 || s2.Files-s2.Ffree != 2 || s2.NameLen != 255 || s2.Blocks == 0 || s2.BlockSize == 0 {
		t.Fatalf("statfs %+v then %+v", s1, s2)
	}
}

func TestPaths(t *testing.T) {
	e := newEnv(t)
	a := e.mkdir(root, wire.RootFID, "a", 0o755)
	b := e.mkdir(root, a.FID, "b", 0o755)
	f := e.create(root, b.FID, "f")
	_, _, err := e.m.Link(ctx, root, f.FID, wire.RootFID, "top")
	mustOK(t, "link", err)
	ps, err := e.m.Paths(ctx, f.FID)
	mustOK(t, "paths", err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	if strings.Join(got, " ") != "/top /a/b/f" && strings.Join(got, " ") != "/a/b/f /top" {
		t.Fatalf("paths %v", got)
	}
	if ps, err := e.m.Paths(ctx, wire.RootFID); err != nil || ps[0].Path != "/" {
		t.Fatalf("root path %v %v", ps, err)
	}
	_, _, err = e.m.Rename(ctx, root, a.FID, "b", wire.RootFID, "c", 0)
	mustOK(t, "rename", err)
	if ps, _ := e.m.Paths(ctx, b.FID); len(ps) != 1 || ps[0].Path != "/c" {
		t.Fatalf("path after rename %v", ps)
	}
	_, err = e.m.Open(ctx, root, f.FID, os.O_RDONLY)
	mustOK(t, "open", err)
	for _, n := range []struct {
		p wire.FID
		n string
	}{{wire.RootFID, "top"}, {b.FID, "f"}} {
		_, _, err := e.m.Unlink(ctx, root, n.p, n.n)
		mustOK(t, "unlink", err)
	}
	_, err = e.m.Paths(ctx, f.FID)
	wantErrno(t, "path of an orphan", err, syscall.ENOENT)
	_, _, err = e.m.Close(ctx, f.FID)
	mustOK(t, "close", err)
}
