package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/test/cluster"
)

// TestLocking runs the lock cases (issue #4) on a two-client cluster per
// runner: metadata changes on one client are seen at once on the other,
// and flock(2)/fcntl(2) locks exclude each other across clients.
func TestLocking(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			c := cluster.New(t, cluster.Options{Clients: 2, Runner: r})
			t.Run("MetadataCoherence", func(t *testing.T) { testMDCoherence(t, c) })
			t.Run("CachedStat", func(t *testing.T) { testCachedStat(t, c) })
			t.Run("KernelCache", func(t *testing.T) { testKernelCache(t, c) })
			t.Run("NegativeCache", func(t *testing.T) { testNegativeCache(t, c) })
			t.Run("Flock", func(t *testing.T) { testFlock(t, c) })
			t.Run("Fcntl", func(t *testing.T) { testFcntl(t, c) })
			t.Run("LockWaitSignal", func(t *testing.T) { testLockWaitSignal(t, c) })
			t.Run("LockParams", func(t *testing.T) { testLockParams(t, c) })
		})
	}
}

// twoPaths returns a fresh directory on client 0 and the same directory
// as client 1 sees it.
func twoPaths(t *testing.T, c *cluster.Cluster) (a, b string) {
	t.Helper()
	a = freshDir(t, c, 0)
	rel, err := filepath.Rel(c.Mount(0), a)
	must(t, "rel", err)
	return a, filepath.Join(c.Mount(1), rel)
}

