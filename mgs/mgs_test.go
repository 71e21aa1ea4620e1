package mgs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

func TestRegisterAndConfig(t *testing.T) {
	e := newEnv(t)
	mds, oss1, oss2, cli := e.newPeer(), e.newPeer(), e.newPeer(), e.newPeer()

	// OSTs may register before the MDT; the configuration lists MDTs first.
	g1 := mustRegister(t, oss2, reg("testfs", wire.KindOST, 1, oss2.node()))
	g2 := mustRegister(t, oss1, reg("testfs", wire.KindOST, 0, oss1.node(), oss2.node()))
	g3 := mustRegister(t, mds, reg("testfs", wire.KindMDT, 0, mds.node()))
	if !(g1 < g2 && g2 < g3) {
		t.Fatalf("generations %d, %d, %d: want increasing", g1, g2, g3)
	}

	rep := mustConfig(t, cli, "testfs")
	if rep.Gen != g3 || rep.Unchanged {
		t.Fatalf("config gen %d unchanged %v, want %d", rep.Gen, rep.Unchanged, g3)
	}
	if got, want := names(rep), []string{"testfs-MDT0000", "testfs-OST0000", "testfs-OST0001"}; !slices.Equal(got, want) {
		t.Fatalf("targets %q, want %q", got, want)
	}
	ost0 := rep.Targets[1]
	if ost0.Kind != wire.KindOST || ost0.Index != 0 || ost0.UUID != "testfs-OST0000_UUID" {
		t.Errorf("OST0000 entry %+v", ost0)
	}
	if len(ost0.Nodes) != 2 || ost0.Nodes[0].NIDs[0] != oss1.nid() || ost0.Nodes[1].NIDs[0] != oss2.nid() {
		t.Errorf("OST0000 nodes %+v, want [%v] [%v]", ost0.Nodes, oss1.nid(), oss2.nid())
	}

	// The same registration again changes nothing.
	if g := mustRegister(t, oss1, reg("testfs", wire.KindOST, 0, oss1.node(), oss2.node())); g != g3 {
		t.Errorf("identical re-registration: gen %d, want %d", g, g3)
	}

	// A reader holding the current generation is answered Unchanged, and
	// nothing else.
	un, err := cli.mgc.ConfigSince(ctx(t), "testfs", g3)
	if err != nil {
		t.Fatal(err)
	}
	if !un.Unchanged || un.Gen != g3 || len(un.Targets) != 0 || len(un.Params) != 0 {
		t.Errorf("ConfigSince(current) = %+v, want only Unchanged and Gen %d", un, g3)
	}
	full, err := cli.mgc.ConfigSince(ctx(t), "testfs", g3-1)
	if err != nil {
		t.Fatal(err)
	}
	if full.Unchanged || len(full.Targets) != 3 {
		t.Errorf("ConfigSince(older) = %+v, want the whole configuration", full)
	}

	// A second file system is separate.
	mustRegister(t, mds, reg("other", wire.KindMDT, 0, mds.node()))
	if got := names(mustConfig(t, cli, "other")); !slices.Equal(got, []string{"other-MDT0000"}) {
		t.Errorf("other: %q", got)
	}
	fss, err := e.srv.FileSystems()
	if err != nil || !slices.Equal(fss, []string{"other", "testfs"}) {
		t.Errorf("FileSystems = %q, %v", fss, err)
	}
}

