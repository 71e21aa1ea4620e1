package clientit

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

func names(t *testing.T, fs *client.FS, dir wire.FID) []string {
	t.Helper()
	var out []string
	cookie := uint64(0)
	for {
		ents, end, err := fs.ReadDir(tctx(t), dir, cookie, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, e.Name)
			cookie = e.Cookie
			if e.Attr.Mode == 0 {
				t.Errorf("%s: no attributes with plus", e.Name)
			}
		}
		if end {
			break
		}
	}
	slices.Sort(out)
	return out
}

func TestMetadata(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 2})
	fs := c.mount(t)
	ctx := tctx(t)
	root := fs.Root()
	if root != wire.RootFID {
		t.Fatalf("root %v", root)
	}
	dir, a, err := fs.Mkdir(ctx, root, "d", 0o755)
	if err != nil || a.Mode != syscall.S_IFDIR|0o755 {
		t.Fatalf("mkdir: %+v %v", a, err)
	}
	f, fid, a, err := fs.Create(ctx, dir, "f", syscall.O_RDWR, 0o644)
	if err != nil || a.Mode != syscall.S_IFREG|0o644 || a.Size != 0 {
		t.Fatalf("create: %+v %v", a, err)
	}
	if _, err := f.WriteAt(ctx, []byte("hello, stria"), 0); err != nil {
		t.Fatal(err)
	}
	if a, err := fs.GetAttr(ctx, fid); err != nil || a.Size != 12 {
		t.Fatalf("size while cached: %+v %v", a, err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 100)
	if n, err := f.ReadAt(ctx, p, 0); err != nil || string(p[:n]) != "hello, stria" {
		t.Fatalf("read %q %v", p[:n], err)
	}
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}
	got, la, err := fs.Lookup(ctx, dir, "f")
	if err != nil || got != fid || la.Size != 12 || la.Blocks == 0 {
		t.Fatalf("lookup: %v %+v %v", got, la, err)
	}
	if _, _, err := fs.Lookup(ctx, dir, "nope"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("lookup of a missing name: %v", err)
	}

	// Names: link, symlink, mknod, rename, readdir, unlink, rmdir.
	if a, err := fs.Link(ctx, fid, root, "hard"); err != nil || a.Nlink != 2 || a.Size != 12 {
		t.Fatalf("link: %+v %v", a, err)
	}
	sl, _, err := fs.Symlink(ctx, root, "sl", "d/f")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("readlink", func(t *testing.T) {
		target, err := fs.Readlink(ctx, sl)
		if err != nil || target != "d/f" {
			t.Fatalf("readlink %q %v", target, err)
		}
	})
	if _, a, err := fs.Mknod(ctx, root, "fifo", syscall.S_IFIFO|0o600, 0); err != nil || a.Mode != syscall.S_IFIFO|0o600 {
		t.Fatalf("mknod: %+v %v", a, err)
	}
	if err := fs.Rename(ctx, root, "fifo", dir, "fifo2", 0); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename(ctx, root, "hard", dir, "f", wire.RenameNoReplace); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("rename noreplace: %v", err)
	}
	if got := names(t, fs, root); !slices.Equal(got, []string{"d", "hard", "sl"}) {
		t.Fatalf("root: %v", got)
	}
	if got := names(t, fs, dir); !slices.Equal(got, []string{"f", "fifo2"}) {
		t.Fatalf("d: %v", got)
	}
	ents, _, err := fs.ReadDir(ctx, dir, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name == "f" && e.Attr.Size != 12 {
			t.Errorf("readdirplus size of f: %d", e.Attr.Size)
		}
	}
	if err := fs.Rmdir(ctx, root, "d"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir of a full dir: %v", err)
	}
	for _, n := range []string{"f", "fifo2"} {
		if err := fs.Unlink(ctx, dir, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Rmdir(ctx, root, "d"); err != nil {
		t.Fatal(err)
	}
	// The file lives on under its other name.
	if a, err := fs.GetAttr(ctx, fid); err != nil || a.Nlink != 1 || a.Size != 12 {
		t.Fatalf("after unlink: %+v %v", a, err)
	}

	// Attributes: chmod, utimes, truncate.
	a, err = fs.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrMode, Mode: 0o600})
	if err != nil || a.Mode != syscall.S_IFREG|0o600 {
		t.Fatalf("chmod: %+v %v", a, err)
	}
	a, err = fs.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrMtime, Mtime: 1e18})
	if err != nil || a.Mtime != 1e18 {
		t.Fatalf("utimes: %+v %v", a, err)
	}
	if a, err = fs.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrSize, Size: 5}); err != nil || a.Size != 5 {
		t.Fatalf("truncate down: %+v %v", a, err)
	}
	if a, err = fs.SetAttr(ctx, fid, wire.Attr{Valid: wire.AttrSize, Size: 3 << 20}); err != nil || a.Size != 3<<20 {
		t.Fatalf("truncate up: %+v %v", a, err)
	}
	f, err = fs.Open(ctx, fid, syscall.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	p = make([]byte, 4<<20)
	n, err := f.ReadAt(ctx, p, 0)
	if err != nil || n != 3<<20 || string(p[:5]) != "hello" || !bytes.Equal(p[5:n], make([]byte, n-5)) {
		t.Fatalf("read after truncates: %d %v %q", n, err, p[:5])
	}
	if n, err := f.ReadAt(ctx, p, 3<<20); err != nil || n != 0 {
		t.Fatalf("read at EOF: %d %v", n, err)
	}
	if _, err := f.WriteAt(ctx, []byte("x"), 0); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("write to a read-only handle: %v", err)
	}
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}

	st, err := fs.StatFS(ctx)
	if err != nil || st.Blocks == 0 || st.Files == 0 || st.BSize != 4096 {
		t.Fatalf("statfs %+v %v", st, err)
	}
}

