package fusefs

import "errors"

// Sentinel errors of the adapter; test with errors.Is.
var (
	// ErrBadOptions: Options failed validation; nothing was mounted.
	ErrBadOptions = errors.New("fusefs: bad options")
	// ErrMount: the kernel or fusermount refused the mount (no /dev/fuse,
	// not permitted, mount point missing or busy).
	ErrMount = errors.New("fusefs: mount failed")
	// ErrUnmount: the file system could not be unmounted (busy).
	ErrUnmount = errors.New("fusefs: unmount failed")
)
