package lfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/wire"
)

// dfFlags is the df command line.
type dfFlags struct {
	human, si, inodes, verbose, lazy bool
}

func newDf(e *env) *cobra.Command {
	var f dfFlags
	c := &cobra.Command{
		Use:   "df [-h|-H] [-i] [-v] [PATH]",
		Short: "Report space (or inode) usage of each MDT and OST",
		Long: `Report the usage of each MDT and OST of the file system holding PATH, or of
every mounted Stria file system, and the file system's total (space: the
OSTs; inodes: the MDTs, reduced when the OSTs have fewer free objects).
-v also lists deactivated targets.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.df(cmd.Context(), cmd.OutOrStdout(), &f, args)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&f.human, "human-readable", "h", false, "sizes in powers of 1024 (K, M, G...)")
	fl.BoolVarP(&f.si, "si", "H", false, "sizes in powers of 1000 (k, M, G...)")
	fl.BoolVarP(&f.inodes, "inodes", "i", false, "inodes instead of space")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "also list deactivated targets")
	fl.BoolVarP(&f.lazy, "lazy", "l", false, "accepted for compatibility")
	fl.Bool("help", false, "help for df") // -h is --human-readable, as in lfs
	lustreFlags(c)
	return c
}

func (e *env) df(ctx context.Context, w io.Writer, f *dfFlags, args []string) error {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	var clients []Client
	if len(args) == 1 {
		c, err := e.fs.Control(ctx, args[0])
		if err != nil {
			if errors.Is(err, ErrNotStria) {
				return fail("lfs df: "+err.Error(), err)
			}
			return fail(fmt.Sprintf("lfs df: invalid path '%s': %s", args[0], strerror(err)), err)
		}
		clients = []Client{c}
	} else {
		var err error
		if clients, err = e.fs.Clients(ctx); err != nil {
			return fail(fmt.Sprintf("lfs df: %v", err), err)
		}
	}
	for _, c := range clients {
		targets, err := targetsOf(ctx, c)
		if err != nil {
			return fail(fmt.Sprintf("lfs df: %s: %v", c.Mount(), err), err)
		}
		showFS(w, c.Mount(), targets, f)
	}
	return nil
}

// targetsOf asks a client for its targets' usage, MDTs then OSTs.
func targetsOf(ctx context.Context, c Client) ([]Target, error) {
	out, err := c.Call(ctx, CmdDf)
	if err != nil {
		return nil, err
	}
	var ts []Target
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		return nil, fmt.Errorf("%w: df: %w", ErrBadReply, err)
	}
	for _, t := range ts {
		if t.Kind != "MDT" && t.Kind != "OST" || t.Index < 0 {
			return nil, fmt.Errorf("%w: df: target %q of kind %q index %d", ErrBadReply, t.UUID, t.Kind, t.Index)
		}
	}
	slices.SortStableFunc(ts, func(a, b Target) int {
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind) // "MDT" < "OST"
		}
		return a.Index - b.Index
	})
	return ts, nil
}

// showFS prints one file system as lfs df does (mntdf): the header, a row
// per target, a blank line, the summary and a blank line.
func showFS(w io.Writer, mnt string, ts []Target, f *dfFlags) {
	if f.inodes {
		fmt.Fprintf(w, "%-20s %11s %11s %11s %4s %s\n", "UUID", "Inodes", "IUsed", "IFree", "IUse%", "Mounted on")
	} else {
		col := "1K-blocks"
		if f.human || f.si {
			col = "bytes"
		}
		fmt.Fprintf(w, "%-20s %11s %11s %11s %4s %s\n", "UUID", col, "Used", "Available", "Use%", "Mounted on")
	}
	sum := wire.StatFS{BSize: 1}
	var ostFFree uint64
	for _, t := range ts {
		if !t.Active {
			if f.verbose {
				fmt.Fprintf(w, "%-20s: inactive device\n", fmt.Sprintf("%s%04x", t.Kind, t.Index))
			}
			continue
		}
		s := t.StatFS
		showRow(w, mnt, t.UUID, fmt.Sprintf("[%s:%d]", t.Kind, t.Index), &s, f)
		if t.Kind == "MDT" {
			sum.Files += s.Files
			sum.FFree += s.FFree
		} else {
			bs := uint64(s.BSize)
			sum.Blocks += s.Blocks * bs
			sum.BFree += s.BFree * bs
			sum.BAvail += s.BAvail * bs
			ostFFree += s.FFree
		}
	}
	// With fewer free objects on the OSTs than inodes on the MDTs, the
	// total is reduced so that the inodes in use stay right.
	if ostFFree < sum.FFree {
		sum.Files = sum.Files - sum.FFree + ostFFree
		sum.FFree = ostFFree
	}
	fmt.Fprintln(w)
	showRow(w, mnt, "filesystem_summary:", "", &sum, f)
	fmt.Fprintln(w)
}

// showRow prints one line of lfs df (showdf).
func showRow(w io.Writer, mnt, uuid, target string, s *wire.StatFS, f *dfFlags) {
	var total, used, avail uint64
	if f.inodes {
		total, avail = s.Files, s.FFree
		used = sub(s.Files, s.FFree)
	} else {
		shift := uint(10)
		if f.human || f.si {
			shift = 0
		}
		bs := uint64(s.BSize)
		total = s.Blocks * bs >> shift
		used = sub(s.Blocks, s.BFree) * bs >> shift
		avail = s.BAvail * bs >> shift
	}
	ratio := 0.0
	if used+avail > 0 {
		ratio = float64(used) / float64(used+avail)
	}
	cook := func(v uint64) string {
		if !f.human && !f.si {
			return fmt.Sprintf("%d", v)
		}
		base, suffix := 1024.0, "KMGTPEZY"
		if f.si {
			base, suffix = 1000.0, "kMGTPEZY"
		}
		x, radix := float64(v), 0
		for x > base {
			x /= base
			radix++
		}
		if radix == 0 {
			return fmt.Sprintf("%d", v)
		}
		return fmt.Sprintf("%8.1f%c", x, suffix[radix-1])
	}
	fmt.Fprintf(w, "%-20s %11s %11s %11s %4s %s%s", uuid, cook(total), cook(used), cook(avail),
		fmt.Sprintf("%3d%%", int(ratio*100+0.5)), mnt, target)
	if s.State != 0 {
		fmt.Fprint(w, " ")
		for _, st := range []struct {
			bit  wire.StatFSState
			name byte
		}{
			{wire.StateDegraded, 'D'}, {wire.StateReadOnly, 'R'}, {wire.StateNoCreate, 'N'},
			{wire.StateNoSpace, 'S'}, {wire.StateNoInodes, 'I'},
		} {
			if s.State&st.bit != 0 {
				fmt.Fprintf(w, "%c", st.name)
			}
		}
	}
	fmt.Fprintln(w)
}

// sub is a - b, or 0 when b > a (a target reporting more free than total).
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
