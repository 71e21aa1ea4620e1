package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// TestOpenCache: the last close of a file a client created and did not
// write leaves its MDT open under the file's OPEN lock (no MDS_CLOSE);
// the close is sent when another client opens the file for writing or
// unlinks it (their locks call the OPEN lock back), and at once when the
// client wrote the file or llite.*.open_cache is 0.
func TestOpenCache(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			testOpenCache(t, cluster.New(t, cluster.Options{Runner: r, Clients: 2}))
		})
	}
}

func testOpenCache(t *testing.T, c *cluster.Cluster) {
	a, b := twoPaths(t, c)
	closes := func() uint64 { return statSamples(t, c, "mdc.*.stats", "mds_close") }
	// The kernel sends FUSE_RELEASE after close(2) returns: wait until
	// the client handled n more, each closed or parked.
	released := func() uint64 { return closes() + statSamples(t, c, "llite.*.stats", "close_deferred") }
	waitReleased := func(from, n uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for released()-from < n {
			if time.Now().After(deadline) {
				t.Fatalf("the client handled %d of %d releases", released()-from, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	before, rel := closes(), released()
	must(t, "create e1", os.WriteFile(filepath.Join(a, "e1"), nil, 0o644))
	must(t, "create e2", os.WriteFile(filepath.Join(a, "e2"), nil, 0o644))
	must(t, "create w", os.WriteFile(filepath.Join(a, "w"), []byte("written"), 0o644))
	waitReleased(rel, 3)
	if got := closes() - before; got != 1 {
		t.Fatalf("closing two fresh files and a written one sent %d MDS_CLOSE, want 1 (the written one's)", got)
	}

	before, rel = closes(), released()
	f, err := os.OpenFile(filepath.Join(b, "e1"), os.O_WRONLY, 0)
	must(t, "open e1 for writing on the other mount", err)
	must(t, "close e1 on the other mount", f.Close())
	waitReleased(rel, 2)
	if got := closes() - before; got != 2 {
		t.Errorf("an open for writing elsewhere and its close sent %d MDS_CLOSE, want 2 (the parked one too)", got)
	}

	before = closes()
	must(t, "unlink e2 on the other mount", os.Remove(filepath.Join(b, "e2")))
	if got := closes() - before; got != 1 {
		t.Errorf("an unlink elsewhere sent %d MDS_CLOSE, want the parked one", got)
	}
	if _, err := os.Stat(filepath.Join(a, "e2")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat of the unlinked file: %v", err)
	}

	lctlOK(t, c, "set_param", "llite.*.open_cache=0")
	before, rel = closes(), released()
	must(t, "create e3 without the open cache", os.WriteFile(filepath.Join(a, "e3"), nil, 0o644))
	waitReleased(rel, 1)
	if got := closes() - before; got != 1 {
		t.Errorf("with open_cache=0 a close sent %d MDS_CLOSE, want 1", got)
	}
}
