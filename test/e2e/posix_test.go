package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/posixtest"
	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/test/cluster"
)

// posixEnv is what a POSIX case gets: a fresh directory seen through
// client 0 (dir) and the same directory through client 1 (other).
type posixEnv struct {
	c      *cluster.Cluster
	dir    string
	other  string
	helper string // the test binary, runnable by any user (asUser)
}

func (e posixEnv) p(names ...string) string {
	return filepath.Join(append([]string{e.dir}, names...)...)
}

// posixCases is the POSIX suite on the real mount: each system call, its
// success and its error paths with the errno Linux file systems give.
var posixCases = map[string]func(t *testing.T, e posixEnv){
	"Create":      testCreate,
	"Open":        testOpen,
	"ReadWrite":   testReadWrite,
	"Stat":        testStat,
	"Setattr":     testSetattr,
	"Truncate":    testTruncate,
	"MkdirRmdir":  testMkdirRmdir,
	"Unlink":      testUnlink,
	"Rename":      testRename,
	"Link":        testLink,
	"Symlink":     testSymlink,
	"Mknod":       testMknod,
	"Readdir":     testReaddir,
	"Xattr":       testXattr,
	"Statfs":      testStatfs,
	"Fsync":       testFsync,
	"Mmap":        testMmap,
	"NameTooLong": testNameTooLong,
	"Permissions": testPermissions,
}

func runPOSIX(t *testing.T, c *cluster.Cluster, helper string) {
	names := make([]string, 0, len(posixCases))
	for n := range posixCases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			skipKnown(t, n)
			d := freshDir(t, c, 0)
			rel, _ := filepath.Rel(c.Mount(0), d)
			posixCases[n](t, posixEnv{c: c, dir: d, other: filepath.Join(c.Mount(1), rel), helper: helper})
		})
	}
	// go-fuse's conformance cases, each in a fresh directory. They test
	// the FUSE adapter, which both runners share: the Binaries runner runs
	// them (under -race the InProcess runner would take minutes).
	if c.Runner() != cluster.Binaries {
		return
	}
	names = names[:0]
	for n := range posixtest.All {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run("posixtest/"+n, func(t *testing.T) {
			skipKnown(t, "posixtest/"+n)
			posixtest.All[n](t, freshDir(t, c, 0))
		})
	}
}

func testCreate(t *testing.T, e posixEnv) {
	fd, err := unix.Open(e.p("f"), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o640)
	must(t, "create", err)
	unix.Close(fd)
	_, err = unix.Open(e.p("f"), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o640)
	wantErrno(t, "O_EXCL on an existing file", err, syscall.EEXIST)
	_, err = unix.Open(e.p("missing", "f"), unix.O_CREAT|unix.O_WRONLY, 0o640)
	wantErrno(t, "create in a missing directory", err, syscall.ENOENT)
	_, err = unix.Open(e.p("f", "g"), unix.O_CREAT|unix.O_WRONLY, 0o640)
	wantErrno(t, "create below a file", err, syscall.ENOTDIR)
	var st unix.Stat_t
	must(t, "stat", unix.Stat(e.p("f"), &st))
	if st.Mode != syscall.S_IFREG|0o640&^uint32(unixUmask()) || st.Size != 0 || st.Nlink != 1 {
		t.Errorf("new file: mode %o size %d nlink %d", st.Mode, st.Size, st.Nlink)
	}
	// O_CREAT without O_EXCL opens the existing file.
	fd, err = unix.Open(e.p("f"), unix.O_CREAT|unix.O_RDWR, 0o600)
	must(t, "O_CREAT on an existing file", err)
	unix.Close(fd)
}

func unixUmask() int {
	m := unix.Umask(0)
	unix.Umask(m)
	return m
}

