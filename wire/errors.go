package wire

import "errors"

// Sentinel errors of the wire package. Decoders wrap them with %w and a
// description of what was wrong; test with errors.Is.
var (
	ErrBadFID = errors.New("wire: bad FID")
	// ErrShort: a decoder ran past the end of its input.
	ErrShort = errors.New("wire: message too short")
	// ErrBadMsg: a message envelope failed validation (magic, version, type,
	// lengths, reserved fields).
	ErrBadMsg = errors.New("wire: malformed message")
	// ErrBadBody: a body decoded but its contents are invalid (a string too
	// long, trailing bytes, a count larger than the input could hold).
	ErrBadBody = errors.New("wire: malformed body")
	// ErrRemote is matched (errors.Is) by every error that came back from a
	// peer as an errno; see Errno.Err.
	ErrRemote = errors.New("wire: remote error")
)
