package lnet

import "errors"

// Sentinel errors of the lnet package. Wrap them with %w; test with errors.Is.
var (
	ErrBadNID        = errors.New("lnet: bad NID")
	ErrBadNetworks   = errors.New("lnet: bad networks specification")
	ErrBadHeader     = errors.New("lnet: bad message header")
	ErrNoRoute       = errors.New("lnet: no route to peer") // no local NI on the peer's network
	ErrNoMatch       = errors.New("lnet: no matching memory descriptor")
	ErrTooBig        = errors.New("lnet: payload larger than the matched buffer")
	ErrClosed        = errors.New("lnet: closed")
	ErrPeerDown      = errors.New("lnet: peer unreachable")
	ErrTimeout       = errors.New("lnet: timed out")
	ErrUnlinked      = errors.New("lnet: memory descriptor unlinked")
	ErrNoLND         = errors.New("lnet: no LND for network type")
	ErrNotSupported  = errors.New("lnet: not supported by this build")
	ErrProtocol      = errors.New("lnet: protocol violation") // a peer broke the LND protocol; its connection is closed
	ErrStalePeer     = errors.New("lnet: peer rebooted")      // incarnation changed
	ErrInvalidMDSpec = errors.New("lnet: invalid memory descriptor")
	ErrBadPortal     = errors.New("lnet: portal out of range")
	ErrBadPingInfo   = errors.New("lnet: bad ping info")
)
