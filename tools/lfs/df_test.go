package lfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/wire"
)

// dfTargets is a small file system: two MDTs, four OSTs (one deactivated,
// one degraded and not taking creates, one nearly full).
func dfTargets() []Target {
	mk := func(uuid, kind string, idx int, active bool, s wire.StatFS) Target {
		return Target{UUID: uuid, Kind: kind, Index: idx, Active: active, StatFS: s}
	}
	return []Target{
		// Out of order on purpose: lfs sorts MDTs then OSTs by index.
		mk("stria-OST0001_UUID", "OST", 1, true, wire.StatFS{Blocks: 1 << 28, BFree: 3 << 26, BAvail: 5 << 25, Files: 1 << 22, FFree: 1<<22 - 1000, BSize: 4096,
			State: wire.StateDegraded | wire.StateNoCreate}),
		mk("stria-MDT0000_UUID", "MDT", 0, true, wire.StatFS{Blocks: 1 << 22, BFree: 1<<22 - 12345, BAvail: 1<<22 - 22345, Files: 1 << 24, FFree: 1<<24 - 4321, BSize: 4096}),
		mk("stria-MDT0001_UUID", "MDT", 1, true, wire.StatFS{Blocks: 1 << 22, BFree: 1<<22 - 100, BAvail: 1<<22 - 200, Files: 1 << 24, FFree: 1<<24 - 17, BSize: 4096}),
		mk("stria-OST0000_UUID", "OST", 0, true, wire.StatFS{Blocks: 1 << 28, BFree: 1 << 27, BAvail: 1<<27 - 1<<20, Files: 1 << 22, FFree: 1<<22 - 2000, BSize: 4096}),
		mk("stria-OST0002_UUID", "OST", 2, true, wire.StatFS{Blocks: 1 << 20, BFree: 100, BAvail: 0, Files: 1 << 20, FFree: 5, BSize: 1 << 20,
			State: wire.StateNoSpace}),
		mk("stria-OST0003_UUID", "OST", 3, false, wire.StatFS{}),
	}
}

func dfFS(t *testing.T, ts []Target) *fakeFS {
	f := newFakeFS(t)
	f.control = func(cmd string, args []string) (string, error) {
		switch cmd {
		case CmdDf:
			b, err := json.Marshal(ts)
			return string(b), err
		}
		return "", fmt.Errorf("%w: %s", ErrControl, cmd)
	}
	return f
}

func TestDfGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"df", []string{"df"}},
		{"df_path", []string{"df", "/mnt/fs/some/file"}},
		{"df_h", []string{"df", "-h"}},
		{"df_H", []string{"df", "-H", "/mnt/fs"}},
		{"df_i", []string{"df", "-i"}},
		{"df_ih", []string{"df", "-i", "-h"}},
		{"df_v", []string{"df", "-v"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := dfFS(t, dfTargets())
			out, stderr, code := run(t, f, c.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("status %d, stderr %q", code, stderr)
			}
			golden(t, c.name+".golden", out)
		})
	}
}

// TestDfSummary checks the totals against hand-computed values.
func TestDfSummary(t *testing.T) {
	f := dfFS(t, dfTargets())
	out, _, _ := run(t, f, "df")
	// OSTs 0-2 in KiB: 2^28*4 + 2^28*4 + 2^20*1024.
	total := uint64(1<<28*4 + 1<<28*4 + 1<<20*1024)
	used := uint64((1<<28-1<<27)*4 + (1<<28-3<<26)*4 + (1<<20-100)*1024)
	avail := uint64((1<<27-1<<20)*4 + (5<<25)*4 + 0)
	want := fmt.Sprintf("%-20s %11d %11d %11d", "filesystem_summary:", total, used, avail)
	if !strings.Contains(out, want) {
		t.Errorf("summary: want %q in\n%s", want, out)
	}
	// Inodes: the MDTs' 2*2^24 files, but only as many free as the OSTs
	// have objects free (they have fewer).
	out, _, _ = run(t, f, "df", "-i")
	ostFree := uint64(1<<22 - 1000 + 1<<22 - 2000 + 5)
	mdtUsed := uint64(4321 + 17)
	want = fmt.Sprintf("%-20s %11d %11d %11d", "filesystem_summary:", mdtUsed+ostFree, mdtUsed, ostFree)
	if !strings.Contains(out, want) {
		t.Errorf("inode summary: want %q in\n%s", want, out)
	}
}

