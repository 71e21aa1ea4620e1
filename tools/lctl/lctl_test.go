package lctl

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/obd"
)

// startNode serves an obd.Node with a few parameters on a fresh control dir.
func startNode(t *testing.T, dir, name string, lru *int64) *obd.Node {
	t.Helper()
	n := obd.NewNode(zaptest.NewLogger(t))
	n.Params.Add("ldlm.namespaces."+name+"-osc.lru_size",
		obd.Int(func() int64 { return *lru }, func(v int64) { *lru = v }, 0, 1<<20))
	n.Params.Add("osc."+name+"-osc.import", obd.Param{Get: func() string { return "import:\n    state: FULL\n" }})
	n.AddDevice(obd.Device{Type: "osc", Name: name + "-osc", UUID: name + "_UUID"})
	if err := n.Control.Listen(dir, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func run(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	c := NewCommand()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(append([]string{"--ctl-dir", dir}, args...))
	err := c.ExecuteContext(context.Background())
	return out.String(), err
}

func TestParams(t *testing.T) {
	dir := t.TempDir()
	var a, b int64 = 100, 200
	startNode(t, dir, "stria-OST0000", &a)
	startNode(t, dir, "stria-OST0001", &b)

	out, err := run(t, dir, "get_param", "ldlm.namespaces.*.lru_size")
	want := "ldlm.namespaces.stria-OST0000-osc.lru_size=100\nldlm.namespaces.stria-OST0001-osc.lru_size=200\n"
	if err != nil || out != want {
		t.Errorf("get_param = %q, %v; want %q", out, err, want)
	}
	out, err = run(t, dir, "get_param", "-n", "ldlm.namespaces.*OST0001*.lru_size")
	if err != nil || out != "200\n" {
		t.Errorf("get_param -n = %q, %v", out, err)
	}
	out, err = run(t, dir, "get_param", "osc.stria-OST0000-osc.import")
	if err != nil || out != "osc.stria-OST0000-osc.import=\nimport:\n    state: FULL\n" {
		t.Errorf("multi-line get_param = %q, %v", out, err)
	}
	if _, err := run(t, dir, "get_param", "nope.*"); err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("missing param: %v", err)
	}
	if out, err := run(t, dir, "set_param", "ldlm.namespaces.*.lru_size=50"); err != nil || a != 50 || b != 50 {
		t.Errorf("set_param = %q, %v; a=%d b=%d", out, err, a, b)
	}
	if _, err := run(t, dir, "set_param", "ldlm.namespaces.*.lru_size=-5"); err == nil || a != 50 {
		t.Errorf("set_param out of range: %v, a=%d", err, a)
	}
	if _, err := run(t, dir, "set_param", "lru_size"); err == nil || a != 50 {
		t.Errorf("set_param without '=': %v", err)
	}
	out, err = run(t, dir, "dl")
	if err != nil || !strings.Contains(out, "  0 UP osc stria-OST0000-osc stria-OST0000_UUID 1\n") ||
		!strings.Contains(out, "  1 UP osc stria-OST0001-osc") {
		t.Errorf("dl = %q, %v", out, err)
	}
	out, err = run(t, dir, "list_param", "ldlm.*")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("list_param = %q, %v", out, err)
	}
}

func TestNoDaemon(t *testing.T) {
	_, err := run(t, t.TempDir(), "dl")
	if err == nil || !strings.Contains(err.Error(), "no Stria process") {
		t.Errorf("dl without processes: %v", err)
	}
	if _, err := run(t, t.TempDir(), "ping", "not-a-nid"); err == nil {
		t.Error("ping with a bad NID succeeded")
	}
}

// TestAbortRecovery: --device names a device by its lctl dl index or its
// name; abort_recovery reaches the process that has it, and is refused
// for a device without recovery, an index past the list, and without
// --device.
func TestAbortRecovery(t *testing.T) {
	dir := t.TempDir()
	var lru int64
	startNode(t, dir, "stria-OST0000", &lru)
	aborted := 0
	n := obd.NewNode(zaptest.NewLogger(t))
	n.AddDevice(obd.Device{Type: "mdt", Name: "stria-MDT0000", UUID: "stria-MDT0000_UUID",
		AbortRecovery: func() { aborted++ }})
	if err := n.Control.Listen(dir, "stria-MDT0000"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })

	out, err := run(t, dir, "dl")
	idx := ""
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[3] == "stria-MDT0000" {
			idx = f[0]
		}
	}
	if err != nil || idx == "" {
		t.Fatalf("dl = %q, %v", out, err)
	}
	if _, err := run(t, dir, "--device", idx, "abort_recovery"); err != nil || aborted != 1 {
		t.Fatalf("abort_recovery by index %s: %v, %d aborts", idx, err, aborted)
	}
	if _, err := run(t, dir, "--device", "stria-MDT0000", "abort_recovery"); err != nil || aborted != 2 {
		t.Fatalf("abort_recovery by name: %v, %d aborts", err, aborted)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "stria-OST0000-osc", "abort_recovery"}, "no recovery"},
		{[]string{"--device", "nope", "abort_recovery"}, "no such device"},
		{[]string{"--device", "7", "abort_recovery"}, "no such device"},
		{[]string{"abort_recovery"}, "no device"},
	} {
		if _, err := run(t, dir, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	if aborted != 2 {
		t.Errorf("%d aborts, want 2", aborted)
	}
}
