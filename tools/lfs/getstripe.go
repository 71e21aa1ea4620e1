package lfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// getstripeFlags is the getstripe command line.
type getstripeFlags struct {
	count, size, index, pool, pattern, gen, fid bool
	directory, yaml, verbose, quiet             bool
	recursive, raw                              bool
}

func newGetstripe(e *env) *cobra.Command {
	var f getstripeFlags
	c := &cobra.Command{
		Use:   "getstripe [-c|-S|-i|-p|-L|-g|-F] [-d] [-r] [-R] [-q] [-v] [-y] PATH...",
		Short: "List the layout of files and the default layout of directories",
		Long: `List the layout of each file, and the default layout of each directory
followed by the layouts of its entries (-d: the directory only; -r: the whole
tree). Single-field options print only that value.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("lfs getstripe: PATH must be specified")
			}
			return e.getstripe(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, args)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&f.count, "stripe-count", "c", false, "print the stripe count")
	fl.BoolVarP(&f.size, "stripe-size", "S", false, "print the stripe size")
	fl.BoolVarP(&f.index, "stripe-index", "i", false, "print the first OST index")
	fl.BoolVarP(&f.pool, "pool", "p", false, "print the pool")
	fl.BoolVarP(&f.pattern, "layout", "L", false, "print the layout pattern")
	fl.BoolVarP(&f.gen, "generation", "g", false, "print the layout generation")
	fl.BoolVarP(&f.fid, "fid", "F", false, "print the file's FID")
	fl.BoolVarP(&f.directory, "directory", "d", false, "directories: their default only, not their entries")
	fl.BoolVarP(&f.recursive, "recursive", "r", false, "descend into directories")
	fl.BoolVarP(&f.raw, "raw", "R", false, "print unset template fields as stored (0 0 -1)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "objects only")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "every field, with magics, FIDs and sizes")
	fl.BoolVarP(&f.yaml, "yaml", "y", false, "YAML output")
	lustreFlags(c)
	return c
}

// getstripe prints each path as Lustre's lfs does (llapi_getstripe), and
// stops at the first path that fails.
func (e *env) getstripe(ctx context.Context, stdout, stderr io.Writer, f *getstripeFlags, paths []string) error {
	p := &printer{w: stdout, maxDepth: 1, yaml: f.yaml, raw: f.raw, loc: e.loc}
	fields := []struct {
		on  bool
		bit verbose
	}{
		{f.count, vCount}, {f.size, vSize}, {f.index, vOffset}, {f.pool, vPool},
		{f.pattern, vPattern}, {f.gen, vGen}, {f.fid, vFID},
	}
	for _, fd := range fields {
		if fd.on {
			p.verbose |= fd.bit
			p.maxDepth = 0
		}
	}
	if f.directory {
		p.maxDepth = 0
	}
	if f.verbose {
		p.verbose = vDefault | vDetail
	}
	if f.recursive {
		p.maxDepth = -1
	} else if f.verbose {
		p.maxDepth = 1
	}
	if p.verbose == 0 {
		p.verbose = vDefault
	}
	if f.quiet {
		p.verbose = vObjID
	}
	w := &walker{env: e, ctx: ctx, p: p, stderr: stderr}
	p.defaults = w.fsDefaults
	for _, path := range paths {
		w.root, w.looked = path, false
		if err := w.visit(path, 0, true); err != nil {
			return err
		}
	}
	return nil
}

// walker visits paths for getstripe.
type walker struct {
	*env
	ctx    context.Context
	p      *printer
	stderr io.Writer
	root   string // the argument being walked

	looked bool // def is known for root
	def    stripeDefaults
}

// visit prints path and, for a directory not yet at the depth limit, its
// entries. Symbolic links are followed for printing, never descended.
func (w *walker) visit(path string, depth int, descend bool) error {
	mode, err := w.fs.Stat(path)
	if err != nil {
		return fail(fmt.Sprintf("lfs getstripe: cannot open '%s': %s", path, strerror(err)), err)
	}
	e := &entry{path: path, dir: mode.IsDir()}
	b, err := w.fs.Getxattr(path, XattrLOV)
	switch {
	case err == nil:
		if e.l, err = layout.Decode(b); err != nil {
			return fail(fmt.Sprintf("lfs getstripe: bad layout of '%s': %v", path, err), ErrBadReply, err)
		}
		if e.l.Composite && len(e.l.Components) == 0 {
			return fail(fmt.Sprintf("lfs getstripe: bad layout of '%s': no components", path), ErrBadReply)
		}
	case errors.Is(err, syscall.ENODATA) && e.dir:
		// No default of its own: shown as "use the file system default".
		e.l = layout.Plain(0, 0, layout.OffsetAny, "")
		e.faked = true
	case errors.Is(err, syscall.ENODATA):
		fmt.Fprintf(w.p.w, "%s has no stripe info\n", path)
	default:
		return fail(fmt.Sprintf("lfs getstripe: cannot get layout of '%s': %s", path, strerror(err)), err)
	}
	if e.l != nil {
		if w.p.verbose&(vDetail|vFID) != 0 && !e.dir {
			e.fid = w.fid(path)
		}
		w.p.dump(e)
	}
	if depth == w.p.maxDepth || !e.dir || !descend {
		return nil
	}
	ents, err := w.fs.ReadDir(path)
	if err != nil {
		return fail(fmt.Sprintf("lfs getstripe: cannot read directory '%s': %s", path, strerror(err)), err)
	}
	for _, de := range ents {
		if err := w.visit(joinPath(path, de.Name()), depth+1, de.IsDir()); err != nil {
			return err
		}
	}
	return nil
}

// fid reads a file's FID for -v and -F.
// A file whose FID cannot be read shows the zero FID.
func (w *walker) fid(path string) wire.FID {
	b, err := w.fs.Getxattr(path, XattrFID)
	if err != nil {
		return wire.FID{}
	}
	f, _ := wire.ParseFID(string(bytes.TrimSpace(b)))
	return f
}

// fsDefaults returns the file system default (the root directory's
// template, else the built-in defaults) that unset template fields are
// shown as. It is looked up once per argument, when first needed.
func (w *walker) fsDefaults() stripeDefaults {
	if !w.looked {
		w.looked = true
		w.lookDefaults()
	}
	return w.def
}

// lookDefaults reads the root directory's template; problems are
// reported and the built-in defaults used, as lfs does.
func (w *walker) lookDefaults() {
	w.def = stripeDefaults{layout.DefaultStripeCount, layout.DefaultStripeSize}
	ctx, cancel := w.env.ctx(w.ctx)
	defer cancel()
	c, err := w.fs.Control(ctx, w.root)
	if err != nil {
		fmt.Fprintf(w.stderr, "lfs getstripe: cannot determine the default layout of '%s': %v\n", w.root, err)
		return
	}
	b, err := w.fs.Getxattr(c.Mount(), XattrLOV)
	if err != nil {
		if !errors.Is(err, syscall.ENODATA) {
			fmt.Fprintf(w.stderr, "lfs getstripe: cannot read the default layout of '%s': %s\n", c.Mount(), strerror(err))
		}
		return
	}
	l, err := layout.Decode(b)
	if err != nil {
		fmt.Fprintf(w.stderr, "lfs getstripe: bad default layout on '%s': %v\n", c.Mount(), err)
		return
	}
	for i := range l.Components {
		s := &l.Components[i].Stripe
		if l.Components[i].IsDoM() {
			continue
		}
		if s.Count != 0 {
			w.def.count = s.Count
		}
		if s.Size != 0 {
			w.def.size = s.Size
		}
		break
	}
}
