package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/cmd/internal/daemon"
	"github.com/stria-fs/stria/mgs"
)

// ctlName is the MGS's control socket (ctl dir/mgs.ctl).
const ctlName = "mgs"

func newCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "stria-mgs",
		Short:         "Stria management server (MGS)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newFormat(), newStart())
	return root
}

func newFormat() *cobra.Command {
	var (
		dir      string
		reformat bool
		params   []string
	)
	c := &cobra.Command{
		Use:   "format --dir DIR [--reformat] [--param KEY=VALUE]...",
		Short: "Make DIR an MGS (mkfs.lustre --mgs)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("format: --dir is required")
			}
			if err := mgs.Format(dir, mgs.FormatOptions{Reformat: reformat, Params: params}); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "Formatted MGS in %s\n", dir)
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "the MGS directory")
	c.Flags().BoolVar(&reformat, "reformat", false, "format over an existing MGS (its registry is lost)")
	c.Flags().StringArrayVar(&params, "param", nil, "persistent global parameter KEY=VALUE (repeatable)")
	return c
}

func newStart() *cobra.Command {
	var (
		dir string
		nf  daemon.NetFlags
		sf  daemon.ServeFlags
		lf  daemon.LogFlags
	)
	c := &cobra.Command{
		Use:   "start --dir DIR --networks NETS [--port PORT] [--ctl-dir DIR]",
		Short: "Serve the MGS in DIR until SIGTERM",
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
			log = log.Named("mgs")
			return daemon.Run(c.Context(), nf, sf, log, func(ctx context.Context, p *daemon.Process) (io.Closer, string, error) {
				s, err := mgs.Start(ctx, mgs.Config{Dir: dir, LNet: p.LNet, Node: p.Node, Logger: p.Log})
				if err != nil {
					return nil, "", err
				}
				return s, ctlName, nil
			})
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "the formatted MGS directory")
	nf.Register(c.Flags(), "tcp0")
	sf.Register(c.Flags())
	lf.Register(c.Flags())
	return c
}
