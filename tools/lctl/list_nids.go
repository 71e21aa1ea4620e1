package lctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newListNIDs(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "list_nids",
		Short: "print this node's NIDs, one per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			replies, err := o.callAll(cmd.Context(), "list_nids")
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			w := cmd.OutOrStdout()
			for _, r := range replies {
				if r.Err != nil {
					continue // a process without LNet (none yet) has nothing to list
				}
				for _, nid := range strings.Fields(r.Out) {
					if !seen[nid] {
						seen[nid] = true
						fmt.Fprintln(w, nid)
					}
				}
			}
			if len(seen) == 0 {
				return fmt.Errorf("no NIDs: no process on this node has LNet configured")
			}
			return nil
		},
	}
}