func testOpen(t *testing.T, e posixEnv) {
	_, err := unix.Open(e.p("missing"), unix.O_RDONLY, 0)
	wantErrno(t, "open missing", err, syscall.ENOENT)
	must(t, "write", os.WriteFile(e.p("f"), []byte("hello world"), 0o644))
	must(t, "mkdir", os.Mkdir(e.p("d"), 0o755))
	_, err = unix.Open(e.p("f"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	wantErrno(t, "O_DIRECTORY on a file", err, syscall.ENOTDIR)
	_, err = unix.Open(e.p("d"), unix.O_WRONLY, 0)
	wantErrno(t, "open a directory for writing", err, syscall.EISDIR)
	// O_TRUNC empties, O_APPEND appends.
	fd, err := unix.Open(e.p("f"), unix.O_WRONLY|unix.O_TRUNC, 0)
	must(t, "O_TRUNC", err)
	unix.Close(fd)
	if b, _ := os.ReadFile(e.p("f")); len(b) != 0 {
		t.Errorf("after O_TRUNC: %q", b)
	}
	for _, s := range []string{"one ", "two"} {
		f, err := os.OpenFile(e.p("f"), os.O_WRONLY|os.O_APPEND, 0)
		must(t, "O_APPEND", err)
		_, err = f.WriteString(s)
		must(t, "append", err)
		must(t, "close", f.Close())
	}
	if b, _ := os.ReadFile(e.p("f")); string(b) != "one two" {
		t.Errorf("after appends: %q", b)
	}
}

func testReadWrite(t *testing.T, e posixEnv) {
	f, err := os.Create(e.p("f"))
	must(t, "create", err)
	defer f.Close()
	_, err = f.WriteAt([]byte("world"), 6)
	must(t, "pwrite", err)
	_, err = f.WriteAt([]byte("hello"), 0)
	must(t, "pwrite", err)
	buf := make([]byte, 20)
	n, err := f.ReadAt(buf, 0)
	if n != 11 || !bytes.Equal(buf[:n], []byte("hello\x00world")) {
		t.Errorf("pread: %d %q %v", n, buf[:n], err)
	}
	if n, _ := unix.Pread(int(f.Fd()), buf, 100); n != 0 {
		t.Errorf("pread past EOF: %d bytes", n)
	}
	ro, err := os.Open(e.p("f"))
	must(t, "open O_RDONLY", err)
	defer ro.Close()
	_, err = unix.Write(int(ro.Fd()), []byte("x"))
	wantErrno(t, "write to an O_RDONLY descriptor", err, syscall.EBADF)
	wo, err := os.OpenFile(e.p("f"), os.O_WRONLY, 0)
	must(t, "open O_WRONLY", err)
	defer wo.Close()
	_, err = unix.Read(int(wo.Fd()), buf)
	wantErrno(t, "read from an O_WRONLY descriptor", err, syscall.EBADF)
	d, err := os.Open(e.dir)
	must(t, "open dir", err)
	defer d.Close()
	_, err = unix.Read(int(d.Fd()), buf)
	wantErrno(t, "read a directory", err, syscall.EISDIR)
}

func testStat(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("f"), []byte("12345"), 0o600))
	var a, b unix.Stat_t
	must(t, "stat", unix.Stat(e.p("f"), &a))
	if a.Size != 5 || a.Mode != syscall.S_IFREG|0o600 || a.Nlink != 1 || a.Uid != 0 || a.Ino == 0 {
		t.Errorf("stat: %+v", a)
	}
	// Inode numbers come from FIDs: the same on every client.
	must(t, "stat through client 1", unix.Stat(filepath.Join(e.other, "f"), &b))
	if a.Ino != b.Ino || a.Size != b.Size || a.Mode != b.Mode {
		t.Errorf("client 1 sees ino %d size %d mode %o, client 0 ino %d size %d mode %o",
			b.Ino, b.Size, b.Mode, a.Ino, a.Size, a.Mode)
	}
	var st unix.Stat_t
	wantErrno(t, "stat missing", unix.Stat(e.p("missing"), &st), syscall.ENOENT)
	wantErrno(t, "stat below a file", unix.Stat(e.p("f", "x"), &st), syscall.ENOTDIR)
	must(t, "stat dir", unix.Stat(e.dir, &st))
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Errorf("dir mode %o", st.Mode)
	}
	// Writing moves mtime forward (or leaves it equal within the clock's
	// resolution), never back.
	must(t, "utimes", unix.UtimesNano(e.p("f"), []unix.Timespec{{Sec: 1000}, {Sec: 1000}}))
	must(t, "rewrite", os.WriteFile(e.p("f"), []byte("x"), 0o600))
	must(t, "stat", unix.Stat(e.p("f"), &st))
	if st.Mtim.Sec <= 1000 || st.Size != 1 {
		t.Errorf("after a write: mtime %d size %d", st.Mtim.Sec, st.Size)
	}
}

