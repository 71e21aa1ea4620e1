package client

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/osc"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
)

// Defaults of Config.
const (
	DefaultMaxDirtyMB    = 64
	DefaultReaddirCount  = 256
	DefaultOSTWait       = 5 * time.Second
	DefaultStatFSTimeout = 5 * time.Second
)

// Config is a mount: which file system, from which MGS, and how.
type Config struct {
	// MGSNodes is the MGS failover list, each element one MGS node's NIDs
	// (ParseMGSSpec); FSName the file system; SubDir a directory of it to
	// mount instead of the root ("" for the root).
	MGSNodes [][]lnet.NID
	FSName   string
	SubDir   string
	// LNet is the process's LNet.
	LNet *lnet.LNet
	// Node is the process's obd node: parameters (`lctl get_param
	// osc.*`), devices (`lctl dl`) and the control commands lfs uses
	// (mount, df, fid2path). Nil gives the FS a private one.
	Node   *obd.Node
	Logger *zap.Logger
	// MountPoint is the absolute path the FS is mounted on, which the
	// "mount" control command reports (lfs finds its client by it).
	MountPoint string
	// ClientUUID names this mount to every server (random if empty).
	ClientUUID string

	// MaxRPCsInFlight bounds the read and write RPCs in flight per OST
	// (osc.*.max_rpcs_in_flight, default 8).
	MaxRPCsInFlight int
	// MaxRPCSize is the largest read or write RPC (default 4 MiB).
	MaxRPCSize int
	// MaxDirtyMB bounds the write-back cache per OST, dirty and in flight
	// (osc.*.max_dirty_mb, default 64).
	MaxDirtyMB int
	// NoChecksums turns off the verification of read data (checksums are
	// on by default; writes always carry one, the OST insists).
	NoChecksums bool
	// ReaddirCount is the number of entries one MDS_READPAGE asks for
	// (default 256).
	ReaddirCount int
	// OSTWait bounds how long Mount waits for each OST to connect (within
	// its context); an OST not connected by then keeps connecting in the
	// background and I/O to it waits (default 5 s).
	OSTWait time.Duration
	// NoOpenCache closes every file on the MDT at its last close, instead
	// of leaving the open of a file this client created and did not
	// write under the file's OPEN lock (opencache.go).
	NoOpenCache bool
	// StatFSTimeout bounds the wait for one target's usage in StatFS and
	// df; a target that does not answer in time counts as inactive
	// (default 5 s).
	StatFSTimeout time.Duration

	// AT, ConnectTimeout, ReconnectBackoff and PingInterval tune every
	// import (ptlrpc's defaults if zero); ConfigPoll is how often the
	// configuration is polled (mgc's default if zero).
	AT               ptlrpc.ATConfig
	ConnectTimeout   time.Duration
	ReconnectBackoff time.Duration
	PingInterval     time.Duration
	ConfigPoll       time.Duration
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.LNet == nil:
		return fmt.Errorf("%w: no LNet", ErrBadConfig)
	case len(c.MGSNodes) == 0:
		return fmt.Errorf("%w: no MGS node", ErrBadConfig)
	case c.MaxRPCsInFlight < 0 || c.MaxRPCsInFlight > osc.MaxRPCsInFlight:
		return fmt.Errorf("%w: max_rpcs_in_flight %d (1..%d)", ErrBadConfig, c.MaxRPCsInFlight, osc.MaxRPCsInFlight)
	case c.MaxDirtyMB < 0 || c.MaxDirtyMB > osc.MaxDirty>>20:
		return fmt.Errorf("%w: max_dirty_mb %d (1..%d)", ErrBadConfig, c.MaxDirtyMB, osc.MaxDirty>>20)
	case c.MaxRPCSize < 0 || c.MaxRPCSize%osc.MinRPCSize != 0 || c.MaxRPCSize > 16<<20:
		return fmt.Errorf("%w: RPC size %d (a multiple of 4 KiB up to 16 MiB)", ErrBadConfig, c.MaxRPCSize)
	case c.ReaddirCount < 0 || c.OSTWait < 0 || c.StatFSTimeout < 0:
		return fmt.Errorf("%w: negative count or timeout", ErrBadConfig)
	}
	for _, n := range c.MGSNodes {
		if len(n) == 0 {
			return fmt.Errorf("%w: MGS node without a NID", ErrBadConfig)
		}
	}
	if err := checkFSName(c.FSName); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.MaxRPCsInFlight == 0 {
		c.MaxRPCsInFlight = osc.DefaultMaxRPCsInFlight
	}
	if c.MaxRPCSize == 0 {
		c.MaxRPCSize = osc.DefaultMaxRPCSize
	}
	if c.MaxDirtyMB == 0 {
		c.MaxDirtyMB = DefaultMaxDirtyMB
	}
	if c.ReaddirCount == 0 {
		c.ReaddirCount = DefaultReaddirCount
	}
	if c.OSTWait == 0 {
		c.OSTWait = DefaultOSTWait
	}
	if c.StatFSTimeout == 0 {
		c.StatFSTimeout = DefaultStatFSTimeout
	}
	return nil
}
