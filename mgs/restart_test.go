package mgs

import (
	"context"
	"errors"
	"github.com/stria-fs/stria/internal/leaktest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/lnet/socklnd"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/wire"
)

func TestPersistenceAcrossRestart(t *testing.T) {
	e := newEnv(t)
	mds, oss, cli := e.newPeer(), e.newPeer(), e.newPeer()
	mustRegister(t, mds, reg("testfs", wire.KindMDT, 0, mds.node()))
	mustRegister(t, oss, reg("testfs", wire.KindOST, 7, oss.node(), mds.node()))
	if _, err := cli.mgc.SetParamP(ctx(t), "", "osc.*.max_dirty_mb=64", false); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.mgc.SetParamP(ctx(t), "testfs", "llite.*.statahead_max=0", false); err != nil {
		t.Fatal(err)
	}
	before := mustConfig(t, cli, "testfs")
	got := make(chan *wire.ConfigReadReply, 16)
	if err := cli.mgc.Watch(ctx(t), "testfs", before.Gen, func(r *wire.ConfigReadReply) { got <- r }); err != nil {
		t.Fatal(err)
	}

	e.stop()
	e.start()

	// The same client reconnects to the restarted MGS.
	after := mustConfig(t, cli, "testfs")
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("configuration changed across a restart:\nbefore %+v\nafter  %+v", before, after)
	}
	// The registry still owns its indexes, and generations go on upward.
	if _, err := cli.mgc.Register(ctx(t), wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindOST, Index: 7,
		UUID: "intruder", Nodes: []wire.ServiceNode{cli.node()}}); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("index conflict after restart: %v", err)
	}
	g := mustRegister(t, oss, reg("testfs", wire.KindOST, 8, oss.node()))
	if g <= before.Gen {
		t.Errorf("generation after restart %d, not above %d", g, before.Gen)
	}
	// A watch that ran across the restart sees the new target.
	if r := <-got; r.Gen != g || len(r.Targets) != 3 {
		t.Errorf("watch across the restart delivered gen %d with %d targets, want %d with 3", r.Gen, len(r.Targets), g)
	}
	// Views of file systems registered before the restart are back.
	if vs, err := e.node.Params.Get("mgs.MGS.live.testfs"); err != nil || !strings.Contains(vs[0].Value, "testfs-OST0008") {
		t.Errorf("live view after restart: %v %v", vs, err)
	}
}

func TestFormatAndStart(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	f := lolnd.NewFabric()
	ln := newLNet(t, f, "lo(1)")
	cfg := Config{Dir: dir, LNet: ln, Logger: zaptest.NewLogger(t), LockTimeout: 50 * time.Millisecond}

	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("Start of an unformatted dir: %v, want ErrNotFormatted", err)
	}
	if err := Format(dir, FormatOptions{Params: []string{"novalue"}}); !errors.Is(err, ErrBadParam) {
		t.Fatalf("Format with a bad parameter: %v, want ErrBadParam", err)
	}
	if err := Format(dir, FormatOptions{Params: []string{"sys.timeout=40"}}); err != nil {
		t.Fatal(err)
	}
	if err := Format(dir, FormatOptions{}); !errors.Is(err, ErrFormatted) {
		t.Fatalf("second Format: %v, want ErrFormatted", err)
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrLocked) {
		t.Errorf("second Start on the same dir: %v, want ErrLocked", err)
	}
	if err := Format(dir, FormatOptions{Reformat: true}); !errors.Is(err, ErrLocked) {
		t.Errorf("Reformat under a running MGS: %v, want ErrLocked", err)
	}
	if ps, err := s.st.globalParams(); err != nil || !slices.Equal(ps, []string{"sys.timeout=40"}) {
		t.Errorf("format params %q, %v", ps, err)
	}
	p := &wire.TargetRegRequest{FSName: "testfs", Kind: wire.KindMDT, UUID: "testfs-MDT0000_UUID",
		Nodes: []wire.ServiceNode{{NIDs: ln.NIDs()}}}
	if _, err := s.st.register(p, ln.NIDs()[0]); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Config("testfs")
	if err != nil || !slices.Equal(rep.Params, []string{"sys.timeout=40"}) {
		t.Errorf("global format params in a file system's config: %+v %v", rep, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Config("testfs"); !errors.Is(err, ErrClosed) {
		t.Errorf("Config after Close: %v", err)
	}
	if err := Format(dir, FormatOptions{Reformat: true}); err != nil {
		t.Fatal(err)
	}
	s, err = Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fss, err := s.FileSystems(); err != nil || len(fss) != 0 {
		t.Errorf("file systems after reformat: %q %v", fss, err)
	}
	if err := (&Config{LNet: ln}).Validate(); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Config without Dir: %v", err)
	}
}

