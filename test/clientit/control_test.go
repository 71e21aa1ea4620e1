package clientit

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/wire"
)

func TestMountErrors(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1})
	cfg := c.clientConfig()
	cfg.FSName = "nosuch"
	_, err := client.Mount(tctx(t), cfg)
	if !errors.Is(err, mgc.ErrUnknownFS) || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Fatalf("unknown fsname: %v", err)
	}
	cfg = c.clientConfig()
	cfg.MGSNodes = [][]lnet.NID{{lnet.LoNID(999)}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = client.Mount(ctx, cfg)
	if !errors.Is(err, mgc.ErrUnreachable) || !strings.Contains(err.Error(), "999@lo") {
		t.Fatalf("unreachable MGS: %v", err)
	}
	// A subdirectory mount.
	fs := c.mount(t)
	d, _, err := fs.Mkdir(tctx(t), fs.Root(), "sub", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	cfg = c.clientConfig()
	cfg.SubDir = "sub"
	sub := c.mountWith(t, cfg)
	if sub.Root() != d {
		t.Fatalf("subdir root %v, want %v", sub.Root(), d)
	}
	cfg = c.clientConfig()
	cfg.SubDir = "missing"
	if _, err := client.Mount(tctx(t), cfg); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing subdir: %v", err)
	}
}

