package fusefs

import (
	"context"
	"errors"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/wire"
)

// posixSuite is the adapter's POSIX conformance suite: every case runs on a
// fresh mount of a fresh memFS (STYLE item 16). The cases are in this file
// (namespace) and posix_io_test.go (data, xattrs, errors).
var posixSuite = map[string]func(t *testing.T, tm *testMount){}

func TestPOSIX(t *testing.T) {
	names := make([]string, 0, len(posixSuite))
	for n := range posixSuite {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			posixSuite[n](t, mount(t, nil, Options{}))
		})
	}
}

func init() {
	posixSuite["LookupErrors"] = testLookupErrors
	posixSuite["NameTooLong"] = testNameTooLong
	posixSuite["Getattr"] = testGetattr
	posixSuite["Setattr"] = testSetattr
	posixSuite["Access"] = testAccess
	posixSuite["MkdirRmdir"] = testMkdirRmdir
	posixSuite["Unlink"] = testUnlink
	posixSuite["Rename"] = testRename
	posixSuite["RenameFlags"] = testRenameFlags
	posixSuite["HardLinks"] = testHardLinks
	posixSuite["Symlink"] = testSymlink
	posixSuite["Mknod"] = testMknod
	posixSuite["Readdir1000"] = testReaddir1000
	posixSuite["ReaddirSeek"] = testReaddirSeek
	posixSuite["Statfs"] = testStatfs
}

// wantErrno fails t unless err is errno.
func wantErrno(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: got %v, want %v", what, err, errno)
	}
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fidOf looks name up in the backend directly, below the root.
func (tm *testMount) fidOf(t *testing.T, names ...string) wire.FID {
	t.Helper()
	fid := tm.m.Root()
	for _, n := range names {
		var err error
		if fid, _, err = tm.m.Lookup(context.Background(), fid, n); err != nil {
			t.Fatalf("backend lookup %q: %v", n, err)
		}
	}
	return fid
}

func testLookupErrors(t *testing.T, tm *testMount) {
	var st unix.Stat_t
	wantErrno(t, "stat missing", unix.Stat(tm.path("missing"), &st), syscall.ENOENT)
	must(t, "write", os.WriteFile(tm.path("f"), nil, 0644))
	wantErrno(t, "stat below a file", unix.Stat(tm.path("f", "x"), &st), syscall.ENOTDIR)
	wantErrno(t, "open missing", unix.Access(tm.path("missing"), unix.F_OK), syscall.ENOENT)
	// A name created behind the kernel's back (another client) is found
	// at once: nothing negative is cached.
	if _, _, err := tm.m.Mkdir(context.Background(), tm.m.Root(), "missing", 0755); err != nil {
		t.Fatal(err)
	}
	must(t, "stat after another client's mkdir", unix.Stat(tm.path("missing"), &st))
}

func testNameTooLong(t *testing.T, tm *testMount) {
	long, max := strings.Repeat("x", 256), strings.Repeat("y", 255)
	var st unix.Stat_t
	wantErrno(t, "stat", unix.Stat(tm.path(long), &st), syscall.ENAMETOOLONG)
	_, err := os.Create(tm.path(long))
	wantErrno(t, "create", err, syscall.ENAMETOOLONG)
	wantErrno(t, "mkdir", unix.Mkdir(tm.path(long), 0755), syscall.ENAMETOOLONG)
	wantErrno(t, "symlink", unix.Symlink("t", tm.path(long)), syscall.ENAMETOOLONG)
	must(t, "create 255", os.WriteFile(tm.path(max), nil, 0644))
	wantErrno(t, "link", unix.Link(tm.path(max), tm.path(long)), syscall.ENAMETOOLONG)
	wantErrno(t, "rename", unix.Rename(tm.path(max), tm.path(long)), syscall.ENAMETOOLONG)
	must(t, "stat 255", unix.Stat(tm.path(max), &st))
}

