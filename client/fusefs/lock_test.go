package fusefs

import (
	"context"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// lockFS is a memFS that is a Locker: whole-owner record locks in memory,
// as the MDT keeps them (ranges overlap or not; an owner's own locks
// never conflict; unlock removes the owner's locks the range overlaps).
type lockFS struct {
	*memFS
	mu    sync.Mutex
	cond  *sync.Cond
	locks map[wire.FID][]ldlm.Flock
	calls []ldlm.Flock // every request, in order
}

func newLockFS() *lockFS {
	l := &lockFS{memFS: newMemFS(), locks: map[wire.FID][]ldlm.Flock{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func overlap(a, b ldlm.Flock) bool { return a.Start <= b.End && b.Start <= a.End }

func (l *lockFS) conflictLocked(fid wire.FID, fl ldlm.Flock) (ldlm.Flock, bool) {
	for _, h := range l.locks[fid] {
		if h.Owner != fl.Owner && overlap(h, fl) && (h.Mode == wire.LockPW || fl.Mode == wire.LockPW) {
			return h, true
		}
	}
	return ldlm.Flock{}, false
}

func (l *lockFS) Flock(ctx context.Context, fid wire.FID, cmd ldlm.FlockCmd, fl ldlm.Flock) (ldlm.Flock, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fl)
	if cmd == ldlm.FlockTest {
		if h, ok := l.conflictLocked(fid, fl); ok {
			return h, nil
		}
		return ldlm.Flock{Mode: wire.LockNL}, nil
	}
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	for fl.Mode != wire.LockNL {
		if _, ok := l.conflictLocked(fid, fl); !ok {
			break
		}
		if cmd == ldlm.FlockSet {
			return ldlm.Flock{}, ldlm.ErrWouldBlock
		}
		if ctx.Err() != nil {
			return ldlm.Flock{}, ldlm.ErrInterrupted
		}
		l.cond.Wait()
	}
	var kept []ldlm.Flock
	for _, h := range l.locks[fid] {
		if h.Owner != fl.Owner || !overlap(h, fl) {
			kept = append(kept, h)
		}
	}
	if fl.Mode != wire.LockNL {
		kept = append(kept, fl)
	}
	l.locks[fid] = kept
	l.cond.Broadcast()
	return fl, nil
}

// held returns the locks on fid.
func (l *lockFS) held(fid wire.FID) []ldlm.Flock {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ldlm.Flock(nil), l.locks[fid]...)
}

// seed adds a lock of another client's owner.
func (l *lockFS) seed(fid wire.FID, fl ldlm.Flock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.locks[fid] = append(l.locks[fid], fl)
}

func mountLocker(t *testing.T, l *lockFS) string {
	t.Helper()
	needFUSE(t)
	checkLeaks(t)
	dir := t.TempDir()
	srv, err := Mount(context.Background(), dir, l, Options{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() { unmount(t, srv) })
	return dir
}

// flock(2) locks of two open files exclude each other through the
// backend; closing the holder's last descriptor releases its lock (once
// the kernel's asynchronous RELEASE arrives).
func TestFlockThroughBackend(t *testing.T) {
	l := newLockFS()
	dir := mountLocker(t, l)
	p := dir + "/f"
	must(t, "create", os.WriteFile(p, nil, 0o644))
	f1, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, "open", err)
	f2, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, "open", err)
	defer f2.Close()
	must(t, "flock f1", unix.Flock(int(f1.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	if err := unix.Flock(int(f2.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		t.Fatalf("second open file's flock: %v", err)
	}
	must(t, "shared lock by the holder (conversion)", unix.Flock(int(f1.Fd()), unix.LOCK_SH|unix.LOCK_NB))
	must(t, "shared lock of f2", unix.Flock(int(f2.Fd()), unix.LOCK_SH|unix.LOCK_NB))
	must(t, "unlock f2", unix.Flock(int(f2.Fd()), unix.LOCK_UN))
	must(t, "close f1", f1.Close())
	// The kernel sends RELEASE after close(2) returns: wait for it.
	must(t, "flock f2 once f1 is released", unix.Flock(int(f2.Fd()), unix.LOCK_EX))
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		if c.Start != 0 || c.End != wire.LockEOF {
			t.Errorf("flock sent as a range lock: %+v", c)
		}
	}
}

// fcntl(2) locks: F_GETLK reports another client's lock, F_SETLK fails
// with EAGAIN over it, ranges and modes convert both ways, and closing
// any descriptor of the file releases the process's locks.
func TestFcntlThroughBackend(t *testing.T) {
	l := newLockFS()
	dir := mountLocker(t, l)
	p := dir + "/f"
	must(t, "create", os.WriteFile(p, nil, 0o644))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, "open", err)
	defer f.Close()
	var fid wire.FID
	l.memFS.mu.Lock()
	for id, in := range l.memFS.inodes {
		if in.attr.Mode&syscall.S_IFMT == syscall.S_IFREG {
			fid = id
		}
	}
	l.memFS.mu.Unlock()
	other := ldlm.Flock{Mode: wire.LockPW, Start: 100, End: 199, PID: 4242, Owner: 1}
	l.seed(fid, other)

	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 150, Len: 10}
	must(t, "F_GETLK", unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk))
	if lk.Type != unix.F_WRLCK || lk.Start != 100 || lk.Len != 100 { // the kernel maps the pid into its namespace: 0 for a remote one
		t.Fatalf("F_GETLK: %+v", lk)
	}
	lk = unix.Flock_t{Type: unix.F_RDLCK, Start: 150, Len: 10}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != unix.EAGAIN && err != unix.EACCES {
		t.Fatalf("F_SETLK over another's lock: %v", err)
	}
	lk = unix.Flock_t{Type: unix.F_WRLCK, Start: 0, Len: 0} // to the end of the file
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != unix.EAGAIN && err != unix.EACCES {
		t.Fatalf("F_SETLK to EOF over another's lock: %v", err)
	}
	lk = unix.Flock_t{Type: unix.F_WRLCK, Start: 0, Len: 100}
	must(t, "F_SETLK beside", unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk))
	if h := l.held(fid); len(h) != 2 || h[1].Start != 0 || h[1].End != 99 || h[1].Mode != wire.LockPW {
		t.Fatalf("held after F_SETLK: %+v", h)
	}
	lk = unix.Flock_t{Type: unix.F_RDLCK, Start: 200, Len: 0}
	must(t, "F_SETLK to EOF", unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk))
	if h := l.held(fid); len(h) != 3 || h[2].Start != 200 || h[2].End != wire.LockEOF || h[2].Mode != wire.LockPR {
		t.Fatalf("held after F_SETLK to EOF: %+v", h)
	}
	// Closing another descriptor of the file drops the process's locks.
	g, err := os.Open(p)
	must(t, "open again", err)
	must(t, "close", g.Close())
	if h := l.held(fid); len(h) != 1 || h[0] != other {
		t.Fatalf("held after a close: %+v", h)
	}
}

