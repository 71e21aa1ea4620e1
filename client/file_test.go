package client

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/wire"
)

// TestAllocateRefusals: what fallocate(2) refuses before any RPC.
func TestAllocateRefusals(t *testing.T) {
	rw := &file{flags: syscall.O_RDWR}
	for _, tc := range []struct {
		name        string
		f           *file
		off, length int64
		mode        uint32
		want        syscall.Errno
	}{
		{"negative offset", rw, -1, 10, 0, syscall.EINVAL},
		{"empty range", rw, 0, 0, 0, syscall.EINVAL},
		{"read-only handle", &file{flags: syscall.O_RDONLY}, 0, 10, 0, syscall.EBADF},
		{"punch without KEEP_SIZE", rw, 0, 10, wire.FallocPunchHole, syscall.EOPNOTSUPP},
		{"zero range", rw, 0, 10, 0x10, syscall.EOPNOTSUPP},
		{"collapse range", rw, 0, 4096, 0x08, syscall.EOPNOTSUPP},
		{"range overflows", rw, 1 << 62, 1<<63 - 1, 0, syscall.EFBIG},
	} {
		if err := tc.f.Allocate(t.Context(), tc.off, tc.length, tc.mode); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