func TestReRegisterNewNIDs(t *testing.T) {
	e := newEnv(t)
	a, b, c, cli := e.newPeer(), e.newPeer(), e.newPeer(), e.newPeer()
	g1 := mustRegister(t, a, reg("testfs", wire.KindOST, 3, a.node()))

	// Failover to b, which lists a as the other service node: accepted, b
	// becomes the primary.
	g2 := mustRegister(t, b, reg("testfs", wire.KindOST, 3, b.node(), a.node()))
	if g2 <= g1 {
		t.Fatalf("re-registration with new nodes: gen %d after %d", g2, g1)
	}
	rep := mustConfig(t, cli, "testfs")
	if n := rep.Targets[0].Nodes; len(n) != 2 || n[0].NIDs[0] != b.nid() || n[1].NIDs[0] != a.nid() {
		t.Fatalf("nodes after failover: %+v", n)
	}

	// Back on a, which is a listed node, with one more NID.
	extra := wire.ServiceNode{NIDs: []lnet.NID{a.nid(), lnet.MustParseNID("10.0.0.1@o2ib")}}
	g3 := mustRegister(t, a, reg("testfs", wire.KindOST, 3, extra, b.node()))
	if g3 <= g2 {
		t.Fatalf("gen %d after %d", g3, g2)
	}
	rep = mustConfig(t, cli, "testfs")
	if got := rep.Targets[0].Nodes[0].NIDs; !slices.Equal(got, extra.NIDs) {
		t.Errorf("primary NIDs %v, want %v", got, extra.NIDs)
	}

	// c shares nothing with the recorded nodes: refused, nothing changes.
	_, err := c.mgc.Register(ctx(t), reg("testfs", wire.KindOST, 3, c.node()))
	if !errors.Is(err, mgc.ErrIndexInUse) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("registration from an unlisted node: %v, want ErrIndexInUse", err)
	}
	if rep2 := mustConfig(t, cli, "testfs"); rep2.Gen != g3 {
		t.Errorf("refused registration changed the generation: %d, want %d", rep2.Gen, g3)
	}
}

func TestIndexConflict(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	e := newEnv(t)
	e.stop()
	e.log = zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	e.start()
	a, b := e.newPeer(), e.newPeer()
	first := wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindOST, Index: 0, UUID: "disk-a", Nodes: []wire.ServiceNode{a.node()}}
	gen := mustRegister(t, a, first)

	second := first
	second.UUID = "disk-b"
	_, err := b.mgc.Register(ctx(t), second)
	if !errors.Is(err, mgc.ErrIndexInUse) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("different UUID on an owned index: %v, want ErrIndexInUse/EADDRINUSE", err)
	}
	// Even from a listed node, a different UUID does not take the index.
	second.Nodes = []wire.ServiceNode{a.node()}
	if _, err := a.mgc.Register(ctx(t), second); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("different UUID from the owner's node: %v", err)
	}
	// One UUID cannot own two indexes.
	moved := first
	moved.Index = 1
	if _, err := a.mgc.Register(ctx(t), moved); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("UUID claiming a second index: %v", err)
	}
	var reasons []string
	for _, ent := range logs.FilterMessage("mgs: registration refused").All() {
		reasons = append(reasons, fmt.Sprint(ent.ContextMap()["error"]))
	}
	if len(reasons) != 3 || !strings.Contains(reasons[0], "testfs-OST0000 is owned by disk-a") ||
		!strings.Contains(reasons[2], "UUID disk-a already belongs to testfs-OST0000") {
		t.Errorf("logged reasons %q", reasons)
	}
	rep := mustConfig(t, a, "testfs")
	if rep.Gen != gen || len(rep.Targets) != 1 || rep.Targets[0].UUID != "disk-a" {
		t.Errorf("configuration after refusals: %+v", rep)
	}
}

