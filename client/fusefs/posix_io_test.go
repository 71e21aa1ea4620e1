package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/wire"
)

func init() {
	posixSuite["CreateFlags"] = testCreateFlags
	posixSuite["Append"] = testAppend
	posixSuite["OpenUnlinked"] = testOpenUnlinked
	posixSuite["CloseToOpen"] = testCloseToOpen
	posixSuite["ReadWrite"] = testReadWrite
	posixSuite["Xattr"] = testXattr
	posixSuite["FsyncFlush"] = testFsyncFlush
	posixSuite["Fallocate"] = testFallocate
	posixSuite["ErrorTranslation"] = testErrorTranslation
	posixSuite["CredsRoot"] = testCredsRoot
	posixSuite["Interrupt"] = testInterrupt
}

// otherClient writes p at off in name below the root, as another client
// would: straight to the backend, behind the kernel's back.
func (tm *testMount) otherClient(t *testing.T, name string, p []byte, off int64) {
	t.Helper()
	ctx := context.Background()
	f, err := tm.m.Open(ctx, tm.fidOf(t, name), syscall.O_WRONLY)
	must(t, "backend open", err)
	_, err = f.WriteAt(ctx, p, off)
	must(t, "backend write", err)
	must(t, "backend release", f.Release(ctx))
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, "read "+p, err)
	return string(b)
}

func testCreateFlags(t *testing.T, tm *testMount) {
	p := tm.path("f")
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0640)
	must(t, "O_EXCL create", err)
	_, err = unix.Write(fd, []byte("hello"))
	must(t, "write", err)
	must(t, "close", unix.Close(fd))
	_, err = unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0640)
	wantErrno(t, "O_EXCL on existing", err, syscall.EEXIST)
	fd, err = unix.Open(p, unix.O_CREAT|unix.O_RDWR, 0600)
	must(t, "O_CREAT on existing", err)
	unix.Close(fd)
	var st unix.Stat_t
	must(t, "stat", unix.Stat(p, &st))
	if st.Mode != unix.S_IFREG|0640 || readFile(t, p) != "hello" {
		t.Errorf("O_CREAT on an existing file changed it: mode %o", st.Mode)
	}
	fd, err = unix.Open(p, unix.O_WRONLY|unix.O_TRUNC, 0)
	must(t, "O_TRUNC", err)
	unix.Close(fd)
	if got := readFile(t, p); got != "" {
		t.Errorf("after O_TRUNC: %q", got)
	}
	must(t, "write", os.WriteFile(p, []byte("again"), 0644))
	fd, err = unix.Open(p, unix.O_CREAT|unix.O_TRUNC|unix.O_WRONLY, 0644)
	must(t, "O_CREAT|O_TRUNC", err)
	unix.Close(fd)
	if got := readFile(t, p); got != "" {
		t.Errorf("after O_CREAT|O_TRUNC: %q", got)
	}

	// Another client creates g between the kernel's lookup and its
	// create: the open flags decide, in the backend.
	if _, _, err := tm.m.Mknod(context.Background(), tm.m.Root(), "g", syscall.S_IFREG|0644, 0); err != nil {
		t.Fatal(err)
	}
	tm.otherClient(t, "g", []byte("theirs"), 0)
	tm.m.failNext("lookup", syscall.ENOENT)
	_, err = unix.Open(tm.path("g"), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0644)
	wantErrno(t, "O_EXCL create racing another client", err, syscall.EEXIST)
	tm.m.failNext("lookup", syscall.ENOENT)
	fd, err = unix.Open(tm.path("g"), unix.O_CREAT|unix.O_WRONLY, 0644)
	must(t, "O_CREAT racing another client", err)
	unix.Close(fd)
	if got := readFile(t, tm.path("g")); got != "theirs" {
		t.Errorf("O_CREAT racing another client's create: %q", got)
	}
}

