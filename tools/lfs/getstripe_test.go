package lfs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s\nwant:\n%s", p, got, want)
	}
}

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

func fidOf(oid uint32) wire.FID { return wire.FID{Seq: 0x200000401, Oid: oid} }

func obj(ost uint32, objid uint64) layout.Object {
	return layout.Object{OSTIndex: ost, FID: wire.IDIF(ost, objid)}
}

func mustInstantiate(t testing.TB, l *layout.Layout, i int, objs ...layout.Object) {
	t.Helper()
	if err := l.Instantiate(i, objs); err != nil {
		t.Fatal(err)
	}
}

func mustValid(t testing.TB, l *layout.Layout) *layout.Layout {
	t.Helper()
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l
}

func mustTemplate(t *testing.T, opts ...layout.Options) *layout.Layout {
	t.Helper()
	l, err := layout.Template(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func opts(mod func(o *layout.Options)) layout.Options {
	o := layout.NewOptions()
	mod(&o)
	return o
}

// layoutPlain is the spec's `lfs setstripe -c 2 -i 3 f` on a one-MDT file
// system: objects 17 on OST3 and 21 on OST4, IDIF FIDs.
func layoutPlain(t testing.TB) *layout.Layout {
	l := layout.Plain(2, 4*mib, 3, "")
	mustInstantiate(t, l, 0, obj(3, 17), obj(4, 21))
	return mustValid(t, l)
}

// layoutPFL is the spec's `lfs setstripe -E 64M -c 1 -E 1G -c 4 -E eof
// -c -1 g` after a 100 MiB write on 8 OSTs: generation 4, components 1
// and 2 instantiated, component 3 not.
func layoutPFL(t testing.TB) *layout.Layout {
	l, err := layout.Effective(nil, nil, []layout.Options{
		opts(func(o *layout.Options) { o.End, o.Count = 64*mib, 1 }),
		opts(func(o *layout.Options) { o.End, o.Count = gib, 4 }),
		opts(func(o *layout.Options) { o.End, o.Count = layout.EOF, -1 }),
	})
	if err != nil {
		t.Fatal(err)
	}
	mustInstantiate(t, l, 0, obj(5, 9))
	mustInstantiate(t, l, 1, obj(6, 9), obj(7, 9), obj(0, 10), obj(1, 10))
	l.Gen = 4
	return mustValid(t, l)
}

// fixture is a small file system with one file of each kind.
func fixture(t *testing.T) *fakeFS {
	f := newFakeFS(t)
	f.file(t, "/mnt/fs/f", layoutPlain(t), fidOf(1))
	f.file(t, "/mnt/fs/g", layoutPFL(t), fidOf(2))

	pool := layout.Plain(1, mib, -1, "flash")
	mustInstantiate(t, pool, 0, obj(2, 0x1234))
	pool.Gen = 1
	f.file(t, "/mnt/fs/pool", mustValid(t, pool), fidOf(3))

	dom, err := layout.Effective(nil, nil, []layout.Options{
		opts(func(o *layout.Options) { o.End, o.Pattern = mib, layout.PatternMDT }),
		opts(func(o *layout.Options) { o.End, o.Count = layout.EOF, 2 }),
	})
	if err != nil {
		t.Fatal(err)
	}
	mustInstantiate(t, dom, 0)
	f.file(t, "/mnt/fs/dom", mustValid(t, dom), fidOf(4))

	// An OST object with a normal (non-IDIF) FID, as with several MDTs.
	dne := layout.Plain(1, 4*mib, -1, "")
	mustInstantiate(t, dne, 0, layout.Object{OSTIndex: 1, FID: wire.FID{Seq: 0x2c0000401, Oid: 5}})
	f.file(t, "/mnt/fs/dne", mustValid(t, dne), fidOf(5))

	flr, err := layout.Effective(nil, nil, []layout.Options{
		opts(func(o *layout.Options) { o.Mirror, o.Count = true, 1 }),
		opts(func(o *layout.Options) { o.Mirror, o.Count = true, 1 }),
	})
	if err != nil {
		t.Fatal(err)
	}
	mustInstantiate(t, flr, 0, obj(0, 3))
	mustInstantiate(t, flr, 1, obj(1, 3))
	if err := flr.SetFlags(flr.Components[1].ID, layout.NoSync, 0, 1700000000); err != nil {
		t.Fatal(err)
	}
	f.file(t, "/mnt/fs/flr", mustValid(t, flr), fidOf(6))

	f.file(t, "/mnt/fs/nolayout", nil, fidOf(7))

	a := layout.Plain(1, 4*mib, -1, "")
	mustInstantiate(t, a, 0, obj(0, 100))
	f.file(t, "/mnt/fs/dir/a", mustValid(t, a), fidOf(8))
	f.setDefault(t, "/mnt/fs/dir/sub", mustTemplate(t, opts(func(o *layout.Options) { o.Count, o.Size = 4, mib })))
	x := layout.Plain(4, mib, -1, "")
	mustInstantiate(t, x, 0, obj(4, 7), obj(5, 7), obj(6, 7), obj(7, 7))
	f.file(t, "/mnt/fs/dir/sub/x", mustValid(t, x), fidOf(9))

	f.setDefault(t, "/mnt/fs/pfldir", mustTemplate(t,
		opts(func(o *layout.Options) { o.End, o.Count = mib, 1 }),
		opts(func(o *layout.Options) { o.End, o.Count, o.Pool = layout.EOF, 4, "flash" })))
	f.setDefault(t, "/mnt/fs/sizeonly", mustTemplate(t, opts(func(o *layout.Options) { o.Size = 8 * mib })))
	return f
}

func TestGetstripeGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
		root *layout.Layout // root default, if any
	}{
		// The spec's examples (§3.5).
		{"plain", []string{"/mnt/fs/f"}, nil},
		{"plain_yaml", []string{"-y", "/mnt/fs/f"}, nil},
		{"pfl", []string{"/mnt/fs/g"}, nil},
		{"pfl_yaml", []string{"-y", "/mnt/fs/g"}, nil},
		// Verbose and single fields.
		{"plain_v", []string{"-v", "/mnt/fs/f"}, nil},
		{"pfl_v", []string{"-v", "/mnt/fs/g"}, nil},
		{"plain_c", []string{"-c", "/mnt/fs/f"}, nil},
		{"plain_i", []string{"--stripe-index", "/mnt/fs/f"}, nil},
		{"plain_c_S", []string{"-c", "-S", "/mnt/fs/f"}, nil},
		{"plain_q", []string{"-q", "/mnt/fs/f"}, nil},
		{"plain_F", []string{"-F", "/mnt/fs/f"}, nil},
		{"pfl_c", []string{"-c", "/mnt/fs/g"}, nil},
		{"pfl_S_i", []string{"--stripe_size", "-i", "/mnt/fs/g"}, nil},
		// Other layouts.
		{"pool", []string{"/mnt/fs/pool"}, nil},
		{"pool_p", []string{"-p", "/mnt/fs/pool"}, nil},
		{"dom", []string{"/mnt/fs/dom"}, nil},
		{"dne_group", []string{"/mnt/fs/dne"}, nil},
		{"flr", []string{"/mnt/fs/flr"}, nil},
		{"flr_yaml", []string{"-y", "/mnt/fs/flr"}, nil},
		{"several", []string{"/mnt/fs/f", "/mnt/fs/pool", "/mnt/fs/nolayout"}, nil},
		// Directories.
		{"dir", []string{"/mnt/fs/dir"}, nil},
		{"dir_slash", []string{"/mnt/fs/dir/"}, nil},
		{"dir_r", []string{"-r", "/mnt/fs/dir"}, nil},
		{"dir_d", []string{"-d", "/mnt/fs/dir"}, nil},
		{"dir_d_raw", []string{"-d", "-R", "/mnt/fs/dir"}, nil},
		{"dir_d_v", []string{"-d", "-v", "/mnt/fs/dir"}, nil},
		{"dir_d_rootdefault", []string{"-d", "/mnt/fs/dir"},
			mustTemplate(t, opts(func(o *layout.Options) { o.Count, o.Size = 2, 2*mib }))},
		{"dir_d_template", []string{"-d", "/mnt/fs/dir/sub"}, nil},
		{"dir_d_yaml", []string{"-d", "-y", "/mnt/fs/dir/sub"}, nil},
		{"dir_c", []string{"-c", "/mnt/fs/dir/sub"}, nil},
		{"dir_d_sizeonly", []string{"-d", "/mnt/fs/sizeonly"},
			mustTemplate(t, opts(func(o *layout.Options) { o.Count = 3 }))},
		{"pfldir", []string{"-d", "/mnt/fs/pfldir"}, nil},
		{"pfldir_yaml", []string{"-d", "-y", "/mnt/fs/pfldir"}, nil},
		{"pfldir_S", []string{"-S", "/mnt/fs/pfldir"}, nil},
		{"root_d", []string{"-d", "/mnt/fs"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := fixture(t)
			if c.root != nil {
				f.setDefault(t, "/mnt/fs", c.root)
			}
			out, stderr, code := run(t, f, append([]string{"getstripe"}, c.args...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("status %d, stderr %q", code, stderr)
			}
			golden(t, "getstripe_"+c.name+".golden", out)
			if mods := f.modifications(); len(mods) != 0 {
				t.Errorf("getstripe modified the file system: %q", mods)
			}
		})
	}
}

// TestGetstripeSpecText checks the two plain examples against the spec's
// text itself, not only against the golden files.
func TestGetstripeSpecText(t *testing.T) {
	f := fixture(t)
	out, _, _ := run(t, f, "getstripe", "/mnt/fs/f")
	want := "/mnt/fs/f\n" +
		"lmm_stripe_count:  2\n" +
		"lmm_stripe_size:   4194304\n" +
		"lmm_pattern:       raid0\n" +
		"lmm_layout_gen:    0\n" +
		"lmm_stripe_offset: 3\n" +
		"\tobdidx\t\t objid\t\t objid\t\t group\n" +
		"\t     3\t            17\t         0x11\t             0\n" +
		"\t     4\t            21\t         0x15\t             0\n\n"
	if out != want {
		t.Errorf("plain:\n%q\nwant\n%q", out, want)
	}
	out, _, _ = run(t, f, "getstripe", "-y", "/mnt/fs/f")
	want = "lmm_stripe_count:  2\n" +
		"lmm_stripe_size:   4194304\n" +
		"lmm_pattern:       raid0\n" +
		"lmm_layout_gen:    0\n" +
		"lmm_stripe_offset: 3\n" +
		"lmm_objects:\n" +
		"      - l_ost_idx: 3\n" +
		"        l_fid:     0x100030000:0x11:0x0\n" +
		"      - l_ost_idx: 4\n" +
		"        l_fid:     0x100040000:0x15:0x0\n"
	if out != want {
		t.Errorf("yaml:\n%q\nwant\n%q", out, want)
	}
	out, _, _ = run(t, f, "getstripe", "/mnt/fs/g")
	for _, line := range []string{
		"/mnt/fs/g\n  lcm_layout_gen:    4\n  lcm_mirror_count:  1\n  lcm_entry_count:   3\n",
		"    lcme_id:             1\n    lcme_mirror_id:      0\n    lcme_flags:          init\n" +
			"    lcme_extent.e_start: 0\n    lcme_extent.e_end:   67108864\n",
		"      - 0: { l_ost_idx: 5, l_fid: [0x100050000:0x9:0x0] }\n\n",
		"    lcme_id:             3\n    lcme_mirror_id:      0\n    lcme_flags:          0\n" +
			"    lcme_extent.e_start: 1073741824\n    lcme_extent.e_end:   EOF\n" +
			"      lmm_stripe_count:  -1\n      lmm_stripe_size:   4194304\n      lmm_pattern:       raid0\n" +
			"      lmm_layout_gen:    0\n      lmm_stripe_offset: -1\n\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("PFL output lacks %q:\n%s", line, out)
		}
	}
	out, _, _ = run(t, f, "getstripe", "-d", "/mnt/fs/dir")
	if want := "stripe_count:  1 stripe_size:   4194304 pattern:       raid0 stripe_offset: -1\n\n"; out != want {
		t.Errorf("directory default %q, want %q", out, want)
	}
}

