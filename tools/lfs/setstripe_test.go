package lfs

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/layout"
)

func TestParseSetstripe(t *testing.T) {
	const M = 1 << 20
	opt := func(mod func(o *layout.Options)) layout.Options {
		o := layout.NewOptions()
		mod(&o)
		return o
	}
	cases := []struct {
		args  []string
		opts  []layout.Options
		paths []string
		del   bool
	}{
		{[]string{"-c", "2", "-i", "3", "f"}, []layout.Options{opt(func(o *layout.Options) { o.Count, o.Offset = 2, 3 })}, []string{"f"}, false},
		{[]string{"-c2", "-S4M", "f", "g"}, []layout.Options{opt(func(o *layout.Options) { o.Count, o.Size = 2, 4*M })}, []string{"f", "g"}, false},
		{[]string{"--stripe-count=-1", "--stripe_size", "1M", "f"}, []layout.Options{opt(func(o *layout.Options) { o.Count, o.Size = -1, M })}, []string{"f"}, false},
		// Options and paths mix, as getopt permutes them.
		{[]string{"f", "-c", "0", "-S", "0"}, []layout.Options{layout.NewOptions()}, []string{"f"}, false},
		{[]string{"-S", "64", "-o", "1,3-4", "-p", "fs.flash", "--", "-f"}, []layout.Options{opt(func(o *layout.Options) {
			o.Size, o.OSTs, o.Pool = 64<<10, []uint32{1, 3, 4}, "flash"
		})}, []string{"-f"}, false},
		{[]string{"-E", "64M", "-c", "1", "-E", "1G", "-c", "4", "-E", "eof", "-c", "-1", "g"}, []layout.Options{
			opt(func(o *layout.Options) { o.End, o.Count = 64*M, 1 }),
			opt(func(o *layout.Options) { o.End, o.Count = 1<<30, 4 }),
			opt(func(o *layout.Options) { o.End, o.Count = layout.EOF, -1 }),
		}, []string{"g"}, false},
		// Options before the first -E belong to the first component.
		{[]string{"-c", "2", "-E", "1M", "-E", "-1", "-S", "2M", "g"}, []layout.Options{
			opt(func(o *layout.Options) { o.End, o.Count = M, 2 }),
			opt(func(o *layout.Options) { o.End, o.Size = layout.EOF, 2*M }),
		}, []string{"g"}, false},
		{[]string{"-E", "1M", "-L", "mdt", "--component-end=-1", "g"}, []layout.Options{
			opt(func(o *layout.Options) { o.End, o.Pattern = M, layout.PatternMDT }),
			opt(func(o *layout.Options) { o.End = layout.EOF }),
		}, []string{"g"}, false},
		{[]string{"-d", "d1", "d2"}, []layout.Options{layout.NewOptions()}, []string{"d1", "d2"}, true},
	}
	for _, c := range cases {
		a, err := parseSetstripe(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if len(a.opts) != len(c.opts) {
			t.Errorf("%q: %d components, want %d", c.args, len(a.opts), len(c.opts))
			continue
		}
		for i := range c.opts {
			g, w := a.opts[i], c.opts[i]
			if g.End != w.End || g.Count != w.Count || g.Size != w.Size || g.Offset != w.Offset ||
				g.Pool != w.Pool || g.Pattern != w.Pattern || !slices.Equal(g.OSTs, w.OSTs) {
				t.Errorf("%q: component %d = %+v, want %+v", c.args, i, g, w)
			}
		}
		if !slices.Equal(a.paths, c.paths) || a.delete != c.del {
			t.Errorf("%q: paths %q delete %v", c.args, a.paths, a.delete)
		}
	}
}

// TestSetstripeBadInput: every bad command line is refused with a message
// and a non-zero status before any modifying call.
func TestSetstripeBadInput(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"-S", "100000", "f"}, "invalid stripe size '100000'"},
		{[]string{"-S", "-1M", "f"}, "invalid stripe size '-1M'"},
		{[]string{"-S", "4G", "f"}, "invalid stripe size '4G'"},
		{[]string{"-S", "lots", "f"}, "invalid stripe size 'lots'"},
		{[]string{"-c", "3000", "f"}, "invalid stripe count '3000'"},
		{[]string{"-c", "-2", "f"}, "invalid stripe count '-2'"},
		{[]string{"-c", "two", "f"}, "invalid stripe count 'two'"},
		{[]string{"-i", "-5", "f"}, "invalid stripe offset '-5'"},
		{[]string{"-o", "1,1", "f"}, "invalid OST target(s) '1,1'"},
		{[]string{"-o", "1", "-o", "1", "f"}, "invalid OST target(s) '1'"},
		{[]string{"-o", "x", "f"}, "invalid OST target(s) 'x'"},
		{[]string{"-p", "bad pool!", "f"}, "invalid pool name 'bad pool!'"},
		{[]string{"-E", "0", "f"}, "invalid component end '0'"},
		{[]string{"-L", "raid6", "f"}, "invalid layout 'raid6'"},
		{[]string{"-E", "2M", "-c", "1", "-E", "1M", "f"}, "invalid layout"},
		{[]string{"-E", "1M", "-E", "1M", "f"}, "invalid layout"},
		{[]string{"-E", "100000", "-E", "-1", "f"}, "invalid layout"},
		{[]string{"-c", "3", "-o", "1,2", "f"}, "invalid layout"},
		{[]string{"-i", "5", "-o", "1,2", "f"}, "invalid layout"},
		{[]string{"-L", "mdt", "f"}, "invalid layout"},
		{[]string{"-d", "-c", "1", "/mnt/fs/d"}, "cannot specify -d with"},
		{[]string{"-d", "-E", "1M", "/mnt/fs/d"}, "cannot specify -d with"},
		{[]string{"-c", "1"}, "FILE must be specified"},
		{[]string{}, "FILE must be specified"},
		{[]string{"--foo", "f"}, "unrecognized option '--foo'"},
		{[]string{"--delete=yes", "f"}, "doesn't allow an argument"},
		{[]string{"-x", "f"}, "invalid option -- 'x'"},
		{[]string{"f", "-c"}, "option '-c' requires an argument"},
		{[]string{"-E"}, "option '-E' requires an argument"},
	}
	for _, c := range cases {
		f := newFakeFS(t)
		f.mkdir("/mnt/fs/d")
		_, stderr, code := run(t, f, append([]string{"setstripe"}, c.args...)...)
		if code != int(syscall.EINVAL) || !strings.HasPrefix(stderr, "lfs setstripe: ") || !strings.Contains(stderr, c.msg) {
			t.Errorf("setstripe %q: status %d, stderr %q; want 22 and %q", c.args, code, stderr, c.msg)
		}
		if mods := f.modifications(); len(mods) != 0 {
			t.Errorf("setstripe %q changed the file system: %q", c.args, mods)
		}
	}
	// The parse errors are ErrUsage.
	if _, err := parseSetstripe([]string{"-c", "x"}); !errors.Is(err, ErrUsage) {
		t.Errorf("parse error %v is not ErrUsage", err)
	}
}

