package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/test/cluster"
)

// TestEviction (issue #4): a client killed while it holds locks — a file
// it wrote and keeps open (extent locks on every OST, dirty data among
// them), a flock on it, its attributes cached under inode-bits locks — is
// evicted by the MDT and the OSTs once their callback timeout passes, and
// the other client's read, write, stat, chmod and flock of that file all
// complete within a bound derived from that timeout. Waiting forever is
// the failure; how long within the bound is not measured.
func TestEviction(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) { testEviction(t, r) })
	}
}

func testEviction(t *testing.T, r cluster.Runner) {
	c := cluster.New(t, cluster.Options{Clients: 2, Runner: r})
	a, b := twoPaths(t, c)
	pa, pb := filepath.Join(a, "f"), filepath.Join(b, "f")
	lfsOK(t, c, "setstripe", "-c", strconv.Itoa(c.OSTs()), "-S", "64K", pa)

	// Client 0 writes 1 MiB and syncs it, writes 256 KiB more that stay
	// dirty in its cache, keeps the file open, flocks it and stats it.
	const synced, dirty = 1 << 20, 256 << 10
	data := fill(synced, 3)
	fa, err := os.OpenFile(pa, os.O_RDWR, 0)
	must(t, "open on client 0", err)
	// After the kill its close fails (the mount is gone): that is expected.
	t.Cleanup(func() { _ = fa.Close() })
	_, err = fa.WriteAt(data, 0)
	must(t, "write on client 0", err)
	must(t, "fsync on client 0", fa.Sync())
	_, err = fa.WriteAt(bytes.Repeat([]byte{0xdd}, dirty), synced)
	must(t, "dirty write on client 0", err)
	must(t, "flock on client 0", unix.Flock(int(fa.Fd()), unix.LOCK_EX))
	var st unix.Stat_t
	for range 3 {
		must(t, "stat on client 0", unix.Stat(pa, &st))
	}
	if st.Size != synced+dirty {
		t.Fatalf("client 0 sees size %d, want %d", st.Size, synced+dirty)
	}
	// Client 1 sees the flock (the lock is real), not the file's data yet.
	fb, err := os.OpenFile(pb, os.O_RDWR, 0)
	must(t, "open on client 1", err)
	t.Cleanup(func() { _ = fb.Close() })
	wantErrno(t, "flock on client 1 while client 0 holds it", unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)

	timeouts := func() (mdt, ost uint64) {
		return sumParam(t, c, "ldlm.namespaces.mdt-*.lock_timeouts"), sumParam(t, c, "ldlm.namespaces.filter-*.lock_timeouts")
	}
	mdtBefore, ostBefore := timeouts()
	if n := sumParam(t, c, "mdt.*.num_exports"); n != 2 {
		t.Fatalf("the MDT has %d exports before the kill, want 2 (the clients)", n)
	}
	bound := evictionBound(t, c)
	t.Logf("callback timeouts allow client 1 %v to get through", bound)

	must(t, "kill client 0", c.KillClient(0))
	deadline := time.Now().Add(bound)

	// Client 1 reads (the OSTs call client 0's extent locks back), writes,
	// stats, chmods (the MDT calls back its inode-bits locks) and flocks.
	buf := make([]byte, synced+dirty+1)
	var n int
	within(t, deadline, "read on client 1", func() (err error) {
		n, err = fb.ReadAt(buf, 0)
		if err != nil && n >= synced {
			err = nil // EOF
		}
		return err
	})
	if !bytes.Equal(buf[:synced], data) {
		t.Errorf("client 1 reads wrong data in what client 0 synced (first difference at %d)", firstDiff(buf[:synced], data))
	}
	// The dirty data died with client 0, or some of it was written back
	// before: nothing else may be there.
	for i, v := range buf[synced:n] {
		if v != 0 && v != 0xdd {
			t.Fatalf("byte %d past what client 0 synced is %#x", synced+i, v)
		}
	}
	mine := fill(64<<10, 7)
	within(t, deadline, "write on client 1", func() error {
		if _, err := fb.WriteAt(mine, 4096); err != nil {
			return err
		}
		return fb.Sync()
	})
	within(t, deadline, "stat on client 1", func() error { return unix.Stat(pb, &st) })
	if st.Size < synced || st.Size > synced+dirty {
		t.Errorf("client 1 sees size %d, want %d to %d", st.Size, synced, synced+dirty)
	}
	within(t, deadline, "chmod on client 1", func() error { return os.Chmod(pb, 0o600) })
	within(t, deadline, "flock on client 1", func() error { return unix.Flock(int(fb.Fd()), unix.LOCK_EX) })
	must(t, "unlock on client 1", unix.Flock(int(fb.Fd()), unix.LOCK_UN))
	got, err := os.ReadFile(pb)
	must(t, "read back on client 1", err)
	if len(got) < 4096+len(mine) || !bytes.Equal(got[4096:4096+len(mine)], mine) {
		t.Error("client 1 does not read back its own write")
	}
	must(t, "stat on client 1", unix.Stat(pb, &st))
	if st.Mode&0o777 != 0o600 {
		t.Errorf("mode %o after client 1's chmod", st.Mode&0o777)
	}

	// The servers say why: the MDT and the OSTs timed client 0's callbacks
	// out, and the MDT dropped its export.
	mdtAfter, ostAfter := timeouts()
	if mdtAfter == mdtBefore {
		t.Error("the MDT's ldlm lock_timeouts did not grow: client 1's chmod went through without evicting client 0")
	}
	if ostAfter == ostBefore {
		t.Error("the OSTs' ldlm lock_timeouts did not grow: client 1's read went through without evicting client 0")
	}
	waitFor(t, deadline, "the MDT to drop the dead client's export", func() bool {
		return sumParam(t, c, "mdt.*.num_exports") == 1
	})
	t.Logf("lock_timeouts: MDT %d -> %d, OSTs %d -> %d", mdtBefore, mdtAfter, ostBefore, ostAfter)

	// The dead client mounts again and sees client 1's changes.
	must(t, "remount client 0", c.Remount(0))
	got, err = os.ReadFile(pa)
	must(t, "read on client 0 after the remount", err)
	if len(got) < 4096+len(mine) || !bytes.Equal(got[4096:4096+len(mine)], mine) {
		t.Error("client 0, mounted again, does not read client 1's write")
	}
}

