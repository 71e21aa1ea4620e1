package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// TestCreatesReplayedAfterMDSRestart: the MDT answers creates before it
// commits them; what a restart loses, the clients replay. Lustre's
// replay_barrier: `lctl --device MDT readonly` stops the MDT's commits,
// files are created and written after it (one stays open), and the MDS
// restarts. Every file is back, under its name, with its FID and its
// data (its OST objects survived the MDT's orphan cleanup), as the other
// mount sees it too, and the open one is written and closed after.
func TestCreatesReplayedAfterMDSRestart(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			testCreateReplay(t, cluster.New(t, cluster.Options{Runner: r, Clients: 2}))
		})
	}
}

func testCreateReplay(t *testing.T, c *cluster.Cluster) {
	random, rng := seededBytes(t, 3)
	dir := freshDir(t, c, 0)
	must(t, "write the file made before the barrier", os.WriteFile(filepath.Join(dir, "before"), []byte("old"), 0o644))
	mdt := c.FSName() + "-MDT0000"
	if out, errOut, code := c.Lctl(tctx(t), "--device", mdt, "readonly"); code != 0 {
		t.Fatalf("lctl readonly: %s%s", out, errOut)
	}

	const n = 6
	want := map[string][]byte{"before": []byte("old")}
	fids := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("f%d", i)
		want[name] = random(1 + rng.IntN(300<<10))
		must(t, "write "+name, os.WriteFile(filepath.Join(dir, name), want[name], 0o644))
		fids[name] = lfsOK(t, c, "path2fid", filepath.Join(dir, name))
	}
	open := filepath.Join(dir, "open")
	f, err := os.OpenFile(open, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	must(t, "create the open file", err)
	defer f.Close()
	first := random(100 << 10)
	_, err = f.Write(first)
	must(t, "write the open file", err)
	fids["open"] = lfsOK(t, c, "path2fid", open)

	must(t, "stop the mds", c.StopMDS())
	must(t, "start the mds", c.StartMDS())

	second := random(50 << 10)
	_, err = f.WriteAt(second, int64(len(first)))
	must(t, "write the open file after the restart", err)
	// The fsync reaches the MDT (MDS_SYNC: its create is not committed),
	// so this mount has reconnected and replayed before the other one
	// looks: the MDT does not hold other clients back during recovery.
	must(t, "fsync the open file", f.Sync())
	must(t, "close the open file", f.Close())
	want["open"] = append(first, second...)

	other := filepath.Join(c.Mount(1), filepath.Base(dir))
	ents, err := os.ReadDir(other)
	must(t, "list the directory on the other mount", err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	wantNames := make([]string, 0, len(want))
	for name := range want {
		wantNames = append(wantNames, name)
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Fatalf("after the restart the other mount lists %q, want %q", names, wantNames)
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(other, name))
		must(t, "read "+name+" on the other mount", err)
		if !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes back, want %d; first difference at %d", name, len(got), len(data), firstDiff(got, data))
		}
		if fid, ok := fids[name]; ok {
			if got := lfsOK(t, c, "path2fid", filepath.Join(other, name)); got != fid {
				t.Errorf("%s: FID %s after the replay, %s before", name, strings.TrimSpace(got), strings.TrimSpace(fid))
			}
		}
	}
	out, _, _ := c.Lctl(tctx(t), "get_param", "-n", "mdt."+mdt+".recovery_status")
	t.Logf("recovery_status:\n%s", out)
}
