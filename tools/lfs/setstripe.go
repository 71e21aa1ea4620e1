package lfs

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stria-fs/stria/layout"
)

const setstripeLong = `Usage:
  lfs setstripe [STRIPE_OPTIONS] FILE|DIR...
  lfs setstripe -E END [STRIPE_OPTIONS] [-E END [STRIPE_OPTIONS] ...] FILE|DIR...
  lfs setstripe -d DIR...

Create FILE (which must not exist) with the given layout, or set the
default layout of DIR; -d removes DIR's default. With -E, each -E END
starts a component ending at END (-1 or eof: end of file); the stripe
options after it belong to that component (PFL).

STRIPE_OPTIONS:
  -c, --stripe-count N     stripes (0: default, -1: every OST)
  -S, --stripe-size SIZE   stripe size, a multiple of 64K (0: default)
  -i, --stripe-index IDX   first OST (-1: any)
  -o, --ost LIST           exact OSTs, e.g. 1,2-4,7
  -p, --pool NAME          OST pool
  -L, --layout TYPE        raid0 or mdt (Data-on-MDT, first component only)`

func newSetstripe(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "setstripe [-E END] [STRIPE_OPTIONS] ... FILE|DIR...",
		Short: "Create a file with a layout, or set or delete a directory's default layout",
		Long:  setstripeLong,
		// -E groups are positional (the options after each -E belong to
		// that component), which pflag cannot express: parse by hand.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := parseSetstripe(args)
			if err != nil {
				return err
			}
			if a.help {
				return cmd.Help()
			}
			return e.setstripe(cmd.ErrOrStderr(), a)
		},
	}
	c.SetHelpTemplate("{{.Long}}\n")
	return c
}

// setstripeArgs is a parsed setstripe command line.
type setstripeArgs struct {
	help   bool
	delete bool
	opts   []layout.Options // one per -E group; one for a plain layout
	given  []string         // the stripe options given, for -d
	paths  []string
}

// setstripeOpt names an option by its short letter.
func setstripeOpt(long string) (byte, bool) {
	switch long {
	case "stripe-count":
		return 'c', true
	case "stripe-size":
		return 'S', true
	case "stripe-index":
		return 'i', true
	case "ost", "ost-list":
		return 'o', true
	case "pool":
		return 'p', true
	case "component-end", "comp-end":
		return 'E', true
	case "layout":
		return 'L', true
	case "delete":
		return 'd', true
	case "help":
		return 'h', true
	}
	return 0, false
}

// takesArg reports whether option c has a value.
func takesArg(c byte) bool { return strings.IndexByte("cSiopEL", c) >= 0 }

