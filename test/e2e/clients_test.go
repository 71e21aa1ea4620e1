package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/test/cluster"
)

// testTwoClients: two clients of one file system see each other's names
// at once and each other's data after close (close-to-open).
func testTwoClients(t *testing.T, c *cluster.Cluster) {
	a := freshDir(t, c, 0)
	rel, _ := filepath.Rel(c.Mount(0), a)
	b := filepath.Join(c.Mount(1), rel)
	list := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		must(t, "readdir "+dir, err)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out
	}
	read := func(p string) string {
		bs, err := os.ReadFile(p)
		must(t, "read "+p, err)
		return string(bs)
	}

	must(t, "client 0 writes", os.WriteFile(filepath.Join(a, "f"), []byte("from client 0"), 0o644))
	must(t, "client 0 mkdir", os.Mkdir(filepath.Join(a, "sub"), 0o755))
	if got := list(b); len(got) != 2 || got[0] != "f" || got[1] != "sub" {
		t.Errorf("client 1 lists %v", got)
	}
	if got := read(filepath.Join(b, "f")); got != "from client 0" {
		t.Errorf("client 1 reads %q", got)
	}

	// Client 0 holds the file open while client 1 rewrites it; a new open
	// on client 0 sees client 1's data.
	held, err := os.Open(filepath.Join(a, "f"))
	must(t, "open on client 0", err)
	defer held.Close()
	must(t, "client 1 rewrites", os.WriteFile(filepath.Join(b, "f"), []byte("client 1 was here, longer"), 0o644))
	if got := read(filepath.Join(a, "f")); got != "client 1 was here, longer" {
		t.Errorf("client 0 reads %q after client 1's close", got)
	}
	var st unix.Stat_t
	must(t, "fstat", unix.Fstat(int(held.Fd()), &st))
	if st.Size != int64(len("client 1 was here, longer")) {
		t.Errorf("client 0's open file has size %d after client 1's write", st.Size)
	}

	must(t, "client 1 renames", os.Rename(filepath.Join(b, "f"), filepath.Join(b, "sub", "g")))
	wantErrno(t, "client 0 stats the old name", unix.Stat(filepath.Join(a, "f"), &st), syscall.ENOENT)
	if got := read(filepath.Join(a, "sub", "g")); got != "client 1 was here, longer" {
		t.Errorf("client 0 reads the renamed file: %q", got)
	}
	must(t, "client 0 unlinks", os.Remove(filepath.Join(a, "sub", "g")))
	wantErrno(t, "client 1 stats the unlinked name", unix.Stat(filepath.Join(b, "sub", "g"), &st), syscall.ENOENT)

	// Both write their own halves of one file, each closing; both see the
	// whole.
	must(t, "create", os.WriteFile(filepath.Join(a, "shared"), make([]byte, 8), 0o644))
	for i, dir := range []string{a, b} {
		f, err := os.OpenFile(filepath.Join(dir, "shared"), os.O_WRONLY, 0)
		must(t, "open", err)
		_, err = f.WriteAt([]byte("ABCD")[:4], int64(4*i))
		must(t, "write", err)
		must(t, "close", f.Close())
	}
	for _, dir := range []string{a, b} {
		if got := read(filepath.Join(dir, "shared")); got != "ABCDABCD" {
			t.Errorf("%s reads %q", dir, got)
		}
	}
}
