package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// TestDaemonRefuses: a daemon started on an unformatted target, or on a
// target of another file system than it is told to serve, refuses with a
// one-line message and a non-zero status; format refuses a formatted
// target without --reformat. No cluster is needed: each refusal comes
// before the daemon would serve.
func TestDaemonRefuses(t *testing.T) {
	bin := cluster.BinDir(t)
	dir := t.TempDir()
	ctl := t.TempDir()
	env := append(os.Environ(), "STRIA_CTL_DIR="+ctl)
	run := func(name string, args ...string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return cluster.RunBinary(ctx, env, filepath.Join(bin, name), args...)
	}
	start := []string{"--networks", "tcp0(127.0.0.1)", "--port", "0", "--ctl-dir", ctl, "--log-level", "error"}
	mgsnode := "--mgsnode=127.0.0.1@tcp"

	// A target of file system "other".
	other := filepath.Join(dir, "other-ost")
	if out, errOut, code := run(cluster.OSS, "format", "--dir", other, "--fsname", "other", "--index", "0", mgsnode); code != 0 {
		t.Fatalf("format: %d %s%s", code, out, errOut)
	}
	otherMDT := filepath.Join(dir, "other-mdt")
	if out, errOut, code := run(cluster.MDS, "format", "--dir", otherMDT, "--fsname", "other", "--index", "0", mgsnode); code != 0 {
		t.Fatalf("format: %d %s%s", code, out, errOut)
	}
	empty := filepath.Join(dir, "empty")
	must(t, "mkdir", os.Mkdir(empty, 0o755))

	for _, tc := range []struct {
		name string
		bin  string
		args []string
		says string
	}{
		{"MGSUnformatted", cluster.MGS, append([]string{"start", "--dir", empty}, start...), "not formatted"},
		{"MDSUnformatted", cluster.MDS, append([]string{"start", "--dir", empty}, start...), "not formatted"},
		{"OSSUnformatted", cluster.OSS, append([]string{"start", "--dir", empty}, start...), "not formatted"},
		{"OSSMissingDir", cluster.OSS, append([]string{"start", "--dir", filepath.Join(dir, "nope")}, start...), "not formatted"},
		{"OSSOtherFS", cluster.OSS, append([]string{"start", "--dir", other, "--fsname", "stria"}, start...), "another file system"},
		{"MDSOtherFS", cluster.MDS, append([]string{"start", "--dir", otherMDT, "--fsname", "stria"}, start...), "another file system"},
		{"OSSReformat", cluster.OSS, []string{"format", "--dir", other, "--fsname", "stria", "--index", "1", mgsnode}, "already formatted"},
		{"MDSReformat", cluster.MDS, []string{"format", "--dir", otherMDT, "--fsname", "stria", "--index", "0", mgsnode}, "already formatted"},
		{"OSSBadFlags", cluster.OSS, []string{"format", "--dir", empty, "--fsname", "stria", mgsnode}, "--index"},
		{"MDSBadNetworks", cluster.MDS, []string{"start", "--dir", otherMDT, "--networks", "tcp0(", "--ctl-dir", ctl}, "networks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(tc.bin, tc.args...)
			if code == 0 || code == -1 {
				t.Fatalf("%s %v: exit %d: %s%s", tc.bin, tc.args, code, out, errOut)
			}
			msg := strings.TrimSpace(errOut)
			if !strings.Contains(msg, tc.says) || strings.Contains(msg, "\n") {
				t.Errorf("%s %v: message %q should be one line saying %q", tc.bin, tc.args, msg, tc.says)
			}
		})
	}
	// The refused reformat changed nothing: "other" is still other's.
	out, errOut, code := run(cluster.OSS, append([]string{"start", "--dir", other, "--fsname", "stria"}, start...)...)
	if code == 0 || !strings.Contains(errOut, `"other"`) {
		t.Errorf("after the refused reformat: exit %d %s%s", code, out, errOut)
	}
}