func testGetattr(t *testing.T, tm *testMount) {
	must(t, "write", os.WriteFile(tm.path("f"), []byte("hello"), 0640))
	var st unix.Stat_t
	must(t, "stat", unix.Stat(tm.path("f"), &st))
	fid := tm.fidOf(t, "f")
	a, _ := tm.m.GetAttr(context.Background(), fid)
	switch {
	case st.Ino != fid.Ino():
		t.Errorf("ino %d, want FID %v's %d", st.Ino, fid, fid.Ino())
	case st.Mode != syscall.S_IFREG|0640, st.Size != 5, st.Nlink != 1, st.Uid != 0, st.Blocks != 1:
		t.Errorf("stat %+v", st)
	case st.Blksize != DefaultMaxWrite:
		t.Errorf("st_blksize %d, want %d", st.Blksize, DefaultMaxWrite)
	case st.Mtim.Nano() != a.Mtime || st.Ctim.Nano() != a.Ctime:
		t.Errorf("mtime %d ctime %d, backend says %d %d", st.Mtim.Nano(), st.Ctim.Nano(), a.Mtime, a.Ctime)
	}
	must(t, "stat root", unix.Stat(tm.dir, &st))
	if st.Ino != wire.RootFID.Ino() || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("root: ino %d mode %o", st.Ino, st.Mode)
	}
	// Attributes are not cached: a change by another client shows at once.
	if _, err := tm.m.SetAttr(context.Background(), fid, wire.Attr{Valid: wire.AttrSize, Size: 2}); err != nil {
		t.Fatal(err)
	}
	must(t, "stat again", unix.Stat(tm.path("f"), &st))
	if st.Size != 2 {
		t.Errorf("size %d after another client truncated to 2", st.Size)
	}
}

func testSetattr(t *testing.T, tm *testMount) {
	p := tm.path("f")
	must(t, "write", os.WriteFile(p, []byte("hello world"), 0644))
	var st unix.Stat_t
	must(t, "chmod", unix.Chmod(p, 0600))
	must(t, "chown", unix.Chown(p, 1000, 2000))
	must(t, "stat", unix.Stat(p, &st))
	if st.Mode != unix.S_IFREG|0600 || st.Uid != 1000 || st.Gid != 2000 {
		t.Errorf("after chmod/chown: mode %o uid %d gid %d", st.Mode, st.Uid, st.Gid)
	}
	must(t, "chmod 0", unix.Chmod(p, 0))
	must(t, "stat", unix.Stat(p, &st))
	if st.Mode != unix.S_IFREG {
		t.Errorf("after chmod 0: mode %o", st.Mode)
	}

	ts := []unix.Timespec{{Sec: 1000, Nsec: 7}, {Sec: 2000, Nsec: 9}}
	must(t, "utimensat", unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0))
	must(t, "stat", unix.Stat(p, &st))
	if st.Atim != ts[0] || st.Mtim != ts[1] {
		t.Errorf("times %v %v, want %v", st.Atim, st.Mtim, ts)
	}
	now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_OMIT}}
	must(t, "utimensat NOW/OMIT", unix.UtimesNanoAt(unix.AT_FDCWD, p, now, 0))
	must(t, "stat", unix.Stat(p, &st))
	if st.Atim.Sec < 1e9 || st.Mtim != ts[1] {
		t.Errorf("after UTIME_NOW/OMIT: atime %v mtime %v", st.Atim, st.Mtim)
	}

	must(t, "truncate", unix.Truncate(p, 5))
	must(t, "stat", unix.Stat(p, &st))
	if st.Size != 5 {
		t.Errorf("truncate: size %d", st.Size)
	}
	// ftruncate on an open descriptor, growing.
	must(t, "chmod", unix.Chmod(p, 0644))
	fd, err := unix.Open(p, unix.O_RDWR, 0)
	must(t, "open", err)
	defer unix.Close(fd)
	must(t, "ftruncate", unix.Ftruncate(fd, 100))
	must(t, "fstat", unix.Fstat(fd, &st))
	got, _ := os.ReadFile(p)
	if st.Size != 100 || string(got[:5]) != "hello" || got[99] != 0 {
		t.Errorf("ftruncate to 100: size %d, data %q", st.Size, got[:5])
	}
	must(t, "fchmod", unix.Fchmod(fd, 0705))
	must(t, "fstat", unix.Fstat(fd, &st))
	if st.Mode&07777 != 0705 {
		t.Errorf("fchmod: %o", st.Mode)
	}
	must(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	wantErrno(t, "truncate a directory", unix.Truncate(tm.path("d"), 0), syscall.EISDIR)
}