func TestGetstripeErrors(t *testing.T) {
	f := fixture(t)
	out, stderr, code := run(t, f, "getstripe", "/mnt/fs/f", "/mnt/fs/nope", "/mnt/fs/g")
	if code != int(syscall.ENOENT) || stderr != "lfs getstripe: cannot open '/mnt/fs/nope': No such file or directory\n" {
		t.Errorf("missing path: status %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(out, "/mnt/fs/f\n") || strings.Contains(out, "/mnt/fs/g") {
		t.Errorf("lfs stops at the first failing path; got %q", out)
	}

	f.nodes["/mnt/fs/f"].xattrs[XattrLOV] = []byte("garbage")
	_, stderr, code = run(t, f, "getstripe", "/mnt/fs/f")
	if code != 1 || !strings.Contains(stderr, "bad layout of '/mnt/fs/f'") {
		t.Errorf("corrupt layout: status %d, stderr %q", code, stderr)
	}

	_, stderr, code = run(t, f, "getstripe")
	if code != int(syscall.EINVAL) || !strings.Contains(stderr, "PATH must be specified") {
		t.Errorf("no path: status %d, stderr %q", code, stderr)
	}
	_, stderr, code = run(t, f, "getstripe", "--bogus", "/mnt/fs/g")
	if code != int(syscall.EINVAL) || !strings.HasPrefix(stderr, "lfs getstripe: unknown flag: --bogus") {
		t.Errorf("bad flag: status %d, stderr %q", code, stderr)
	}
}

// TestGetstripeNoControl: when the client cannot be asked for the file
// system default, a directory shows the built-in one, with a warning.
func TestGetstripeNoControl(t *testing.T) {
	f := fixture(t)
	f.mount = "/elsewhere"
	f.nodes["/elsewhere"] = &fakeNode{dir: true, xattrs: map[string][]byte{}}
	out, stderr, code := run(t, f, "getstripe", "-d", "/mnt/fs/dir")
	if code != 0 || out != "stripe_count:  1 stripe_size:   4194304 pattern:       raid0 stripe_offset: -1\n\n" ||
		!strings.Contains(stderr, "cannot determine the default layout") {
		t.Errorf("status %d, out %q, stderr %q", code, out, stderr)
	}
}

func TestOSTObjID(t *testing.T) {
	cases := []struct {
		fid           wire.FID
		objid, group  uint64
		table, tgroup string
	}{
		{wire.IDIF(3, 17), 17, 0, "0x11", "0"},
		{wire.IDIF(7, 1<<33|5), 1<<33 | 5, 0, "0x200000005", "0"},
		{wire.FID{Seq: 0x2c0000401, Oid: 5}, 5, 0x2c0000401, "0x5", "0x2c0000401"},
		{wire.FID{Seq: 0, Oid: 0}, 0, 0, "0", "0"},
	}
	for _, c := range cases {
		objid, group := ostObjID(c.fid)
		if objid != c.objid || group != c.group || cHex(objid) != c.table || cHex(group) != c.tgroup {
			t.Errorf("%v: objid %d group %d (%s %s)", c.fid, objid, group, cHex(objid), cHex(group))
		}
	}
	if !groupIsDecimal(0) || !groupIsDecimal(11) || groupIsDecimal(12) {
		t.Error("groupIsDecimal")
	}
}
