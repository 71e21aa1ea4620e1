package mdt

import (
	"syscall"
	"testing"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// stripes returns the count and size of a file layout's first component,
// and checks that its objects exist on the OSTs.
func (e *env) stripes(b []byte) (int, uint32) {
	e.t.Helper()
	l := decode(e.t, b)
	if err := l.Validate(); err != nil {
		e.t.Fatalf("layout: %v", err)
	}
	c := &l.Components[0]
	if !c.IsInit() {
		e.t.Fatal("first component not instantiated")
	}
	for _, o := range c.Stripe.Objects {
		if !e.oss.Has(o.OSTIndex, o.FID) {
			e.t.Fatalf("object %v does not exist on OST %d", o.FID, o.OSTIndex)
		}
	}
	return len(c.Stripe.Objects), c.Stripe.Size
}

func TestCreateLayouts(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 4)
	// Built-in default: one 4 MiB stripe.
	f, err := e.create(wire.RootFID, "default", nil)
	mustOK(t, "create", err)
	if !f.Created {
		t.Fatal("open O_CREAT did not report Created")
	}
	if n, size := e.stripes(f.Layout); n != 1 || size != 4<<20 {
		t.Fatalf("built-in default: %d stripes of %d", n, size)
	}
	// Explicit template: count 3, size 1 MiB, starting at OST 2.
	f, err = e.create(wire.RootFID, "explicit", tmpl(t, 3, 1<<20, 2))
	mustOK(t, "create explicit", err)
	if n, size := e.stripes(f.Layout); n != 3 || size != 1<<20 {
		t.Fatalf("explicit: %d stripes of %d", n, size)
	}
	if o := decode(t, f.Layout).Components[0].Stripe.Objects[0].OSTIndex; o != 2 {
		t.Fatalf("offset 2 not honoured: first object on OST %d", o)
	}
	// count -1: every OST.
	f, err = e.create(wire.RootFID, "all", tmpl(t, -1, 0, -1))
	mustOK(t, "create -c -1", err)
	if n, _ := e.stripes(f.Layout); n != 4 {
		t.Fatalf("-c -1: %d stripes", n)
	}
	// Directory default, inherited by files and copied to subdirectories;
	// the explicit template fills its unset size from it.
	d := e.mkdir(wire.RootFID, "d", tmpl(t, 2, 2<<20, -1))
	f, err = e.create(d, "inherited", nil)
	mustOK(t, "create in d", err)
	if n, size := e.stripes(f.Layout); n != 2 || size != 2<<20 {
		t.Fatalf("inherited: %d stripes of %d", n, size)
	}
	sub := e.mkdir(d, "sub", nil)
	f, err = e.create(sub, "deep", nil)
	mustOK(t, "create in d/sub", err)
	if n, size := e.stripes(f.Layout); n != 2 || size != 2<<20 {
		t.Fatalf("inherited by a subdirectory: %d stripes of %d", n, size)
	}
	f, err = e.create(d, "mixed", tmpl(t, 3, 0, -1))
	mustOK(t, "create explicit in d", err)
	if n, size := e.stripes(f.Layout); n != 3 || size != 2<<20 {
		t.Fatalf("explicit count, inherited size: %d stripes of %d", n, size)
	}
	// REINT_CREATE with a template makes the objects too.
	var rep wire.InodeReply
	_, err = e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: wire.RootFID, Name: "created",
		Mode: syscall.S_IFREG | 0o644, Layout: encode(t, tmpl(t, 2, 0, -1)), MDTIndex: -1}, &rep)
	mustOK(t, "REINT_CREATE with a layout", err)
	if n, _ := e.stripes(rep.Layout); n != 2 {
		t.Fatalf("REINT_CREATE: %d stripes", n)
	}
	// PFL: only the first component has objects.
	pfl, err := layout.Template([]layout.Options{
		{End: 1 << 20, Count: 1, Size: 1 << 20, Offset: -1},
		{End: layout.EOF, Count: 4, Offset: -1}})
	mustOK(t, "PFL template", err)
	f, err = e.create(wire.RootFID, "pfl", pfl)
	mustOK(t, "create PFL", err)
	l := decode(t, f.Layout)
	if len(l.Components) != 2 || !l.Components[0].IsInit() || l.Components[1].IsInit() || len(objects(l)) != 1 {
		t.Fatalf("PFL layout %+v", l)
	}
	if e.srv.Stat("open") < 7 || e.srv.Stat("close") < 6 || e.srv.Stat("mkdir") != 2 {
		t.Fatalf("md_stats: %s", e.srv.stats.format())
	}
}

