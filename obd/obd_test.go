package obd

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
)

func TestTreeMatch(t *testing.T) {
	tr := NewTree()
	var lru int64 = 100
	for _, dev := range []string{"stria-MDT0000-mdc-ffff1", "stria-OST0000-osc-ffff1", "stria-OST0001-osc-ffff1"} {
		tr.Add("ldlm.namespaces."+dev+".lru_size", Int(func() int64 { return lru }, func(v int64) { lru = v }, 0, 1<<20))
		tr.AddUint("ldlm.namespaces."+dev+".lock_count", func() uint64 { return 7 })
	}
	cases := []struct {
		pattern string
		want    int
	}{
		{"ldlm.namespaces.*.lru_size", 3},
		{"ldlm.namespaces.*OST*.lru_size", 2},
		{"ldlm.namespaces.*", 6},
		{"ldlm", 6},
		{"ldlm.namespaces.*.nope", 0},
		{"osc.*", 0},
	}
	for _, c := range cases {
		vs, err := tr.Get(c.pattern)
		if c.want == 0 {
			if !errors.Is(err, ErrNoParam) {
				t.Errorf("Get(%q) = %v, %v; want ErrNoParam", c.pattern, vs, err)
			}
			continue
		}
		if err != nil || len(vs) != c.want {
			t.Errorf("Get(%q) = %d values, %v; want %d", c.pattern, len(vs), err, c.want)
		}
	}
	if _, err := tr.Get("ldlm.[.x"); !errors.Is(err, ErrBadPattern) {
		t.Errorf("bad glob: %v, want ErrBadPattern", err)
	}
}

func TestTreeSet(t *testing.T) {
	tr := NewTree()
	var v int64 = 1
	tr.Add("a.b.c", Int(func() int64 { return v }, func(x int64) { v = x }, 0, 10))
	tr.AddUint("a.b.ro", func() uint64 { return 1 })
	if n, err := tr.Set("a.b.c", "7"); err != nil || n != 1 || v != 7 {
		t.Fatalf("Set = %d, %v; v=%d", n, err, v)
	}
	if _, err := tr.Set("a.b.c", "11"); !errors.Is(err, ErrBadValue) || v != 7 {
		t.Errorf("out of range: %v, v=%d", err, v)
	}
	if _, err := tr.Set("a.b.c", "x"); !errors.Is(err, ErrBadValue) {
		t.Errorf("not a number: %v", err)
	}
	if _, err := tr.Set("a.b.ro", "2"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only: %v", err)
	}
	if _, err := tr.Set("a.z", "2"); !errors.Is(err, ErrNoParam) {
		t.Errorf("missing: %v", err)
	}
	tr.Remove("a.b")
	if _, err := tr.Get("a.*"); !errors.Is(err, ErrNoParam) {
		t.Errorf("after Remove: %v", err)
	}
}

func TestValuesRoundTrip(t *testing.T) {
	in := []Value{{"a.b", "1"}, {"c.d", "multi\nline=value"}, {"e", ""}}
	out := DecodeValues(EncodeValues(in))
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Fatalf("got %v, want %v", out, in)
	}
}

func TestControlSocket(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	n := NewNode(zaptest.NewLogger(t))
	var v int64 = 3
	n.Params.Add("x.y.z", Int(func() int64 { return v }, func(x int64) { v = x }, 0, 9))
	n.AddDevice(Device{Type: "mgs", Name: "MGS", UUID: "MGS"})
	if err := n.Control.Listen(dir, "mgs"); err != nil {
		t.Fatal(err)
	}
	// A second process may not take over a live socket.
	other := NewControl(zaptest.NewLogger(t))
	if err := other.Listen(dir, "mgs"); !errors.Is(err, ErrControl) {
		t.Errorf("second Listen on a live socket: %v", err)
	}
	other.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	replies, err := CallAll(ctx, dir, "get_param", "x.*")
	if err != nil || len(replies) != 1 || replies[0].Err != nil {
		t.Fatalf("CallAll: %v %+v", err, replies)
	}
	if got := DecodeValues(replies[0].Out); len(got) != 1 || got[0].Value != "3" {
		t.Errorf("get_param = %v", got)
	}
	if _, err := Call(ctx, n.Control.Path(), "set_param", "x.y.z=5"); err != nil || v != 5 {
		t.Errorf("set_param: %v, v=%d", err, v)
	}
	if _, err := Call(ctx, n.Control.Path(), "set_param", "x.y.z=50"); err == nil || v != 5 {
		t.Errorf("set_param out of range: %v, v=%d", err, v)
	}
	if _, err := Call(ctx, n.Control.Path(), "no_such_cmd"); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("unknown command: %v", err)
	}
	out, err := Call(ctx, n.Control.Path(), "dl")
	if err != nil || !strings.Contains(out, "UP mgs MGS MGS 1") {
		t.Errorf("dl = %q, %v", out, err)
	}
	// Garbage on the socket closes that connection and the server goes on.
	if _, err := Call(ctx, n.Control.Path(), strings.Repeat("x", 10)); err == nil {
		t.Error("garbage command accepted")
	}
	n.Close()
	if _, err := Sockets(dir); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("after Close: %v, want ErrNoDaemon", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines leaked:\n%s", g-before, buf[:runtime.Stack(buf, true)])
	}
}

func TestPingOverLNet(t *testing.T) {
	f := lolnd.NewFabric()
	start := func(nets string) *lnet.LNet {
		cfg, err := lnet.ParseNetworks(nets)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := lnet.New(context.Background(), lnet.Config{Networks: cfg, LNDs: []lnet.LND{lolnd.New(f)},
			Logger: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	a, _ := start("lo(1)"), start("lo(2)")
	n := NewNode(zaptest.NewLogger(t))
	n.AttachLNet(a)
	if err := n.Control.Listen(t.TempDir(), "a"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := Call(ctx, n.Control.Path(), "ping", "2@lo")
	if err != nil || out != "12345-0@lo\n12345-2@lo\n" {
		t.Errorf("ping = %q, %v", out, err)
	}
	if _, err := Call(ctx, n.Control.Path(), "ping", "2@lo", "500"); err == nil {
		t.Error("ping with a timeout over 120 s accepted")
	}
	if _, err := Call(ctx, n.Control.Path(), "ping", "9@lo", "1"); err == nil {
		t.Error("ping of a missing peer succeeded")
	}
	out, err = Call(ctx, n.Control.Path(), "list_nids")
	if err != nil || out != "1@lo\n" {
		t.Errorf("list_nids = %q, %v", out, err)
	}
}