func TestControlAndParams(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 2})
	cfg := c.clientConfig()
	cfg.MountPoint = "/mnt/stria"
	node := cfg.Node
	sockDir := t.TempDir()
	if err := node.Control.Listen(sockDir, "client"); err != nil {
		t.Fatal(err)
	}
	fs := c.mountWith(t, cfg)
	ctx := tctx(t)
	sock := filepath.Join(sockDir, "client.ctl")
	call := func(cmd string, args ...string) (string, error) { return obd.Call(ctx, sock, cmd, args...) }

	if out, err := call(client.CmdMount); err != nil || out != "/mnt/stria" {
		t.Fatalf("mount: %q %v", out, err)
	}
	out, err := call(client.CmdDf)
	if err != nil {
		t.Fatal(err)
	}
	var ts []client.Target
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatalf("df %q: %v", out, err)
	}
	if len(ts) != 3 || ts[0].UUID != "testfs-MDT0000_UUID" || ts[0].Kind != "MDT" || ts[2].UUID != "testfs-OST0001_UUID" ||
		ts[2].Index != 1 || !ts[1].Active || ts[1].StatFS.Blocks == 0 {
		t.Fatalf("df: %+v", ts)
	}
	if !strings.Contains(out, `"BAvail":`) {
		t.Fatalf("df uses Go field names: %s", out)
	}

	d, _, err := fs.Mkdir(ctx, fs.Root(), "d", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	f, fid, _, err := fs.Create(ctx, d, "f", syscall.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Release(ctx)
	if _, err := fs.Link(ctx, fid, fs.Root(), "g"); err != nil {
		t.Fatal(err)
	}
	out, err = call(client.CmdFid2Path, fid.String())
	if err != nil || (out != "d/f\ng\n" && out != "g\nd/f\n") {
		t.Fatalf("fid2path: %q %v", out, err)
	}
	if one, err := call(client.CmdFid2Path, fid.String(), "1"); err != nil || one != strings.SplitAfter(out, "\n")[1] {
		t.Fatalf("fid2path link 1: %q %v", one, err)
	}
	if out, err := call(client.CmdFid2Path, wire.RootFID.String()); err != nil || out != "\n" {
		t.Fatalf("fid2path of the root: %q %v", out, err)
	}
	if _, err := call(client.CmdFid2Path, "[0x200000400:0x999:0x0]"); err == nil || err.Error() != "No such file or directory" {
		t.Fatalf("fid2path of nothing: %v", err)
	}
	if _, err := call(client.CmdFid2Path, "garbage"); err == nil || err.Error() != "Invalid argument" {
		t.Fatalf("fid2path of garbage: %v", err)
	}

	// Parameters.
	get := func(pattern string) string {
		vs, err := node.Params.Get(pattern)
		if err != nil || len(vs) == 0 {
			t.Fatalf("%s: %v %v", pattern, vs, err)
		}
		return vs[0].Value
	}
	imp := get("osc.testfs-OST0001-osc-*.import")
	for _, want := range []string{"name: testfs-OST0001-osc-", "target: testfs-OST0001_UUID", "state: FULL",
		"failover_nids: [", "current_connection: "} {
		if !strings.Contains(imp, want) {
			t.Errorf("import lacks %q:\n%s", want, imp)
		}
	}
	if !strings.Contains(get("mdc.*.import"), "target: testfs-MDT0000_UUID") {
		t.Error("mdc import")
	}
	if get("osc.*.max_rpcs_in_flight") != "8" || get("osc.*.max_dirty_mb") != "64" {
		t.Error("defaults")
	}
	if n, err := node.Params.Set("osc.*.max_dirty_mb", "32"); err != nil || n != 2 || get("osc.*.max_dirty_mb") != "32" {
		t.Fatalf("set max_dirty_mb: %d %v", n, err)
	}
	if _, err := node.Params.Set("osc.*.max_rpcs_in_flight", "0"); err == nil {
		t.Fatal("max_rpcs_in_flight 0 accepted")
	}
	// Stats count RPCs: a stat of a file sends one MDS_GETATTR and one
	// OST_GETATTR per object.
	if _, err := node.Params.Set("mdc.*.stats", "clear"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.GetAttr(ctx, fid); err != nil {
		t.Fatal(err)
	}
	if s := get("mdc.*.stats"); !strings.Contains(s, "mds_getattr               1 samples") {
		t.Fatalf("mdc stats:\n%s", s)
	}
	if !strings.Contains(get("llite.testfs-*.stats"), "getattr") {
		t.Error("llite stats")
	}
	// The kernel reads security.capability before every write(2): on an
	// open file only the first read reaches the MDT.
	of, err := fs.Open(ctx, fid, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Params.Set("mdc.*.stats", "clear"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := fs.GetXattr(ctx, fid, "security.capability"); !errors.Is(err, syscall.ENODATA) {
			t.Fatalf("security.capability: %v, want ENODATA", err)
		}
	}
	if s := get("mdc.*.stats"); !strings.Contains(s, "mds_getxattr              1 samples") {
		t.Fatalf("3 reads of security.capability of an open file, mdc stats:\n%s", s)
	}
	if err := of.Release(ctx); err != nil {
		t.Fatal(err)
	}
	dl, err := call("dl")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" mgc MGC", " lov testfs-clilov-", " lmv testfs-clilmv-", " mdc testfs-MDT0000-mdc-",
		" osc testfs-OST0000-osc-", " osc testfs-OST0001-osc-"} {
		if !strings.Contains(dl, want) {
			t.Errorf("dl lacks %q:\n%s", want, dl)
		}
	}
	if err := fs.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if vs, _ := node.Params.Get("osc.*"); len(vs) != 0 {
		t.Fatalf("parameters left after unmount: %v", vs)
	}
	if _, err := call(client.CmdMount); err == nil {
		t.Fatal("mount answered after unmount")
	}
	if _, err := fs.GetAttr(ctx, fid); !errors.Is(err, client.ErrClosed) || !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after unmount: %v", err)
	}
	_ = zap.NewNop
}

// TestOSTAddedAfterMount: an OST registered after the mount is used
// without a remount.
func TestOSTAddedAfterMount(t *testing.T) {
	leaktest.Check(t)
	c := newCluster(t, clusterOpts{osts: 1})
	fs := c.mount(t)
	c.addOST(0)
	if err := c.mds.WaitOSTs(tctx(t), 2); err != nil {
		t.Fatal(err)
	}
	f, fid := striped(t, fs, fs.Root(), "wide", 2, 64<<10)
	ctx := tctx(t)
	data := pattern(256<<10, 1)
	if _, err := f.WriteAt(ctx, data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if a, err := fs.GetAttr(ctx, fid); err != nil || a.Size != 256<<10 {
		t.Fatalf("size %+v %v", a, err)
	}
	vs, err := fs.Node().Params.Get("osc.testfs-OST0001-osc-*.stats")
	if err != nil || len(vs) != 1 || !strings.Contains(vs[0].Value, "ost_write") {
		t.Fatalf("the new OST's osc: %v %v", vs, err)
	}
}
