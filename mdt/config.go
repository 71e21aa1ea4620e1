package mdt

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mdt/osp"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// StoreFile is the name of the store inside an MDT directory.
const StoreFile = "mdt.db"

// Config configures an MDS serving one MDT.
type Config struct {
	// Dir is the formatted MDT directory (Format).
	Dir string
	// FSName, if set, is the file system the MDT must belong to.
	FSName string
	// LNet is the process's LNet; the service listens on it and the OST
	// proxies and the MGS client use it.
	LNet *lnet.LNet
	// Node is the process's obd node (parameters, `lctl dl`); nil gives the
	// server a private one (Server.Node).
	Node   *obd.Node
	Logger *zap.Logger
	// Threads is the number of handler goroutines of the "mdt" service
	// (default 16: creates wait for their group commit, so more threads
	// make bigger groups).
	Threads int
	// AT are the service's adaptive timeout settings (Lustre's if zero).
	AT ptlrpc.ATConfig

	// MGSNodes overrides the MGS failover list recorded at format time
	// (nil: the label's). With no MGS nodes and no MGC the MDT neither
	// registers nor learns OSTs (a test, or an MDT-only file system).
	MGSNodes [][]lnet.NID
	// MGC registers the target and delivers configurations; nil means an
	// MGS client (package mgc) of the MGS nodes, which the server owns.
	// *mgc.Client satisfies it.
	MGC MGC
	// RegisterRetry is the first pause between registration attempts
	// (default 1 s), doubling up to 30 times itself.
	RegisterRetry time.Duration

	// OSP adjusts the configuration of each OST proxy before it starts
	// (pool sizes, timeouts; tests shorten them).
	OSP func(*osp.Config)
	// ReadyTimeout bounds how long a create waits for a first OST after
	// the MDS started (default 10 s).
	ReadyTimeout time.Duration
	// ExportCheckInterval is how often open handles of clients that are
	// gone (evicted, disconnected) are closed (default 5 s).
	ExportCheckInterval time.Duration
	// NoSync skips fsync in the store: for tests only, it breaks the
	// durability every reply promises.
	NoSync bool
	// SyncCreates answers an open(O_CREAT) that creates only once the
	// create is committed, instead of once it ran (with the client
	// keeping it for replay): for comparisons.
	SyncCreates bool
	// OnFailure is called once if the store fails a commit after
	// answering: the target is stopped and must restart, so that clients
	// replay (the MDS exits with the error).
	OnFailure func(error)
	// LockASTTimeout is how long a client has to answer a lock callback
	// and LockCancelTimeout how long it then has to cancel, before it is
	// evicted (ldlm.Config's ASTTimeout and CancelTimeout; its defaults
	// if zero).
	LockASTTimeout, LockCancelTimeout time.Duration
	// RecoveryWindow is how long after a start clients may replay their
	// opens (recovery.go) before the orphans of the previous run that no
	// replayed open holds are destroyed (default 60 s; negative: no
	// window, the orphans go at once and replays are refused).
	RecoveryWindow time.Duration
	// NegativeQuiet is how long no name may have been made in a directory
	// before its missing names are cached under locks (negative.go;
	// default 1 s); negative: never.
	NegativeQuiet time.Duration
}

// Validate checks cfg and fills defaults.
func (c *Config) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: no MDT directory", ErrConfig)
	case c.LNet == nil:
		return fmt.Errorf("%w: no LNet", ErrConfig)
	case c.Threads < 0 || c.RegisterRetry < 0 || c.ReadyTimeout < 0 || c.ExportCheckInterval < 0:
		return fmt.Errorf("%w: negative thread count or interval", ErrConfig)
	}
	if err := checkNodes("mgsnode", c.MGSNodes); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Threads == 0 {
		c.Threads = 16
	}
	if c.RegisterRetry == 0 {
		c.RegisterRetry = time.Second
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 10 * time.Second
	}
	if c.ExportCheckInterval == 0 {
		c.ExportCheckInterval = 5 * time.Second
	}
	if c.NegativeQuiet == 0 {
		c.NegativeQuiet = time.Second
	}
	if c.RecoveryWindow == 0 {
		c.RecoveryWindow = 60 * time.Second
	}
	return nil
}

