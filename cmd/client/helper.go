package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// helperName is the name mount(8) runs for -t stria.
const helperName = "mount.stria"

// mountHelper is mount.stria: mount(8) runs it as
//
//	mount.stria SPEC DIR [-sfnv] [-o OPTIONS] [-t TYPE]
//
// -s ignores unknown options, -f checks everything but mounts nothing, -n
// (no mtab) changes nothing, -v says what it does.
func mountHelper(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var (
		pos                   []string
		optStrs               []string
		sloppy, fake, verbose bool
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		switch {
		case a == "-o" || a == "-t":
			if i+1 >= len(args) {
				return fmt.Errorf("%s needs a value", a)
			}
			if a == "-o" {
				optStrs = append(optStrs, args[i+1])
			}
			i++
		case strings.HasPrefix(a, "-o"):
			optStrs = append(optStrs, a[2:])
		case strings.HasPrefix(a, "-t"):
		case a == "-h" || a == "--help":
			fmt.Fprintf(stdout, "usage: %s MGSNID[:MGSNID...]:/FSNAME[/SUBDIR] MOUNTPOINT [-sfnv] [-o OPTIONS]\n", helperName)
			return nil
		default:
			for _, c := range a[1:] {
				switch c {
				case 's':
					sloppy = true
				case 'f':
					fake = true
				case 'v':
					verbose = true
				case 'n':
				default:
					return fmt.Errorf("unknown option -%c (usage: %s SPEC DIR [-sfnv] [-o OPTIONS])", c, helperName)
				}
			}
		}
	}
	if len(pos) != 2 {
		return fmt.Errorf("usage: %s MGSNID[:MGSNID...]:/FSNAME[/SUBDIR] MOUNTPOINT [-sfnv] [-o OPTIONS]", helperName)
	}
	opts := defaultMountOptions()
	for _, s := range optStrs {
		if err := opts.parse(s, sloppy); err != nil {
			return err
		}
	}
	r := mountRequest{spec: pos[0], dir: pos[1], opts: opts}
	if err := r.check(); err != nil {
		return err
	}
	if verbose {
		fmt.Fprintf(stdout, "%s: mounting %s on %s (%s)\n", helperName, r.spec, r.dir, r.opts)
	}
	if fake {
		return nil
	}
	return background(ctx, r)
}
