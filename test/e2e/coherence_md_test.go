package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/test/cluster"
)

// testMDCoherence: chmod, chown, rename, unlink, create, mkdir, link and
// setxattr on one client are seen by the other's very next stat, lookup,
// listing or getxattr, both ways.
func testMDCoherence(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	stat := func(p string) unix.Stat_t {
		t.Helper()
		var st unix.Stat_t
		must(t, "stat "+p, unix.Stat(p, &st))
		return st
	}
	names := func(dir string) []string {
		t.Helper()
		ents, err := os.ReadDir(dir)
		must(t, "readdir "+dir, err)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out
	}
	must(t, "create on 0", os.WriteFile(filepath.Join(a, "f"), []byte("x"), 0o644))
	// Warm client 1's view, then change it from client 0.
	if st := stat(filepath.Join(b, "f")); st.Mode&0o7777 != 0o644 {
		t.Fatalf("mode on 1: %o", st.Mode)
	}
	for i, mode := range []uint32{0o600, 0o751, 0o644} {
		must(t, "chmod on 0", os.Chmod(filepath.Join(a, "f"), os.FileMode(mode)))
		if st := stat(filepath.Join(b, "f")); st.Mode&0o7777 != mode {
			t.Errorf("round %d: client 1 sees mode %o after chmod %o", i, st.Mode&0o7777, mode)
		}
	}
	if os.Geteuid() == 0 {
		must(t, "chown on 1", os.Chown(filepath.Join(b, "f"), 1234, 5678))
		if st := stat(filepath.Join(a, "f")); st.Uid != 1234 || st.Gid != 5678 {
			t.Errorf("client 0 sees owner %d:%d after chown", st.Uid, st.Gid)
		}
	}
	must(t, "rename on 0", os.Rename(filepath.Join(a, "f"), filepath.Join(a, "g")))
	var st unix.Stat_t
	wantErrno(t, "client 1 stats the old name", unix.Stat(filepath.Join(b, "f"), &st), syscall.ENOENT)
	stat(filepath.Join(b, "g"))
	must(t, "link on 1", os.Link(filepath.Join(b, "g"), filepath.Join(b, "h")))
	if st := stat(filepath.Join(a, "g")); st.Nlink != 2 {
		t.Errorf("client 0 sees nlink %d after link on 1", st.Nlink)
	}
	must(t, "unlink on 1", os.Remove(filepath.Join(b, "g")))
	wantErrno(t, "client 0 stats the unlinked name", unix.Stat(filepath.Join(a, "g"), &st), syscall.ENOENT)
	if st := stat(filepath.Join(a, "h")); st.Nlink != 1 {
		t.Errorf("client 0 sees nlink %d after unlink on 1", st.Nlink)
	}
	// A name looked up in vain on 1, then created on 0.
	wantErrno(t, "client 1 looks up a missing name", unix.Stat(filepath.Join(b, "new"), &st), syscall.ENOENT)
	must(t, "mkdir on 0", os.Mkdir(filepath.Join(a, "new"), 0o755))
	if st := stat(filepath.Join(b, "new")); st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Errorf("client 1 sees mode %o for the new directory", st.Mode)
	}
	if got := names(b); len(got) != 2 || got[0] != "h" || got[1] != "new" {
		t.Errorf("client 1 lists %v", got)
	}
	must(t, "rename over on 1", os.Rename(filepath.Join(b, "h"), filepath.Join(b, "new", "h2")))
	if got := names(a); len(got) != 1 || got[0] != "new" {
		t.Errorf("client 0 lists %v after rename on 1", got)
	}
	must(t, "setxattr on 0", unix.Setxattr(filepath.Join(a, "new", "h2"), "user.k", []byte("v1"), 0))
	buf := make([]byte, 16)
	n, err := unix.Getxattr(filepath.Join(b, "new", "h2"), "user.k", buf)
	if err != nil || string(buf[:n]) != "v1" {
		t.Errorf("client 1 getxattr: %q %v", buf[:n], err)
	}
	must(t, "setxattr again on 0", unix.Setxattr(filepath.Join(a, "new", "h2"), "user.k", []byte("v2"), 0))
	n, err = unix.Getxattr(filepath.Join(b, "new", "h2"), "user.k", buf)
	if err != nil || string(buf[:n]) != "v2" {
		t.Errorf("client 1 getxattr after a change: %q %v", buf[:n], err)
	}
	must(t, "unlink on 0", os.Remove(filepath.Join(a, "new", "h2")))
	must(t, "rmdir on 1", os.Remove(filepath.Join(b, "new")))
	if got := names(a); len(got) != 0 {
		t.Errorf("client 0 lists %v after rmdir on 1", got)
	}
}

// mdcRPCs sums the RPCs every mounted client's MDCs sent (lctl get_param
// mdc.*.stats).
func mdcRPCs(t *testing.T, c *cluster.Cluster) uint64 {
	t.Helper()
	var n uint64
	for _, line := range strings.Split(lctlOK(t, c, "get_param", "-n", "mdc.*.stats"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[2] == "samples" && f[3] == "[usec]" {
			v, err := strconv.ParseUint(f[1], 10, 64)
			must(t, "stats line "+line, err)
			n += v
		}
	}
	return n
}

// testCachedStat: once a client holds the locks, stat(2) of a file sends
// no RPC to the MDT; a change on the other client is still seen at once.
func testCachedStat(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	must(t, "create", os.WriteFile(filepath.Join(a, "f"), []byte("data"), 0o644))
	p := filepath.Join(b, "f")
	var st unix.Stat_t
	// The first stat takes the locks in the background, a later one
	// caches under them.
	cached := false
	for range 100 {
		before := mdcRPCs(t, c)
		must(t, "stat", unix.Stat(p, &st))
		if mdcRPCs(t, c) == before {
			cached = true
			break
		}
	}
	if !cached {
		t.Fatal("100 stats in a row, each sent MDC RPCs")
	}
	before := mdcRPCs(t, c)
	for range 10 {
		must(t, "stat", unix.Stat(p, &st))
	}
	if n := mdcRPCs(t, c) - before; n != 0 {
		t.Errorf("10 cached stats sent %d MDC RPCs", n)
	}
	if st.Size != 4 || st.Mode&0o777 != 0o644 {
		t.Errorf("cached stat: size %d mode %o", st.Size, st.Mode)
	}
	must(t, "chmod on 0", os.Chmod(filepath.Join(a, "f"), 0o640))
	must(t, "stat after chmod", unix.Stat(p, &st))
	if st.Mode&0o777 != 0o640 {
		t.Errorf("client 1 sees mode %o after client 0's chmod", st.Mode&0o777)
	}
}
