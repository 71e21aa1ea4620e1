package osc

import "errors"

// Sentinel errors of the OSC. Errors the OST returned arrive wrapped too
// and match their syscall.Errno (errors.Is(err, syscall.ENOSPC)).
var (
	// ErrBadConfig: a Config failed Validate.
	ErrBadConfig = errors.New("osc: bad configuration")
	// ErrClosed: the OSC is closed.
	ErrClosed = errors.New("osc: closed")
	// ErrChecksum: data failed its crc32c check on every try; it also
	// matches syscall.EIO.
	ErrChecksum = errors.New("osc: checksum mismatch")
	// ErrBadReply: the OST's reply did not decode or contradicts the
	// request (more bytes than asked for); it also matches syscall.EIO.
	ErrBadReply = errors.New("osc: malformed reply from the OST")
	// ErrBadIO: an I/O the OSC refuses to send (larger than wire.MaxIOSize).
	ErrBadIO = errors.New("osc: bad I/O request")
)