func TestBadRegistrations(t *testing.T) {
	e := newEnv(t)
	p := e.newPeer()
	n := p.node()
	for name, req := range map[string]wire.TargetRegRequest{
		"long fsname":      reg("ninechars", wire.KindMDT, 0, n),
		"empty fsname":     {Kind: wire.KindMDT, UUID: "u", Nodes: []wire.ServiceNode{n}},
		"bad character":    reg("a.b", wire.KindMDT, 0, n),
		"MDT index":        reg("testfs", wire.KindMDT, MaxMDTIndex+1, n),
		"OST index":        reg("testfs", wire.KindOST, 0xffff, n),
		"UUID of another":  {FSName: "testfs", Kind: wire.KindOST, Index: 1, UUID: "testfs-OST0002_UUID", Nodes: []wire.ServiceNode{n}},
		"UUID of other fs": {FSName: "testfs", Kind: wire.KindOST, Index: 1, UUID: "x-OST0001_UUID", Nodes: []wire.ServiceNode{n}},
		"blank in UUID":    {FSName: "testfs", Kind: wire.KindOST, Index: 1, UUID: "a b", Nodes: []wire.ServiceNode{n}},
		"bad param":        {FSName: "testfs", Kind: wire.KindOST, Index: 1, UUID: "u", Nodes: []wire.ServiceNode{n}, Params: []string{"novalue"}},
	} {
		if _, err := p.mgc.Register(ctx(t), req); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%s: %v, want EINVAL", name, err)
		}
	}
	if fss, _ := e.srv.FileSystems(); len(fss) != 0 {
		t.Errorf("refused registrations created file systems %q", fss)
	}
}

func TestUnknownFS(t *testing.T) {
	e := newEnv(t)
	p := e.newPeer()
	mustRegister(t, p, reg("testfs", wire.KindMDT, 0, p.node()))
	_, err := p.mgc.Config(ctx(t), "tsetfs")
	if !errors.Is(err, mgc.ErrUnknownFS) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("unknown fsname: %v, want ErrUnknownFS/ENOENT", err)
	}
	if !strings.Contains(err.Error(), `file system "tsetfs" is not known to the MGS at 1@lo`) {
		t.Errorf("message %q does not say what happened", err)
	}
	if _, err := p.mgc.Config(ctx(t), "bad/name"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("malformed fsname: %v, want EINVAL", err)
	}
}

func TestWatchSeesLaterTargets(t *testing.T) {
	e := newEnv(t)
	mds, oss, cli := e.newPeer(), e.newPeer(), e.newPeer()
	mustRegister(t, mds, reg("testfs", wire.KindMDT, 0, mds.node()))
	rep := mustConfig(t, cli, "testfs")

	got := make(chan *wire.ConfigReadReply, 16)
	if err := cli.mgc.Watch(ctx(t), "testfs", rep.Gen, func(r *wire.ConfigReadReply) { got <- r }); err != nil {
		t.Fatal(err)
	}
	gen := mustRegister(t, oss, reg("testfs", wire.KindOST, 0, oss.node()))
	r := <-got
	if r.Gen != gen || !slices.Equal(names(r), []string{"testfs-MDT0000", "testfs-OST0000"}) {
		t.Fatalf("watch delivered gen %d %q, want gen %d with the new OST", r.Gen, names(r), gen)
	}

	// A persistent parameter reaches the watcher too.
	pg, err := cli.mgc.SetParamP(ctx(t), "", "osc.*.max_dirty_mb=64", false)
	if err != nil {
		t.Fatal(err)
	}
	r = <-got
	if r.Gen != pg || !slices.Equal(r.Params, []string{"osc.*.max_dirty_mb=64"}) {
		t.Fatalf("watch delivered gen %d params %q, want gen %d with the parameter", r.Gen, r.Params, pg)
	}
	select {
	case r := <-got:
		t.Errorf("unchanged configuration delivered again: gen %d", r.Gen)
	default:
	}
}