func TestDfCook(t *testing.T) {
	cases := []struct {
		v     uint64
		si    bool
		want  string
		human bool
	}{
		{1024, false, "1024", true},
		{1025, false, "     1.0K", true},
		{1536 << 30, false, "     1.5T", true},
		{3758096384, false, "     3.5G", true},
		{1000, true, "1000", true},
		{1500000, true, "     1.5M", true},
		{1001, true, "     1.0k", true},
	}
	for _, c := range cases {
		var b strings.Builder
		s := wire.StatFS{Blocks: c.v, BSize: 1}
		showRow(&b, "/m", "u", "", &s, &dfFlags{human: !c.si, si: c.si})
		fields := strings.Fields(b.String())
		got := strings.TrimSpace(c.want)
		if len(fields) < 2 || fields[1] != got || !strings.Contains(b.String(), fmt.Sprintf("%11s", c.want)) {
			t.Errorf("%d (si %v): %q, want %q", c.v, c.si, b.String(), c.want)
		}
	}
}

func TestDfErrors(t *testing.T) {
	f := dfFS(t, dfTargets())
	_, stderr, code := run(t, f, "df", "/elsewhere")
	if code != int(syscall.ENODEV) || stderr != "lfs df: '/elsewhere' is not on a Stria file system\n" {
		t.Errorf("foreign path: status %d, stderr %q", code, stderr)
	}
	_, stderr, code = run(t, f, "df", "/mnt/fs", "/mnt/fs")
	if code != int(syscall.EINVAL) || !strings.Contains(stderr, "accepts at most 1 arg") {
		t.Errorf("two paths: status %d, stderr %q", code, stderr)
	}
	for _, reply := range []string{`not json`, `[{"uuid":"x","kind":"MGS","index":0}]`, `[{"uuid":"x","kind":"OST","index":-1}]`} {
		f.control = func(string, []string) (string, error) { return reply, nil }
		_, stderr, code = run(t, f, "df")
		if code != 1 || !strings.Contains(stderr, "malformed reply") {
			t.Errorf("reply %q: status %d, stderr %q", reply, code, stderr)
		}
	}
	f.control = func(string, []string) (string, error) {
		return "", &controlError{errors.New("client is shutting down")}
	}
	_, stderr, code = run(t, f, "df")
	if code != 1 || stderr != "lfs df: /mnt/fs: client is shutting down\n" {
		t.Errorf("failed command: status %d, stderr %q", code, stderr)
	}
}

// multiFS has two mounts, for lfs df without a path.
type multiFS struct {
	*fakeFS
	other *fakeFS
}

func (m *multiFS) Clients(ctx context.Context) ([]Client, error) {
	return []Client{&fakeClient{f: m.fakeFS, mount: m.fakeFS.mount}, &fakeClient{f: m.other, mount: m.other.mount}}, nil
}

func TestDfEveryMount(t *testing.T) {
	a := dfFS(t, dfTargets()[:2])
	b := dfFS(t, []Target{{UUID: "scratch-MDT0000_UUID", Kind: "MDT", Active: true,
		StatFS: wire.StatFS{Blocks: 100, BFree: 50, BAvail: 40, Files: 10, FFree: 5, BSize: 4096}}})
	b.mount = "/scratch"
	out, _, code := run(t, &multiFS{a, b}, "df")
	if code != 0 {
		t.Fatal(code)
	}
	golden(t, "df_two_mounts.golden", out)
}
