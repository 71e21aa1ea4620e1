package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// tree is what a test wrote and expects to find again: file contents by
// path relative to the mount, directories, and each file's stripe count.
type tree struct {
	files   map[string][]byte
	stripes map[string]string
	dirs    []string
}

// writeTree makes directories and files of several layouts (some sparse)
// under root on client i.
func writeTree(t *testing.T, c *cluster.Cluster, i int, root string, rng *rand.Rand) tree {
	t.Helper()
	tr := tree{files: map[string][]byte{}, stripes: map[string]string{}}
	base := filepath.Join(c.Mount(i), root)
	for _, d := range []string{"", "a", "a/b", "c"} {
		must(t, "mkdir", os.MkdirAll(filepath.Join(base, d), 0o755))
		tr.dirs = append(tr.dirs, filepath.Join(root, d))
	}
	for k, g := range []struct {
		count int
		size  string
		len   int
		hole  int64
	}{{1, "64K", 100, 0}, {2, "64K", 300 << 10, 0}, {4, "64K", 1 << 20, 200 << 10}, {4, "1M", 5 << 20, 0}, {2, "1M", 70000, 3 << 20}} {
		rel := filepath.Join(root, []string{"", "a", "a/b", "c", "a"}[k], "f"+strconv.Itoa(k))
		p := filepath.Join(c.Mount(i), rel)
		lfsOK(t, c, "setstripe", "-c", strconv.Itoa(g.count), "-S", g.size, p)
		data := make([]byte, g.len)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		must(t, "open", err)
		_, err = f.WriteAt(data, g.hole)
		must(t, "write", err)
		must(t, "close", f.Close())
		tr.files[rel] = append(make([]byte, g.hole), data...)
		tr.stripes[rel] = strconv.Itoa(g.count)
	}
	return tr
}

// check verifies tr through client i: every directory, every file's data
// and stripe count.
func (tr tree) check(t *testing.T, c *cluster.Cluster, i int, when string) {
	t.Helper()
	for _, d := range tr.dirs {
		if st, err := os.Stat(filepath.Join(c.Mount(i), d)); err != nil || !st.IsDir() {
			t.Errorf("%s: directory %s: %v", when, d, err)
		}
	}
	for rel, want := range tr.files {
		p := filepath.Join(c.Mount(i), rel)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: read %s: %v", when, rel, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %s: %d bytes, want %d; first difference at %d", when, rel, len(got), len(want), firstDiff(got, want))
		}
		if out, _, code := c.Lfs(tctx(t), "getstripe", "-c", p); code != 0 || strings.TrimSpace(out) != tr.stripes[rel] {
			t.Errorf("%s: %s has stripe count %q (exit %d), want %s", when, rel, out, code, tr.stripes[rel])
		}
	}
}

// TestRestart: unmounting and remounting a client keeps everything; so
// does stopping every daemon and starting them again; and new files are
// made and found after that.
func TestRestart(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) { testRestart(t, cluster.New(t, cluster.Options{Runner: r})) })
	}
}

func testRestart(t *testing.T, c *cluster.Cluster) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	before := writeTree(t, c, 0, "before", rng)
	before.check(t, c, 0, "written")

	must(t, "unmount", c.Unmount(0))
	if mountedAt(t, c.Mount(0)) {
		t.Fatal("still mounted after Unmount")
	}
	must(t, "remount", c.Remount(0))
	before.check(t, c, 0, "after a remount")

	must(t, "restart every daemon", c.RestartAll())
	before.check(t, c, 0, "after restarting every daemon")
	after := writeTree(t, c, 0, "after", rng)
	after.check(t, c, 0, "written after the restart")

	// One OSS stopped and started under a mounted client: the client
	// reconnects and both trees read back.
	must(t, "stop oss1", c.StopOSS(1))
	must(t, "start oss1", c.StartOSS(1))
	before.check(t, c, 0, "after restarting oss1 under the mount")
	after.check(t, c, 0, "after restarting oss1 under the mount")
	again := writeTree(t, c, 0, fmt.Sprintf("again%d", rng.IntN(1000)), rng)
	again.check(t, c, 0, "written after restarting oss1")
}