func TestRootDefaultFromParams(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 3, withParams("lov.stripesize=1M", "lov.stripecount=2"))
	f, err := e.create(wire.RootFID, "f", nil)
	mustOK(t, "create", err)
	if n, size := e.stripes(f.Layout); n != 2 || size != 1<<20 {
		t.Fatalf("file system default: %d stripes of %d", n, size)
	}
	// The root default is inherited at runtime, not copied: changing it
	// changes new files in existing subdirectories without a default.
	d := e.mkdir(wire.RootFID, "d", nil)
	vals, err := e.node.Params.Get("lod.testfs-MDT0000-mdtlov.stripecount")
	if err != nil || len(vals) != 1 || vals[0].Value != "2" {
		t.Fatalf("stripecount param: %v %v", vals, err)
	}
	if _, err := e.node.Params.Set("lod.testfs-MDT0000-mdtlov.stripecount", "3"); err != nil {
		t.Fatal(err)
	}
	f, err = e.create(d, "g", nil)
	mustOK(t, "create in d", err)
	if n, size := e.stripes(f.Layout); n != 3 || size != 1<<20 {
		t.Fatalf("after set_param stripecount=3: %d stripes of %d", n, size)
	}
	if _, err := e.node.Params.Set("lod.testfs-MDT0000-mdtlov.stripesize", "3k"); err == nil {
		t.Fatal("a stripe size that is no multiple of 64 KiB was taken")
	}
	var x wire.GetxattrReply
	_, err = e.call(rootCreds, wire.MDSGetxattr, &wire.GetxattrRequest{FID: wire.RootFID, Name: "lustre.lov", Size: 4096}, &x)
	mustOK(t, "getxattr lustre.lov of the root", err)
	if s := decode(t, x.Value).Components[0].Stripe; s.Count != 3 || s.Size != 1<<20 {
		t.Fatalf("root default %+v", s)
	}
}

func TestTooManyStripesIsEINVAL(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	before := e.srv.OSP(0).Info().Allocated + e.srv.OSP(1).Info().Allocated
	_, err := e.create(wire.RootFID, "wide", tmpl(t, 3, 0, -1))
	wantErrno(t, "3 stripes on 2 OSTs", err, syscall.EINVAL)
	_, err = e.create(wire.RootFID, "far", tmpl(t, 1, 0, 7))
	wantErrno(t, "offset beyond the OSTs", err, syscall.EINVAL)
	_, err = e.lookup(wire.RootFID, "wide")
	wantErrno(t, "refused create left a name", err, syscall.ENOENT)
	if after := e.srv.OSP(0).Info().Allocated + e.srv.OSP(1).Info().Allocated; after != before {
		t.Fatalf("refused create took objects: %d, then %d", before, after)
	}
	_, err = e.create(wire.RootFID, "bad", &layout.Layout{Components: []layout.Component{{}}})
	wantErrno(t, "malformed template", err, syscall.EINVAL)
	// A create that fails after allocation gives the objects back.
	_, err = e.create(wire.RootFID, "twice", nil)
	mustOK(t, "create", err)
	before = e.srv.OSP(0).Info().Allocated + e.srv.OSP(1).Info().Allocated
	_, err = e.create(wire.RootFID, "twice", nil)
	wantErrno(t, "O_EXCL over a file", err, syscall.EEXIST)
	_, err = e.open(aliceCreds, wire.RootFID, "alice", syscall.O_CREAT|syscall.O_WRONLY, nil)
	wantErrno(t, "create by alice in root's directory", err, syscall.EACCES)
	if after := e.srv.OSP(0).Info().Allocated + e.srv.OSP(1).Info().Allocated; after != before {
		t.Fatalf("failed creates kept objects: %d, then %d", before, after)
	}
}

