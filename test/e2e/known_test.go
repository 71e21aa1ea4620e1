package e2e

import (
	"os"
	"testing"
)

// skipKnown skips t if key names a case that does not apply to Stria, or
// a known issue (unless STRIA_E2E_KNOWN=1 asks to run the known failures,
// to check a fix).
func skipKnown(t *testing.T, key string) {
	t.Helper()
	if why, ok := notApplicable[key]; ok {
		t.Skip("not applicable: " + why)
	}
	if why, ok := knownIssues[key]; ok && os.Getenv("STRIA_E2E_KNOWN") != "1" {
		t.Skip(why + " (STRIA_E2E_KNOWN=1 runs it)")
	}
}

// notApplicable are borrowed cases (go-fuse's posixtest) that check a
// contract Stria deliberately does not have; each says which, and which
// test checks Stria's own.
var notApplicable = map[string]string{
	// go-fuse's case expects a second descriptor of the same process to
	// conflict with the first (the open-file-description locks its
	// loopback takes). Stria's fcntl locks go to the MDT, owned per
	// process as POSIX and Lustre have them, so the second F_SETLK is
	// granted; TestLocking checks exclusion across clients.
	"posixtest/FcntlFlockLocksFile": "expects per-open-file (OFD) fcntl locks; Stria's are per process (POSIX, Lustre); TestLocking covers them",
}

// knownIssues are cases that fail today because of a bug outside the test
// harness, each naming it; the case skips itself with the reason until the
// entry is removed. Keep it short: every entry is a bug to fix.
var knownIssues = map[string]string{
	// Intermittent since the intent locks (89d823b): about 2 runs in 10,
	// the re-read of a file this client just wrote and read misses the
	// page cache (16 OST_READs). The kernel evicts a FUSE inode, and its
	// pages, as soon as its dentry is invalidated while no file holds it
	// (FUSE's drop_inode is generic_delete_inode). The name is
	// invalidated because this client's own intent lock on the file
	// (LOOKUP|UPDATE|PERM) is called back whole by the MDT's EX UPDATE
	// lock for the O_TRUNC setattr and for the write's close (async
	// RELEASE: before or after the first read). The fix is Lustre's lock
	// convert: give up only the conflicting bits and keep LOOKUP.
	"CachedReread": "issue #4 (ldlm): a re-read sometimes misses the page cache: an UPDATE conflict cancels the whole intent lock, LOOKUP included (no lock convert)",
}