func TestXattrs(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 2})
	fs := c.mount(t)
	ctx := tctx(t)
	root := fs.Root()
	f, fid, _, err := fs.Create(ctx, root, "f", syscall.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Release(ctx)
	if v, err := fs.GetXattr(ctx, fid, client.XattrFID); err != nil || string(v) != fid.String() {
		t.Fatalf("lustre.fid %q %v", v, err)
	}
	v, err := fs.GetXattr(ctx, fid, client.XattrLOV)
	if err != nil {
		t.Fatal(err)
	}
	l, err := layout.Decode(v)
	if err != nil || len(l.Components) != 1 || !l.Components[0].IsInit() {
		t.Fatalf("layout %+v %v", l, err)
	}
	if err := fs.SetXattr(ctx, fid, "user.color", []byte("blue"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := fs.GetXattr(ctx, fid, "user.color"); err != nil || string(v) != "blue" {
		t.Fatalf("user.color %q %v", v, err)
	}
	ns, err := fs.ListXattr(ctx, fid)
	if err != nil || !slices.Equal(ns, []string{"lustre.lov", "user.color"}) {
		t.Fatalf("list %q %v", ns, err)
	}
	if err := fs.RemoveXattr(ctx, fid, "user.color"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.GetXattr(ctx, fid, "user.color"); !errors.Is(err, syscall.ENODATA) {
		t.Fatalf("removed: %v", err)
	}
	if err := fs.SetXattr(ctx, fid, client.XattrFID, []byte("x"), 0); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("set lustre.fid: %v", err)
	}
	link, err := fs.GetXattr(ctx, fid, client.XattrLink)
	if err != nil || string(link) != root.String()+"/f\n" {
		t.Fatalf("lustre.link %q %v", link, err)
	}

	// Directory defaults: none, set, read back, inherited, removed.
	dir, _, err := fs.Mkdir(ctx, root, "d", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.GetXattr(ctx, dir, client.XattrLOV); !errors.Is(err, syscall.ENODATA) {
		t.Fatalf("default of a new dir: %v", err)
	}
	o := layout.NewOptions()
	o.Count, o.Size = 2, 64<<10
	tmpl, err := layout.Template([]layout.Options{o})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := layout.Encode(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.SetXattr(ctx, dir, client.XattrLOV, tb, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := fs.GetXattr(ctx, dir, client.XattrLOV); err != nil || !bytes.Equal(v, tb) {
		t.Fatalf("default read back: %v", err)
	}
	f, cfid, _, err := fs.Create(ctx, dir, "g", syscall.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Release(ctx)
	v, err = fs.GetXattr(ctx, cfid, client.XattrLOV)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := layout.Decode(v); err != nil || l.Components[0].Stripe.Count != 2 || l.Components[0].Stripe.Size != 64<<10 {
		t.Fatalf("inherited layout %+v %v", l, err)
	}
	if err := fs.RemoveXattr(ctx, dir, client.XattrLOV); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.GetXattr(ctx, dir, client.XattrLOV); !errors.Is(err, syscall.ENODATA) {
		t.Fatalf("removed default: %v", err)
	}

	// setstripe on a new file: mknod without objects, then lustre.lov.
	nfid, _, err := fs.Mknod(ctx, root, "striped", syscall.S_IFREG|0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.GetXattr(ctx, nfid, client.XattrLOV); !errors.Is(err, syscall.ENODATA) {
		t.Fatalf("layout of a mknod'ed file: %v", err)
	}
	if err := fs.SetXattr(ctx, nfid, client.XattrLOV, tb, 0); err != nil {
		t.Fatal(err)
	}
	if err := fs.SetXattr(ctx, nfid, client.XattrLOV, tb, 0); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("second setstripe: %v", err)
	}
	o.Count = 5
	big, _ := layout.Template([]layout.Options{o})
	bb, _ := layout.Encode(big)
	n2, _, err := fs.Mknod(ctx, root, "toowide", syscall.S_IFREG|0o644, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.SetXattr(ctx, n2, client.XattrLOV, bb, 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("5 stripes over 2 OSTs: %v", err)
	}
	f, err = fs.Open(ctx, nfid, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(ctx, []byte(strings.Repeat("z", 200<<10)), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if a, err := fs.GetAttr(ctx, nfid); err != nil || a.Size != 200<<10 {
		t.Fatalf("size %+v %v", a, err)
	}
}
