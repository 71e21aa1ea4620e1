package socklnd

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// Defaults, after ksocklnd's module parameters.
const (
	DefaultPort              = 988 // Lustre's acceptor port
	DefaultMinBulk           = 1024
	DefaultTimeout           = 50 * time.Second // sock_timeout
	DefaultKeepaliveIdle     = 30 * time.Second
	DefaultKeepaliveInterval = 5 * time.Second
	DefaultKeepaliveCount    = 5
	DefaultReconnectMin      = 1 * time.Second
	DefaultReconnectMax      = 60 * time.Second
)

// Config tunes the TCP LND. The zero value of a field means its default;
// New fills them in.
type Config struct {
	// Port is the TCP port every NI listens on and, unless Resolve says
	// otherwise, the port every peer is dialled on. 0 listens on an ephemeral
	// port (tests); daemons set DefaultPort.
	Port int
	// Resolve maps a peer's NID to the address to dial. The default is the
	// NID's address and Port, which is right whenever every node listens on the
	// same port. Tests whose NIs listen on ephemeral ports supply their own.
	Resolve func(nid lnet.NID) (netip.AddrPort, error)
	// MinBulk is the payload size from which a message travels on the bulk
	// connections instead of CONTROL (ksocklnd's min_bulk).
	MinBulk int
	// SndBuf and RcvBuf set the sockets' buffer sizes; 0 leaves the kernel's
	// (auto-tuned) sizes.
	SndBuf, RcvBuf int
	// KeepaliveIdle, KeepaliveInterval and KeepaliveCount configure TCP
	// keepalive on every connection; a negative KeepaliveIdle disables it.
	KeepaliveIdle     time.Duration
	KeepaliveInterval time.Duration
	KeepaliveCount    int
	// ConnectTimeout bounds a connection attempt, handshake included
	// (default: Timeout).
	ConnectTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the back-off after a failed
	// connection attempt: sends to that peer fail at once until it has passed;
	// each further failure doubles it.
	ReconnectMin, ReconnectMax time.Duration
	// Timeout (sock_timeout) bounds how long a started frame may take to
	// arrive in full, and how long a write may stall.
	Timeout time.Duration
	// Checksum adds a crc32c of every LNet header to its frame. Payloads are
	// covered end to end by ptlrpc's bulk checksums, not here.
	Checksum bool
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MinBulk == 0 {
		c.MinBulk = DefaultMinBulk
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = c.Timeout
	}
	if c.KeepaliveIdle == 0 {
		c.KeepaliveIdle = DefaultKeepaliveIdle
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if c.KeepaliveCount == 0 {
		c.KeepaliveCount = DefaultKeepaliveCount
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = max(DefaultReconnectMax, c.ReconnectMin)
	}
	return c
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("%w: port %d", ErrBadConfig, c.Port)
	case c.MinBulk < 0:
		return fmt.Errorf("%w: min_bulk %d", ErrBadConfig, c.MinBulk)
	case c.SndBuf < 0 || c.RcvBuf < 0:
		return fmt.Errorf("%w: socket buffers %d/%d", ErrBadConfig, c.SndBuf, c.RcvBuf)
	case c.Timeout < 0 || c.ConnectTimeout < 0:
		return fmt.Errorf("%w: negative timeout", ErrBadConfig)
	case c.KeepaliveInterval < 0 || c.KeepaliveCount < 0:
		return fmt.Errorf("%w: negative keepalive setting", ErrBadConfig)
	case c.ReconnectMin < 0 || c.ReconnectMax < c.ReconnectMin:
		return fmt.Errorf("%w: reconnect back-off %v..%v", ErrBadConfig, c.ReconnectMin, c.ReconnectMax)
	}
	return nil
}
