package fusefs

import (
	"fmt"
	"os"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// getdents reads one getdents64 buffer of size bytes from fd.
func getdents(t *testing.T, fd, size int) []fuse.DirEntry {
	t.Helper()
	buf := make([]byte, size)
	n, err := unix.Getdents(fd, buf)
	if err != nil {
		t.Fatalf("getdents: %v", err)
	}
	var out []fuse.DirEntry
	for todo := buf[:n]; len(todo) > 0; {
		var de fuse.DirEntry
		todo = todo[de.Parse(todo):]
		out = append(out, de)
	}
	return out
}

// readAll lists fd to the end in buffers of size bytes. A listing that
// does not end (a cookie that goes back) fails the test instead of eating
// the machine's memory.
func readAll(t *testing.T, fd, size int) []fuse.DirEntry {
	t.Helper()
	var all []fuse.DirEntry
	for len(all) < 100_000 {
		ents := getdents(t, fd, size)
		if len(ents) == 0 {
			return all
		}
		all = append(all, ents...)
	}
	t.Fatalf("the listing does not end: %d entries so far", len(all))
	return nil
}

// testReaddir1000 lists a directory of 1,000 entries, which takes many
// backend batches (64 entries each) continued by cookie and many
// getdents calls.
func testReaddir1000(t *testing.T, tm *testMount) {
	must(t, "mkdir", unix.Mkdir(tm.path("d"), 0755))
	want := map[string]bool{".": true, "..": true}
	for i := range 1000 {
		name := fmt.Sprintf("entry-%04d", i)
		want[name] = true
		if i%100 == 0 {
			must(t, "mkdir", unix.Mkdir(tm.path("d", name), 0755))
			continue
		}
		must(t, "create", os.WriteFile(tm.path("d", name), nil, 0644))
	}
	fd, err := unix.Open(tm.path("d"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "opendir", err)
	defer unix.Close(fd)
	lookups := tm.m.callCount("lookup")
	ents := readAll(t, fd, 4096)
	if n := tm.m.callCount("lookup") - lookups; n != 0 {
		t.Errorf("listing made %d lookups: readdirplus should use the entries' attributes", n)
	}
	seen := map[string]bool{}
	offs := map[uint64]bool{}
	dFID := tm.fidOf(t, "d")
	for _, e := range ents {
		if seen[e.Name] {
			t.Errorf("%q listed twice", e.Name)
		}
		seen[e.Name] = true
		if e.Off == 0 || offs[e.Off] {
			t.Errorf("%q: offset %d zero or repeated", e.Name, e.Off)
		}
		offs[e.Off] = true
		switch e.Name {
		case ".":
			if e.Ino != dFID.Ino() || e.Mode&unix.S_IFMT != unix.S_IFDIR {
				t.Errorf(". is ino %d mode %o", e.Ino, e.Mode)
			}
		case "..":
			if e.Ino != tm.m.Root().Ino() {
				t.Errorf(".. is ino %d, want the root's %d", e.Ino, tm.m.Root().Ino())
			}
		case "entry-0100":
			if e.Mode&unix.S_IFMT != unix.S_IFDIR || e.Ino != tm.fidOf(t, "d", e.Name).Ino() {
				t.Errorf("%v: want a directory with its FID's inode number", e)
			}
		case "entry-0101":
			if e.Mode&unix.S_IFMT != unix.S_IFREG || e.Ino != tm.fidOf(t, "d", e.Name).Ino() {
				t.Errorf("%v: want a file with its FID's inode number", e)
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("listed %d names, want %d", len(seen), len(want))
	}
	for n := range want {
		if !seen[n] {
			t.Errorf("%q not listed", n)
		}
	}
	// The listing through os (readdirplus, then lstat of every entry).
	des, err := os.ReadDir(tm.path("d"))
	if err != nil || len(des) != 1000 {
		t.Fatalf("os.ReadDir: %d entries, %v", len(des), err)
	}
	if info, err := des[100].Info(); err != nil || !info.IsDir() {
		t.Errorf("%s: %v %v", des[100].Name(), info, err)
	}
}

// testReaddirSeek checks telldir/seekdir: every offset handed out resumes
// the listing right after its entry, including those of "." and "..", and
// a listing continued after entries were removed neither repeats nor
// resurrects any.
func testReaddirSeek(t *testing.T, tm *testMount) {
	for i := range 200 {
		must(t, "create", os.WriteFile(tm.path(fmt.Sprintf("f%03d", i)), nil, 0644))
	}
	fd, err := unix.Open(tm.dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, "opendir", err)
	defer unix.Close(fd)
	all := readAll(t, fd, 1024)
	if len(all) != 202 || all[0].Name != "." || all[1].Name != ".." {
		t.Fatalf("listing of %d entries starting %v", len(all), all[:min(2, len(all))])
	}
	for _, i := range []int{1, 2, 3, 100, 201} {
		_, err := unix.Seek(fd, int64(all[i-1].Off), 0)
		must(t, "seekdir", err)
		got := getdents(t, fd, 512)
		if len(got) == 0 || got[0] != all[i] {
			t.Errorf("after seeking to entry %d's offset %d: got %v, want %v", i-1, all[i-1].Off, got[:min(1, len(got))], all[i])
		}
	}
	_, err = unix.Seek(fd, int64(all[len(all)-1].Off), 0)
	must(t, "seek to the end", err)
	if got := getdents(t, fd, 512); len(got) != 0 {
		t.Errorf("after the last offset: %v", got)
	}

	// Read a little, remove entries both behind and ahead, read on.
	_, err = unix.Seek(fd, 0, 0)
	must(t, "rewind", err)
	first := getdents(t, fd, 512)
	for _, n := range []string{"f000", "f150", "f199"} {
		must(t, "unlink", unix.Unlink(tm.path(n)))
	}
	rest := readAll(t, fd, 512)
	seen := map[string]int{}
	for _, e := range append(first, rest...) {
		seen[e.Name]++
	}
	if seen["f150"] != 0 || seen["f199"] != 0 || len(seen) != 202-2 {
		t.Errorf("continued listing: %d names, f150 %d, f199 %d", len(seen), seen["f150"], seen["f199"])
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("%q listed %d times", n, c)
		}
	}
}