func TestSetstripeCreate(t *testing.T) {
	f := newFakeFS(t)
	_, stderr, code := run(t, f, "setstripe", "-c", "2", "-i", "3", "/mnt/fs/f")
	if code != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", code, stderr)
	}
	want := []string{"mknod /mnt/fs/f 0666", "setxattr /mnt/fs/f lustre.lov"}
	if mods := f.modifications(); !slices.Equal(mods, want) {
		t.Fatalf("calls %q, want %q", mods, want)
	}
	l := f.layoutOf(t, "/mnt/fs/f")
	s := l.Components[0].Stripe
	if l.Composite || s.Count != 2 || len(s.Objects) != 2 || s.Objects[0].OSTIndex != 3 || s.Objects[1].OSTIndex != 4 {
		t.Errorf("layout %+v", l)
	}

	// PFL: the template carries the three components; the MDT
	// instantiates the first.
	_, stderr, code = run(t, f, "setstripe", "-E", "64M", "-c", "1", "-E", "1G", "-c", "4", "-E", "eof", "-c", "-1", "/mnt/fs/g")
	if code != 0 || stderr != "" {
		t.Fatalf("PFL: status %d, stderr %q", code, stderr)
	}
	l = f.layoutOf(t, "/mnt/fs/g")
	if !l.Composite || len(l.Components) != 3 || !l.Components[0].IsInit() || l.Components[1].IsInit() ||
		l.Components[2].Stripe.Count != -1 || l.Components[1].Extent.End != 1<<30 {
		t.Errorf("PFL layout %+v", l)
	}
}