func testSetattr(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("f"), nil, 0o644))
	must(t, "chmod", unix.Chmod(e.p("f"), 0o4711))
	must(t, "chown", unix.Chown(e.p("f"), 1234, 5678))
	must(t, "utimes", unix.UtimesNano(e.p("f"), []unix.Timespec{{Sec: 111, Nsec: 5}, {Sec: 222, Nsec: 7}}))
	var st unix.Stat_t
	must(t, "stat", unix.Stat(filepath.Join(e.other, "f"), &st))
	// chown by root keeps set-uid here? Linux clears S_ISUID on chown of a
	// regular file by anyone; accept either, as Lustre's MDT does.
	if st.Mode&0o777 != 0o711 || st.Uid != 1234 || st.Gid != 5678 || st.Atim.Sec != 111 || st.Mtim.Sec != 222 {
		t.Errorf("through client 1: mode %o uid %d gid %d atime %d mtime %d", st.Mode, st.Uid, st.Gid, st.Atim.Sec, st.Mtim.Sec)
	}
	// touch: utimes(NULL) sets both times to the server's now (the kernel
	// sends them with its own clock and UTIME_NOW).
	start := time.Now().Add(-time.Second).Unix()
	must(t, "utimes now", unix.Utimes(e.p("f"), nil))
	must(t, "stat", unix.Stat(filepath.Join(e.other, "f"), &st))
	if st.Atim.Sec < start || st.Mtim.Sec < start {
		t.Errorf("after utimes(NULL): atime %d mtime %d, want at least %d", st.Atim.Sec, st.Mtim.Sec, start)
	}
	wantErrno(t, "chmod missing", unix.Chmod(e.p("missing"), 0o644), syscall.ENOENT)
	wantErrno(t, "chown missing", unix.Chown(e.p("missing"), 1, 1), syscall.ENOENT)
}

func testTruncate(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("f"), []byte("0123456789"), 0o644))
	must(t, "shrink", os.Truncate(e.p("f"), 4))
	if b, _ := os.ReadFile(e.p("f")); string(b) != "0123" {
		t.Errorf("after shrink: %q", b)
	}
	must(t, "grow", os.Truncate(e.p("f"), 8))
	if b, _ := os.ReadFile(filepath.Join(e.other, "f")); string(b) != "0123\x00\x00\x00\x00" {
		t.Errorf("after grow, through client 1: %q", b)
	}
	must(t, "mkdir", os.Mkdir(e.p("d"), 0o755))
	wantErrno(t, "truncate a directory", unix.Truncate(e.p("d"), 0), syscall.EISDIR)
	wantErrno(t, "truncate missing", unix.Truncate(e.p("missing"), 0), syscall.ENOENT)
	wantErrno(t, "truncate to a negative size", unix.Truncate(e.p("f"), -1), syscall.EINVAL)
	ro, err := os.Open(e.p("f"))
	must(t, "open", err)
	defer ro.Close()
	err = unix.Ftruncate(int(ro.Fd()), 0)
	if !errorsIsAny(err, syscall.EINVAL, syscall.EBADF) {
		t.Errorf("ftruncate of an O_RDONLY descriptor: %v, want EINVAL or EBADF", err)
	}
}

func errorsIsAny(err error, errnos ...syscall.Errno) bool {
	for _, e := range errnos {
		if err == e {
			return true
		}
	}
	return false
}

