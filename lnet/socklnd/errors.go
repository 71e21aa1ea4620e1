package socklnd

import "errors"

// Sentinel errors of socklnd. Wrap them with %w; test with errors.Is. A
// connection closed for a protocol violation reports an error that wraps
// both lnet.ErrProtocol and one of the errors below.
var (
	ErrBadConfig    = errors.New("socklnd: bad configuration")
	ErrBadMagic     = errors.New("socklnd: bad magic")
	ErrBadVersion   = errors.New("socklnd: unsupported protocol version")
	ErrBadLength    = errors.New("socklnd: bad frame length")
	ErrBadFrame     = errors.New("socklnd: bad frame")
	ErrBadHello     = errors.New("socklnd: bad hello")
	ErrWrongNID     = errors.New("socklnd: hello for another NID")
	ErrChecksum     = errors.New("socklnd: header checksum mismatch")
	ErrRecvMisuse   = errors.New("socklnd: Rx.Recv misused")
	ErrTooBig       = errors.New("socklnd: payload larger than MaxPayload")
	ErrConnRace     = errors.New("socklnd: connection race lost") // internal: the peer keeps its own connection
	ErrInBackoff    = errors.New("socklnd: reconnect back-off in progress")
	ErrNoInterfaces = errors.New("socklnd: no usable interface")
)
