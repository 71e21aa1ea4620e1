package fusefs

import (
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixtestSkips names the go-fuse posixtest cases that cannot pass yet,
// each with the issue that will make it pass.
var posixtestSkips = map[string]string{
	// Without EnableLocks the kernel keeps POSIX locks locally, per
	// process, so a second descriptor of the same process gets the lock.
	"FcntlFlockLocksFile": "issue #4: fcntl locks become FLOCK locks on the MDT (EnableLocks)",
}

// TestPosixtest runs go-fuse's POSIX conformance tests, each on a fresh
// mount of a fresh memFS. (Tmpfile skips itself: O_TMPFILE needs a
// Backend call the contract does not have, so the adapter answers
// EOPNOTSUPP.)
func TestPosixtest(t *testing.T) {
	names := make([]string, 0, len(posixtest.All))
	for n := range posixtest.All {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			if why, ok := posixtestSkips[n]; ok {
				t.Skip(why)
			}
			tm := mount(t, nil, Options{})
			posixtest.All[n](t, tm.dir)
		})
	}
}