func testMkdirRmdir(t *testing.T, e posixEnv) {
	must(t, "mkdir", unix.Mkdir(e.p("d"), 0o750))
	var st unix.Stat_t
	must(t, "stat", unix.Stat(e.p("d"), &st))
	if st.Mode != syscall.S_IFDIR|0o750&^uint32(unixUmask()) || st.Nlink != 2 {
		t.Errorf("new dir: mode %o nlink %d", st.Mode, st.Nlink)
	}
	must(t, "mkdir sub", unix.Mkdir(e.p("d", "sub"), 0o755))
	must(t, "stat", unix.Stat(e.p("d"), &st))
	if st.Nlink != 3 {
		t.Errorf("nlink with one subdirectory: %d, want 3", st.Nlink)
	}
	wantErrno(t, "mkdir existing", unix.Mkdir(e.p("d"), 0o755), syscall.EEXIST)
	wantErrno(t, "mkdir in missing", unix.Mkdir(e.p("missing", "d"), 0o755), syscall.ENOENT)
	wantErrno(t, "rmdir non-empty", unix.Rmdir(e.p("d")), syscall.ENOTEMPTY)
	must(t, "write", os.WriteFile(e.p("f"), nil, 0o644))
	wantErrno(t, "rmdir a file", unix.Rmdir(e.p("f")), syscall.ENOTDIR)
	wantErrno(t, "rmdir missing", unix.Rmdir(e.p("missing")), syscall.ENOENT)
	wantErrno(t, "mkdir over a file", unix.Mkdir(e.p("f"), 0o755), syscall.EEXIST)
	must(t, "rmdir sub", unix.Rmdir(e.p("d", "sub")))
	must(t, "rmdir", unix.Rmdir(e.p("d")))
	wantErrno(t, "stat after rmdir, through client 1", unix.Stat(filepath.Join(e.other, "d"), &st), syscall.ENOENT)
}

func testUnlink(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("f"), []byte("still here"), 0o644))
	f, err := os.Open(e.p("f"))
	must(t, "open", err)
	defer f.Close()
	must(t, "unlink", unix.Unlink(e.p("f")))
	var st unix.Stat_t
	wantErrno(t, "stat after unlink", unix.Stat(e.p("f"), &st), syscall.ENOENT)
	wantErrno(t, "stat through client 1", unix.Stat(filepath.Join(e.other, "f"), &st), syscall.ENOENT)
	// An open file outlives its name.
	b := make([]byte, 20)
	n, _ := f.ReadAt(b, 0)
	if string(b[:n]) != "still here" {
		t.Errorf("read of the unlinked open file: %q", b[:n])
	}
	wantErrno(t, "unlink missing", unix.Unlink(e.p("f")), syscall.ENOENT)
	must(t, "mkdir", os.Mkdir(e.p("d"), 0o755))
	wantErrno(t, "unlink a directory", unix.Unlink(e.p("d")), syscall.EISDIR)
}

func testRename(t *testing.T, e posixEnv) {
	w := func(name, s string) { must(t, "write "+name, os.WriteFile(e.p(name), []byte(s), 0o644)) }
	w("a", "A")
	w("b", "B")
	must(t, "rename over a file", unix.Rename(e.p("a"), e.p("b")))
	if b, _ := os.ReadFile(filepath.Join(e.other, "b")); string(b) != "A" {
		t.Errorf("b after rename, through client 1: %q", b)
	}
	var st unix.Stat_t
	wantErrno(t, "old name", unix.Stat(e.p("a"), &st), syscall.ENOENT)
	must(t, "mkdir", os.MkdirAll(e.p("d1", "sub"), 0o755))
	must(t, "mkdir", os.Mkdir(e.p("d2"), 0o755))
	must(t, "mkdir", os.MkdirAll(e.p("full", "x"), 0o755))
	wantErrno(t, "dir over a non-empty dir", unix.Rename(e.p("d2"), e.p("full")), syscall.ENOTEMPTY)
	wantErrno(t, "file over a dir", unix.Rename(e.p("b"), e.p("d2")), syscall.EISDIR)
	wantErrno(t, "dir over a file", unix.Rename(e.p("d2"), e.p("b")), syscall.ENOTDIR)
	wantErrno(t, "dir into itself", unix.Rename(e.p("d1"), e.p("d1", "sub", "d1")), syscall.EINVAL)
	wantErrno(t, "missing source", unix.Rename(e.p("missing"), e.p("x")), syscall.ENOENT)
	must(t, "dir over an empty dir", unix.Rename(e.p("d1"), e.p("d2")))
	must(t, "stat moved subdir", unix.Stat(e.p("d2", "sub"), &st))
	must(t, "across directories", unix.Rename(e.p("b"), e.p("d2", "sub", "b")))
	w("c", "C")
	w("d", "D")
	wantErrno(t, "RENAME_NOREPLACE over an existing name",
		unix.Renameat2(unix.AT_FDCWD, e.p("c"), unix.AT_FDCWD, e.p("d"), unix.RENAME_NOREPLACE), syscall.EEXIST)
	must(t, "RENAME_NOREPLACE", unix.Renameat2(unix.AT_FDCWD, e.p("c"), unix.AT_FDCWD, e.p("e"), unix.RENAME_NOREPLACE))
	err := unix.Renameat2(unix.AT_FDCWD, e.p("d"), unix.AT_FDCWD, e.p("e"), unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		d, _ := os.ReadFile(e.p("d"))
		ee, _ := os.ReadFile(e.p("e"))
		if string(d) != "C" || string(ee) != "D" {
			t.Errorf("after RENAME_EXCHANGE: d=%q e=%q", d, ee)
		}
	case err == syscall.EINVAL || err == syscall.EOPNOTSUPP:
		// Exchange is optional; refusing it is allowed.
	default:
		t.Errorf("RENAME_EXCHANGE: %v", err)
	}
}

