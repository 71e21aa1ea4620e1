package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/cmd/internal/daemon"
	"github.com/stria-fs/stria/mdt"
)

// maxIndex is the largest MDT index.
const maxIndex = 4095

func newCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "stria-mds",
		Short:         "Stria metadata server (MDS)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newFormat(), newStart())
	return root
}

func newFormat() *cobra.Command {
	var tf daemon.TargetFlags
	c := &cobra.Command{
		Use:   "format --dir DIR --fsname NAME --index N --mgsnode NIDS [--servicenode NIDS]... [--param K=V]... [--reformat]",
		Short: "Make DIR an MDT (mkfs.lustre --mdt)",
		Long: "Make DIR an MDT (mkfs.lustre --mdt). On MDT0000, --param lov.stripesize=, lov.stripecount=\n" +
			"and lov.stripeoffset= set the file system's default layout.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			t, err := tf.Parse(maxIndex)
			if err != nil {
				return err
			}
			if _, err := mdt.Format(t.Dir, mdt.FormatOptions{FSName: t.FSName, Index: t.Index, MGSNodes: t.MGSNodes,
				ServiceNodes: t.ServiceNodes, Params: t.Params, Reformat: t.Reformat}); err != nil {
				return err
			}
			daemon.PrintFormatted(c.OutOrStdout(), mdt.TargetName(t.FSName, t.Index), t)
			return nil
		},
	}
	tf.Register(c.Flags())
	return c
}

func newStart() *cobra.Command {
	var (
		dir      string
		fsname   string
		recovery time.Duration
		nf       daemon.NetFlags
		sf       daemon.ServeFlags
		lf       daemon.LogFlags
	)
	c := &cobra.Command{
		Use:   "start --dir DIR --networks NETS [--port PORT] [--ctl-dir DIR]",
		Short: "Serve the MDT in DIR until SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("start: --dir is required")
			}
			log, flush, err := lf.Logger(c.ErrOrStderr())
			if err != nil {
				return err
			}
			defer flush()
			log = log.Named("mds")
			// A failed commit stops the MDS with an error: what it
			// answered comes back by replay after the restart.
			ctx, fail := context.WithCancelCause(c.Context())
			defer fail(nil)
			err = daemon.Run(ctx, nf, sf, log, func(ctx context.Context, p *daemon.Process) (io.Closer, string, error) {
				s, err := mdt.Start(ctx, mdt.Config{Dir: dir, FSName: fsname, LNet: p.LNet, Node: p.Node, Logger: p.Log,
					RecoveryWindow: recovery, OnFailure: func(err error) { fail(err) }})
				if err != nil {
					return nil, "", err
				}
				return s, "mds-" + s.Name(), nil
			})
			if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
				return fmt.Errorf("the MDT stopped: %w", cause)
			}
			return err
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "the formatted MDT directory")
	c.Flags().StringVar(&fsname, "fsname", "", "refuse a target of any other file system")
	c.Flags().DurationVar(&recovery, "recovery-window", 0,
		"how long after the start clients may replay their open files before the orphans nobody reopened are destroyed (0: 60s; negative: no window)")
	nf.Register(c.Flags(), "tcp0")
	sf.Register(c.Flags())
	lf.Register(c.Flags())
	return c
}
