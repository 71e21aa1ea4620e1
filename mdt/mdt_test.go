package mdt

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

func TestFormatAndStartRefusals(t *testing.T) {
	checkLeaks(t)
	dir := filepath.Join(t.TempDir(), "mdt")
	opts := FormatOptions{FSName: "testfs", MGSNodes: [][]lnet.NID{{lnet.MustParseNID("10.0.0.1@tcp")}},
		ServiceNodes: [][]lnet.NID{{lnet.LoNID(1)}}, Params: []string{"lov.stripesize=2M", "sys.timeout=40"}, NoSync: true}
	l, err := Format(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Label{FSName: "testfs", UUID: "testfs-MDT0000_UUID", MGSNodes: opts.MGSNodes,
		ServiceNodes: opts.ServiceNodes, Params: opts.Params}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("label %+v", l)
	}
	if _, err := Format(dir, opts); !errors.Is(err, ErrFormatted) || !errors.Is(err, store.ErrFormatted) {
		t.Fatalf("format twice: %v", err)
	}
	opts.Reformat = true
	if _, err := Format(dir, opts); err != nil {
		t.Fatalf("reformat: %v", err)
	}
	for _, bad := range []FormatOptions{
		{FSName: "much-too-long"},
		{FSName: "fs", Params: []string{"novalue"}},
		{FSName: "fs", Params: []string{"lov.stripesize=3k"}},
		{FSName: "fs", Params: []string{"lov.stripecount=x"}},
		{FSName: "fs", MGSNodes: [][]lnet.NID{{}}},
	} {
		if _, err := Format(filepath.Join(t.TempDir(), "x"), bad); !errors.Is(err, ErrConfig) {
			t.Errorf("format %+v: %v, want ErrConfig", bad, err)
		}
	}
	e := &env{t: t, mgc: &fakeMGC{}}
	e.mdsLN = node(t, lolndFabric(), "lo(1)")
	cfg := Config{Dir: filepath.Join(t.TempDir(), "none"), LNet: e.mdsLN, MGC: e.mgc}
	if _, err := Start(ctx, cfg); !errors.Is(err, ErrNotFormatted) || !errors.Is(err, store.ErrNotFormatted) {
		t.Fatalf("start of an empty directory: %v", err)
	}
	cfg.Dir, cfg.FSName = dir, "other"
	if _, err := Start(ctx, cfg); !errors.Is(err, ErrWrongFS) {
		t.Fatalf("start as another fs: %v", err)
	}
	if _, err := Start(ctx, Config{Dir: dir}); !errors.Is(err, ErrConfig) {
		t.Fatalf("start without LNet: %v", err)
	}
}

func TestRegistersWithMGS(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1, withParams("sys.timeout=40"))
	<-e.srv.Registered()
	e.mgc.mu.Lock()
	defer e.mgc.mu.Unlock()
	if len(e.mgc.regs) != 1 {
		t.Fatalf("registrations %+v", e.mgc.regs)
	}
	r := e.mgc.regs[0]
	if r.Kind != wire.KindMDT || r.FSName != "testfs" || r.Index != 0 || r.UUID != "testfs-MDT0000_UUID" ||
		len(r.Nodes) != 1 || r.Nodes[0].NIDs[0] != lnet.LoNID(1) || !reflect.DeepEqual(r.Params, []string{"sys.timeout=40"}) {
		t.Fatalf("registration %+v", r)
	}
}

func TestGetRootGetattrLookup(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	var root wire.GetRootReply
	_, err := e.call(rootCreds, wire.MDSGetRoot, &wire.Empty{}, &root)
	if err != nil || root.Root != wire.RootFID {
		t.Fatalf("get root: %v %v", root.Root, err)
	}
	var ga wire.InodeReply
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: wire.RootFID}, &ga)
	if err != nil || ga.FID != wire.RootFID || ga.Attr.Mode != syscall.S_IFDIR|0o755 || ga.Attr.Nlink != 2 || len(ga.Layout) != 0 {
		t.Fatalf("getattr root: %+v %v", ga, err)
	}
	_, err = e.call(rootCreds, wire.MDSGetattr, &wire.FIDRequest{FID: wire.FID{Seq: wire.SeqNormalStart, Oid: 999}}, nil)
	wantErrno(t, "getattr of a missing FID", err, syscall.ENOENT)
	f, err := e.create(wire.RootFID, "file", nil)
	mustOK(t, "create", err)
	got, err := e.lookup(wire.RootFID, "file")
	if err != nil || got.FID != f.FID || got.Attr.Mode != syscall.S_IFREG|0o644 || len(got.Layout) == 0 {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	_, err = e.lookup(wire.RootFID, "nothing")
	wantErrno(t, "lookup of a missing name", err, syscall.ENOENT)
	_, err = e.lookup(f.FID, "x")
	wantErrno(t, "lookup in a file", err, syscall.ENOTDIR)
	d := e.mkdir(wire.RootFID, "private", nil)
	_, err = e.reint(rootCreds, wire.ReintSetattr, &wire.SetattrRequest{FID: d, Attr: wire.Attr{Valid: wire.AttrMode, Mode: 0o700}}, nil)
	mustOK(t, "chmod 700", err)
	_, err = e.call(aliceCreds, wire.MDSGetattrName, &wire.GetattrNameRequest{Parent: d, Name: "x"}, nil)
	wantErrno(t, "lookup in a directory alice may not search", err, syscall.EACCES)
	// A body that does not decode is EPROTO, and the server goes on.
	_, err = e.send(rootCreds, reqRaw(wire.MDSGetattr, []byte{1, 2}), nil)
	wantErrno(t, "garbage body", err, syscall.EPROTO)
	if e.srv.Stat("getattr") < 4 {
		t.Fatalf("md_stats getattr %d", e.srv.Stat("getattr"))
	}
}