// evictionBound is how long, at most, a surviving client may wait for a
// dead one's locks: twice the longest callback and cancel timeouts of the
// MDT's and OSTs' lock namespaces (lctl get_param
// ldlm.namespaces.*.{ast,cancel}_timeout), plus a minute for a loaded
// machine.
func evictionBound(t *testing.T, c *cluster.Cluster) time.Duration {
	t.Helper()
	var longest float64
	for _, ns := range []string{"mdt-*", "filter-*"} {
		var sum float64
		for _, p := range []string{"ast_timeout", "cancel_timeout"} {
			vals := paramValues(t, c, "ldlm.namespaces."+ns+"."+p)
			var m float64
			for _, v := range vals {
				f, err := strconv.ParseFloat(v, 64)
				must(t, "parse "+p+" "+v, err)
				m = max(m, f)
			}
			sum += m
		}
		longest = max(longest, sum)
	}
	if longest == 0 {
		t.Fatal("no callback timeouts in lctl get_param ldlm.namespaces.*")
	}
	return 2*time.Duration(longest*float64(time.Second)) + time.Minute
}

// paramValues returns the values of lctl get_param -n pattern, one per
// line; it fails t if nothing matches.
func paramValues(t *testing.T, c *cluster.Cluster, pattern string) []string {
	t.Helper()
	out := strings.Fields(lctlOK(t, c, "get_param", "-n", pattern))
	if len(out) == 0 {
		t.Fatalf("lctl get_param %s: nothing", pattern)
	}
	return out
}

// sumParam sums the numeric values of lctl get_param -n pattern.
func sumParam(t *testing.T, c *cluster.Cluster, pattern string) uint64 {
	t.Helper()
	var n uint64
	for _, v := range paramValues(t, c, pattern) {
		u, err := strconv.ParseUint(v, 10, 64)
		must(t, "parse "+pattern+" "+v, err)
		n += u
	}
	return n
}

// within runs f (a system call that may block on another client's locks)
// and fails t if it has not returned by deadline, or returned an error.
// A call still blocked then stays blocked until the cluster's teardown
// unmounts its file system.
func within(t *testing.T, deadline time.Time, what string, f func() error) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-done:
		must(t, what, err)
		t.Logf("%s: done in %v", what, time.Since(start).Round(time.Millisecond))
	case <-timer.C:
		t.Fatalf("%s: still blocked after %v: the dead client's locks were not freed", what,
			time.Since(start).Round(time.Second))
	}
}

// waitFor polls cond until it holds, failing t at deadline.
func waitFor(t *testing.T, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: still not so at the deadline", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
