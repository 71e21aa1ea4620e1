package osp

import (
	"errors"
	"syscall"
)

// Error is an osp sentinel that stands for an errno, so the MDT's handlers
// answer it with that errno (errors.Is(err, syscall.ENOSPC) holds for a
// wrapped ErrNoObjects).
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

// Sentinel errors of package osp, wrapped with %w and the OST concerned.
var (
	// ErrNoObjects: no precreated object could be had from the OST in
	// time (it is down, full, or slow); the allocator tries another OST.
	ErrNoObjects = &Error{msg: "osp: no precreated objects", errno: syscall.ENOSPC}
	// ErrClosed: the device is closed.
	ErrClosed = errors.New("osp: closed")
	// ErrBadConfig: Config.Validate failed.
	ErrBadConfig = errors.New("osp: bad configuration")
	// ErrBadReply: the OST answered a precreate with objects that make no
	// sense (none, more than asked, an oid range that overflows).
	ErrBadReply = errors.New("osp: bad reply from the OST")
)
