package mdt

import (
	"strings"
	"testing"

	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/wire"
)

func TestParamsAndDevices(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	_, err := e.create(wire.RootFID, "f", nil)
	mustOK(t, "create", err)
	e.unlink(wire.RootFID, "f")
	get := func(name string) string {
		t.Helper()
		vals, err := e.node.Params.Get(name)
		if err != nil || len(vals) != 1 {
			t.Fatalf("get_param %s: %v %v", name, vals, err)
		}
		return vals[0].Value
	}
	if v := get("mdt.testfs-MDT0000.uuid"); v != "testfs-MDT0000_UUID" {
		t.Fatalf("uuid %q", v)
	}
	stats := get("mdt.testfs-MDT0000.md_stats")
	for _, want := range []string{"snapshot_time", "open                      1 samples [reqs]", "close ", "unlink "} {
		if !strings.Contains(stats, want) {
			t.Fatalf("md_stats lacks %q:\n%s", want, stats)
		}
	}
	if _, err := e.node.Params.Set("mdt.testfs-MDT0000.md_stats", "clear"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(get("mdt.testfs-MDT0000.md_stats"), "open") {
		t.Fatal("md_stats not cleared")
	}
	if get("mdt.testfs-MDT0000.num_exports") != "1" || get("mdt.testfs-MDT0000.filesfree") == "0" {
		t.Fatal("exports or filesfree")
	}
	lod := "lod.testfs-MDT0000-mdtlov."
	if get(lod+"numobd") != "2" || get(lod+"activeobd") != "2" || get(lod+"stripesize") != "4194304" ||
		get(lod+"stripecount") != "1" || get(lod+"stripeoffset") != "-1" {
		t.Fatal("lod parameters")
	}
	if v := get(lod + "target_obd"); v != "0: testfs-OST0000_UUID ACTIVE\n1: testfs-OST0001_UUID ACTIVE\n" {
		t.Fatalf("target_obd %q", v)
	}
	osp := "osp.testfs-OST0000-osc-MDT0000."
	if get(osp+"prealloc_status") != "0" || get(osp+"prealloc_last_id") == "0" || get(osp+"active") != "1" ||
		get(osp+"kbytestotal") == "0" || !strings.Contains(get(osp+"import"), "state: FULL") {
		t.Fatal("osp parameters")
	}
	waitFor(t, "destroy done", func() bool { return get(osp+"destroys_pending") == "0" && get(osp+"destroys_in_flight") == "0" })

	sock := t.TempDir()
	if err := e.node.Control.Listen(sock, "mds"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.node.Close() })
	out, err := obd.Call(ctxTimeout(t), e.node.Control.Path(), "dl")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"UP mdt testfs-MDT0000 testfs-MDT0000_UUID", "UP lod testfs-MDT0000-mdtlov",
		"UP osp testfs-OST0000-osc-MDT0000 testfs-MDT0000-mdtlov_UUID", "UP osp testfs-OST0001-osc-MDT0000"} {
		if !strings.Contains(out, want) {
			t.Fatalf("dl lacks %q:\n%s", want, out)
		}
	}
	// Close takes everything away.
	e.stop()
	if vals, err := e.node.Params.Get("mdt.*"); err == nil {
		t.Fatalf("parameters left after close: %v", vals)
	}
	if vals, err := e.node.Params.Get("osp.*"); err == nil {
		t.Fatalf("osp parameters left after close: %v", vals)
	}
}
