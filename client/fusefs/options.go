package fusefs

import (
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Defaults of Options.
const (
	// DefaultSubtype makes the mount show as "fuse.stria" in /proc/mounts.
	DefaultSubtype = "stria"
	// DefaultMaxWrite is the largest READ or WRITE request the kernel sends:
	// 1 MiB, the size of one bulk RPC (the kernel's limit is
	// /proc/sys/fs/fuse/max_pages_limit pages, 256 by default).
	DefaultMaxWrite = 1 << 20
	// DefaultReadAhead is the readahead window: four 1 MiB READs.
	DefaultReadAhead = 4 << 20
	// DefaultMaxBackground bounds the kernel's asynchronous requests
	// (readahead, background writes) in flight to the daemon.
	DefaultMaxBackground = 64
	// DefaultInterruptGrace: see Options.InterruptGrace.
	DefaultInterruptGrace = 2 * time.Second
)

// Options configure a mount. The zero value is usable: Mount fills in the
// defaults named beside each field.
type Options struct {
	// FsName is the source column of /proc/mounts and df, as Lustre's
	// "MGSNID:/fsname", e.g. "127.0.0.1@tcp:/stria". Default "stria".
	FsName string
	// Subtype is the "fuse.<subtype>" file system type. Default "stria".
	Subtype string
	// AllowOther lets users other than the mounter use the mount
	// (allow_other). A shared cluster mount wants it.
	AllowOther bool
	// DefaultPermissions makes the kernel check the mode bits itself
	// (default_permissions) before sending a request. Off by default: the
	// MDT checks every operation against the caller's credentials, which
	// the adapter passes in the context, as Lustre checks on the server.
	// Turning it on costs a GETATTR per permission check while AttrTimeout
	// is 0.
	DefaultPermissions bool
	// Debug logs every FUSE request and reply (go-fuse's protocol trace) at
	// debug level on Logger.
	Debug bool
	// MaxWrite is the largest READ and WRITE request. Default and maximum
	// 1 MiB (DefaultMaxWrite).
	MaxWrite int
	// ReadAhead is the kernel's readahead window on this mount, in bytes
	// (the read_ahead_kb of the mount's backing device, set after the
	// mount, as root). Default 4 MiB: sequential reads arrive as READs of
	// MaxWrite, several in flight. The kernel's own default, 128 KiB,
	// would split every read into 128 KiB requests. -1 leaves it alone.
	ReadAhead int
	// MaxBackground bounds asynchronous requests in flight. Default 64.
	MaxBackground int
	// EntryTimeout, AttrTimeout and NegativeTimeout say how long the kernel
	// may cache a name, an inode's attributes and a failed lookup, where
	// the backend does not say otherwise (a MetaCacher says per answer,
	// under its locks: cache.go). All 0 by default: nothing is kept that
	// no lock covers, or another client's change would go unseen.
	EntryTimeout, AttrTimeout, NegativeTimeout time.Duration
	// NoSuppGroups stops the adapter from reading the caller's
	// supplementary groups from /proc/<tid>/status for client.Creds.Groups
	// (done for callers other than root, whom the MDT does not check).
	NoSuppGroups bool
	// InterruptGrace is how long an operation keeps running after the
	// kernel interrupted it before its context is cancelled (default
	// DefaultInterruptGrace; negative: cancel at once). The kernel sends an
	// INTERRUPT whenever the caller catches any signal (a timer, SIGCHLD,
	// Go's preemption signal), and such an operation must complete, as
	// Lustre's client completes it; one still waiting after the grace (on
	// a server that is down) gives up with EINTR, so ^C still works.
	InterruptGrace time.Duration
	// Logger receives errors the adapter turns into EIO and the debug
	// trace. Default zap.NewNop().
	Logger *zap.Logger
}

// withDefaults returns o with its zero fields set to their defaults, or an
// error wrapping ErrBadOptions.
func (o Options) withDefaults() (Options, error) {
	if o.FsName == "" {
		o.FsName = "stria"
	}
	if o.Subtype == "" {
		o.Subtype = DefaultSubtype
	}
	if o.MaxWrite == 0 {
		o.MaxWrite = DefaultMaxWrite
	}
	if o.ReadAhead == 0 {
		o.ReadAhead = DefaultReadAhead
	}
	if o.MaxBackground == 0 {
		o.MaxBackground = DefaultMaxBackground
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.InterruptGrace == 0 {
		o.InterruptGrace = DefaultInterruptGrace
	}
	switch {
	case o.MaxWrite < 4096 || o.MaxWrite > DefaultMaxWrite:
		return o, fmt.Errorf("%w: MaxWrite %d not in [4096, %d]", ErrBadOptions, o.MaxWrite, DefaultMaxWrite)
	case o.ReadAhead < -1 || o.MaxBackground < 0:
		return o, fmt.Errorf("%w: ReadAhead %d or MaxBackground %d out of range", ErrBadOptions, o.ReadAhead, o.MaxBackground)
	case o.EntryTimeout < 0 || o.AttrTimeout < 0 || o.NegativeTimeout < 0:
		return o, fmt.Errorf("%w: negative timeout", ErrBadOptions)
	}
	return o, nil
}