func lockFile(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	must(t, "open "+p, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// testFlock: flock(2) on one client excludes the other's; LOCK_SH locks
// share; the holder's unlock, or its close, lets the other in.
func testFlock(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	fa := lockFile(t, filepath.Join(a, "f"))
	fb := lockFile(t, filepath.Join(b, "f"))
	must(t, "flock EX on client 0", unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	wantErrno(t, "flock EX on client 1", unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
	wantErrno(t, "flock SH on client 1", unix.Flock(int(fb.Fd()), unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
	must(t, "downgrade to SH on client 0", unix.Flock(int(fa.Fd()), unix.LOCK_SH|unix.LOCK_NB))
	must(t, "flock SH on client 1", unix.Flock(int(fb.Fd()), unix.LOCK_SH|unix.LOCK_NB))
	wantErrno(t, "upgrade on client 0 over client 1's SH", unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
	must(t, "unlock on client 1", unix.Flock(int(fb.Fd()), unix.LOCK_UN))
	must(t, "upgrade on client 0", unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	// A blocking flock on client 1 waits until client 0 closes its file.
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(fb.Fd()), unix.LOCK_EX) }()
	select {
	case err := <-done:
		t.Fatalf("client 1's flock returned while client 0 held the lock: %v", err)
	default:
	}
	must(t, "close on client 0", fa.Close())
	must(t, "client 1's blocking flock", <-done)
	must(t, "unlock", unix.Flock(int(fb.Fd()), unix.LOCK_UN))
}

// testFcntl: fcntl(2) record locks across clients: F_GETLK sees the other
// client's lock, F_SETLK fails over it with EAGAIN and succeeds beside
// it, F_SETLKW waits for its release; closing a descriptor releases the
// process's locks on the file.
func testFcntl(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	fa := lockFile(t, filepath.Join(a, "r"))
	fb := lockFile(t, filepath.Join(b, "r"))
	setlk := func(f *os.File, cmd int, typ int16, start, n int64) error {
		lk := unix.Flock_t{Type: typ, Whence: 0, Start: start, Len: n}
		return unix.FcntlFlock(f.Fd(), cmd, &lk)
	}
	must(t, "F_WRLCK [0,100) on client 0", setlk(fa, unix.F_SETLK, unix.F_WRLCK, 0, 100))
	lk := unix.Flock_t{Type: unix.F_RDLCK, Start: 50, Len: 1}
	must(t, "F_GETLK on client 1", unix.FcntlFlock(fb.Fd(), unix.F_GETLK, &lk))
	if lk.Type != unix.F_WRLCK || lk.Start != 0 || lk.Len != 100 {
		t.Errorf("F_GETLK on client 1: %+v", lk)
	}
	wantErrno(t, "F_RDLCK over it on client 1", setlk(fb, unix.F_SETLK, unix.F_RDLCK, 99, 1), unix.EAGAIN)
	wantErrno(t, "F_WRLCK to EOF on client 1", setlk(fb, unix.F_SETLK, unix.F_WRLCK, 0, 0), unix.EAGAIN)
	must(t, "F_WRLCK beside it on client 1", setlk(fb, unix.F_SETLK, unix.F_WRLCK, 100, 100))
	wantErrno(t, "client 0 over client 1's", setlk(fa, unix.F_SETLK, unix.F_RDLCK, 150, 1), unix.EAGAIN)
	// Client 1 waits for [0,10) while client 0 holds it; client 0
	// releases its locks by closing another descriptor of the file.
	done := make(chan error, 1)
	go func() { done <- setlk(fb, unix.F_SETLKW, unix.F_WRLCK, 0, 10) }()
	select {
	case err := <-done:
		t.Fatalf("F_SETLKW returned while client 0 held the range: %v", err)
	default:
	}
	g, err := os.Open(filepath.Join(a, "r"))
	must(t, "open again on client 0", err)
	must(t, "close on client 0", g.Close())
	must(t, "client 1's F_SETLKW", <-done)
	lk = unix.Flock_t{Type: unix.F_WRLCK, Start: 0, Len: 50}
	must(t, "F_GETLK on client 0", unix.FcntlFlock(fa.Fd(), unix.F_GETLK, &lk))
	if lk.Type != unix.F_WRLCK || lk.Start != 0 || lk.Len != 10 {
		t.Errorf("F_GETLK on client 0 after client 1's grant: %+v", lk)
	}
	must(t, "unlock on client 1", setlk(fb, unix.F_SETLK, unix.F_UNLCK, 0, 0))
	must(t, "client 0 locks all", setlk(fa, unix.F_SETLK, unix.F_WRLCK, 0, 0))
	must(t, "client 0 unlocks", setlk(fa, unix.F_SETLK, unix.F_UNLCK, 0, 0))
}

// perlSetlkw takes an F_WRLCK on the whole file with F_SETLKW, with an
// alarm after one second whose handler interrupts the wait (perl's
// handlers have no SA_RESTART, so the call fails with EINTR, where Go's
// would restart it). It exits 0 when granted, 3 on EINTR, 2 otherwise.
const perlSetlkw = `use Fcntl; open(my $fh, "+<", $ARGV[0]) or exit 2; $SIG{ALRM} = sub {}; alarm 1;
my $lk = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0);
exit 0 if fcntl($fh, F_SETLKW, $lk); exit($!{EINTR} ? 3 : 2);`

// testLockWaitSignal: a flock(2) or F_SETLKW waiting for another client's
// lock fails with EINTR when the process catches a signal (flock(1)'s -w
// timer, perl's alarm), and leaves no request behind: once the holder
// unlocks, the lock is free.
func testLockWaitSignal(t *testing.T, c *cluster.Cluster) {
	for _, tool := range []string{"flock", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	a, b := twoPaths(t, c)
	fa := lockFile(t, filepath.Join(a, "s"))
	pb := filepath.Join(b, "s")
	lockFile(t, pb)
	run := func(name string, args ...string) int {
		t.Helper()
		cmd := exec.CommandContext(tctx(t), name, args...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		default:
			t.Fatalf("%s %v: %v %s", name, args, err, out)
			return -1
		}
	}
	must(t, "flock on client 0", unix.Flock(int(fa.Fd()), unix.LOCK_EX))
	if code := run("flock", "-x", "-w", "0.5", pb, "true"); code != 1 {
		t.Errorf("flock -w on client 1 over client 0's lock: exit %d, want 1 (timed out)", code)
	}
	must(t, "unlock on client 0", unix.Flock(int(fa.Fd()), unix.LOCK_UN))
	if code := run("flock", "-x", "-n", pb, "true"); code != 0 {
		t.Errorf("flock -n on client 1 once unlocked: exit %d", code)
	}

	// flock(1)'s lock goes with its file's RELEASE, which the kernel
	// sends after the process exits: wait for it.
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	must(t, "F_SETLKW on client 0", unix.FcntlFlock(fa.Fd(), unix.F_SETLKW, &lk))
	if code := run("perl", "-e", perlSetlkw, pb); code != 3 {
		t.Errorf("F_SETLKW on client 1 under a signal: exit %d, want 3 (EINTR)", code)
	}
	lk = unix.Flock_t{Type: unix.F_UNLCK}
	must(t, "F_UNLCK on client 0", unix.FcntlFlock(fa.Fd(), unix.F_SETLK, &lk))
	if code := run("perl", "-e", perlSetlkw, pb); code != 0 {
		t.Errorf("F_SETLKW on client 1 once unlocked: exit %d", code)
	}
	lk = unix.Flock_t{Type: unix.F_WRLCK}
	must(t, "F_GETLK on client 0", unix.FcntlFlock(fa.Fd(), unix.F_GETLK, &lk))
	if lk.Type != unix.F_UNLCK {
		t.Errorf("client 1's exited process left a lock: %+v", lk)
	}
}

// testLockParams: the clients' lock namespaces are in lctl get_param.
func testLockParams(t *testing.T, c *cluster.Cluster) {
	out := lctlOK(t, c, "get_param", "ldlm.namespaces.*-mdc-*.lru_size")
	if len(out) == 0 {
		t.Fatal("no ldlm.namespaces.*-mdc-*.lru_size")
	}
}
