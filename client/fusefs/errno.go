package fusefs

import (
	"context"
	"errors"
	"syscall"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/wire"
)

// toErrno is the one place where Go errors become the errnos the kernel
// returns to applications (DESIGN.md §13). An error wrapping a
// syscall.Errno is that errno (found with errors.As, so wrapped and remote
// errors work; go-fuse's own ToErrno would turn them into ENOSYS); a
// cancelled or expired context is EINTR (the kernel sent an INTERRUPT, or
// the daemon is shutting down); anything else is a bug or an unexpected
// failure below us, logged with the FID and answered EIO.
func (fsys *fileSystem) toErrno(err error, op string, fid wire.FID) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return syscall.EINTR
	}
	fsys.log.Error("fusefs: unexpected error, returning EIO",
		zap.String("op", op), zap.Stringer("fid", fid), zap.Error(err))
	return syscall.EIO
}
