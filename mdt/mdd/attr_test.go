package mdd

import (
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

func TestSetAttr(t *testing.T) {
	e := newEnv(t)
	home := e.mkdir(root, wire.RootFID, "home", 0o777)
	f, _, err := e.m.Create(ctx, alice, home.FID, "f", CreateArgs{Mode: 0o6755})
	mustOK(t, "create", err)
	set := func(c Creds, a SetAttrArgs) (Attr, error) {
		at, _, err := e.m.SetAttr(ctx, c, f.FID, a)
		return at, err
	}

	_, err = set(bob, SetAttrArgs{Valid: SetMode, Mode: 0o777})
	wantErrno(t, "chmod by non-owner", err, syscall.EPERM)
	before := e.attr(f.FID)
	a, err := set(alice, SetAttrArgs{Valid: SetMode, Mode: 0o2750 | store.TypeDir})
	mustOK(t, "chmod by owner", err)
	if a.Mode != store.TypeReg|0o2750 || a.Ctime <= before.Ctime || a.Mtime != before.Mtime {
		t.Fatalf("chmod: %+v (before %+v)", a, before)
	}
	// A caller outside the file's group loses setgid on chmod.
	_, err = set(root, SetAttrArgs{Valid: SetGID, GID: 500})
	mustOK(t, "chgrp by root", err)
	a, err = set(alice, SetAttrArgs{Valid: SetMode, Mode: 0o2755})
	if err != nil || a.Mode&modeSetGID != 0 {
		t.Fatalf("chmod g+s outside the group: %#o %v", a.Mode, err)
	}

	_, err = set(alice, SetAttrArgs{Valid: SetUID, UID: bob.UID})
	wantErrno(t, "chown by non-root", err, syscall.EPERM)
	_, err = set(alice, SetAttrArgs{Valid: SetUID, UID: alice.UID})
	mustOK(t, "chown to oneself", err)
	_, err = set(alice, SetAttrArgs{Valid: SetGID, GID: 4242})
	wantErrno(t, "chgrp to a foreign group", err, syscall.EPERM)
	member := Creds{UID: alice.UID, GID: alice.GID, Groups: []uint32{4242}}
	_, err = set(member, SetAttrArgs{Valid: SetGID, GID: 4242})
	mustOK(t, "chgrp to a member group", err)
	_, err = set(root, SetAttrArgs{Valid: SetMode, Mode: 0o6755})
	mustOK(t, "chmod by root", err)
	a, err = set(root, SetAttrArgs{Valid: SetUID | SetGID, UID: bob.UID, GID: bob.GID})
	if err != nil || a.UID != bob.UID || a.GID != bob.GID || a.Mode&(modeSetUID|modeSetGID) != 0 {
		t.Fatalf("chown kills suid/sgid: %+v %v", a, err)
	}

	// Size: regular files only; write permission unless through an open fd.
	_, err = set(alice, SetAttrArgs{Valid: SetSize, Size: 10})
	wantErrno(t, "truncate without write permission", err, syscall.EACCES)
	before = e.attr(f.FID)
	a, err = set(alice, SetAttrArgs{Valid: SetSize | SetFromOpen, Size: 10})
	if err != nil || a.Size != 10 || a.Mtime <= before.Mtime || a.Ctime <= before.Ctime {
		t.Fatalf("ftruncate: %+v %v", a, err)
	}
	a, err = set(bob, SetAttrArgs{Valid: SetSize | SetBlocks, Size: 1 << 20, Blocks: 2048})
	if err != nil || a.Size != 1<<20 || a.Blocks != 2048 {
		t.Fatalf("truncate by owner: %+v %v", a, err)
	}
	_, _, err = e.m.SetAttr(ctx, root, home.FID, SetAttrArgs{Valid: SetSize})
	wantErrno(t, "truncate a directory", err, syscall.EISDIR)
	ln, _, err := e.m.Symlink(ctx, root, home.FID, "ln", "x", CreateArgs{})
	mustOK(t, "symlink", err)
	_, _, err = e.m.SetAttr(ctx, root, ln.FID, SetAttrArgs{Valid: SetSize})
	wantErrno(t, "truncate a symlink", err, syscall.EINVAL)

	// Times.
	_, err = set(alice, SetAttrArgs{Valid: SetMtime, Mtime: 5})
	wantErrno(t, "utimes with times by non-owner", err, syscall.EPERM)
	_, err = set(alice, SetAttrArgs{Valid: SetMtimeNow | SetAtimeNow})
	wantErrno(t, "utimes now without write", err, syscall.EACCES)
	_, err = set(bob, SetAttrArgs{Valid: SetMode, Mode: 0o666})
	mustOK(t, "chmod 666", err)
	before = e.attr(f.FID)
	a, err = set(alice, SetAttrArgs{Valid: SetMtimeNow | SetAtimeNow})
	if err != nil || a.Mtime <= before.Mtime || a.Atime <= before.Atime || a.Ctime != a.Mtime {
		t.Fatalf("utimes now by writer: %+v %v", a, err)
	}
	// The kernel's UTIME_NOW: the time given (its clock, or 0) and "now".
	before = a
	a, err = set(alice, SetAttrArgs{Valid: SetMtime | SetMtimeNow | SetAtime | SetAtimeNow})
	if err != nil || a.Mtime <= before.Mtime || a.Atime <= before.Atime || a.Ctime != a.Mtime {
		t.Fatalf("utimes now with times, by writer: %+v %v", a, err)
	}
	a, err = set(bob, SetAttrArgs{Valid: SetAtime | SetMtime | SetCtime, Atime: 1, Mtime: 2, Ctime: 3})
	if err != nil || a.Atime != 1 || a.Mtime != 2 || a.Ctime != 3 {
		t.Fatalf("explicit times: %+v %v", a, err)
	}
	_, err = set(alice, SetAttrArgs{Valid: SetFlags, Flags: 0x10})
	wantErrno(t, "chattr by non-owner", err, syscall.EPERM)
	a, err = set(bob, SetAttrArgs{Valid: SetFlags, Flags: 0x10})
	if err != nil || a.Flags != 0x10 {
		t.Fatalf("chattr: %+v %v", a, err)
	}
	_, _, err = e.m.SetAttr(ctx, root, wire.FID{Seq: wire.SeqNormalStart, Oid: 999}, SetAttrArgs{Valid: SetMode})
	wantErrno(t, "setattr of missing", err, syscall.ENOENT)
	a, tn, err := e.m.SetAttr(ctx, alice, f.FID, SetAttrArgs{})
	if err != nil || tn != 0 || a.FID != f.FID {
		t.Fatalf("empty setattr: %d %v", tn, err)
	}
}

func TestXattrs(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(root, wire.RootFID, "d", 0o777)
	f, _, err := e.m.Create(ctx, alice, d.FID, "f", CreateArgs{Mode: 0o644})
	mustOK(t, "create", err)

	_, err = e.m.SetXattr(ctx, alice, f.FID, "user.color", []byte("blue"), 0)
	mustOK(t, "set user xattr", err)
	if v, err := e.m.GetXattr(ctx, bob, f.FID, "user.color"); err != nil || string(v) != "blue" {
		t.Fatalf("get: %q %v", v, err)
	}
	_, err = e.m.SetXattr(ctx, bob, f.FID, "user.color", []byte("red"), 0)
	wantErrno(t, "set user xattr without write", err, syscall.EACCES)
	_, err = e.m.SetXattr(ctx, alice, f.FID, "user.color", []byte("red"), XattrCreate)
	wantErrno(t, "XATTR_CREATE of existing", err, syscall.EEXIST)
	_, err = e.m.SetXattr(ctx, alice, f.FID, "user.other", []byte("x"), XattrReplace)
	wantErrno(t, "XATTR_REPLACE of missing", err, syscall.ENODATA)
	_, err = e.m.SetXattr(ctx, alice, f.FID, "user.color", []byte("red"), XattrReplace)
	mustOK(t, "XATTR_REPLACE", err)
	_, err = e.m.GetXattr(ctx, alice, f.FID, "user.none")
	wantErrno(t, "get missing", err, syscall.ENODATA)
	_, err = e.m.RemoveXattr(ctx, alice, f.FID, "user.none")
	wantErrno(t, "remove missing", err, syscall.ENODATA)

	_, err = e.m.SetXattr(ctx, alice, f.FID, "trusted.x", []byte("t"), 0)
	wantErrno(t, "trusted by a user", err, syscall.EPERM)
	_, err = e.m.SetXattr(ctx, root, f.FID, "trusted.x", []byte("t"), 0)
	mustOK(t, "trusted by root", err)
	_, err = e.m.GetXattr(ctx, alice, f.FID, "trusted.x")
	wantErrno(t, "get trusted as a user", err, syscall.EPERM)
	_, err = e.m.SetXattr(ctx, alice, f.FID, "system.posix_acl_access", nil, 0)
	wantErrno(t, "unsupported namespace", err, syscall.EOPNOTSUPP)
	_, err = e.m.SetXattr(ctx, alice, f.FID, "user."+strings.Repeat("n", 251), nil, 0)
	wantErrno(t, "name too long", err, syscall.ERANGE)
	_, err = e.m.SetXattr(ctx, alice, f.FID, "user.big", make([]byte, MaxXattrValue+1), 0)
	wantErrno(t, "value too big", err, syscall.E2BIG)
	_, err = e.m.SetXattr(ctx, alice, f.FID, "user.x", nil, XattrCreate|XattrReplace)
	wantErrno(t, "both flags", err, syscall.EINVAL)

	userList, err := e.m.ListXattr(ctx, alice, f.FID)
	mustOK(t, "list", err)
	rootList, err := e.m.ListXattr(ctx, root, f.FID)
	mustOK(t, "list as root", err)
	if !slices.Equal(userList, []string{"user.color"}) || !slices.Equal(rootList, []string{"trusted.x", "user.color"}) {
		t.Fatalf("lists %v / %v", userList, rootList)
	}

	// The layout xattr: readable by all, set by the owner, bumps the
	// generation; trusted.lov is the same attribute.
	_, err = e.m.SetXattr(ctx, bob, f.FID, XattrLOV, []byte("L1"), 0)
	wantErrno(t, "set layout of another's file", err, syscall.EPERM)
	_, err = e.m.SetXattr(ctx, alice, f.FID, XattrLOV, []byte("L1"), 0)
	mustOK(t, "set layout", err)
	_, err = e.m.SetXattr(ctx, root, f.FID, "trusted.lov", []byte("L2"), 0)
	mustOK(t, "set trusted.lov", err)
	if v, err := e.m.GetXattr(ctx, bob, f.FID, XattrLOV); err != nil || string(v) != "L2" {
		t.Fatalf("layout %q %v", v, err)
	}
	if g := e.attr(f.FID).LayoutGen; g != 2 {
		t.Fatalf("layout generation %d", g)
	}
	_, err = e.m.RemoveXattr(ctx, alice, f.FID, "user.color")
	mustOK(t, "remove", err)
	_, err = e.m.GetXattr(ctx, alice, f.FID, "user.color")
	wantErrno(t, "get removed", err, syscall.ENODATA)

	ln, _, err := e.m.Symlink(ctx, alice, d.FID, "ln", "f", CreateArgs{})
	mustOK(t, "symlink", err)
	_, err = e.m.SetXattr(ctx, alice, ln.FID, "user.x", nil, 0)
	wantErrno(t, "user xattr on a symlink", err, syscall.EPERM)
	_, err = e.m.GetXattr(ctx, alice, ln.FID, "user.x")
	wantErrno(t, "get user xattr of a symlink", err, syscall.ENODATA)
	_, err = e.m.GetXattr(ctx, alice, wire.FID{Seq: wire.SeqNormalStart, Oid: 999}, "user.x")
	wantErrno(t, "xattr of missing", err, syscall.ENOENT)
}