// A flock on a directory goes when its last descriptor is closed.
func TestFlockDirectory(t *testing.T) {
	l := newLockFS()
	dir := mountLocker(t, l)
	p := dir + "/d"
	must(t, "mkdir", os.Mkdir(p, 0o755))
	d1, err := os.Open(p)
	must(t, "open", err)
	d2, err := os.Open(p)
	must(t, "open", err)
	defer d2.Close()
	must(t, "flock d1", unix.Flock(int(d1.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	if err := unix.Flock(int(d2.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		t.Fatalf("second open directory's flock: %v", err)
	}
	must(t, "close d1", d1.Close())
	// The kernel sends RELEASEDIR after close(2) returns: wait for it.
	must(t, "flock d2 once d1 is released", unix.Flock(int(d2.Fd()), unix.LOCK_EX))
}

// The kernel names a flock's owner by its open file's address, which a new
// open reuses while the old one's RELEASE (asynchronous) is still on its
// way. The old file's flock goes before the new file's request, and its
// late RELEASE leaves the new holder's lock alone.
func TestFlockOwnerReusedBeforeRelease(t *testing.T) {
	l := newLockFS()
	fsys := &fileSystem{b: l, log: zap.NewNop(), open: map[*handle]struct{}{}, locks: &lockState{flushes: map[uint32]uint64{}}}
	ctx := context.Background()
	f1, fid, _, err := l.Create(ctx, l.Root(), "f", syscall.O_RDWR, 0o644)
	must(t, "create", err)
	n := &node{fsys: fsys, fid: fid}
	h1, _ := fsys.newHandle(n, f1, syscall.O_RDWR)
	f2, err := l.Open(ctx, fid, syscall.O_RDWR)
	must(t, "open", err)
	h2, _ := fsys.newHandle(n, f2, syscall.O_RDWR)

	const owner = 0xf11e
	ex := &fuse.FileLock{Typ: syscall.F_WRLCK}
	if e := n.Setlkw(ctx, h1, owner, ex, fuse.FUSE_LK_FLOCK); e != 0 {
		t.Fatalf("flock of the first open file: %v", e)
	}
	// The first file is closed without unlocking; a new open gets its
	// address before its RELEASE arrives.
	if e := n.Setlkw(ctx, h2, owner, ex, fuse.FUSE_LK_FLOCK); e != 0 {
		t.Fatalf("flock of the second open file: %v", e)
	}
	if e := n.Release(ctx, h1); e != 0 {
		t.Fatalf("late release of the first open file: %v", e)
	}
	if got := l.held(fid); len(got) != 1 || got[0].Owner != owner || got[0].Mode != wire.LockPW {
		t.Fatalf("after the first file's late release, the locks are %+v, want the second file's", got)
	}
	l.mu.Lock()
	var modes []wire.LockMode
	for _, c := range l.calls {
		modes = append(modes, c.Mode)
	}
	l.mu.Unlock()
	if want := []wire.LockMode{wire.LockPW, wire.LockNL, wire.LockPW}; !slices.Equal(modes, want) {
		t.Errorf("requests %v, want %v (the stale flock unlocked before the new one)", modes, want)
	}
	if e := n.Release(ctx, h2); e != 0 {
		t.Fatal(e)
	}
	if got := l.held(fid); len(got) != 0 {
		t.Errorf("locks left after both releases: %+v", got)
	}
}
