package mdc

import (
	"errors"
	"fmt"
	"syscall"
)

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
	// ErrNoLocks: the MDC has no lock namespace (Config.Callbacks unset);
	// it also matches syscall.ENOLCK.
	ErrNoLocks = fmt.Errorf("mdc: no lock namespace (%w)", syscall.ENOLCK)
)
