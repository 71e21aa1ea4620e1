package mgc

import (
	"context"
	"errors"
	"github.com/stria-fs/stria/internal/leaktest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/wire"
)

func TestFailoverNIDs(t *testing.T) {
	leaktest.Check(t)
	ln := newLNet(t, lolnd.NewFabric(), 1)
	nid := lnet.MustParseNID
	nodes := [][]lnet.NID{
		{nid("10.0.0.1@tcp"), nid("7@lo"), nid("17@lo")},
		{nid("10.0.0.2@tcp")},
		{nid("8@lo"), nid("9@lo")},
	}
	if got := FailoverNIDs(ln, nodes); !slices.Equal(got, []lnet.NID{nid("7@lo"), nid("8@lo")}) {
		t.Fatalf("FailoverNIDs = %v", got)
	}
	c := newClient(t, ln, nodes)
	if c.Name() != "MGC7@lo" || !slices.Equal(c.NIDs(), []lnet.NID{nid("7@lo"), nid("8@lo")}) {
		t.Errorf("Name %q NIDs %v", c.Name(), c.NIDs())
	}
	if info := c.Info(); info.Target != MGSName || len(info.FailoverNIDs) != 2 {
		t.Errorf("Info = %+v", info)
	}
	_, err := New(Config{LNet: ln, MGSNodes: [][]lnet.NID{{nid("10.0.0.1@tcp")}}})
	if !errors.Is(err, ErrBadConfig) || !errors.Is(err, lnet.ErrNoRoute) || !strings.Contains(err.Error(), "10.0.0.1@tcp") {
		t.Errorf("MGS on no local network: %v", err)
	}
	if _, err := New(Config{LNet: ln}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("no MGS node: %v", err)
	}
	if _, err := New(Config{MGSNodes: nodes}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("no LNet: %v", err)
	}
}

func TestUnreachableMGS(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	ln := newLNet(t, f, 2)
	c := newClient(t, ln, [][]lnet.NID{{lnet.MustParseNID("99@lo")}})
	for name, call := range map[string]func(context.Context) error{
		"config": func(ctx context.Context) error { _, err := c.Config(ctx, "testfs"); return err },
		"register": func(ctx context.Context) error {
			_, err := c.Register(ctx, wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindOST, UUID: "u",
				Nodes: []wire.ServiceNode{{NIDs: ln.NIDs()}}})
			return err
		},
		"set_param": func(ctx context.Context) error { _, err := c.SetParamP(ctx, "", "a=1", false); return err },
	} {
		short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := call(short)
		cancel()
		if !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want ErrUnreachable", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "MGS 99@lo unreachable") {
			t.Errorf("%s: message %q does not name the MGS", name, err)
		}
	}

	// The MGS comes up later: the same client reaches it.
	m := startFake(t, newLNet(t, f, 99))
	if _, err := c.Register(ctx(t), wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindMDT, UUID: "u",
		Nodes: []wire.ServiceNode{{NIDs: ln.NIDs()}}}); err != nil {
		t.Fatalf("register once the MGS is up: %v", err)
	}
	if m.gen != 1 {
		t.Errorf("fake MGS generation %d", m.gen)
	}
}

func TestErrors(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	m := startFake(t, newLNet(t, f, 1))
	c := newClient(t, newLNet(t, f, 2), [][]lnet.NID{{lnet.MustParseNID("1@lo")}})
	req := wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindOST, Index: 1, UUID: "taken",
		Nodes: []wire.ServiceNode{{NIDs: []lnet.NID{lnet.MustParseNID("2@lo")}}}}
	_, err := c.Register(ctx(t), req)
	if !errors.Is(err, ErrIndexInUse) || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "testfs-OST0001") {
		t.Errorf("taken index: %v", err)
	}
	_, err = c.Config(ctx(t), "nosuch")
	if !errors.Is(err, ErrUnknownFS) || !errors.Is(err, syscall.ENOENT) ||
		err.Error() != `mgc: file system "nosuch" is not known to the MGS at 1@lo (no target of it has registered; check the fsname)` {
		t.Errorf("unknown fsname: %v", err)
	}
	if r, u := m.counts(); r != 0 || u != 0 {
		t.Errorf("fake answered %d/%d config reads for a wrong fsname", r, u)
	}
}

