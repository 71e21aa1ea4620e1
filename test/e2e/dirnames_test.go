package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// TestDirNames: in a directory it made, a client answers the lookups that
// come before its creates itself (under the directory's DirNames lock,
// mdt/dirnames.go); another client's create there calls the lock back,
// and the first client then sees that name at once.
func TestDirNames(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			testDirNames(t, cluster.New(t, cluster.Options{Runner: r, Clients: 2}))
		})
	}
}

func testDirNames(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	local := func() uint64 { return statSamples(t, c, "llite.*.stats", "lookup_local") }
	before := local()
	const n = 20
	for i := range n {
		must(t, "create", os.WriteFile(filepath.Join(a, "f"+strconv.Itoa(i)), nil, 0o644))
	}
	if got := local() - before; got < n/2 {
		t.Errorf("%d creates in a directory this client made answered %d lookups locally, want most", n, got)
	}

	// A name missing here, then made by the other client: seen at once.
	before = local()
	if _, err := os.Stat(filepath.Join(a, "other")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a missing name: %v", err)
	}
	if local() == before {
		t.Errorf("the missing name was asked of the MDT")
	}
	must(t, "create on the other mount", os.WriteFile(filepath.Join(b, "other"), []byte("b"), 0o644))
	if got, err := os.ReadFile(filepath.Join(a, "other")); err != nil || string(got) != "b" {
		t.Fatalf("the other mount's file, read here: %q %v", got, err)
	}
	before = local()
	if _, err := os.Stat(filepath.Join(a, "still-missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a missing name: %v", err)
	}
	if local() != before {
		t.Errorf("a lookup was answered locally after another client made a name")
	}
	for i := range n {
		if _, err := os.Stat(filepath.Join(b, "f"+strconv.Itoa(i))); err != nil {
			t.Fatalf("the other mount does not see f%d: %v", i, err)
		}
	}
}

// TestDirNamesAfterMDSRestart: a restarted MDT has forgotten the DirNames
// locks it granted and calls none back, and a client learns of the
// restart only at its next RPC. A client answers under such a lock only
// while its MDT answered it within the last second (dirNamesHeard), so
// once that has passed, a name the other client made after the restart
// is found.
func TestDirNamesAfterMDSRestart(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			testDirNamesAfterRestart(t, cluster.New(t, cluster.Options{Runner: r, Clients: 2}))
		})
	}
}

func testDirNamesAfterRestart(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	local := func() uint64 { return statSamples(t, c, "llite.*.stats", "lookup_local") }
	for i := range 5 {
		must(t, "create", os.WriteFile(filepath.Join(a, "f"+strconv.Itoa(i)), nil, 0o644))
	}
	before := local()
	if _, err := os.Stat(filepath.Join(a, "later")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a missing name: %v", err)
	}
	if local() == before {
		t.Fatal("the missing name was asked of the MDT: no DirNames lock to test")
	}
	heard := time.Now()

	must(t, "stop the mds", c.StopMDS())
	must(t, "start the mds", c.StartMDS())
	must(t, "create on the other mount after the restart", os.WriteFile(filepath.Join(b, "later"), []byte("b"), 0o644))
	time.Sleep(time.Until(heard.Add(1100 * time.Millisecond))) // past dirNamesHeard
	if got, err := os.ReadFile(filepath.Join(a, "later")); err != nil || string(got) != "b" {
		t.Fatalf("the other mount's file, read here after the restart: %q %v", got, err)
	}
}
