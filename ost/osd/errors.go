package osd

import (
	"errors"
	"fmt"
	"syscall"
)

// Error is the type of the package's sentinel errors. Each carries the errno
// the RPC layer sends for it, so errors.Is(err, syscall.ENOENT) holds for an
// error that wraps ErrNotFound, and errors.As(err, &errno) yields the errno.
type Error struct {
	msg   string
	errno syscall.Errno
}

func (e *Error) Error() string { return e.msg }

// Errno is the errno value the error maps to on the wire.
func (e *Error) Errno() syscall.Errno { return e.errno }

// Is matches the errno itself and whatever that errno matches
// (syscall.ENOENT also matches fs.ErrNotExist).
func (e *Error) Is(target error) bool {
	if t, ok := target.(syscall.Errno); ok {
		return t == e.errno
	}
	return e.errno.Is(target)
}

// As fills a *syscall.Errno target.
func (e *Error) As(target any) bool {
	if p, ok := target.(*syscall.Errno); ok {
		*p = e.errno
		return true
	}
	return false
}

func newError(msg string, errno syscall.Errno) *Error { return &Error{msg: msg, errno: errno} }

// Sentinel errors of the osd package. Wrap them with %w; test with errors.Is.
var (
	ErrNotFound     = newError("osd: object not found", syscall.ENOENT)
	ErrExists       = newError("osd: object exists", syscall.EEXIST)
	ErrNoSpace      = newError("osd: no space left on target", syscall.ENOSPC)
	ErrQuota        = newError("osd: disk quota exceeded", syscall.EDQUOT)
	ErrBadFID       = newError("osd: bad object FID", syscall.EINVAL)
	ErrInvalid      = newError("osd: invalid argument", syscall.EINVAL)
	ErrTooBig       = newError("osd: object too large", syscall.EFBIG)
	ErrReadOnly     = newError("osd: target is read-only", syscall.EROFS)
	ErrIO           = newError("osd: I/O error", syscall.EIO)
	ErrCorrupt      = newError("osd: corrupt on-disk data", syscall.EUCLEAN)
	ErrClosed       = newError("osd: store closed", syscall.ESHUTDOWN)
	ErrFormatted    = newError("osd: target already formatted", syscall.EEXIST)
	ErrNotFormatted = newError("osd: target not formatted", syscall.ENODEV)
	ErrNotEmpty     = newError("osd: directory holds foreign files", syscall.ENOTEMPTY)
	ErrBadLabel     = newError("osd: bad target label", syscall.EINVAL)
	ErrSeqExhausted = newError("osd: object sequence exhausted", syscall.ENOSPC)
	ErrLocked       = newError("osd: target is in use by another server", syscall.EBUSY)
	ErrNotSupported = newError("osd: operation not supported by the backing file system", syscall.EOPNOTSUPP)
)

// mapErrno turns an error returned by the operating system into the matching
// sentinel, keeping the original in the chain. Errors without a sentinel
// pass through unchanged (they still carry their syscall.Errno).
func mapErrno(err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	var s *Error
	switch errno {
	case syscall.ENOENT:
		s = ErrNotFound
	case syscall.EEXIST:
		s = ErrExists
	case syscall.ENOSPC:
		s = ErrNoSpace
	case syscall.EDQUOT:
		s = ErrQuota
	case syscall.EFBIG:
		s = ErrTooBig
	case syscall.EROFS:
		s = ErrReadOnly
	case syscall.EIO:
		s = ErrIO
	default:
		return err
	}
	return fmt.Errorf("%w: %w", s, err)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