func TestStatfsSyncFid2path(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	var st wire.StatFS
	_, err := e.call(rootCreds, wire.MDSStatfs, &wire.Empty{}, &st)
	if err != nil || st.Files == 0 || st.FFree == 0 || st.Files-st.FFree != 1 || st.BSize == 0 || st.NameLen != 255 {
		t.Fatalf("statfs %+v %v", st, err)
	}
	_, err = e.call(rootCreds, wire.MDSSync, &wire.FIDRequest{}, nil)
	mustOK(t, "sync", err)
	_, err = e.call(rootCreds, wire.MDSSync, &wire.FIDRequest{FID: wire.FID{Seq: wire.SeqNormalStart, Oid: 77}}, nil)
	wantErrno(t, "sync of a missing FID", err, syscall.ENOENT)

	a := e.mkdir(wire.RootFID, "a", nil)
	b := e.mkdir(a, "b", nil)
	f, err := e.create(b, "f", nil)
	mustOK(t, "create", err)
	_, err = e.reint(rootCreds, wire.ReintLink, &wire.LinkRequest{FID: f.FID, Parent: a, Name: "hard"}, nil)
	mustOK(t, "link", err)
	var paths []string
	link := uint32(0)
	for {
		var r wire.Fid2pathReply
		_, err := e.call(rootCreds, wire.MDSGetInfo, &wire.Fid2pathRequest{FID: f.FID, LinkNo: link}, &r)
		mustOK(t, "fid2path", err)
		paths = append(paths, r.Path)
		if r.NextLinkNo == link {
			break
		}
		link = r.NextLinkNo
	}
	if strings.Join(paths, " ") != "a/b/f a/hard" && strings.Join(paths, " ") != "a/hard a/b/f" {
		t.Fatalf("paths %q", paths)
	}
	var r wire.Fid2pathReply
	_, err = e.call(rootCreds, wire.MDSGetInfo, &wire.Fid2pathRequest{FID: wire.RootFID}, &r)
	if err != nil || r.Path != "" || r.NextLinkNo != 0 {
		t.Fatalf("fid2path of the root: %+v %v", r, err)
	}
	_, err = e.call(rootCreds, wire.MDSGetInfo, &wire.Fid2pathRequest{FID: f.FID, LinkNo: 5}, nil)
	wantErrno(t, "fid2path of a link that does not exist", err, syscall.ENOENT)
}