func testLink(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("f"), []byte("x"), 0o644))
	must(t, "link", unix.Link(e.p("f"), e.p("g")))
	var a, b unix.Stat_t
	must(t, "stat", unix.Stat(e.p("f"), &a))
	must(t, "stat through client 1", unix.Stat(filepath.Join(e.other, "g"), &b))
	if a.Nlink != 2 || b.Nlink != 2 || a.Ino != b.Ino {
		t.Errorf("links: nlink %d/%d ino %d/%d", a.Nlink, b.Nlink, a.Ino, b.Ino)
	}
	wantErrno(t, "link over an existing name", unix.Link(e.p("f"), e.p("g")), syscall.EEXIST)
	wantErrno(t, "link missing", unix.Link(e.p("missing"), e.p("h")), syscall.ENOENT)
	must(t, "mkdir", os.Mkdir(e.p("d"), 0o755))
	wantErrno(t, "link a directory", unix.Link(e.p("d"), e.p("dl")), syscall.EPERM)
	must(t, "unlink one", unix.Unlink(e.p("f")))
	must(t, "stat", unix.Stat(e.p("g"), &b))
	if b.Nlink != 1 {
		t.Errorf("nlink after unlinking one name: %d", b.Nlink)
	}
}

func testSymlink(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("target"), []byte("via link"), 0o644))
	must(t, "symlink", unix.Symlink("target", e.p("l")))
	got, err := os.Readlink(filepath.Join(e.other, "l"))
	if err != nil || got != "target" {
		t.Errorf("readlink through client 1: %q %v", got, err)
	}
	if b, _ := os.ReadFile(e.p("l")); string(b) != "via link" {
		t.Errorf("read through the link: %q", b)
	}
	var st unix.Stat_t
	must(t, "lstat", unix.Lstat(e.p("l"), &st))
	if st.Mode&syscall.S_IFMT != syscall.S_IFLNK || st.Size != int64(len("target")) {
		t.Errorf("lstat: mode %o size %d", st.Mode, st.Size)
	}
	wantErrno(t, "symlink over an existing name", unix.Symlink("x", e.p("l")), syscall.EEXIST)
	buf := make([]byte, 10)
	_, err = unix.Readlink(e.p("target"), buf)
	wantErrno(t, "readlink of a file", err, syscall.EINVAL)
	must(t, "loop a", unix.Symlink("b", e.p("a")))
	must(t, "loop b", unix.Symlink("a", e.p("b")))
	_, err = unix.Open(e.p("a"), unix.O_RDONLY, 0)
	wantErrno(t, "open a symlink loop", err, syscall.ELOOP)
	must(t, "dangling", unix.Symlink("nowhere", e.p("dangling")))
	_, err = unix.Open(e.p("dangling"), unix.O_RDONLY, 0)
	wantErrno(t, "open a dangling symlink", err, syscall.ENOENT)
}

func testMknod(t *testing.T, e posixEnv) {
	must(t, "mkfifo", unix.Mkfifo(e.p("fifo"), 0o644))
	must(t, "mknod char", unix.Mknod(e.p("null"), syscall.S_IFCHR|0o644, int(unix.Mkdev(1, 3))))
	var st unix.Stat_t
	must(t, "stat fifo", unix.Stat(filepath.Join(e.other, "fifo"), &st))
	if st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		t.Errorf("fifo mode %o", st.Mode)
	}
	must(t, "stat char", unix.Stat(e.p("null"), &st))
	if st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("char device mode %o rdev %x", st.Mode, st.Rdev)
	}
	wantErrno(t, "mknod existing", unix.Mkfifo(e.p("fifo"), 0o644), syscall.EEXIST)
}

