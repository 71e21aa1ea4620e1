package e2e

import (
	"os"
	"testing"
)

// skipKnown skips t if key names a known issue, unless STRIA_E2E_KNOWN=1
// asks to run the known failures (to check a fix).
func skipKnown(t *testing.T, key string) {
	t.Helper()
	if why, ok := knownIssues[key]; ok && os.Getenv("STRIA_E2E_KNOWN") != "1" {
		t.Skip(why + " (STRIA_E2E_KNOWN=1 runs it)")
	}
}

// knownIssues are cases that fail today because of a bug outside the test
// harness, each naming it; the case skips itself with the reason until the
// entry is removed. Keep it short: every entry is a bug to fix.
var knownIssues = map[string]string{
	// client/fusefs answers a FUSE INTERRUPT by cancelling the request's
	// context, so any signal the caller catches (Go's preemption signal
	// SIGURG, SIGCHLD, timers) can make stat, mkdir, rename... fail with
	// EINTR, even after the MDT carried the change out. Lustre's client
	// completes them; the kernel lets a daemon ignore INTERRUPT. Until it
	// is fixed, TestMain runs this test binary without asynchronous
	// preemption (GODEBUG=asyncpreemptoff=1), or every POSIX case would be
	// flaky.
	"Signals": "issue #3 (client/fusefs): FUSE INTERRUPT becomes EINTR for calls that must complete",
	// Without EnableLocks the kernel keeps POSIX locks locally, per
	// process, so a second descriptor of the same process gets the lock.
	"posixtest/FcntlFlockLocksFile": "issue #4: fcntl locks go to the MDT (EnableLocks)",
	// client.File.Allocate answers EOPNOTSUPP.
	"posixtest/Fallocate":         "issue #3 (client): fallocate is not implemented (EOPNOTSUPP)",
	"posixtest/FallocateKeepSize": "issue #3 (client): fallocate is not implemented (EOPNOTSUPP)",
	// lfs setstripe -c 9 on a directory of a 4-OST file system is
	// accepted, and every file created there then fails with EINVAL.
	"SetstripeRefused/DirectoryCount": "issue #3 (mdt/lod): a directory default with more stripes than OSTs is accepted, then every create in it fails with EINVAL",
}
