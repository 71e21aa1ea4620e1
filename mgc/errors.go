package mgc

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors of the MGC. Errors the MGS reported also match their
// syscall.Errno (errors.Is(err, syscall.ENOENT)) and wire.ErrRemote.
var (
	// ErrBadConfig: a Config failed Validate (no LNet, no MGS node on a
	// network of this node).
	ErrBadConfig = errors.New("mgc: bad configuration")
	// ErrClosed: the Client is closed.
	ErrClosed = errors.New("mgc: closed")
	// ErrUnreachable: no MGS answered before the caller's deadline.
	ErrUnreachable = errors.New("mgc: MGS unreachable")
	// ErrUnknownFS: the MGS knows no file system of that name (no target
	// of it ever registered): a mount of a mistyped fsname.
	ErrUnknownFS = errors.New("mgc: file system not known to the MGS")
	// ErrIndexInUse: the MGS refused a registration because another target
	// owns the index (the MGS's log says which).
	ErrIndexInUse = errors.New("mgc: target index already in use")
	// ErrBadReply: the MGS's reply did not decode.
	ErrBadReply = errors.New("mgc: malformed reply from the MGS")
)

// unreachableError says which MGS could not be reached and why.
type unreachableError struct {
	mgs string // the MGS NIDs, "a@tcp:b@tcp"
	err error  // what the last attempt met (ctx's error and the import's last error)
}

func (e *unreachableError) Error() string {
	return "mgc: MGS " + e.mgs + " unreachable: " + e.err.Error()
}

func (e *unreachableError) Is(target error) bool { return target == ErrUnreachable }
func (e *unreachableError) Unwrap() error        { return e.err }

// unknownFSError names the file system the MGS does not know.
type unknownFSError struct {
	fs, mgs string
	err     error // the MGS's ENOENT
}

func (e *unknownFSError) Error() string {
	return "mgc: file system " + strconv.Quote(e.fs) + " is not known to the MGS at " + e.mgs +
		" (no target of it has registered; check the fsname)"
}

func (e *unknownFSError) Is(target error) bool { return target == ErrUnknownFS }
func (e *unknownFSError) Unwrap() error        { return e.err }

func badReply(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrBadReply, what, err)
}
