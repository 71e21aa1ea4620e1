// Package e2e holds Stria's end-to-end tests: real daemons as separate
// processes, real FUSE mounts, the real lfs and lctl, through the cluster
// harness (test/cluster).
package e2e

import (
	"os"
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

func TestMain(m *testing.M) {
	if op := os.Getenv(helperEnv); op != "" {
		os.Exit(runHelper(op))
	}
	os.Exit(cluster.Main(m))
}