func TestMknodThenSetstripe(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 3)
	mknod := func(name string) wire.FID {
		var rep wire.InodeReply
		_, err := e.reint(rootCreds, wire.ReintCreate, &wire.CreateRequest{Parent: wire.RootFID, Name: name,
			Mode: syscall.S_IFREG | 0o644, MDTIndex: -1}, &rep)
		mustOK(t, "mknod", err)
		if len(rep.Layout) != 0 {
			t.Fatal("mknod made objects")
		}
		return rep.FID
	}
	f := mknod("f")
	set := func(fid wire.FID, l *layout.Layout) error {
		_, err := e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: fid, Name: "lustre.lov", Value: encode(t, l)}, nil)
		return err
	}
	mustOK(t, "setstripe on a new file", set(f, tmpl(t, 2, 0, -1)))
	got, err := e.lookup(wire.RootFID, "f")
	mustOK(t, "lookup", err)
	if n, _ := e.stripes(got.Layout); n != 2 {
		t.Fatalf("after setstripe: %d stripes", n)
	}
	wantErrno(t, "setstripe on a file with objects", set(f, tmpl(t, 1, 0, -1)), syscall.EEXIST)
	g := mknod("g")
	wantErrno(t, "setstripe of 4 stripes on 3 OSTs", set(g, tmpl(t, 4, 0, -1)), syscall.EINVAL)
	_, err = e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: g, Name: "lustre.lov", Value: []byte("junk")}, nil)
	wantErrno(t, "setstripe with garbage", err, syscall.EINVAL)
	_, err = e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: f, Name: "lustre.lov", Flags: wire.XattrRemove}, nil)
	wantErrno(t, "removing a file's layout", err, syscall.EPERM)

	// Opening an objectless file for writing instantiates the default.
	rep, err := e.open(rootCreds, wire.RootFID, "g", syscall.O_RDONLY, nil)
	mustOK(t, "open for reading", err)
	if len(rep.Layout) != 0 {
		t.Fatal("a read-only open instantiated the layout")
	}
	e.mustClose(rep)
	rep, err = e.open(rootCreds, wire.RootFID, "g", syscall.O_WRONLY, nil)
	mustOK(t, "open for writing", err)
	if n, _ := e.stripes(rep.Layout); n != 1 {
		t.Fatalf("delayed create: %d stripes", n)
	}
	e.mustClose(rep)

	// A directory's "lustre.lov" is its default; removing it reverts.
	d := e.mkdir(wire.RootFID, "d", nil)
	mustOK(t, "setstripe on a directory", set(d, tmpl(t, 3, 0, -1)))
	var x wire.GetxattrReply
	_, err = e.call(rootCreds, wire.MDSGetxattr, &wire.GetxattrRequest{FID: d, Name: "lustre.lov", Size: 4096}, &x)
	if err != nil || decode(t, x.Value).Components[0].Stripe.Count != 3 {
		t.Fatalf("getstripe -d: %v", err)
	}
	h, err := e.create(d, "h", nil)
	mustOK(t, "create in d", err)
	if n, _ := e.stripes(h.Layout); n != 3 {
		t.Fatalf("file in d: %d stripes", n)
	}
	full := decode(t, h.Layout)
	wantErrno(t, "a file layout as a directory default", set(d, full), syscall.EINVAL)
	_, err = e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: d, Name: "lustre.lov", Flags: wire.XattrRemove}, nil)
	mustOK(t, "setstripe -d", err)
	_, err = e.call(rootCreds, wire.MDSGetxattr, &wire.GetxattrRequest{FID: d, Name: "lustre.lov", Size: 4096}, nil)
	wantErrno(t, "default after setstripe -d", err, syscall.ENODATA)
	_, err = e.reint(rootCreds, wire.ReintSetxattr, &wire.SetxattrRequest{FID: d, Name: "lustre.lov", Flags: wire.XattrRemove}, nil)
	mustOK(t, "setstripe -d without a default", err)
	h, err = e.create(d, "i", nil)
	mustOK(t, "create in d", err)
	if n, _ := e.stripes(h.Layout); n != 1 {
		t.Fatalf("file in d after setstripe -d: %d stripes", n)
	}
}

func TestNewOSTFromConfiguration(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	f, err := e.create(wire.RootFID, "two", tmpl(t, -1, 0, -1))
	mustOK(t, "create", err)
	if n, _ := e.stripes(f.Layout); n != 2 {
		t.Fatalf("%d stripes", n)
	}
	_, err = e.create(wire.RootFID, "three", tmpl(t, 3, 0, -1))
	wantErrno(t, "3 stripes before the third OST", err, syscall.EINVAL)
	// A third OST joins the OSS, and the MGS announces it.
	mustOK(t, "add OST 2", e.oss.AddTarget(2))
	e.mgc.addOST(2, lnet.LoNID(2))
	mustOK(t, "wait for the new OST", e.srv.WaitOSTs(ctxTimeout(t), 3))
	f, err = e.create(wire.RootFID, "three", tmpl(t, 3, 0, -1))
	mustOK(t, "create on three OSTs", err)
	if n, _ := e.stripes(f.Layout); n != 3 {
		t.Fatalf("%d stripes", n)
	}
	if e.srv.ConfigGen() != 3 {
		t.Fatalf("config gen %d", e.srv.ConfigGen())
	}
}

func TestDownOSTIsSkipped(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	e.srv.OSP(1).Import() // exists
	e.oss.FailCreate(1, syscall.EIO)
	st := e.oss.StatFS(1)
	st.State = wire.StateNoCreate
	e.oss.SetStatFS(1, st)
	waitFor(t, "OST 1 inactive", func() bool { return e.srv.LOD().ActiveOSTs() == 1 })
	for i := range 5 {
		f, err := e.create(wire.RootFID, "f"+string(rune('a'+i)), tmpl(t, -1, 0, -1))
		mustOK(t, "create with OST 1 inactive", err)
		for _, o := range objects(decode(t, f.Layout)) {
			if o.OSTIndex == 1 {
				t.Fatal("object on the inactive OST")
			}
		}
	}
	vals, err := e.node.Params.Get("lod.testfs-MDT0000-mdtlov.activeobd")
	if err != nil || vals[0].Value != "1" {
		t.Fatalf("activeobd %v %v", vals, err)
	}
}