// testAppend checks that O_APPEND writes land at the end of the file as
// the backend knows it, even when another client extended it after this
// one last looked.
func testAppend(t *testing.T, tm *testMount) {
	p := tm.path("f")
	must(t, "write", os.WriteFile(p, []byte("0123456789"), 0644))
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_APPEND, 0)
	must(t, "open O_APPEND", err)
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte("abc"))
	must(t, "append", err)
	tm.otherClient(t, "f", []byte("XYZ"), 13)
	_, err = unix.Write(fd, []byte("def"))
	must(t, "append after another client's", err)
	rw, err := unix.Open(p, unix.O_RDWR, 0)
	must(t, "open", err)
	defer unix.Close(rw)
	_, err = unix.Pwrite(rw, []byte("++"), 19)
	must(t, "pwrite", err)
	_, err = unix.Write(fd, bytes.Repeat([]byte("!"), 3<<20)) // several WRITE requests
	must(t, "big append", err)
	got := readFile(t, p)
	if want := "0123456789abcXYZdef++"; !strings.HasPrefix(got, want) || len(got) != len(want)+3<<20 {
		t.Errorf("file holds %q... (%d bytes), want %q and 3 MiB of !", got[:min(len(got), 24)], len(got), want)
	}
	var st unix.Stat_t
	must(t, "fstat", unix.Fstat(fd, &st))
	if st.Size != int64(len(got)) {
		t.Errorf("fstat size %d, file is %d bytes", st.Size, len(got))
	}
}

// testOpenUnlinked checks that an unlinked file stays readable and
// writable through the descriptors open on it.
func testOpenUnlinked(t *testing.T, tm *testMount) {
	p := tm.path("f")
	must(t, "write", os.WriteFile(p, []byte("hello"), 0644))
	fid := tm.fidOf(t, "f")
	fd, err := unix.Open(p, unix.O_RDWR, 0)
	must(t, "open", err)
	defer unix.Close(fd)
	must(t, "unlink", unix.Unlink(p))
	var st unix.Stat_t
	wantErrno(t, "stat unlinked", unix.Stat(p, &st), syscall.ENOENT)
	_, err = unix.Pwrite(fd, []byte(" world"), 5)
	must(t, "pwrite unlinked", err)
	buf := make([]byte, 64)
	n, err := unix.Pread(fd, buf, 0)
	must(t, "pread unlinked", err)
	if string(buf[:n]) != "hello world" {
		t.Errorf("unlinked file reads %q", buf[:n])
	}
	must(t, "fstat", unix.Fstat(fd, &st))
	if st.Nlink != 0 || st.Size != 11 || st.Ino != fid.Ino() {
		t.Errorf("fstat of unlinked: nlink %d size %d ino %d", st.Nlink, st.Size, st.Ino)
	}
	// A new file of the same name is another inode.
	must(t, "recreate", os.WriteFile(p, []byte("new"), 0644))
	n, _ = unix.Pread(fd, buf, 0)
	if string(buf[:n]) != "hello world" || readFile(t, p) != "new" {
		t.Errorf("old descriptor reads %q, new name %q", buf[:n], readFile(t, p))
	}
	// (mount's cleanup checks that the orphan is gone once released)
}

// testCloseToOpen checks that no page cache outlives an open: a file
// another client rewrote (same size, same mtime) reads anew when opened
// again.
func testCloseToOpen(t *testing.T, tm *testMount) {
	p := tm.path("f")
	must(t, "write", os.WriteFile(p, bytes.Repeat([]byte("a"), 8192), 0644))
	if got := readFile(t, p); got[0] != 'a' {
		t.Fatalf("read %q", got[:1])
	}
	fid := tm.fidOf(t, "f")
	before, _ := tm.m.GetAttr(context.Background(), fid)
	tm.otherClient(t, "f", bytes.Repeat([]byte("b"), 8192), 0)
	if _, err := tm.m.SetAttr(context.Background(), fid, wire.Attr{Valid: wire.AttrMtime, Mtime: before.Mtime}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != strings.Repeat("b", 8192) {
		t.Errorf("second open reads the old data: %q...", got[:8])
	}
}

func testReadWrite(t *testing.T, tm *testMount) {
	p := tm.path("f")
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_RDWR, 0644)
	must(t, "create", err)
	defer unix.Close(fd)
	data := make([]byte, 3<<20+123)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	const off = 5<<20 + 17
	n, err := unix.Pwrite(fd, data, off)
	if err != nil || n != len(data) {
		t.Fatalf("pwrite: %d %v", n, err)
	}
	var st unix.Stat_t
	must(t, "fstat", unix.Fstat(fd, &st))
	if st.Size != off+int64(len(data)) {
		t.Errorf("size %d", st.Size)
	}
	got := make([]byte, len(data)+4096)
	n, err = unix.Pread(fd, got, off)
	if err != nil || n != len(data) || !bytes.Equal(got[:n], data) {
		t.Errorf("pread back: %d %v, equal %v", n, err, bytes.Equal(got[:n], data))
	}
	n, err = unix.Pread(fd, got[:4096], 4096)
	if err != nil || n != 4096 || !bytes.Equal(got[:4096], make([]byte, 4096)) {
		t.Errorf("the hole reads %d %v, not zeros", n, err)
	}
	n, err = unix.Pread(fd, got, st.Size+10)
	if err != nil || n != 0 {
		t.Errorf("read past the end: %d %v", n, err)
	}
	// Reads through a fresh descriptor (kernel readahead, 1 MiB READs).
	if back := readFile(t, p); !bytes.Equal([]byte(back[off:]), data) {
		t.Error("reading the whole file back differs")
	}
	wantErrno(t, "write to O_RDONLY", func() error {
		ro, err := unix.Open(p, unix.O_RDONLY, 0)
		must(t, "open", err)
		defer unix.Close(ro)
		_, err = unix.Write(ro, []byte("x"))
		return err
	}(), syscall.EBADF)
}