func TestSetattrLinkRenameRmdir(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 1)
	f, err := e.create(wire.RootFID, "f", nil)
	mustOK(t, "create", err)
	var rep wire.InodeReply
	tn, err := e.reint(rootCreds, wire.ReintSetattr, &wire.SetattrRequest{FID: f.FID,
		Attr: wire.Attr{Valid: wire.AttrMode | wire.AttrUID | wire.AttrMtime, Mode: 0o600, UID: 1000, Mtime: 12345}}, &rep)
	if err != nil || tn == 0 || rep.Attr.Mode != syscall.S_IFREG|0o600 || rep.Attr.UID != 1000 || rep.Attr.Mtime != 12345 {
		t.Fatalf("setattr: %+v transno %d %v", rep.Attr, tn, err)
	}
	_, err = e.reint(aliceCreds, wire.ReintSetattr, &wire.SetattrRequest{FID: f.FID,
		Attr: wire.Attr{Valid: wire.AttrUID, UID: 0}}, nil)
	wantErrno(t, "chown by a user", err, syscall.EPERM)

	tn2, err := e.reint(rootCreds, wire.ReintLink, &wire.LinkRequest{FID: f.FID, Parent: wire.RootFID, Name: "g"}, &rep)
	if err != nil || tn2 <= tn || rep.Attr.Nlink != 2 {
		t.Fatalf("link: nlink %d transno %d %v", rep.Attr.Nlink, tn2, err)
	}
	_, err = e.reint(rootCreds, wire.ReintLink, &wire.LinkRequest{FID: f.FID, Parent: wire.RootFID, Name: "g"}, nil)
	wantErrno(t, "link over a name", err, syscall.EEXIST)

	d := e.mkdir(wire.RootFID, "d", nil)
	_, err = e.reint(rootCreds, wire.ReintRename, &wire.RenameRequest{SrcParent: wire.RootFID, SrcName: "g",
		DstParent: d, DstName: "h"}, nil)
	mustOK(t, "rename", err)
	if got, err := e.lookup(d, "h"); err != nil || got.FID != f.FID {
		t.Fatalf("renamed name: %v %v", got, err)
	}
	_, err = e.reint(rootCreds, wire.ReintRename, &wire.RenameRequest{SrcParent: wire.RootFID, SrcName: "f",
		DstParent: d, DstName: "h", Flags: wire.RenameNoReplace}, nil)
	wantErrno(t, "rename noreplace", err, syscall.EEXIST)
	_, err = e.reint(rootCreds, wire.ReintUnlink, &wire.UnlinkRequest{Parent: wire.RootFID, Name: "d", Dir: true}, nil)
	wantErrno(t, "rmdir of a non-empty directory", err, syscall.ENOTEMPTY)
	_, err = e.reint(rootCreds, wire.ReintUnlink, &wire.UnlinkRequest{Parent: wire.RootFID, Name: "d"}, nil)
	wantErrno(t, "unlink of a directory", err, syscall.EISDIR)
	e.unlink(d, "h")
	_, err = e.reint(rootCreds, wire.ReintUnlink, &wire.UnlinkRequest{Parent: wire.RootFID, Name: "d", Dir: true}, nil)
	mustOK(t, "rmdir", err)
	_, err = e.reint(rootCreds, wire.ReintUnlink, &wire.UnlinkRequest{Parent: wire.RootFID, Name: "d", Dir: true}, nil)
	wantErrno(t, "rmdir twice", err, syscall.ENOENT)

	// Symlinks and special files.
	_, err = e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: wire.RootFID, Name: "ln",
		Mode: syscall.S_IFLNK | 0o777, Target: "f", MDTIndex: -1}, &rep)
	if err != nil || rep.Attr.Mode&syscall.S_IFMT != syscall.S_IFLNK || rep.Attr.Size != 1 {
		t.Fatalf("symlink %+v %v", rep.Attr, err)
	}
	_, err = e.reint(aliceCreds, wire.ReintCreate, &wire.CreateRequest{Parent: wire.RootFID, Name: "fifo",
		Mode: syscall.S_IFIFO | 0o644, MDTIndex: -1}, nil)
	wantErrno(t, "mknod by alice in root's directory", err, syscall.EACCES)
	_, err = e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: wire.RootFID, Name: "dir1",
		Mode: syscall.S_IFDIR | 0o755, MDTIndex: 1}, nil)
	wantErrno(t, "mkdir on an MDT that does not exist", err, syscall.EINVAL)
	_, err = e.send(rootCreds, reqRaw(wire.MDSReint, []byte{99, 0, 0, 0}), nil)
	wantErrno(t, "unknown reint op", err, syscall.EPROTO)
}

func TestRestartKeepsEverything(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	d := e.mkdir(wire.RootFID, "d", tmpl(t, 2, 0, -1))
	f, err := e.create(d, "f", nil)
	mustOK(t, "create", err)
	_, err = e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: f.FID, Name: "user.k", Value: []byte("v")}, nil)
	mustOK(t, "setxattr", err)
	last := e.srv.store.LastCommitted()
	e.restart()
	got, err := e.lookup(d, "f")
	if err != nil || got.FID != f.FID || !reflect.DeepEqual(got.Layout, f.Layout) {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	var x wire.GetxattrReply
	_, err = e.call(rootCreds, wire.MDSGetxattr, &wire.GetxattrRequest{FID: f.FID, Name: "user.k", Size: 10}, &x)
	if err != nil || string(x.Value) != "v" {
		t.Fatalf("xattr after restart: %q %v", x.Value, err)
	}
	if err := e.srv.WaitOSTs(ctxTimeout(t), 2); err != nil {
		t.Fatal(err)
	}
	g, err := e.create(d, "g", nil)
	mustOK(t, "create after restart", err)
	if n := len(objects(decode(t, g.Layout))); n != 2 {
		t.Fatalf("directory default lost: %d stripes", n)
	}
	tn, err := e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: g.FID, Name: "user.k", Value: []byte("w")}, nil)
	if err != nil || tn <= last {
		t.Fatalf("transno after restart %d, before %d: %v", tn, last, err)
	}
}
