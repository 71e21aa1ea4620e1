package lfs

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stria-fs/stria/obd"
)

// Version is what `lfs --version` prints.
const Version = "0.1.0"

// Config holds what the commands need from their surroundings.
type Config struct {
	// FS reaches the file systems; nil means the real one over the
	// control sockets in obd.ControlDir() (STRIA_CTL_DIR).
	FS FS
	// Location is the time zone of printed timestamps (lcme_timestamp);
	// nil means time.Local.
	Location *time.Location
	// Timeout bounds each control request; 0 means 30 s.
	Timeout time.Duration
}

// env is the state shared by the subcommands of one lfs command tree.
type env struct {
	fs      FS
	loc     *time.Location
	timeout time.Duration
}

// NewCommand returns the lfs root command over the real file system.
func NewCommand() *cobra.Command { return New(Config{}) }

// New returns the lfs root command with cfg.
func New(cfg Config) *cobra.Command {
	e := &env{fs: cfg.FS, loc: cfg.Location, timeout: cfg.Timeout}
	if e.fs == nil {
		e.fs = NewSysFS(obd.ControlDir())
	}
	if e.loc == nil {
		e.loc = time.Local
	}
	if e.timeout == 0 {
		e.timeout = 30 * time.Second
	}
	root := &cobra.Command{
		Use:           "lfs",
		Short:         "Stria client utility: file layouts, space usage, FIDs",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newSetstripe(e),
		newGetstripe(e),
		newDf(e),
		newPath2fid(e),
		newFid2path(e),
	)
	return root
}

// ctx bounds one control request.
func (e *env) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return context.WithTimeout(parent, e.timeout)
}

// lustreFlags makes a command's flags accept Lustre's spellings
// (--stripe_count as well as --stripe-count) and report bad options as
// lfs does.
func lustreFlags(c *cobra.Command) {
	c.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		b := []byte(name)
		for i := range b {
			if b[i] == '_' {
				b[i] = '-'
			}
		}
		return pflag.NormalizedName(b)
	})
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("lfs %s: %v", c.Name(), err)
	})
}