// parseSetstripe parses the command line as getopt_long does (options and
// paths may mix; "--" ends the options) and checks every value, so that a
// bad command line is refused before anything is touched.
func parseSetstripe(args []string) (*setstripeArgs, error) {
	a := &setstripeArgs{opts: []layout.Options{layout.NewOptions()}}
	hasEnd := false // the current group has its -E
	for i := 0; i < len(args); i++ {
		arg := args[i]
		var opt byte
		var val string
		var hasVal bool
		switch {
		case arg == "--":
			a.paths = append(a.paths, args[i+1:]...)
			i = len(args)
			continue
		case strings.HasPrefix(arg, "--"):
			name, v, eq := strings.Cut(arg[2:], "=")
			c, ok := setstripeOpt(strings.ReplaceAll(name, "_", "-"))
			if !ok {
				return nil, usagef("lfs setstripe: unrecognized option '%s'", arg)
			}
			if eq && !takesArg(c) {
				return nil, usagef("lfs setstripe: option '--%s' doesn't allow an argument", name)
			}
			opt, val, hasVal = c, v, eq
		case len(arg) > 1 && arg[0] == '-':
			// A cluster of short options; one that takes a value takes
			// the rest of the word, or the next word.
			for j := 1; j < len(arg); j++ {
				c := arg[j]
				if strings.IndexByte("cSiopELdh", c) < 0 {
					return nil, usagef("lfs setstripe: invalid option -- '%c'", c)
				}
				if !takesArg(c) {
					if err := a.flag(c); err != nil {
						return nil, err
					}
					continue
				}
				opt = c
				if j+1 < len(arg) {
					val, hasVal = arg[j+1:], true
				}
				break
			}
			if opt == 0 {
				continue
			}
		default:
			a.paths = append(a.paths, arg)
			continue
		}
		if !takesArg(opt) {
			if err := a.flag(opt); err != nil {
				return nil, err
			}
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, usagef("lfs setstripe: option '%s' requires an argument", arg)
			}
			i++
			val = args[i]
		}
		if opt == 'E' {
			if hasEnd {
				a.opts = append(a.opts, layout.NewOptions())
			}
			hasEnd = true
		}
		if err := a.set(opt, val); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// flag applies an option without a value.
func (a *setstripeArgs) flag(c byte) error {
	switch c {
	case 'd':
		a.delete = true
	case 'h':
		a.help = true
	}
	return nil
}

// set applies option c with value v to the current component.
func (a *setstripeArgs) set(c byte, v string) error {
	o := &a.opts[len(a.opts)-1]
	a.given = append(a.given, "-"+string(c))
	switch c {
	case 'c':
		n, err := strconv.ParseInt(v, 0, 32)
		if err != nil || n < -1 || n > layout.MaxStripeCount {
			return usagef("lfs setstripe: invalid stripe count '%s' (-1, 0 or 1..%d)", v, layout.MaxStripeCount)
		}
		o.Count = int32(n)
	case 'S':
		size, err := layout.ParseStripeSize(v)
		if err != nil {
			return fail(fmt.Sprintf("lfs setstripe: invalid stripe size '%s': must be an even multiple of %d bytes, below 4 GiB",
				v, layout.MinStripeSize), ErrUsage, syscall.EINVAL, err)
		}
		o.Size = size
	case 'i':
		n, err := strconv.ParseInt(v, 0, 32)
		if err != nil || n < -1 || n > 0xffff {
			return usagef("lfs setstripe: invalid stripe offset '%s'", v)
		}
		o.Offset = int32(n)
	case 'o':
		osts, err := layout.ParseOSTList(v)
		if err != nil {
			return fail(fmt.Sprintf("lfs setstripe: invalid OST target(s) '%s'", v), ErrUsage, syscall.EINVAL, err)
		}
		for _, n := range osts {
			for _, m := range o.OSTs {
				if n == m {
					return usagef("lfs setstripe: invalid OST target(s) '%s': OST %d given twice", v, n)
				}
			}
		}
		o.OSTs = append(o.OSTs, osts...)
	case 'p':
		name := v
		if _, after, ok := strings.Cut(v, "."); ok {
			name = after // FSNAME.POOL
		}
		switch name {
		case "", "none", "ignore", "inherit":
		default:
			if err := layout.ValidPoolName(name); err != nil {
				return fail(fmt.Sprintf("lfs setstripe: invalid pool name '%s'", v), ErrUsage, syscall.EINVAL, err)
			}
		}
		o.Pool = name
	case 'E':
		end, err := layout.ParseExtentEnd(v)
		if err != nil {
			return fail(fmt.Sprintf("lfs setstripe: invalid component end '%s'", v), ErrUsage, syscall.EINVAL, err)
		}
		o.End = end
	case 'L':
		p, err := layout.ParsePattern(v)
		if err != nil {
			return fail(fmt.Sprintf("lfs setstripe: invalid layout '%s'", v), ErrUsage, syscall.EINVAL, err)
		}
		o.Pattern = p
	}
	return nil
}

// setstripe checks the whole request, then applies it path by path; a
// failing path is reported and the others still done, as lfs does. The
// exit status is the first failure's.
func (e *env) setstripe(stderr io.Writer, a *setstripeArgs) error {
	if a.delete && len(a.given) > 0 {
		return usagef("lfs setstripe: cannot specify -d with -c, -S, -i, -o, -p, -L or -E options")
	}
	if len(a.paths) == 0 {
		return usagef("lfs setstripe: FILE must be specified")
	}
	var enc []byte
	composite := false
	if !a.delete {
		tmpl, err := layout.Template(a.opts)
		if err != nil {
			return fail("lfs setstripe: invalid layout: "+layoutReason(err), ErrUsage, syscall.EINVAL, err)
		}
		composite = tmpl.Composite
		if enc, err = layout.Encode(tmpl); err != nil {
			return fail("lfs setstripe: invalid layout: "+err.Error(), ErrUsage, syscall.EINVAL, err)
		}
	}
	var first error
	for _, p := range a.paths {
		var err error
		if a.delete {
			err = e.deleteDefault(p)
		} else {
			err = e.setLayout(p, enc, composite)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return reported(first)
	}
	return nil
}

// layoutReason is the part of a layout error a user needs.
func layoutReason(err error) string {
	return strings.TrimPrefix(err.Error(), "layout: ")
}

// setLayout sets the default of a directory, or creates a file with the
// layout: mknod without objects, then the layout xattr, which makes the
// MDT allocate them; if that fails the file is removed again.
func (e *env) setLayout(path string, enc []byte, composite bool) error {
	what := "file"
	if composite {
		what = "composite file"
	}
	mode, err := e.fs.Stat(path)
	switch {
	case errors.Is(err, syscall.ENOENT):
		if err := e.fs.Mknod(path, 0o666); err != nil {
			return fail(fmt.Sprintf("lfs setstripe: cannot create %s '%s': %s", what, path, strerror(err)), err)
		}
		if err := e.fs.Setxattr(path, XattrLOV, enc); err != nil {
			msg := fmt.Sprintf("lfs setstripe: cannot create %s '%s': %s", what, path, strerror(err))
			if errors.Is(err, syscall.EINVAL) {
				msg += " (more stripes than OSTs, an OST index not in the file system, or an unknown pool?)"
			}
			if uerr := e.fs.Unlink(path); uerr != nil {
				msg += fmt.Sprintf("; removing the empty file failed: %s", strerror(uerr))
			}
			return fail(msg, err)
		}
		return nil
	case err != nil:
		return fail(fmt.Sprintf("lfs setstripe: cannot create %s '%s': %s", what, path, strerror(err)), err)
	case mode.IsDir():
		if err := e.fs.Setxattr(path, XattrLOV, enc); err != nil {
			msg := fmt.Sprintf("lfs setstripe: cannot set default layout for '%s': %s", path, strerror(err))
			return fail(msg, err)
		}
		return nil
	default:
		// Lustre's setstripe never changes the layout of an existing
		// file (that is lfs migrate).
		return fail(fmt.Sprintf("lfs setstripe: cannot create %s '%s': %s", what, path, strerror(syscall.EEXIST)),
			syscall.EEXIST)
	}
}

// deleteDefault removes a directory's default layout; a directory with
// none is left as it is.
func (e *env) deleteDefault(path string) error {
	mode, err := e.fs.Stat(path)
	if err != nil {
		return fail(fmt.Sprintf("lfs setstripe: cannot delete default layout of '%s': %s", path, strerror(err)), err)
	}
	if !mode.IsDir() {
		return fail(fmt.Sprintf("lfs setstripe: cannot delete default layout of '%s': %s", path, strerror(syscall.ENOTDIR)),
			syscall.ENOTDIR)
	}
	if err := e.fs.Removexattr(path, XattrLOV); err != nil && !errors.Is(err, syscall.ENODATA) {
		return fail(fmt.Sprintf("lfs setstripe: cannot delete default layout of '%s': %s", path, strerror(err)), err)
	}
	return nil
}
