package lod

import "syscall"

// Error is a lod sentinel that stands for an errno (errors.Is(err,
// syscall.EINVAL) holds for a wrapped ErrInvalid), so the MDT answers it
// with that errno.
type Error struct {
	msg   string
	errno syscall.Errno
}

func (e *Error) Error() string { return e.msg }

// Is reports whether target is the errno e stands for.
func (e *Error) Is(target error) bool {
	if t, ok := target.(syscall.Errno); ok {
		return t == e.errno
	}
	return false
}

// Sentinel errors, wrapped with %w and what went wrong.
var (
	// ErrInvalid: the layout asked for cannot be made here: a malformed
	// template, more stripes than the file system has OSTs, an offset or
	// an OST list naming OSTs that do not exist.
	ErrInvalid = &Error{msg: "lod: invalid layout", errno: syscall.EINVAL}
	// ErrNoSpace: no OST (or too few) can take new objects now.
	ErrNoSpace = &Error{msg: "lod: no OST available for new objects", errno: syscall.ENOSPC}
)
