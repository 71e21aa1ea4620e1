package e2e

import (
	"testing"

	"github.com/stria-fs/stria/test/cluster"
)

// TestShared runs the cases that do not disturb the cluster on one
// cluster (two OSSs with two OSTs each, two clients), each case in a
// directory of its own: starting a cluster costs seconds, a case
// milliseconds.
func TestShared(t *testing.T) {
	c := cluster.New(t, cluster.Options{Clients: 2})
	helper := helperBinary(t, c.Dir())
	t.Run("POSIX", func(t *testing.T) { runPOSIX(t, c, helper) })
	t.Run("Integrity", func(t *testing.T) { runIntegrity(t, c) })
	t.Run("TwoClients", func(t *testing.T) { testTwoClients(t, c) })
	t.Run("Lfs", func(t *testing.T) { testLfs(t, c) })
	t.Run("SetstripeRefused", func(t *testing.T) { testSetstripeRefused(t, c) })
	t.Run("Lctl", func(t *testing.T) { testLctl(t, c) })
	t.Run("MountErrors", func(t *testing.T) { testMountErrors(t, c) })
	t.Run("MountHelper", func(t *testing.T) { testMountHelper(t, c) })
	t.Run("LockedTargets", func(t *testing.T) { testLockedTargets(t, c) })
	t.Run("Signals", func(t *testing.T) { testSignals(t, c, helper) })
}
