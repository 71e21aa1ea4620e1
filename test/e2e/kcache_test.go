package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/test/cluster"
)

// lliteLookups sums the LOOKUPs the mounted clients were asked for
// (lctl get_param llite.*.stats): what the kernel did not answer itself.
func lliteLookups(t *testing.T, c *cluster.Cluster) uint64 {
	t.Helper()
	return statSamples(t, c, "llite.*.stats", "lookup")
}

// testKernelCache: the kernel keeps names (and a symlink's attributes)
// under the client's locks, so a repeated stat reaches neither the client
// nor the MDT; a change made on the other client drops them at once
// (the lock's callback sends FUSE notifications): a chown of a symlink, a
// rename, a search permission taken away, a directory renamed.
func testKernelCache(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	must(t, "mkdir on 0", os.Mkdir(filepath.Join(a, "d"), 0o755))
	must(t, "create on 0", os.WriteFile(filepath.Join(a, "d", "f"), []byte("x"), 0o644))
	must(t, "symlink on 0", os.Symlink("target", filepath.Join(a, "d", "l")))
	f, l := filepath.Join(b, "d", "f"), filepath.Join(b, "d", "l")
	var st unix.Stat_t
	// The first stats take the locks in the background; once the kernel
	// keeps the names, a stat asks the client for no lookup.
	cached := false
	for range 100 {
		before := lliteLookups(t, c)
		must(t, "stat f", unix.Stat(f, &st))
		must(t, "lstat l", unix.Lstat(l, &st))
		if lliteLookups(t, c) == before {
			cached = true
			break
		}
	}
	if !cached {
		t.Fatal("100 rounds of stats, each looked a name up in the client")
	}
	before, rpcs := lliteLookups(t, c), mdcRPCs(t, c)
	for range 10 {
		must(t, "lstat l", unix.Lstat(l, &st))
	}
	if n, r := lliteLookups(t, c)-before, mdcRPCs(t, c)-rpcs; n != 0 || r != 0 {
		t.Errorf("10 lstats of a kernel-cached symlink: %d lookups, %d MDC RPCs", n, r)
	}
	if os.Geteuid() == 0 {
		must(t, "lchown on 0", os.Lchown(filepath.Join(a, "d", "l"), 4321, 8765))
		must(t, "lstat l", unix.Lstat(l, &st))
		if st.Uid != 4321 || st.Gid != 8765 {
			t.Errorf("client 1 sees the symlink owned by %d:%d after client 0's lchown", st.Uid, st.Gid)
		}
	}
	must(t, "rename on 0", os.Rename(filepath.Join(a, "d", "f"), filepath.Join(a, "d", "g")))
	wantErrno(t, "client 1 stats the renamed name", unix.Stat(f, &st), syscall.ENOENT)
	g := filepath.Join(b, "d", "g")
	must(t, "client 1 stats the new name", unix.Stat(g, &st))
	if os.Geteuid() == 0 {
		// nobody resolves g, its names kept by the kernel, until client 0
		// takes the search permission away.
		helper := helperBinary(t, c.Dir())
		const nobody = 65534
		for range 3 {
			if e := asUser(t, helper, nobody, nobody, "access", g, "0"); e != 0 {
				t.Fatalf("nobody resolves %s: %v", g, e)
			}
		}
		must(t, "chmod on 0", os.Chmod(filepath.Join(a, "d"), 0o700))
		if e := asUser(t, helper, nobody, nobody, "access", g, "0"); e != syscall.EACCES {
			t.Errorf("nobody resolves %s after client 0 took the search permission away: %v", g, e)
		}
		must(t, "chmod on 0", os.Chmod(filepath.Join(a, "d"), 0o755))
	}
	must(t, "rename the directory on 0", os.Rename(filepath.Join(a, "d"), filepath.Join(a, "e")))
	wantErrno(t, "client 1 stats under the old directory name", unix.Stat(g, &st), syscall.ENOENT)
	must(t, "client 1 stats under the new one", unix.Stat(filepath.Join(b, "e", "g"), &st))
}

