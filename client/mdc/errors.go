package mdc

import "errors"

// Sentinel errors of the MDC. Errors the MDT returned arrive wrapped and
// match their syscall.Errno (errors.Is(err, syscall.ENOENT)).
var (
	// ErrBadConfig: a Config failed Validate.
	ErrBadConfig = errors.New("mdc: bad configuration")
	// ErrClosed: the MDC is closed.
	ErrClosed = errors.New("mdc: closed")
	// ErrBadReply: the MDT's reply did not decode; it also matches
	// syscall.EIO.
	ErrBadReply = errors.New("mdc: malformed reply from the MDT")
)