func testAccess(t *testing.T, tm *testMount) {
	p := tm.path("f")
	must(t, "write", os.WriteFile(p, nil, 0644))
	must(t, "access rw", unix.Access(p, unix.R_OK|unix.W_OK))
	// Even root may not execute what has no execute bit.
	wantErrno(t, "access x", unix.Access(p, unix.X_OK), syscall.EACCES)
	must(t, "chmod", unix.Chmod(p, 0100))
	must(t, "access x", unix.Access(p, unix.X_OK))
	must(t, "mkdir", unix.Mkdir(tm.path("d"), 0))
	must(t, "access dir x", unix.Access(tm.path("d"), unix.X_OK))
	must(t, "chdir", os.Chdir(tm.path("d")))
	must(t, "chdir back", os.Chdir("/"))
}

func testMkdirRmdir(t *testing.T, tm *testMount) {
	d := tm.path("d")
	must(t, "mkdir", unix.Mkdir(d, 0750))
	var st unix.Stat_t
	must(t, "stat", unix.Stat(d, &st))
	if st.Mode != unix.S_IFDIR|0750 || st.Nlink != 2 {
		t.Errorf("mkdir: mode %o nlink %d", st.Mode, st.Nlink)
	}
	wantErrno(t, "mkdir existing", unix.Mkdir(d, 0755), syscall.EEXIST)
	must(t, "mkdir sub", unix.Mkdir(tm.path("d", "sub"), 0755))
	must(t, "stat", unix.Stat(d, &st))
	if st.Nlink != 3 {
		t.Errorf("nlink with a subdirectory: %d", st.Nlink)
	}
	wantErrno(t, "rmdir non-empty", unix.Rmdir(d), syscall.ENOTEMPTY)
	must(t, "write", os.WriteFile(tm.path("f"), nil, 0644))
	wantErrno(t, "rmdir a file", unix.Rmdir(tm.path("f")), syscall.ENOTDIR)
	wantErrno(t, "rmdir missing", unix.Rmdir(tm.path("missing")), syscall.ENOENT)
	wantErrno(t, "mkdir below a file", unix.Mkdir(tm.path("f", "x"), 0755), syscall.ENOTDIR)
	must(t, "rmdir sub", unix.Rmdir(tm.path("d", "sub")))
	must(t, "rmdir", unix.Rmdir(d))
	wantErrno(t, "stat removed", unix.Stat(d, &st), syscall.ENOENT)
}