// FormatOptions are mkfs.lustre --mdt's options.
type FormatOptions struct {
	// FSName is the file system's name: 1-8 characters of [-_a-zA-Z0-9].
	FSName string
	// Index is the MDT index (--index). Index 0 holds the root.
	Index uint32
	// MGSNodes is the --mgsnode failover list: each element one MGS node's
	// NIDs. Empty: the target never registers.
	MGSNodes [][]lnet.NID
	// ServiceNodes are the --servicenode entries; empty: the NIDs of the
	// process that starts it.
	ServiceNodes [][]lnet.NID
	// Params are --param KEY=VALUE settings, kept in the label and sent to
	// the MGS at registration. lov.stripesize, lov.stripecount and
	// lov.stripeoffset set the file system's default layout (the root
	// directory's default) on MDT0000.
	Params []string
	// Reformat allows formatting over an existing MDT (its data is lost).
	Reformat bool
	// NoSync skips fsync while formatting (tests).
	NoSync bool
}

// Validate reports options that cannot work.
func (o *FormatOptions) Validate() error {
	if err := checkNodes("mgsnode", o.MGSNodes); err != nil {
		return err
	}
	if err := checkNodes("servicenode", o.ServiceNodes); err != nil {
		return err
	}
	if _, err := defaultFromParams(o.Params); err != nil {
		return err
	}
	for _, p := range o.Params {
		if strings.IndexByte(p, '=') <= 0 {
			return fmt.Errorf("%w: --param %q: want KEY=VALUE", ErrConfig, p)
		}
	}
	return nil
}

func checkNodes(what string, nodes [][]lnet.NID) error {
	if len(nodes) > wire.MaxServiceNodes {
		return fmt.Errorf("%w: %d --%s entries (at most %d)", ErrConfig, len(nodes), what, wire.MaxServiceNodes)
	}
	for _, n := range nodes {
		if len(n) == 0 || len(n) > wire.MaxNIDsPerNode {
			return fmt.Errorf("%w: --%s with %d NIDs", ErrConfig, what, len(n))
		}
		for _, nid := range n {
			if nid.IsZero() {
				return fmt.Errorf("%w: --%s with an empty NID", ErrConfig, what)
			}
		}
	}
	return nil
}

// lovDefault is the file system default layout given by lov.* params.
type lovDefault struct {
	set       bool
	size      uint32 // 0: unchanged
	count     int32  // 0: unchanged
	offset    int32
	offsetSet bool
}

// defaultFromParams reads lov.stripesize, lov.stripecount and
// lov.stripeoffset from --param settings (the last of each wins).
func defaultFromParams(params []string) (lovDefault, error) {
	d := lovDefault{offset: -1}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		var err error
		switch strings.TrimSpace(k) {
		case "lov.stripesize":
			d.size, err = parseStripeSize(v)
		case "lov.stripecount":
			d.count, err = parseInt32(v, -1, 2000)
		case "lov.stripeoffset":
			d.offset, err = parseInt32(v, -1, 0xffff)
			d.offsetSet = true
		default:
			continue
		}
		if err != nil {
			return lovDefault{}, fmt.Errorf("%w: --param %s: %w", ErrConfig, p, err)
		}
		d.set = true
	}
	return d, nil
}

func parseInt32(s string, lo, hi int64) (int32, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 0, 32)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q: want an integer from %d to %d", s, lo, hi)
	}
	return int32(v), nil
}

// storePath returns the store file of an MDT directory.
func storePath(dir string) string { return filepath.Join(dir, StoreFile) }

// mkdirAll makes the MDT directory.
func mkdirAll(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mdt: %w", err)
	}
	return nil
}
