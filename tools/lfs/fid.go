package lfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/wire"
)

func newPath2fid(e *env) *cobra.Command {
	var parents bool
	c := &cobra.Command{
		Use:   "path2fid [--parents] PATH...",
		Short: "Print the FID of each path (--parents: [parent FID]/name of each of its links)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("lfs path2fid: FILE... must be specified")
			}
			return e.path2fid(cmd.OutOrStdout(), cmd.ErrOrStderr(), parents, args)
		},
	}
	c.Flags().BoolVarP(&parents, "parents", "p", false, "print the parent FID and name of every link")
	lustreFlags(c)
	return c
}

// path2fid prints each path's FID, prefixed with "PATH: " when several
// paths are given; a failing path is reported and the others still done.
func (e *env) path2fid(stdout, stderr io.Writer, parents bool, paths []string) error {
	sep := ""
	if len(paths) > 1 {
		sep = ": "
	}
	var first error
	for _, p := range paths {
		var line string
		var err error
		if parents {
			line, err = e.parentsOf(p)
		} else {
			var fid wire.FID
			if fid, err = e.fidOf(p); err == nil {
				line = fid.String()
			}
		}
		if err != nil {
			what := ""
			if parents {
				what = "parent "
			}
			err = fail(fmt.Sprintf("lfs path2fid: cannot get %sfid for '%s': %s", what, p, strerror(err)), err)
			fmt.Fprintln(stderr, err)
			if first == nil {
				first = err
			}
			continue
		}
		if sep != "" {
			fmt.Fprintf(stdout, "%s%s", p, sep)
		}
		fmt.Fprintln(stdout, line)
	}
	if first != nil {
		return reported(first)
	}
	return nil
}

// fidOf reads a path's FID.
func (e *env) fidOf(p string) (wire.FID, error) {
	b, err := e.fs.Getxattr(p, XattrFID)
	if err != nil {
		return wire.FID{}, err
	}
	fid, err := wire.ParseFID(string(bytes.TrimSpace(b)))
	if err != nil {
		return wire.FID{}, fmt.Errorf("%w: %s: %w", ErrBadReply, XattrFID, err)
	}
	return fid, nil
}

// parentsOf reads a path's links and prints them tab-separated, each as
// [parent FID]/name.
func (e *env) parentsOf(p string) (string, error) {
	b, err := e.fs.Getxattr(p, XattrLink)
	if err != nil {
		return "", err
	}
	var links []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		fidStr, name, ok := strings.Cut(l, "]/")
		if !ok || name == "" {
			return "", fmt.Errorf("%w: %s: %q", ErrBadReply, XattrLink, l)
		}
		fid, err := wire.ParseFID(fidStr + "]")
		if err != nil {
			return "", fmt.Errorf("%w: %s: %w", ErrBadReply, XattrLink, err)
		}
		links = append(links, fid.String()+"/"+name)
	}
	if len(links) == 0 {
		return "", syscall.ENODATA
	}
	return strings.Join(links, "\t"), nil
}

// fid2pathFlags is the fid2path command line.
type fid2pathFlags struct {
	printLink, printFID, name, null bool
	link                            int
	recno                           int64
}

func newFid2path(e *env) *cobra.Command {
	var f fid2pathFlags
	c := &cobra.Command{
		Use:   "fid2path [-c] [-f] [-n] [-0] [-l LINKNO] FSNAME|MOUNT FID...",
		Short: "Print the path(s) of each FID",
		Long: `Print every path of each FID (-l: only link LINKNO), under MOUNT when the
file system is named by its mount point, relative to its root when named by
its fsname.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("Usage: lfs fid2path FSNAME|ROOT FID...")
			}
			if f.link < -1 {
				return usagef("lfs fid2path: invalid linkno '%d'", f.link)
			}
			return e.fid2path(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, args[0], args[1:])
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&f.printLink, "print-link", "c", false, "print the link number before each path")
	fl.BoolVar(&f.printLink, "cur", false, "same as --print-link")
	fl.BoolVarP(&f.printFID, "print-fid", "f", false, "print the FID before each path")
	fl.BoolVarP(&f.name, "name", "n", false, "print only the last component of each path")
	fl.BoolVarP(&f.null, "null", "0", false, "end each path with NUL instead of a newline")
	fl.IntVarP(&f.link, "link", "l", -1, "only link LINKNO")
	fl.Int64VarP(&f.recno, "recno", "r", -1, "changelog record (accepted, unused)")
	lustreFlags(c)
	return c
}

// fid2path resolves each FID through the client of the named file
// system; a failing FID is reported and the others still done.
func (e *env) fid2path(ctx context.Context, stdout, stderr io.Writer, f *fid2pathFlags, fsArg string, fids []string) error {
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	c, printMnt, err := e.clientFor(ctx, fsArg)
	if errors.Is(err, ErrNotStria) && strings.HasPrefix(fsArg, "/") {
		return fail("lfs fid2path: "+err.Error(), err)
	}
	if err != nil {
		return fail(fmt.Sprintf("lfs fid2path: cannot resolve mount point for '%s': %s", fsArg, strerror(err)), err)
	}
	mnt := c.Mount()
	if len(mnt) > 1 {
		mnt = strings.TrimRight(mnt, "/")
	}
	end := "\n"
	if f.null {
		end = "\x00"
	}
	var first error
	report := func(err error) {
		fmt.Fprintln(stderr, err)
		if first == nil {
			first = err
		}
	}
	for _, s := range fids {
		fid, err := wire.ParseFID(s)
		if err != nil {
			report(fail(fmt.Sprintf("lfs fid2path: invalid FID '%s'", s), ErrUsage, syscall.EINVAL, err))
			continue
		}
		args := []string{fid.String()}
		if f.link >= 0 {
			args = append(args, strconv.Itoa(f.link))
		}
		out, err := c.Call(ctx, CmdFid2Path, args...)
		if err != nil {
			report(fail(fmt.Sprintf("lfs fid2path: cannot find %s %s: %v", fsArg, s, err), err))
			continue
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for i, rel := range lines {
			rel = strings.TrimPrefix(rel, "/")
			link := i
			if f.link >= 0 {
				link = f.link
			}
			var b strings.Builder
			if f.printFID {
				b.WriteString(s + " ")
			}
			if f.printLink {
				fmt.Fprintf(&b, "%d ", link)
			}
			switch {
			case f.name:
				if rel == "" {
					b.WriteString("/")
				} else {
					b.WriteString(path.Base(rel))
				}
			case printMnt:
				b.WriteString(mnt + "/" + rel)
			case rel == "":
				b.WriteString("/")
			default:
				b.WriteString(rel)
			}
			b.WriteString(end)
			io.WriteString(stdout, b.String())
		}
	}
	if first != nil {
		return reported(first)
	}
	return nil
}

// clientFor finds the client of a file system named by a path in its
// mount (paths are printed under the mount point) or by its fsname
// (paths are printed relative to the root): the fsname is the prefix of
// its targets' names, stria-MDT0000_UUID.
func (e *env) clientFor(ctx context.Context, arg string) (Client, bool, error) {
	if strings.HasPrefix(arg, "/") {
		c, err := e.fs.Control(ctx, arg)
		return c, true, err
	}
	clients, err := e.fs.Clients(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, c := range clients {
		ts, err := targetsOf(ctx, c)
		if err != nil {
			continue
		}
		for _, t := range ts {
			if strings.HasPrefix(t.UUID, arg+"-") {
				return c, false, nil
			}
		}
	}
	return nil, false, errors.Join(ErrNotStria, syscall.ENODEV)
}
