package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// needFUSE skips a test that mounts when this machine cannot: mounting
// needs /dev/fuse, and the tests mount as root (mount(2), allow_other,
// other uids). CI runs as root with /dev/fuse, so there they run.
func needFUSE(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("fusefs: no FUSE on this machine (%v): mount tests need /dev/fuse", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("fusefs: mount tests need root (mount(2), allow_other, acting as other uids)")
	}
}

// testMount is a fresh memFS mounted for one test.
type testMount struct {
	dir  string
	m    *memFS
	srv  *Server
	logs *observer.ObservedLogs // everything the adapter logged, debug level up
}

// mount mounts m (a new memFS if nil) on a fresh directory, with every
// check a test needs at its end: unmounted (lazily if the test left it
// busy), and no goroutine of go-fuse or of this package left running.
func mount(t testing.TB, m *memFS, opts Options) *testMount {
	t.Helper()
	if m == nil {
		m = newMemFS()
	}
	return mountBackend(t, m, m, opts)
}

// mountBackend mounts b, whose state is m (b is m or wraps it), as mount
// does.
func mountBackend(t testing.TB, b Backend, m *memFS, opts Options) *testMount {
	t.Helper()
	needFUSE(t)
	checkLeaks(t)
	dir := t.TempDir()
	if opts.AllowOther {
		// Other users must get through t.TempDir's 0700 parent to reach it.
		must(t, "chmod", os.Chmod(filepath.Dir(dir), 0755))
	}
	// The test log gets info and up; the observer also the debug trace.
	core, logs := observer.New(zapcore.DebugLevel)
	tl := zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel))
	opts.Logger = zap.New(zapcore.NewTee(tl.Core(), core))
	srv, err := Mount(context.Background(), dir, b, opts)
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() {
		unmount(t, srv)
		m.check(t)
	})
	return &testMount{dir: dir, m: m, srv: srv, logs: logs}
}

// unmount unmounts srv; if the mount is busy it detaches it and waits for
// its users to go (bounded, so that a broken test fails instead of
// hanging).
func unmount(t testing.TB, srv *Server) {
	t.Helper()
	err := srv.Unmount()
	if err == nil {
		return
	}
	t.Errorf("Unmount: %v", err)
	if err := syscall.Unmount(srv.Mountpoint(), syscall.MNT_DETACH); err != nil {
		t.Errorf("detach: %v", err)
	}
	select {
	case <-srv.done:
	case <-time.After(time.Minute):
		t.Errorf("%s still served a minute after it was detached", srv.Mountpoint())
	}
}

// path joins names under the mount.
func (tm *testMount) path(names ...string) string {
	return tm.dir + "/" + strings.Join(names, "/")
}

// checkLeaks fails t if goroutines of go-fuse or of this package that were
// not running when it was called are still running after t's later
// cleanups (the unmount) have run. Call it before anything that starts
// them, so that its cleanup runs last.
func checkLeaks(t testing.TB) {
	t.Helper()
	before := map[string]bool{}
	for _, g := range goroutines() {
		before[g[0]] = true
	}
	t.Cleanup(func() {
		var leaked []string
		// A goroutine that has signalled its owner may still be on its way
		// out: give stragglers a moment, as goleak does.
		for wait := time.Millisecond; wait < 5*time.Second; wait *= 2 {
			leaked = leaked[:0]
			for _, g := range goroutines() {
				if !before[g[0]] && (strings.Contains(g[1], "hanwen/go-fuse") ||
					strings.Contains(g[1], "stria/client/fusefs.(")) &&
					!strings.Contains(g[1], "fusefs.checkLeaks") {
					leaked = append(leaked, g[1])
				}
			}
			if len(leaked) == 0 {
				return
			}
			time.Sleep(wait)
		}
		for _, g := range leaked {
			t.Errorf("leaked goroutine:\n%s", g)
		}
	})
}

// goroutines returns the id and stack of every goroutine.
func goroutines() [][2]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out [][2]string
	for _, block := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(block, "\n")
		f := strings.Fields(head)
		if len(f) >= 2 && f[0] == "goroutine" {
			out = append(out, [2]string{f[1], block})
		}
	}
	return out
}

// asUser runs fn on an OS thread of its own whose credentials are uid,
// gid and the supplementary groups (Linux credentials are per thread; the
// raw system calls, unlike syscall.Setresuid, change only this thread).
// The thread is discarded afterwards. fn must make its file system calls
// directly (syscall.*, os.*), not from other goroutines.
func asUser(t *testing.T, uid, gid uint32, groups []uint32, fn func()) {
	t.Helper()
	done := make(chan struct{})
	var setupErr error
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		gs := make([]uint32, len(groups)+1)
		copy(gs, groups)
		var gp uintptr
		if len(groups) > 0 {
			gp = uintptr(unsafe.Pointer(&gs[0]))
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(groups)), gp, 0); e != 0 {
			setupErr = e
			return
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
			setupErr = e
			return
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			setupErr = e
			return
		}
		fn()
	}()
	<-done
	if setupErr != nil {
		t.Fatalf("switching the thread to %d:%d: %v", uid, gid, setupErr)
	}
}
