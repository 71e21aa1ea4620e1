package e2e

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// tctx is a context for one step of a test, bounded so that a hung mount
// fails the test instead of hanging it.
func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErrno fails t unless err is errno.
func wantErrno(t testing.TB, what string, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: got %v, want %v (%d)", what, err, errno, int(errno))
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// freshDir makes a directory of its own for t on client i's mount: cases
// sharing a cluster never see each other's files.
func freshDir(t testing.TB, c *cluster.Cluster, i int) string {
	t.Helper()
	d := filepath.Join(c.Mount(i), unsafeName.ReplaceAllString(strings.TrimPrefix(t.Name(), "Test"), "_"))
	must(t, "mkdir", os.MkdirAll(d, 0o777))
	must(t, "chmod", os.Chmod(d, 0o777))
	return d
}

// lfsOK runs lfs and fails t unless it exits 0; it returns stdout.
func lfsOK(t testing.TB, c *cluster.Cluster, args ...string) string {
	t.Helper()
	out, errOut, code := c.Lfs(tctx(t), args...)
	if code != 0 {
		t.Fatalf("lfs %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// lctlOK runs lctl and fails t unless it exits 0; it returns stdout.
func lctlOK(t testing.TB, c *cluster.Cluster, args ...string) string {
	t.Helper()
	out, errOut, code := c.Lctl(tctx(t), args...)
	if code != 0 {
		t.Fatalf("lctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mountedAt reports whether a Stria file system is mounted at dir.
func mountedAt(t testing.TB, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == dir && f[2] == "fuse.stria" {
			return true
		}
	}
	return false
}

// needRoot skips a case that acts as other users or makes mount
// namespaces, which only root may; make test runs as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (other users' credentials, mount namespaces); make test runs as root")
	}
}

// seededBytes returns a function of random byte slices from a seed it
// logs, so that a failure can be replayed.
func seededBytes(t testing.TB, stream uint64) (func(n int) []byte, *rand.Rand) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, stream))
	return func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}, rng
}

// statSamples sums the samples of counter name over the stats parameters
// pattern names (lctl get_param -n PATTERN): every mounted client's.
func statSamples(t testing.TB, c *cluster.Cluster, pattern, name string) uint64 {
	t.Helper()
	var n uint64
	for _, line := range strings.Split(lctlOK(t, c, "get_param", "-n", pattern), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == name && f[2] == "samples" {
			v, err := strconv.ParseUint(f[1], 10, 64)
			must(t, "stats line "+line, err)
			n += v
		}
	}
	return n
}
