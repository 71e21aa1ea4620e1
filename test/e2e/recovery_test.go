package e2e

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// TestOpenFilesSurviveMDSRestart: files open on a mount stay usable
// across a restart of the MDS (Lustre's open replay): a file unlinked
// while open keeps its data, takes more and reads back whole through the
// descriptor the application holds, and closes without error; a plain
// open file is written and closed after the restart too.
func TestOpenFilesSurviveMDSRestart(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) { testOpenReplay(t, cluster.New(t, cluster.Options{Runner: r})) })
	}
}

func testOpenReplay(t *testing.T, c *cluster.Cluster) {
	random, _ := seededBytes(t, 2)
	dir := freshDir(t, c, 0)
	unlinked := filepath.Join(dir, "unlinked")
	f, err := os.OpenFile(unlinked, os.O_CREATE|os.O_RDWR, 0o644)
	must(t, "create", err)
	defer f.Close()
	first := random(300 << 10)
	_, err = f.Write(first)
	must(t, "write", err)
	must(t, "fsync", f.Sync())
	plain := filepath.Join(dir, "plain")
	must(t, "write plain", os.WriteFile(plain, []byte("hello "), 0o644))
	g, err := os.OpenFile(plain, os.O_RDWR, 0)
	must(t, "open plain", err)
	defer g.Close()
	must(t, "unlink the open file", os.Remove(unlinked))

	must(t, "stop the mds", c.StopMDS())
	must(t, "start the mds", c.StartMDS())

	second := random(200 << 10)
	_, err = f.WriteAt(second, int64(len(first)))
	must(t, "write after the restart", err)
	must(t, "fsync after the restart", f.Sync())
	got := make([]byte, len(first)+len(second))
	n, err := f.ReadAt(got, 0)
	must(t, "read after the restart", err)
	if want := append(first, second...); !bytes.Equal(got[:n], want) {
		t.Fatalf("the unlinked file reads back %d bytes, want %d; first difference at %d", n, len(want),
			firstDiff(got[:n], want))
	}
	must(t, "close the unlinked file", f.Close())
	if _, err := os.Stat(unlinked); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat of the unlinked name: %v", err)
	}

	_, err = g.WriteAt([]byte("world"), 6)
	must(t, "write the plain file after the restart", err)
	must(t, "close the plain file", g.Close())
	b, err := os.ReadFile(plain)
	if err != nil || string(b) != "hello world" {
		t.Fatalf("plain file: %q, %v", b, err)
	}
}
