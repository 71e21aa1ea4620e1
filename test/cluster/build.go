package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary names, as `make build` names them.
const (
	MGS    = "stria-mgs"
	MDS    = "stria-mds"
	OSS    = "stria-oss"
	Client = "stria-client"
	Lfs    = "lfs"
	Lctl   = "lctl"
	// MountHelper is the client linked as mount(8)'s helper.
	MountHelper = "mount.stria"
)

// packages maps each binary to its main package.
var packages = map[string]string{
	MGS: "./cmd/mgs", MDS: "./cmd/mds", OSS: "./cmd/oss", Client: "./cmd/client",
	Lfs: "./cmd/lfs", Lctl: "./cmd/lctl",
}

// built is the one build of the binaries per test process: the harness's
// only process-wide state, so that every cluster of a test binary shares
// one build.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// BinDir builds the binaries (once per test process) and returns the
// directory that holds them. Set STRIA_E2E_RACE=1 to build them with the
// race detector.
func BinDir(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.dir, built.err = build() })
	if built.err != nil {
		t.Fatalf("cluster: building the binaries: %v", built.err)
	}
	return built.dir
}

// Bin returns the path of a built binary (MGS, MDS, OSS, Client, Lfs, Lctl
// or MountHelper).
func Bin(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(BinDir(t), name)
}

// Main runs a test binary's tests (from TestMain) and then removes the
// binaries built for them: os.Exit(cluster.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	return code
}

func build() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir, err := os.MkdirTemp("", "stria-bin-")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"build", "-o", dir + "/"}
	if os.Getenv("STRIA_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	for _, name := range []string{MGS, MDS, OSS, Client, Lfs, Lctl} {
		args = append(args, packages[name])
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	// The test binary may run under -race or with GOFLAGS for the tests;
	// the daemons are plain builds unless asked otherwise.
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for _, name := range []string{MGS, MDS, OSS, Client} {
		short := strings.TrimPrefix(name, "stria-")
		if err := os.Rename(filepath.Join(dir, short), filepath.Join(dir, name)); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	if err := os.Symlink(Client, filepath.Join(dir, MountHelper)); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// moduleRoot finds the directory of go.mod above the working directory
// (a test runs in its package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
