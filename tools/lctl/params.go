package lctl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/obd"
)

func newGetParam(o *Options) *cobra.Command {
	var onlyValue, onlyName bool
	c := &cobra.Command{
		Use:   "get_param [-n|-N] PATTERN...",
		Short: "print parameters matching the patterns (type.device.param, shell globs)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var vals []obd.Value
			var errs []error
			for _, p := range args {
				replies, err := o.callAll(cmd.Context(), "get_param", p)
				if err != nil {
					return err
				}
				found := false
				for _, r := range replies {
					if r.Err != nil {
						continue
					}
					found = true
					vals = append(vals, obd.DecodeValues(r.Out)...)
				}
				if !found {
					errs = append(errs, fmt.Errorf("error: get_param: param_path '%s': No such file or directory", p))
				}
			}
			sort.SliceStable(vals, func(i, j int) bool { return vals[i].Name < vals[j].Name })
			w := cmd.OutOrStdout()
			for _, v := range vals {
				switch {
				case onlyName:
					fmt.Fprintln(w, v.Name)
				case onlyValue:
					fmt.Fprintln(w, strings.TrimSuffix(v.Value, "\n"))
				case strings.Contains(strings.TrimSuffix(v.Value, "\n"), "\n"):
					fmt.Fprintf(w, "%s=\n%s\n", v.Name, strings.TrimSuffix(v.Value, "\n"))
				default:
					fmt.Fprintf(w, "%s=%s\n", v.Name, v.Value)
				}
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVarP(&onlyValue, "no-name", "n", false, "print only values")
	c.Flags().BoolVarP(&onlyName, "only-name", "N", false, "print only names")
	return c
}

func newSetParam(o *Options) *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:   "set_param [-n] NAME=VALUE...",
		Short: "set parameters on this node's processes (not persistent)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, kv := range args {
				if !strings.Contains(kv, "=") {
					return fmt.Errorf("set_param: %q: want NAME=VALUE", kv)
				}
			}
			for _, kv := range args {
				replies, err := o.callAll(cmd.Context(), "set_param", kv)
				if err != nil {
					return err
				}
				set := false
				var errs []error
				for _, r := range replies {
					if r.Err == nil {
						set = true
					} else if !strings.Contains(r.Err.Error(), obd.ErrNoParam.Error()) {
						errs = append(errs, fmt.Errorf("%s: %w", r.Socket, r.Err))
					}
				}
				if len(errs) > 0 {
					return errors.Join(errs...)
				}
				if !set {
					name, _, _ := strings.Cut(kv, "=")
					return fmt.Errorf("error: set_param: param_path '%s': No such file or directory", name)
				}
				if !quiet {
					fmt.Fprintln(cmd.OutOrStdout(), kv)
				}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&quiet, "no-name", "n", false, "do not echo what was set")
	return c
}

func newListParam(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "list_param PATTERN...",
		Short: "list parameter names matching the patterns",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			replies, err := o.callAll(cmd.Context(), "list_param", args...)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			var names []string
			for _, r := range replies {
				if r.Err != nil {
					continue
				}
				for _, n := range strings.Fields(r.Out) {
					if !seen[n] {
						seen[n] = true
						names = append(names, n)
					}
				}
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
}

func newDL(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "dl",
		Aliases: []string{"device_list"},
		Short:   "list this node's devices: index status type name uuid refcount",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			devs, err := o.devices(cmd.Context())
			if err != nil {
				return err
			}
			for i, f := range devs {
				fmt.Fprintf(cmd.OutOrStdout(), "%3d %s %s %s %s %s\n", i, f[1], f[2], f[3], f[4], f[5])
			}
			return nil
		},
	}
}

// devices returns the devices of this node's processes in lctl dl's
// order, numbered by their place: the fields of each process's dl line
// (index status type name uuid refcount).
func (o *Options) devices(ctx context.Context) ([][]string, error) {
	replies, err := o.callAll(ctx, "dl")
	if err != nil {
		return nil, err
	}
	var devs [][]string
	for _, r := range replies {
		if r.Err != nil {
			return nil, fmt.Errorf("%s: %w", r.Socket, r.Err)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.Out), "\n") {
			if f := strings.Fields(line); len(f) >= 6 {
				devs = append(devs, f)
			}
		}
	}
	return devs, nil
}