func TestWatch(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	m := startFake(t, newLNet(t, f, 1))
	c := newClient(t, newLNet(t, f, 2), [][]lnet.NID{{lnet.MustParseNID("1@lo")}})
	node := []wire.ServiceNode{{NIDs: []lnet.NID{lnet.MustParseNID("2@lo")}}}
	g1, err := c.Register(ctx(t), wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindMDT, UUID: "m", Nodes: node})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *wire.ConfigReadReply, 16)
	// From generation 0, the current configuration comes at once.
	if err := c.Watch(ctx(t), "testfs", 0, func(r *wire.ConfigReadReply) { got <- r }); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.Gen != g1 || len(r.Targets) != 1 {
		t.Fatalf("first delivery gen %d with %d targets", r.Gen, len(r.Targets))
	}
	g2, err := c.SetParamP(ctx(t), "testfs", "a.b=1", false)
	if err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.Gen != g2 || !slices.Equal(r.Params, []string{"a.b=1"}) {
		t.Fatalf("second delivery gen %d params %q, want %d", r.Gen, r.Params, g2)
	}
	// Polls go on; every one after a delivery carries the generation seen,
	// and the unchanged configuration is not delivered again.
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(5 * time.Millisecond) {
		if _, u := m.counts(); u >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch stopped polling")
		}
	}
	m.mu.Lock()
	since := slices.Clone(m.since)
	m.mu.Unlock()
	if since[0] != 0 || since[len(since)-1] != g2 {
		t.Errorf("SinceGen sequence %v: want 0 first and %d last", since, g2)
	}
	if !slices.IsSorted(since) {
		t.Errorf("SinceGen went back: %v", since)
	}
	select {
	case r := <-got:
		t.Errorf("unchanged configuration delivered: gen %d", r.Gen)
	default:
	}

	// A watch whose context ends stops; Close stops the others (the leak
	// check proves both).
	wctx, cancel := context.WithCancel(context.Background())
	if err := c.Watch(wctx, "testfs", g2, func(*wire.ConfigReadReply) {}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := c.Watch(ctx(t), "nosuch", 0, func(*wire.ConfigReadReply) { t.Error("delivery for an unknown fs") }); err != nil {
		t.Fatal(err)
	}
}

func TestBigConfig(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	m := startFake(t, newLNet(t, f, 1))
	c := newClient(t, newLNet(t, f, 2), [][]lnet.NID{{lnet.MustParseNID("1@lo")}})
	node := wire.ServiceNode{NIDs: make([]lnet.NID, wire.MaxNIDsPerNode)}
	for i := range node.NIDs {
		node.NIDs[i] = lnet.LoNID(uint32(i + 1))
	}
	m.mu.Lock()
	for i := 0; i < 600; i++ {
		m.targets = append(m.targets, wire.TargetEntry{Kind: wire.KindOST, Index: uint32(i), Name: "testfs-OST",
			UUID: "u", Nodes: []wire.ServiceNode{node}})
	}
	m.gen = 1
	m.mu.Unlock()
	rep, err := c.Config(ctx(t), "testfs")
	if err != nil {
		t.Fatal(err)
	}
	if size := len(wire.AppendBody(nil, rep)); len(rep.Targets) != 600 || size <= configReplySizes[0] {
		t.Errorf("%d targets in %d bytes: the test should need a larger reply buffer", len(rep.Targets), size)
	}
}

func TestClosed(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	startFake(t, newLNet(t, f, 1))
	c, err := New(Config{LNet: newLNet(t, f, 2), MGSNodes: [][]lnet.NID{{lnet.MustParseNID("1@lo")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Config(ctx(t), "nosuch"); !errors.Is(err, ErrUnknownFS) {
		t.Errorf("config of an unknown fs: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Config(ctx(t), "testfs"); !errors.Is(err, ErrClosed) {
		t.Errorf("Config after Close: %v", err)
	}
	if err := c.Watch(ctx(t), "testfs", 0, func(*wire.ConfigReadReply) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close: %v", err)
	}
}
