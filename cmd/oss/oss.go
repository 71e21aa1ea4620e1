package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/cmd/internal/daemon"
	"github.com/stria-fs/stria/ost"
)

// maxIndex is the largest OST index.
const maxIndex = 0xfffe

func newCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "stria-oss",
		Short:         "Stria object storage server (OSS)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newFormat(), newStart())
	return root
}

func newFormat() *cobra.Command {
	var (
		tf       daemon.TargetFlags
		capacity string
	)
	c := &cobra.Command{
		Use:   "format --dir DIR --fsname NAME --index N --mgsnode NIDS [--servicenode NIDS]... [--param K=V]... [--capacity SIZE] [--reformat]",
		Short: "Make DIR an OST (mkfs.lustre --ost)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			t, err := tf.Parse(maxIndex)
			if err != nil {
				return err
			}
			var capBytes int64
			if capacity != "" {
				if capBytes, err = daemon.ParseSize(capacity); err != nil {
					return fmt.Errorf("format: --capacity: %w", err)
				}
			}
			l, err := ost.Format(t.Dir, ost.FormatOptions{FSName: t.FSName, Index: t.Index, MGSNodes: t.MGSNodes,
				ServiceNodes: t.ServiceNodes, Params: t.Params, Reformat: t.Reformat, Capacity: capBytes})
			if err != nil {
				return err
			}
			var extra []string
			if capBytes > 0 {
				extra = append(extra, fmt.Sprintf("Capacity:   %d bytes", capBytes))
			}
			daemon.PrintFormatted(c.OutOrStdout(), l.Name(), t, extra...)
			return nil
		},
	}
	tf.Register(c.Flags())
	c.Flags().StringVar(&capacity, "capacity", "", "cap the OST's space (e.g. 64M; for tests that fill it)")
	return c
}

func newStart() *cobra.Command {
	var (
		dirs   []string
		fsname string
		nf     daemon.NetFlags
		sf     daemon.ServeFlags
		lf     daemon.LogFlags
	)
	c := &cobra.Command{
		Use:   "start --dir DIR [--dir DIR]... --networks NETS [--port PORT] [--ctl-dir DIR]",
		Short: "Serve the OSTs in the DIRs until SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if len(dirs) == 0 {
				return fmt.Errorf("start: --dir is required")
			}
			log, flush, err := lf.Logger(c.ErrOrStderr())
			if err != nil {
				return err
			}
			defer flush()
			log = log.Named("oss")
			return daemon.Run(c.Context(), nf, sf, log, func(ctx context.Context, p *daemon.Process) (io.Closer, string, error) {
				s, err := ost.Start(ctx, ost.Config{Dirs: dirs, FSName: fsname, LNet: p.LNet, Node: p.Node, Logger: p.Log})
				if err != nil {
					return nil, "", err
				}
				return s, "oss-" + s.Targets()[0], nil
			})
		},
	}
	c.Flags().StringArrayVar(&dirs, "dir", nil, "a formatted OST directory (repeatable: one process serves them all)")
	c.Flags().StringVar(&fsname, "fsname", "", "refuse targets of any other file system")
	nf.Register(c.Flags(), "tcp0")
	sf.Register(c.Flags())
	lf.Register(c.Flags())
	return c
}
