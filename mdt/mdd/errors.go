package mdd

import "syscall"

// Error is an mdd sentinel: it carries the errno it stands for, so
// errors.Is(err, syscall.ENOENT) holds for a wrapped ErrNotFound and the RPC
// layer maps errors to errno values with errors.Is alone.
type Error struct {
	msg   string
	errno syscall.Errno
}

func (e *Error) Error() string { return e.msg }

// Errno returns the errno the error stands for.
func (e *Error) Errno() syscall.Errno { return e.errno }

// Is reports whether target is the errno of e, or an error that errno is
// (syscall.Errno.Is: fs.ErrNotExist for ENOENT, and so on).
func (e *Error) Is(target error) bool {
	if t, ok := target.(syscall.Errno); ok {
		return t == e.errno
	}
	return e.errno.Is(target)
}

func newError(msg string, errno syscall.Errno) *Error {
	return &Error{msg: "mdd: " + msg, errno: errno}
}

// Sentinel errors, wrapped with %w and the FIDs and names concerned.
var (
	ErrNotFound     = newError("no such file or directory", syscall.ENOENT)
	ErrExist        = newError("file exists", syscall.EEXIST)
	ErrNotDir       = newError("not a directory", syscall.ENOTDIR)
	ErrIsDir        = newError("is a directory", syscall.EISDIR)
	ErrNotEmpty     = newError("directory not empty", syscall.ENOTEMPTY)
	ErrInvalid      = newError("invalid argument", syscall.EINVAL)
	ErrNameTooLong  = newError("file name too long", syscall.ENAMETOOLONG)
	ErrNoData       = newError("no such attribute", syscall.ENODATA)
	ErrRange        = newError("attribute name out of range", syscall.ERANGE)
	ErrTooBig       = newError("attribute value too big", syscall.E2BIG)
	ErrCrossDevice  = newError("objects on different MDTs", syscall.EXDEV)
	ErrRemote       = newError("object lives on another MDT", syscall.EREMOTE)
	ErrPerm         = newError("operation not permitted", syscall.EPERM)
	ErrAccess       = newError("permission denied", syscall.EACCES)
	ErrTooManyLinks = newError("too many links", syscall.EMLINK)
	ErrNotSupported = newError("operation not supported", syscall.EOPNOTSUPP)
	ErrBusy         = newError("device or resource busy", syscall.EBUSY)
	ErrNoSpace      = newError("no FID sequence or space left", syscall.ENOSPC)
	ErrBadHandle    = newError("file not open", syscall.EBADF)
	ErrLoop         = newError("too many levels of directories", syscall.ELOOP)
	// ErrInvariant is returned by Check; it stands for EIO.
	ErrInvariant = newError("namespace invariant broken", syscall.EIO)
)
