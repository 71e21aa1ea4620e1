package lctl

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
)

func newPing(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "ping NID [timeout]",
		Short: "LNet-ping a peer and print the NIDs it reports (timeout in seconds, default 1, max 120)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := lnet.ParseNID(args[0]); err != nil {
				return err
			}
			timeout := time.Second
			if len(args) == 2 {
				s, err := strconv.Atoi(args[1])
				if err != nil || s < 1 || s > 120 {
					return fmt.Errorf("ping: timeout %q must be 1..120 seconds", args[1])
				}
				timeout = time.Duration(s) * time.Second
			}
			socks, err := obd.Sockets(o.ControlDir)
			if err != nil {
				return err
			}
			// Ping from the first process whose LNet reaches the peer's
			// network; a process answers "no route" when it has none.
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+5*time.Second)
			defer cancel()
			var last error
			for _, s := range socks {
				out, err := obd.Call(ctx, s, "ping", args...)
				if err == nil {
					fmt.Fprint(cmd.OutOrStdout(), out)
					return nil
				}
				last = err
			}
			return last
		},
	}
}