func testReaddir(t *testing.T, e posixEnv) {
	want := map[string]bool{}
	for i := range 300 {
		n := "entry-" + strconv.Itoa(i)
		want[n] = true
		must(t, "create", os.WriteFile(e.p(n), nil, 0o644))
	}
	must(t, "mkdir", os.Mkdir(e.p("sub"), 0o755))
	want["sub"] = true
	for _, dir := range []string{e.dir, e.other} {
		ents, err := os.ReadDir(dir)
		must(t, "readdir", err)
		got := map[string]bool{}
		for _, de := range ents {
			if got[de.Name()] {
				t.Errorf("%s listed twice", de.Name())
			}
			got[de.Name()] = true
			if de.Name() == "sub" && !de.IsDir() {
				t.Errorf("sub is not listed as a directory")
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d entries, want %d", dir, len(got), len(want))
		}
		for n := range want {
			if !got[n] {
				t.Errorf("%s: %s missing", dir, n)
			}
		}
	}
	_, err := os.ReadDir(e.p("entry-0"))
	wantErrno(t, "readdir of a file", err, syscall.ENOTDIR)
}

func testXattr(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("f"), nil, 0o644))
	must(t, "setxattr", unix.Setxattr(e.p("f"), "user.color", []byte("blue"), 0))
	buf := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join(e.other, "f"), "user.color", buf)
	if err != nil || string(buf[:n]) != "blue" {
		t.Errorf("getxattr through client 1: %q %v", buf[:max(n, 0)], err)
	}
	_, err = unix.Getxattr(e.p("f"), "user.color", make([]byte, 2))
	wantErrno(t, "getxattr into a small buffer", err, syscall.ERANGE)
	_, err = unix.Getxattr(e.p("f"), "user.missing", buf)
	wantErrno(t, "getxattr missing", err, syscall.ENODATA)
	wantErrno(t, "XATTR_CREATE over an existing one",
		unix.Setxattr(e.p("f"), "user.color", []byte("red"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "XATTR_REPLACE of a missing one",
		unix.Setxattr(e.p("f"), "user.size", []byte("1"), unix.XATTR_REPLACE), syscall.ENODATA)
	must(t, "setxattr 2", unix.Setxattr(e.p("f"), "user.shape", []byte("round"), 0))
	n, err = unix.Listxattr(e.p("f"), buf)
	must(t, "listxattr", err)
	names := map[string]bool{}
	for _, s := range bytes.Split(bytes.TrimRight(buf[:n], "\x00"), []byte{0}) {
		names[string(s)] = true
	}
	if !names["user.color"] || !names["user.shape"] {
		t.Errorf("listxattr: %q", buf[:n])
	}
	must(t, "removexattr", unix.Removexattr(e.p("f"), "user.color"))
	wantErrno(t, "removexattr again", unix.Removexattr(e.p("f"), "user.color"), syscall.ENODATA)
	wantErrno(t, "setxattr on missing", unix.Setxattr(e.p("missing"), "user.x", []byte("1"), 0), syscall.ENOENT)
}

func testStatfs(t *testing.T, e posixEnv) {
	var s unix.Statfs_t
	must(t, "statfs", unix.Statfs(e.dir, &s))
	if s.Blocks == 0 || s.Bsize == 0 || s.Bfree > s.Blocks || s.Bavail > s.Blocks || s.Files == 0 || s.Namelen != 255 {
		t.Errorf("statfs: %+v", s)
	}
}

func testFsync(t *testing.T, e posixEnv) {
	f, err := os.Create(e.p("f"))
	must(t, "create", err)
	defer f.Close()
	_, err = f.Write(bytes.Repeat([]byte("s"), 3<<20))
	must(t, "write", err)
	must(t, "fsync", f.Sync())
	must(t, "fdatasync", unix.Fdatasync(int(f.Fd())))
	// After fsync the data is on the OSTs: another client reads it before
	// this one closes.
	b, err := os.ReadFile(filepath.Join(e.other, "f"))
	if err != nil || len(b) != 3<<20 {
		t.Errorf("client 1 reads %d bytes after fsync (%v)", len(b), err)
	}
}

func testMmap(t *testing.T, e posixEnv) {
	must(t, "write", os.WriteFile(e.p("f"), bytes.Repeat([]byte("."), 8192), 0o644))
	f, err := os.OpenFile(e.p("f"), os.O_RDWR, 0)
	must(t, "open", err)
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	must(t, "mmap", err)
	copy(m[4090:], "mapped")
	must(t, "msync", unix.Msync(m, unix.MS_SYNC))
	must(t, "munmap", unix.Munmap(m))
	must(t, "close", f.Close())
	b, err := os.ReadFile(filepath.Join(e.other, "f"))
	if err != nil || string(b[4090:4096]) != "mapped" || len(b) != 8192 {
		t.Errorf("client 1 reads %q around the page boundary (%v)", b[4088:4098], err)
	}
}

func testNameTooLong(t *testing.T, e posixEnv) {
	long, max := string(bytes.Repeat([]byte("x"), 256)), string(bytes.Repeat([]byte("y"), 255))
	_, err := os.Create(e.p(long))
	wantErrno(t, "create", err, syscall.ENAMETOOLONG)
	wantErrno(t, "mkdir", unix.Mkdir(e.p(long), 0o755), syscall.ENAMETOOLONG)
	wantErrno(t, "symlink", unix.Symlink("t", e.p(long)), syscall.ENAMETOOLONG)
	must(t, "create 255", os.WriteFile(e.p(max), nil, 0o644))
	wantErrno(t, "rename", unix.Rename(e.p(max), e.p(long)), syscall.ENAMETOOLONG)
}

// testPermissions runs operations as nobody (65534) against files of root:
// the MDT checks the caller's credentials.
func testPermissions(t *testing.T, e posixEnv) {
	needRoot(t)
	const nobody = 65534
	must(t, "write", os.WriteFile(e.p("secret"), []byte("s"), 0o600))
	must(t, "write", os.WriteFile(e.p("public"), []byte("p"), 0o644))
	must(t, "mkdir", os.Mkdir(e.p("closed"), 0o755))
	must(t, "chmod", os.Chmod(e.p("closed"), 0o755))
	must(t, "mkdir", os.Mkdir(e.p("open"), 0o777))
	must(t, "chmod", os.Chmod(e.p("open"), 0o777))
	for _, c := range []struct {
		op   string
		args []string
		want syscall.Errno
	}{
		{"read", []string{e.p("secret")}, syscall.EACCES},
		{"read", []string{e.p("public")}, 0},
		{"open", []string{e.p("public"), strconv.Itoa(unix.O_WRONLY)}, syscall.EACCES},
		{"mkdir", []string{e.p("closed", "x")}, syscall.EACCES},
		{"open", []string{e.p("closed", "f"), strconv.Itoa(unix.O_CREAT | unix.O_WRONLY)}, syscall.EACCES},
		{"unlink", []string{e.p("public")}, syscall.EACCES}, // the test's dir is 0777 but public's dir... see below
		{"chmod", []string{e.p("public")}, syscall.EPERM},
		{"chown", []string{e.p("public")}, syscall.EPERM},
		{"utimes", []string{e.p("public")}, syscall.EPERM},
		{"mkdir", []string{e.p("open", "mine")}, 0},
		{"access", []string{e.p("secret"), "4"}, syscall.EACCES},
		{"access", []string{e.p("public"), "4"}, 0},
	} {
		if c.op == "unlink" {
			// e.dir is 0777, so nobody may unlink there; use the closed one.
			must(t, "write", os.WriteFile(e.p("closed", "victim"), nil, 0o644))
			c.args = []string{e.p("closed", "victim")}
		}
		if got := asUser(t, e.helper, nobody, nobody, c.op, c.args...); got != c.want {
			t.Errorf("%s %v as nobody: %v (%d), want %v (%d)", c.op, c.args, got, int(got), c.want, int(c.want))
		}
	}
	var st unix.Stat_t
	must(t, "stat nobody's dir", unix.Stat(e.p("open", "mine"), &st))
	if st.Uid != nobody || st.Gid != nobody {
		t.Errorf("a directory nobody made belongs to %d:%d", st.Uid, st.Gid)
	}
}
