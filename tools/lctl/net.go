package lctl

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
)

func newNet(o *Options) *cobra.Command {
	net := &cobra.Command{Use: "net", Short: "LNet network interfaces"}
	var verbose bool
	show := &cobra.Command{
		Use:   "show",
		Short: "print each local NI, its state and (with -v) its counters, as lnetctl net show",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			replies, err := o.callAll(cmd.Context(), "net_status")
			if err != nil {
				return err
			}
			var all []lnet.NIStatus
			seen := map[lnet.NID]bool{}
			for _, r := range replies {
				if r.Err != nil {
					continue
				}
				var nis []lnet.NIStatus
				if err := json.Unmarshal([]byte(r.Out), &nis); err != nil {
					return fmt.Errorf("net show: %s: %w", r.Socket, err)
				}
				for _, ni := range nis {
					if !seen[ni.NID] {
						seen[ni.NID] = true
						all = append(all, ni)
					}
				}
			}
			fmt.Fprint(cmd.OutOrStdout(), obd.FormatNetShow(all, verbose))
			return nil
		},
	}
	show.Flags().BoolVarP(&verbose, "verbose", "v", false, "include statistics")
	net.AddCommand(show)
	return net
}