func testUnlink(t *testing.T, tm *testMount) {
	must(t, "write", os.WriteFile(tm.path("f"), []byte("x"), 0644))
	must(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	wantErrno(t, "unlink a directory", unix.Unlink(tm.path("d")), syscall.EISDIR)
	wantErrno(t, "unlink missing", unix.Unlink(tm.path("missing")), syscall.ENOENT)
	wantErrno(t, "unlink below a file", unix.Unlink(tm.path("f", "x")), syscall.ENOTDIR)
	must(t, "unlink", unix.Unlink(tm.path("f")))
	var st unix.Stat_t
	wantErrno(t, "stat unlinked", unix.Stat(tm.path("f"), &st), syscall.ENOENT)
}

func testRename(t *testing.T, tm *testMount) {
	must(t, "write a", os.WriteFile(tm.path("a"), []byte("A"), 0644))
	must(t, "write b", os.WriteFile(tm.path("b"), []byte("B"), 0644))
	must(t, "mkdir d", unix.Mkdir(tm.path("d"), 0755))
	must(t, "mkdir e", unix.Mkdir(tm.path("e"), 0755))
	must(t, "write e/x", os.WriteFile(tm.path("e", "x"), nil, 0644))

	fid := tm.fidOf(t, "a")
	must(t, "rename over b", unix.Rename(tm.path("a"), tm.path("b")))
	var st unix.Stat_t
	must(t, "stat b", unix.Stat(tm.path("b"), &st))
	if got, _ := os.ReadFile(tm.path("b")); string(got) != "A" || st.Ino != fid.Ino() {
		t.Errorf("after rename a b: b holds %q, ino %d (want %d)", got, st.Ino, fid.Ino())
	}
	must(t, "rename into d", unix.Rename(tm.path("b"), tm.path("d", "b")))
	wantErrno(t, "rename missing", unix.Rename(tm.path("b"), tm.path("c")), syscall.ENOENT)
	wantErrno(t, "file over dir", unix.Rename(tm.path("d", "b"), tm.path("e")), syscall.EISDIR)
	must(t, "write f", os.WriteFile(tm.path("f"), nil, 0644))
	wantErrno(t, "dir over file", unix.Rename(tm.path("d"), tm.path("f")), syscall.ENOTDIR)
	wantErrno(t, "dir over non-empty dir", unix.Rename(tm.path("d"), tm.path("e")), syscall.ENOTEMPTY)
	wantErrno(t, "dir into itself", unix.Rename(tm.path("d"), tm.path("d", "sub")), syscall.EINVAL)
	must(t, "rmdir", unix.Unlink(tm.path("e", "x")))
	must(t, "dir over empty dir", unix.Rename(tm.path("d"), tm.path("e")))
	if got, err := os.ReadFile(tm.path("e", "b")); err != nil || string(got) != "A" {
		t.Errorf("e/b after moving d over e: %q %v", got, err)
	}
}

func testRenameFlags(t *testing.T, tm *testMount) {
	must(t, "write a", os.WriteFile(tm.path("a"), []byte("A"), 0644))
	must(t, "write b", os.WriteFile(tm.path("b"), []byte("B"), 0644))
	must(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	rename := func(from, to string, flags uint) error {
		return unix.Renameat2(unix.AT_FDCWD, tm.path(from), unix.AT_FDCWD, tm.path(to), flags)
	}
	wantErrno(t, "NOREPLACE onto existing", rename("a", "b", unix.RENAME_NOREPLACE), syscall.EEXIST)
	must(t, "NOREPLACE onto new", rename("a", "c", unix.RENAME_NOREPLACE))
	must(t, "EXCHANGE file and dir", rename("c", "d", unix.RENAME_EXCHANGE))
	var st unix.Stat_t
	must(t, "stat c", unix.Stat(tm.path("c"), &st))
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("after exchange c is %o, want a directory", st.Mode)
	}
	if got, _ := os.ReadFile(tm.path("d")); string(got) != "A" {
		t.Errorf("after exchange d holds %q", got)
	}
	must(t, "EXCHANGE files", rename("d", "b", unix.RENAME_EXCHANGE))
	if a, _ := os.ReadFile(tm.path("b")); string(a) != "A" {
		t.Errorf("after second exchange b holds %q", a)
	}
	wantErrno(t, "EXCHANGE with missing", rename("b", "missing", unix.RENAME_EXCHANGE), syscall.ENOENT)
	wantErrno(t, "WHITEOUT", rename("b", "w", unix.RENAME_WHITEOUT), syscall.EINVAL)
	wantErrno(t, "NOREPLACE|EXCHANGE", rename("b", "d", unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE), syscall.EINVAL)
}

func testHardLinks(t *testing.T, tm *testMount) {
	must(t, "mkdir a", unix.Mkdir(tm.path("a"), 0755))
	must(t, "mkdir b", unix.Mkdir(tm.path("b"), 0755))
	must(t, "write", os.WriteFile(tm.path("a", "f"), []byte("one"), 0644))
	must(t, "link", unix.Link(tm.path("a", "f"), tm.path("b", "g")))
	var st1, st2 unix.Stat_t
	must(t, "stat a/f", unix.Stat(tm.path("a", "f"), &st1))
	must(t, "stat b/g", unix.Stat(tm.path("b", "g"), &st2))
	fid := tm.fidOf(t, "a", "f")
	if st1.Ino != st2.Ino || st1.Ino != fid.Ino() || st2.Nlink != 2 {
		t.Errorf("links: ino %d and %d (FID %d), nlink %d", st1.Ino, st2.Ino, fid.Ino(), st2.Nlink)
	}
	// One inode: what is written through one name is read through the other.
	must(t, "write through b/g", os.WriteFile(tm.path("b", "g"), []byte("two"), 0644))
	if got, _ := os.ReadFile(tm.path("a", "f")); string(got) != "two" {
		t.Errorf("a/f holds %q after writing b/g", got)
	}
	wantErrno(t, "link onto existing", unix.Link(tm.path("a", "f"), tm.path("b", "g")), syscall.EEXIST)
	wantErrno(t, "link a directory", unix.Link(tm.path("a"), tm.path("c")), syscall.EPERM)
	wantErrno(t, "link missing", unix.Link(tm.path("missing"), tm.path("c")), syscall.ENOENT)
	must(t, "unlink a/f", unix.Unlink(tm.path("a", "f")))
	must(t, "stat b/g", unix.Stat(tm.path("b", "g"), &st2))
	if st2.Nlink != 1 {
		t.Errorf("nlink after unlinking one name: %d", st2.Nlink)
	}
}

func testSymlink(t *testing.T, tm *testMount) {
	must(t, "symlink", unix.Symlink("../some/where", tm.path("l")))
	got, err := os.Readlink(tm.path("l"))
	if err != nil || got != "../some/where" {
		t.Errorf("readlink: %q %v", got, err)
	}
	var st unix.Stat_t
	must(t, "lstat", unix.Lstat(tm.path("l"), &st))
	if st.Mode&unix.S_IFMT != unix.S_IFLNK || st.Size != int64(len("../some/where")) {
		t.Errorf("lstat: mode %o size %d", st.Mode, st.Size)
	}
	wantErrno(t, "symlink existing", unix.Symlink("x", tm.path("l")), syscall.EEXIST)
	must(t, "write", os.WriteFile(tm.path("f"), []byte("data"), 0644))
	wantErrno(t, "readlink a file", func() error { _, err := os.Readlink(tm.path("f")); return err }(), syscall.EINVAL)
	must(t, "symlink to f", unix.Symlink("f", tm.path("lf")))
	if got, err := os.ReadFile(tm.path("lf")); err != nil || string(got) != "data" {
		t.Errorf("read through symlink: %q %v", got, err)
	}
}

func testMknod(t *testing.T, tm *testMount) {
	// (modes within the test process' umask, 022)
	must(t, "mkfifo", unix.Mkfifo(tm.path("fifo"), 0640))
	var st unix.Stat_t
	must(t, "stat fifo", unix.Stat(tm.path("fifo"), &st))
	if st.Mode != unix.S_IFIFO|0640 {
		t.Errorf("fifo mode %o", st.Mode)
	}
	must(t, "mknod reg", unix.Mknod(tm.path("reg"), unix.S_IFREG|0600, 0))
	must(t, "stat reg", unix.Stat(tm.path("reg"), &st))
	if st.Mode != unix.S_IFREG|0600 || st.Size != 0 {
		t.Errorf("regular mknod: mode %o size %d", st.Mode, st.Size)
	}
	dev := unix.Mkdev(1, 3)
	must(t, "mknod chr", unix.Mknod(tm.path("null"), unix.S_IFCHR|0644, int(dev)))
	must(t, "stat chr", unix.Stat(tm.path("null"), &st))
	if st.Mode != unix.S_IFCHR|0644 || st.Rdev != dev {
		t.Errorf("char device: mode %o rdev %x", st.Mode, st.Rdev)
	}
	wantErrno(t, "mknod existing", unix.Mkfifo(tm.path("fifo"), 0600), syscall.EEXIST)
}

func testStatfs(t *testing.T, tm *testMount) {
	var s unix.Statfs_t
	must(t, "statfs", unix.Statfs(tm.dir, &s))
	want, _ := tm.m.StatFS(context.Background())
	if s.Blocks != want.Blocks || s.Bfree != want.BFree || s.Bavail != want.BAvail ||
		s.Files != want.Files || s.Bsize != int64(want.BSize) || s.Namelen != 255 || s.Frsize != 4096 {
		t.Errorf("statfs %+v, backend %+v", s, want)
	}
}