func testXattr(t *testing.T, tm *testMount) {
	p := tm.path("f")
	must(t, "write", os.WriteFile(p, nil, 0644))
	buf := make([]byte, 256)
	_, err := unix.Getxattr(p, "user.a", buf)
	wantErrno(t, "get missing", err, syscall.ENODATA)
	must(t, "set", unix.Setxattr(p, "user.a", []byte("value"), 0))
	if n, err := unix.Getxattr(p, "user.a", nil); n != 5 || err != nil {
		t.Errorf("size query: %d %v", n, err)
	}
	_, err = unix.Getxattr(p, "user.a", buf[:2])
	wantErrno(t, "get into a small buffer", err, syscall.ERANGE)
	if n, err := unix.Getxattr(p, "user.a", buf); err != nil || string(buf[:n]) != "value" {
		t.Errorf("get: %q %v", buf[:n], err)
	}
	wantErrno(t, "XATTR_CREATE existing", unix.Setxattr(p, "user.a", []byte("v"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "XATTR_REPLACE missing", unix.Setxattr(p, "user.b", []byte("v"), unix.XATTR_REPLACE), syscall.ENODATA)
	must(t, "XATTR_REPLACE", unix.Setxattr(p, "user.a", []byte("new"), unix.XATTR_REPLACE))
	big := bytes.Repeat([]byte{7}, 60000)
	must(t, "set big", unix.Setxattr(p, "user.big", big, unix.XATTR_CREATE))
	bigBuf := make([]byte, 65536)
	if n, err := unix.Getxattr(p, "user.big", bigBuf); err != nil || !bytes.Equal(bigBuf[:n], big) {
		t.Errorf("get big: %d %v", n, err)
	}
	want := "user.a\x00user.big\x00"
	if n, err := unix.Listxattr(p, nil); n != len(want) || err != nil {
		t.Errorf("list size query: %d %v", n, err)
	}
	_, err = unix.Listxattr(p, buf[:3])
	wantErrno(t, "list into a small buffer", err, syscall.ERANGE)
	if n, err := unix.Listxattr(p, buf); err != nil || string(buf[:n]) != want {
		t.Errorf("list: %q %v", buf[:n], err)
	}
	must(t, "remove", unix.Removexattr(p, "user.a"))
	wantErrno(t, "remove again", unix.Removexattr(p, "user.a"), syscall.ENODATA)
	must(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	must(t, "set on a directory", unix.Setxattr(tm.path("d"), "user.d", []byte("x"), 0))
	if n, err := unix.Getxattr(tm.path("d"), "user.d", buf); err != nil || string(buf[:n]) != "x" {
		t.Errorf("get on a directory: %q %v", buf[:n], err)
	}
}

// testFsyncFlush checks that fsync, fdatasync and close return the
// backend's errors, wrapped or remote, as their errnos.
func testFsyncFlush(t *testing.T, tm *testMount) {
	fd, err := unix.Open(tm.path("f"), unix.O_CREAT|unix.O_WRONLY, 0644)
	must(t, "create", err)
	_, err = unix.Write(fd, []byte("x"))
	must(t, "write", err)
	must(t, "fsync", unix.Fsync(fd))
	must(t, "fdatasync", unix.Fdatasync(fd))
	tm.m.failNext("fsync", fmt.Errorf("osc: write back: %w", syscall.EDQUOT))
	wantErrno(t, "fsync failing", unix.Fsync(fd), syscall.EDQUOT)
	tm.m.failNext("flush", fmt.Errorf("flush: %w", wire.Errno(syscall.ENOSPC).Err()))
	wantErrno(t, "close with a deferred write error", unix.Close(fd), syscall.ENOSPC)
}

func testFallocate(t *testing.T, tm *testMount) {
	fd, err := unix.Open(tm.path("f"), unix.O_CREAT|unix.O_RDWR, 0644)
	must(t, "create", err)
	defer unix.Close(fd)
	tm.m.mu.Lock()
	tm.m.noAllocate = true
	tm.m.mu.Unlock()
	wantErrno(t, "fallocate without backend support", unix.Fallocate(fd, 0, 0, 4096), syscall.EOPNOTSUPP)
	tm.m.mu.Lock()
	tm.m.noAllocate = false
	tm.m.mu.Unlock()
	must(t, "fallocate", unix.Fallocate(fd, 0, 1024, 4096))
	var st unix.Stat_t
	must(t, "fstat", unix.Fstat(fd, &st))
	if st.Size != 5120 {
		t.Errorf("size after fallocate: %d", st.Size)
	}
}

// testErrorTranslation checks the one translation point: errnos however
// wrapped, cancelled contexts as EINTR, anything else EIO and logged with
// the FID.
func testErrorTranslation(t *testing.T, tm *testMount) {
	p := tm.path("f")
	must(t, "write", os.WriteFile(p, nil, 0644))
	fid := tm.fidOf(t, "f")
	var st unix.Stat_t
	for _, c := range []struct {
		err  error
		want syscall.Errno
	}{
		{syscall.ENOLINK, syscall.ENOLINK}, // (not ESTALE: the kernel retries that once)
		{fmt.Errorf("mdc: getattr %v: %w", fid, syscall.EACCES), syscall.EACCES},
		{fmt.Errorf("ptlrpc: %w", wire.Errno(syscall.EROFS).Err()), syscall.EROFS},
		{context.Canceled, syscall.EINTR},
		{fmt.Errorf("rpc: %w", context.DeadlineExceeded), syscall.EINTR},
		{errors.New("lov: stripe math went wrong"), syscall.EIO},
	} {
		tm.m.failNext("getattr", c.err)
		wantErrno(t, fmt.Sprintf("stat failing with %v", c.err), unix.Stat(p, &st), c.want)
	}
	logged := tm.logs.FilterMessage("fusefs: unexpected error, returning EIO").All()
	if len(logged) != 1 || logged[0].ContextMap()["fid"] != fid.String() || logged[0].ContextMap()["op"] != "getattr" {
		t.Errorf("EIO logged as %+v", logged)
	}
}

// testCredsRoot checks the credentials root's calls carry: uid 0, gid 0,
// the calling thread's id, and no supplementary groups (the MDT does not
// check root).
func testCredsRoot(t *testing.T, tm *testMount) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	must(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	c := tm.m.lastCreds("mkdir")
	if c.UID != 0 || c.GID != 0 || c.PID != uint32(unix.Gettid()) || c.Groups != nil {
		t.Errorf("creds %+v, want root's from thread %d", c, unix.Gettid())
	}
}

// testInterrupt checks that a signal to a thread waiting in a system call
// on the mount cancels the backend call's context (FUSE INTERRUPT) and the
// call fails with EINTR.
func testInterrupt(t *testing.T, tm *testMount) {
	must(t, "write", os.WriteFile(tm.path("f"), nil, 0644))
	started := tm.m.blockNext("getattr")
	tids := make(chan int, 1)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		var st unix.Stat_t
		errc <- unix.Stat(tm.path("f"), &st)
	}()
	tid := <-tids
	<-started
	// SIGURG: the Go runtime's own preemption signal, harmless to the
	// thread. Repeat it in case one arrives before the thread waits.
	for {
		must(t, "tgkill", unix.Tgkill(unix.Getpid(), tid, unix.SIGURG))
		select {
		case err := <-errc:
			wantErrno(t, "interrupted stat", err, syscall.EINTR)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
