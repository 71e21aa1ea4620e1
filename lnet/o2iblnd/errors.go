package o2iblnd

import "errors"

// Sentinel errors of o2iblnd. Wrap them with %w; test with errors.Is.
//
// Startup fails with an error wrapping both lnet.ErrNotSupported and
// ErrNoRDMA (this build has no RDMA support) or ErrNoDevice (no RDMA device
// behind the interface), so that LNet can skip the network and serve on the
// others. A connection closed for a protocol violation reports an error
// wrapping lnet.ErrProtocol and one of ErrBadMsg, ErrBadMagic,
// ErrBadVersion, ErrChecksum, ErrStaleMsg, ErrBadRDMA.
var (
	ErrNoRDMA     = errors.New("o2iblnd: this build has no RDMA support (rebuild with -tags rdma and cgo)")
	ErrNoDevice   = errors.New("o2iblnd: no RDMA device")
	ErrBadConfig  = errors.New("o2iblnd: bad configuration")
	ErrBadMsg     = errors.New("o2iblnd: malformed message")
	ErrBadMagic   = errors.New("o2iblnd: bad magic")
	ErrBadVersion = errors.New("o2iblnd: unsupported protocol version")
	ErrChecksum   = errors.New("o2iblnd: message checksum mismatch")
	ErrStaleMsg   = errors.New("o2iblnd: message for another NID or incarnation")
	ErrBadRDMA    = errors.New("o2iblnd: RDMA descriptor does not fit the transfer")
	ErrRejected   = errors.New("o2iblnd: connection rejected")
	ErrConnRace   = errors.New("o2iblnd: connection race lost") // the peer keeps its own connection
	ErrCompletion = errors.New("o2iblnd: work request failed")
	ErrRemote     = errors.New("o2iblnd: peer reported a failure")
	ErrRecvMisuse = errors.New("o2iblnd: Rx.Recv misused")
)