func TestSetstripeDirectory(t *testing.T) {
	f := newFakeFS(t)
	f.mkdir("/mnt/fs/d")
	if _, stderr, code := run(t, f, "setstripe", "-c", "4", "-S", "1M", "/mnt/fs/d"); code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	l := f.layoutOf(t, "/mnt/fs/d")
	if l.Components[0].Stripe.Count != 4 || l.Components[0].Stripe.Size != 1<<20 || l.Components[0].Stripe.Offset != -1 {
		t.Errorf("template %+v", l.Components[0].Stripe)
	}
	// A new file below takes the directory's default.
	if _, stderr, code := run(t, f, "setstripe", "-i", "1", "/mnt/fs/d/f"); code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	if s := f.layoutOf(t, "/mnt/fs/d/f").Components[0].Stripe; s.Count != 4 || s.Size != 1<<20 || s.Objects[0].OSTIndex != 1 {
		t.Errorf("file under the default: %+v", s)
	}
	// -d removes it; again on a directory without one is fine.
	for range 2 {
		if _, stderr, code := run(t, f, "setstripe", "-d", "/mnt/fs/d"); code != 0 {
			t.Fatalf("-d: status %d: %s", code, stderr)
		}
		if _, err := f.Getxattr("/mnt/fs/d", XattrLOV); !errors.Is(err, syscall.ENODATA) {
			t.Fatalf("default still there: %v", err)
		}
	}
	// -d on a file.
	_, stderr, code := run(t, f, "setstripe", "-d", "/mnt/fs/d/f")
	if code != int(syscall.ENOTDIR) || !strings.Contains(stderr, "Not a directory") {
		t.Errorf("-d on a file: status %d, %q", code, stderr)
	}
}

// TestSetstripeExisting: an existing file is refused with EEXIST and left
// alone; the other paths are still done.
func TestSetstripeExisting(t *testing.T) {
	f := newFakeFS(t)
	f.file(t, "/mnt/fs/old", layoutPlain(t), fidOf(7))
	before := f.layoutOf(t, "/mnt/fs/old")
	_, stderr, code := run(t, f, "setstripe", "-c", "2", "/mnt/fs/old", "/mnt/fs/new")
	if code != int(syscall.EEXIST) {
		t.Errorf("status %d, want 17", code)
	}
	if stderr != "lfs setstripe: cannot create file '/mnt/fs/old': File exists\n" {
		t.Errorf("stderr %q", stderr)
	}
	if !f.layoutOf(t, "/mnt/fs/old").Equal(before) {
		t.Error("the existing file's layout changed")
	}
	if f.layoutOf(t, "/mnt/fs/new").Components[0].Stripe.Count != 2 {
		t.Error("the new file was not created")
	}
	_, stderr, code = run(t, f, "setstripe", "-E", "1M", "-E", "-1", "/mnt/fs/old")
	if code != int(syscall.EEXIST) || stderr != "lfs setstripe: cannot create composite file '/mnt/fs/old': File exists\n" {
		t.Errorf("composite: status %d, stderr %q", code, stderr)
	}
}

// TestSetstripeMDTRefuses: what only the MDT can check (more stripes than
// OSTs) comes back as EINVAL; the empty file is removed again.
func TestSetstripeMDTRefuses(t *testing.T) {
	f := newFakeFS(t)
	f.numOSTs = 4
	_, stderr, code := run(t, f, "setstripe", "-c", "8", "/mnt/fs/f")
	if code != int(syscall.EINVAL) || !strings.Contains(stderr, "cannot create file '/mnt/fs/f': Invalid argument (more stripes than OSTs") {
		t.Errorf("status %d, stderr %q", code, stderr)
	}
	want := []string{"mknod /mnt/fs/f 0666", "setxattr /mnt/fs/f lustre.lov", "unlink /mnt/fs/f"}
	if mods := f.modifications(); !slices.Equal(mods, want) {
		t.Errorf("calls %q, want %q", mods, want)
	}
	if _, err := f.Stat("/mnt/fs/f"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("the file is still there: %v", err)
	}
	// A directory default is refused as is, and nothing is removed.
	f.mkdir("/mnt/fs/d")
	f.failSet["/mnt/fs/d"] = syscall.EPERM
	_, stderr, code = run(t, f, "setstripe", "-c", "2", "/mnt/fs/d")
	if code != int(syscall.EPERM) || stderr != "lfs setstripe: cannot set default layout for '/mnt/fs/d': Operation not permitted\n" {
		t.Errorf("dir: status %d, stderr %q", code, stderr)
	}
	// A missing parent.
	_, stderr, code = run(t, f, "setstripe", "-c", "2", "/mnt/fs/nodir/f")
	if code != int(syscall.ENOENT) || !strings.Contains(stderr, "No such file or directory") {
		t.Errorf("no parent: status %d, stderr %q", code, stderr)
	}
}

func TestSetstripeHelp(t *testing.T) {
	out, _, code := run(t, newFakeFS(t), "setstripe", "--help")
	if code != 0 || !strings.Contains(out, "lfs setstripe -E END") {
		t.Errorf("help: %d %q", code, out)
	}
}