func TestSetParamP(t *testing.T) {
	e := newEnv(t)
	p := e.newPeer()
	opt := reg("testfs", wire.KindOST, 0, p.node())
	opt.Params = []string{"ost.stripe_hint=2", "sys.timeout=40"}
	mustRegister(t, p, opt)
	set := func(fs, param string, del bool) error {
		_, err := p.mgc.SetParamP(ctx(t), fs, param, del)
		return err
	}
	for _, s := range []struct{ fs, p string }{
		{"", "osc.*.max_dirty_mb=64"},
		{"testfs", "llite.*.max_read_ahead_mb=16"},
		{"", "osc.*.max_pages_per_rpc=1024"},
		{"", "osc.*.max_dirty_mb=128"}, // set again: new value, applied last
	} {
		if err := set(s.fs, s.p, false); err != nil {
			t.Fatalf("set %q: %v", s.p, err)
		}
	}
	if err := set("", "osc.*.max_pages_per_rpc", true); err != nil {
		t.Fatal(err)
	}
	want := []string{"ost.stripe_hint=2", "sys.timeout=40", "llite.*.max_read_ahead_mb=16", "osc.*.max_dirty_mb=128"}
	if got := mustConfig(t, p, "testfs").Params; !slices.Equal(got, want) {
		t.Fatalf("params %q, want %q", got, want)
	}

	// A changed --param at re-registration is stored; a deleted one that
	// the target still lists is not brought back.
	if err := set("testfs", "sys.timeout", true); err != nil {
		t.Fatal(err)
	}
	opt.Params = []string{"ost.stripe_hint=4", "sys.timeout=40"}
	mustRegister(t, p, opt)
	want = []string{"llite.*.max_read_ahead_mb=16", "osc.*.max_dirty_mb=128", "ost.stripe_hint=4"}
	if got := mustConfig(t, p, "testfs").Params; !slices.Equal(got, want) {
		t.Fatalf("params after re-registration %q, want %q", got, want)
	}

	for name, c := range map[string]struct {
		fs, p string
		del   bool
		errno syscall.Errno
	}{
		"no value":        {"", "osc.x", false, syscall.EINVAL},
		"blank in key":    {"", "a b=1", false, syscall.EINVAL},
		"newline":         {"", "a=1\n2", false, syscall.EINVAL},
		"unknown fs":      {"nosuch", "a=1", false, syscall.ENOENT},
		"bad fsname":      {"a.b", "a=1", false, syscall.EINVAL},
		"delete unset":    {"", "never.set", true, syscall.ENOENT},
		"delete fs unset": {"testfs", "osc.*.max_dirty_mb", true, syscall.ENOENT}, // it is global
	} {
		if err := set(c.fs, c.p, c.del); !errors.Is(err, c.errno) {
			t.Errorf("%s: %v, want %v", name, err, c.errno)
		}
	}

	// Only root may set persistent parameters.
	user := ptlrpc.WithCreds(ctx(t), ptlrpc.Creds{UID: 1000, GID: 1000, FSUID: 1000, FSGID: 1000})
	if _, err := p.mgc.SetParamP(user, "", "a=1", false); !errors.Is(err, syscall.EPERM) {
		t.Errorf("set_param -P as uid 1000: %v, want EPERM", err)
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	e := newEnv(t)
	const n = 8
	peers := make([]*peer, n)
	for i := range peers {
		peers[i] = e.newPeer()
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two peers race for each index with different UUIDs.
			req := wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindOST, Index: uint32(i / 2),
				UUID: fmt.Sprintf("disk-%d", i), Nodes: []wire.ServiceNode{p.node()}}
			_, errs[i] = p.mgc.Register(ctx(t), req)
		}()
	}
	wg.Wait()
	rep := mustConfig(t, peers[0], "testfs")
	if len(rep.Targets) != n/2 {
		t.Fatalf("%d targets registered, want %d", len(rep.Targets), n/2)
	}
	for i := 0; i < n; i += 2 {
		won := rep.Targets[i/2].UUID
		for j := i; j < i+2; j++ {
			mine := fmt.Sprintf("disk-%d", j)
			switch {
			case mine == won && errs[j] != nil:
				t.Errorf("%s owns OST%04x but its registration failed: %v", mine, i/2, errs[j])
			case mine != won && !errors.Is(errs[j], syscall.EADDRINUSE):
				t.Errorf("%s lost OST%04x to %s: %v, want EADDRINUSE", mine, i/2, won, errs[j])
			}
		}
	}
}
