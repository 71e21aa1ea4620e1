package o2iblnd

import (
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// Defaults, after ko2iblnd's module parameters.
const (
	DefaultPort         = 987 // the RDMA CM service o2iblnd listens on
	DefaultMaxMsgSize   = 4096
	DefaultMaxFrags     = 256
	DefaultTimeout      = 50 * time.Second
	DefaultKeepalive    = 100 * time.Second
	DefaultMRCacheSize  = 256
	DefaultMRCacheBytes = 256 << 20
	maxQueueDepth       = 255 // credits travel in one byte
	maxRaces            = 20
)

// Config tunes the RDMA LND. The zero value of a field means its default.
type Config struct {
	// Provider finds the RDMA device behind an interface. nil means the
	// host's devices through libibverbs, which needs a build with the rdma
	// tag; tests and benchmarks pass a memverbs.Fabric.
	Provider verbs.Provider
	// Port is the RDMA CM port every NI listens on and every peer is dialled
	// on, unless Resolve says otherwise.
	Port int
	// Resolve maps a peer's NID to the address to connect to; the default is
	// the NID's address and Port.
	Resolve func(nid lnet.NID) (netip.AddrPort, error)
	// MaxMsgSize is the size of the receive buffers and the largest message
	// (IBLND_MSG_SIZE): a PUT or REPLY whose LNet header and payload fit goes
	// IMMEDIATE, a larger one is moved by RDMA.
	MaxMsgSize int
	// MaxFrags bounds the fragments of an RDMA descriptor (map_on_demand).
	MaxFrags int
	// CreditsHiw is the number of credits owed to a peer at which a NOOP
	// returns them when no other message can (peer_credits_hiw); default
	// half the queue depth.
	CreditsHiw int
	// Keepalive sends a NOOP on a connection that has sent nothing for this
	// long, so that a dead peer shows up as a failed send; negative disables.
	Keepalive time.Duration
	// Timeout bounds connection set-up and every exchange: a message that
	// waits this long for credits, a PUT waiting for its PUT_ACK or PUT_DONE,
	// a GET waiting for its GET_DONE. A connection with an expired exchange is
	// closed.
	Timeout time.Duration
	// MRCacheSize and MRCacheBytes bound the idle registrations of bulk
	// buffers kept for reuse.
	MRCacheSize  int
	MRCacheBytes int64
	// Checksum puts a crc32c of every message in its header.
	Checksum bool
	// Logger is used when NIConfig.Logger is nil.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.MaxFrags == 0 {
		c.MaxFrags = DefaultMaxFrags
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Keepalive == 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.MRCacheSize == 0 {
		c.MRCacheSize = DefaultMRCacheSize
	}
	if c.MRCacheBytes == 0 {
		c.MRCacheBytes = DefaultMRCacheBytes
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate reports what is wrong with c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("%w: port %d", ErrBadConfig, c.Port)
	case c.MaxMsgSize < minMsgSize || c.MaxMsgSize > 1<<20:
		return fmt.Errorf("%w: max message size %d (%d..%d)", ErrBadConfig, c.MaxMsgSize, minMsgSize, 1<<20)
	case c.MaxFrags < 1 || c.MaxFrags > 65535:
		return fmt.Errorf("%w: max fragments %d", ErrBadConfig, c.MaxFrags)
	case c.CreditsHiw < 0:
		return fmt.Errorf("%w: credits high-water mark %d", ErrBadConfig, c.CreditsHiw)
	case c.Timeout < 0:
		return fmt.Errorf("%w: timeout %v", ErrBadConfig, c.Timeout)
	case c.MRCacheSize < 0 || c.MRCacheBytes < 0:
		return fmt.Errorf("%w: MR cache bounds %d entries, %d bytes", ErrBadConfig, c.MRCacheSize, c.MRCacheBytes)
	}
	return nil
}

// hiw returns the credit high-water mark for queue depth qd, as
// kiblnd_tunables_setup: at least half the depth, below the depth.
func (c Config) hiw(qd int) int {
	h := c.CreditsHiw
	if h < qd/2 {
		h = qd / 2
	}
	if h >= qd {
		h = qd - 1
	}
	if h < 1 {
		h = 1
	}
	return h
}