// testNegativeCache: the kernel keeps a name's absence under the client's
// lock on the name's slot, so a repeated stat of a missing name reaches
// neither the client nor the MDT; each way of making the name on the
// other client drops it at once.
func testNegativeCache(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	must(t, "create a link source on 0", os.WriteFile(filepath.Join(a, "src"), nil, 0o644))
	must(t, "create a rename source on 0", os.WriteFile(filepath.Join(a, "m"), nil, 0o644))
	makers := []struct {
		what string
		make func(p string) error
	}{
		{"create", func(p string) error { return os.WriteFile(p, nil, 0o644) }},
		{"mkdir", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"symlink", func(p string) error { return os.Symlink("target", p) }},
		{"mkfifo", func(p string) error { return unix.Mkfifo(p, 0o644) }},
		{"link", func(p string) error { return os.Link(filepath.Join(a, "src"), p) }},
		{"rename", func(p string) error { return os.Rename(filepath.Join(a, "m"), p) }},
	}
	// The MDT caches absent names only in directories where no name was
	// made lately: each kind gets a directory where none ever was.
	for _, m := range makers {
		must(t, "mkdir on 0", os.Mkdir(filepath.Join(a, m.what), 0o755))
	}
	var st unix.Stat_t
	for _, m := range makers {
		p := filepath.Join(b, m.what, "x")
		cached := false
		for range 100 {
			before := lliteLookups(t, c)
			wantErrno(t, "client 1 stats a missing name", unix.Lstat(p, &st), syscall.ENOENT)
			if lliteLookups(t, c) == before {
				cached = true
				break
			}
		}
		if !cached {
			t.Fatalf("%s: 100 stats of a missing name, each looked it up in the client", m.what)
		}
		before, rpcs := lliteLookups(t, c), mdcRPCs(t, c)
		for range 10 {
			wantErrno(t, "client 1 stats a missing name", unix.Lstat(p, &st), syscall.ENOENT)
		}
		if n, r := lliteLookups(t, c)-before, mdcRPCs(t, c)-rpcs; n != 0 || r != 0 {
			t.Errorf("%s: 10 stats of a kernel-cached missing name: %d lookups, %d MDC RPCs", m.what, n, r)
		}
		must(t, m.what+" on 0", m.make(filepath.Join(a, m.what, "x")))
		must(t, m.what+": client 1 stats the new name", unix.Lstat(p, &st))
	}
}

// TestCreateKeepsEntry: a client that keeps a name's absence (a negative
// entry under a lock on the name's slot) and then creates the name calls
// that lock back itself; its cancel must leave the kernel's entry, now
// the new file's, alone. Were it invalidated (at once, or by the resend
// half a second later), the kernel would drop the file's inode once it
// is closed, and the pages just written with it.
func TestCreateKeepsEntry(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			testCreateKeepsEntry(t, cluster.New(t, cluster.Options{Runner: r, Clients: 2}))
		})
	}
}

func testCreateKeepsEntry(t *testing.T, c *cluster.Cluster) {
	_, b := twoPaths(t, c) // made by mount 0: mount 1's misses there get slot locks
	p := filepath.Join(b, "f")
	var st unix.Stat_t
	kept := false
	for range 100 { // until the directory is quiet and the kernel keeps the miss
		before := lliteLookups(t, c)
		wantErrno(t, "stat of the missing name", unix.Stat(p, &st), syscall.ENOENT)
		if lliteLookups(t, c) == before {
			kept = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !kept {
		t.Fatal("the kernel never kept the missing name")
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	must(t, "create and write", os.WriteFile(p, data, 0o644))
	time.Sleep(1200 * time.Millisecond) // past a name invalidation's resend
	f, err := os.Open(p)
	must(t, "open", err)
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, len(data), unix.PROT_READ, unix.MAP_SHARED)
	must(t, "mmap", err)
	defer unix.Munmap(m)
	vec := make([]byte, len(data)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)),
		uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	resident := 0
	for _, v := range vec {
		resident += int(v & 1)
	}
	if resident != len(vec) {
		t.Errorf("%d of the %d pages written are still cached a second after close", resident, len(vec))
	}
}
