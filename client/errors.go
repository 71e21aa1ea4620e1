package client

import (
	"errors"
	"syscall"
)

// Sentinel errors of the client. Errors the servers returned arrive
// wrapped and match their syscall.Errno (errors.Is(err, syscall.ENOENT));
// the FUSE adapter turns any error into the errno it wraps, EIO otherwise.
var (
	// ErrBadSpec: a mount spec ("mgsnid[,nid][:mgsnid]:/fsname[/subdir]")
	// does not parse.
	ErrBadSpec = errors.New("client: bad mount spec")
	// ErrBadConfig: a Config failed Validate.
	ErrBadConfig = errors.New("client: bad configuration")
	// ErrNoMDT: the configuration has no MDT0000, or it cannot be reached
	// from this node.
	ErrNoMDT = errors.New("client: no usable MDT0000")
	// ErrNoOST: a layout names an OST the configuration does not have.
	ErrNoOST = errors.New("client: unknown OST")
	// ErrClosed: the FS is closed (unmounted). Calls after Close return it
	// matching syscall.ENOTCONN too.
	ErrClosed = errors.New("client: file system unmounted")
	// ErrBadLayout: the MDT sent a layout that does not decode.
	ErrBadLayout = errors.New("client: bad layout from the MDT")
)

// errClosed is ErrClosed as an errno the adapter can pass on (ENOTCONN,
// what the kernel returns for an aborted FUSE connection).
var errClosed = &errnoError{err: ErrClosed, errno: syscall.ENOTCONN}

// errnoError is an error that also matches an errno.
type errnoError struct {
	err   error
	errno syscall.Errno
}

func (e *errnoError) Error() string   { return e.err.Error() }
func (e *errnoError) Unwrap() []error { return []error{e.err, e.errno} }

// textError prints as an errno's text capitalised ("No such file or
// directory"), as Lustre's tools print strerror; the control commands
// answer with it.
type textError struct{ errno syscall.Errno }

func (e textError) Error() string {
	s := e.errno.Error()
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func (e textError) Unwrap() error { return e.errno }
