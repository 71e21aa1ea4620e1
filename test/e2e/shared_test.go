package e2e

import (
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// runners are the harness's runners; tests written once run on each.
var runners = []cluster.Runner{cluster.Binaries, cluster.InProcess}

// binariesOnly skips a case on the InProcess runner: one that exercises
// the binaries themselves (mount helpers, daemons' command lines), which
// that runner has not, or one that only tests what both runners share.
func binariesOnly(t *testing.T, c *cluster.Cluster, why string) {
	t.Helper()
	if c.Runner() != cluster.Binaries {
		t.Skip("Binaries runner only: " + why)
	}
}

// TestShared runs the cases that do not disturb the cluster on one
// cluster per runner (two OSSs with two OSTs each, two clients), each case
// in a directory of its own: starting a cluster costs seconds, a case
// milliseconds.
func TestShared(t *testing.T) {
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			c := cluster.New(t, cluster.Options{Clients: 2, Runner: r})
			helper := helperBinary(t, c.Dir())
			t.Run("POSIX", func(t *testing.T) { runPOSIX(t, c, helper) })
			t.Run("Integrity", func(t *testing.T) { runIntegrity(t, c) })
			t.Run("TwoClients", func(t *testing.T) { testTwoClients(t, c) })
			t.Run("Lfs", func(t *testing.T) { testLfs(t, c) })
			t.Run("SetstripeRefused", func(t *testing.T) { testSetstripeRefused(t, c) })
			t.Run("Lctl", func(t *testing.T) { testLctl(t, c) })
			t.Run("MountErrors", func(t *testing.T) { binariesOnly(t, c, "stria-client's errors"); testMountErrors(t, c) })
			t.Run("MountHelper", func(t *testing.T) { binariesOnly(t, c, "mount.stria and mount -t stria"); testMountHelper(t, c) })
			t.Run("LockedTargets", func(t *testing.T) { binariesOnly(t, c, "daemons' refusals"); testLockedTargets(t, c) })
			t.Run("Signals", func(t *testing.T) { testSignals(t, c, helper) })
		})
	}
}