func TestObdViews(t *testing.T) {
	e := newEnv(t)
	mds, oss := e.newPeer(), e.newPeer()
	mustRegister(t, mds, reg("testfs", wire.KindMDT, 0, mds.node()))
	mustRegister(t, oss, reg("testfs", wire.KindOST, 10, oss.node(), mds.node()))
	mustRegister(t, mds, reg("scratch", wire.KindMDT, 0, mds.node()))

	get := func(name string) string {
		t.Helper()
		vs, err := e.node.Params.Get(name)
		if err != nil || len(vs) != 1 {
			t.Fatalf("get_param %s: %v %v", name, vs, err)
		}
		return vs[0].Value
	}
	if got := get("mgs.MGS.filesystems"); got != "scratch\ntestfs\n" {
		t.Errorf("filesystems = %q", got)
	}
	live := get("mgs.MGS.live.testfs")
	for _, want := range []string{
		"fsname: testfs\n", "testfs-MDT0000\ntestfs-OST000a\n",
		`name: testfs-OST000a, uuid: testfs-OST000a_UUID, index: 10, nids: "3@lo", failover_nids: [ "2@lo" ]`,
	} {
		if !strings.Contains(live, want) {
			t.Errorf("live view lacks %q:\n%s", want, live)
		}
	}
	if got := get("mgs.MGS.uuid"); got != "MGS" {
		t.Errorf("uuid = %q", got)
	}
	if got := get("mgs.MGS.num_exports"); got != "2" {
		t.Errorf("num_exports = %q, want 2", got)
	}
	sock := t.TempDir()
	if err := e.node.Control.Listen(sock, "mgs"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.node.Close() })
	dl, err := obd.Call(ctx(t), e.node.Control.Path(), "dl")
	if err != nil || !strings.Contains(dl, " UP mgs MGS MGS 3\n") {
		t.Errorf("lctl dl = %q, %v; want the MGS with 2 exports", dl, err)
	}
	out, err := e.srv.cmdSetParamP(ctx(t), []string{"osc.*.checksums=0", "sys.at_max=60"})
	if err != nil || out != "osc.*.checksums=0\nsys.at_max=60\n" {
		t.Errorf("set_param_P = %q, %v", out, err)
	}
	if _, err := e.srv.cmdSetParamP(ctx(t), []string{"-d", "sys.at_max"}); err != nil {
		t.Errorf("set_param_P -d: %v", err)
	}
	if !strings.Contains(get("mgs.MGS.live.scratch"), `  - "osc.*.checksums=0"`) {
		t.Errorf("global parameter missing from the live view")
	}
	if _, err := e.srv.cmdSetParamP(ctx(t), nil); !errors.Is(err, ErrBadParam) {
		t.Errorf("set_param_P without a parameter: %v", err)
	}
	e.stop()
	if _, err := e.node.Params.Get("mgs.*"); !errors.Is(err, obd.ErrNoParam) {
		t.Errorf("parameters left after Close: %v", err)
	}
}

// portLND records the address each socklnd NI listens on, for Resolve:
// every NI listens on an ephemeral port of its own 127.0.0.x address.
type portLND struct {
	*socklnd.LND
	ports *sync.Map // lnet.NID → netip.AddrPort
}

func (l portLND) Startup(ctx context.Context, cfg lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	ni, err := l.LND.Startup(ctx, cfg, host)
	if err == nil {
		sni := ni.(*socklnd.NI)
		l.ports.Store(sni.NID(), sni.AddrPort())
	}
	return ni, err
}

func TestOverSocklnd(t *testing.T) {
	leaktest.Check(t)
	ports := &sync.Map{}
	resolve := func(nid lnet.NID) (netip.AddrPort, error) {
		if v, ok := ports.Load(nid); ok {
			return v.(netip.AddrPort), nil
		}
		return netip.AddrPort{}, errors.New("no node listens for " + nid.String())
	}
	lnd := portLND{socklnd.New(socklnd.Config{Resolve: resolve, ReconnectMin: 5 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond}), ports}
	mgsLN := newLNet(t, nil, "tcp(127.0.0.1)", lnd)
	dir := t.TempDir()
	if err := Format(dir, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Config{Dir: dir, LNet: mgsLN, Logger: zaptest.NewLogger(t), AT: testAT})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	cliLN := newLNet(t, nil, "tcp(127.0.0.2)", lnd)
	newClient := func(nodes [][]lnet.NID) *mgc.Client {
		c, err := mgc.New(mgc.Config{LNet: cliLN, MGSNodes: nodes, Logger: zaptest.NewLogger(t),
			ReconnectBackoff: 20 * time.Millisecond, AT: testAT})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	c := newClient([][]lnet.NID{{lnet.MustParseNID("10.9.9.9@o2ib"), lnet.MustParseNID("127.0.0.1@tcp")}})
	if nids := c.NIDs(); len(nids) != 1 || nids[0] != lnet.MustParseNID("127.0.0.1@tcp") {
		t.Fatalf("MGS NIDs %v: want the tcp one", nids)
	}
	node := wire.ServiceNode{NIDs: cliLN.NIDs()}
	gen, err := c.Register(ctx(t), reg("tcpfs", wire.KindOST, 0, node))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Config(ctx(t), "tcpfs")
	if err != nil || rep.Gen != gen || len(rep.Targets) != 1 || rep.Targets[0].Nodes[0].NIDs[0] != cliLN.NIDs()[0] {
		t.Fatalf("config over TCP: %+v, %v", rep, err)
	}
	if _, err := c.Config(ctx(t), "nope"); !errors.Is(err, mgc.ErrUnknownFS) {
		t.Errorf("unknown fsname over TCP: %v", err)
	}

	// An MGS that nobody runs: the call fails when the caller's deadline
	// passes, and says so.
	dead := newClient([][]lnet.NID{{lnet.MustParseNID("127.0.0.3@tcp")}})
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = dead.Config(short, "tcpfs")
	if !errors.Is(err, mgc.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unreachable MGS: %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "MGS 127.0.0.3@tcp unreachable") {
		t.Errorf("message %q does not name the MGS", err)
	}
}
