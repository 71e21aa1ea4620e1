package mgs

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

// testAT keeps timeouts short so that reconnects after an MGS restart are fast.
var testAT = ptlrpc.ATConfig{Min: 300 * time.Millisecond, Max: 3 * time.Second, History: 10 * time.Second,
	EarlyMargin: 150 * time.Millisecond, Extra: 300 * time.Millisecond}

// newLNet starts an LNet instance with the given networks and LNDs
// (default: lolnd on f), closed when the test ends.
func newLNet(t testing.TB, f *lolnd.Fabric, networks string, lnds ...lnet.LND) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks(networks)
	if err != nil {
		t.Fatal(err)
	}
	if len(lnds) == 0 {
		lnds = []lnet.LND{lolnd.New(f)}
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: lnds,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(networks)})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = ln.Close() }) })
	return ln
}

// env is an MGS on lo(1) of its own fabric, with fake targets and clients
// on lo(2), lo(3)...
type env struct {
	t    testing.TB
	f    *lolnd.Fabric
	dir  string
	ln   *lnet.LNet
	node *obd.Node
	log  *zap.Logger
	srv  *Server
	next int // next lo number for a client node
}

func newEnv(t testing.TB) *env {
	t.Helper()
	leaktest.Check(t)
	e := &env{t: t, f: lolnd.NewFabric(), dir: t.TempDir(), next: 2}
	e.ln = newLNet(t, e.f, "lo(1)")
	e.node = obd.NewNode(zaptest.NewLogger(t))
	e.log = testLogger(t).Named("mgs")
	if err := Format(e.dir, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *env) start() {
	e.t.Helper()
	s, err := Start(context.Background(), Config{Dir: e.dir, LNet: e.ln, Node: e.node, Logger: e.log, AT: testAT})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = s
}

func (e *env) stop() {
	e.t.Helper()
	if e.srv == nil {
		return
	}
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("close MGS: %v", err)
	}
	e.srv = nil
}

func (e *env) mgsNodes() [][]lnet.NID { return [][]lnet.NID{e.ln.NIDs()} }

// peer is a fake target or client: an LNet of its own and an MGC.
type peer struct {
	ln  *lnet.LNet
	mgc *mgc.Client
}

func (p *peer) nid() lnet.NID { return p.ln.NIDs()[0] }

// node returns the peer's NIDs as one service node.
func (p *peer) node() wire.ServiceNode { return wire.ServiceNode{NIDs: p.ln.NIDs()} }

func (e *env) newPeer() *peer {
	e.t.Helper()
	ln := newLNet(e.t, e.f, "lo("+strconv.Itoa(e.next)+")")
	e.next++
	c, err := mgc.New(mgc.Config{LNet: ln, MGSNodes: e.mgsNodes(), Logger: testLogger(e.t).Named("mgc"),
		PollInterval: 10 * time.Millisecond, ConnectTimeout: time.Second, ReconnectBackoff: 20 * time.Millisecond,
		AT: testAT})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := c.Close(); err != nil {
			e.t.Errorf("close mgc: %v", err)
		}
	})
	return &peer{ln: ln, mgc: c}
}

// testLogger is a zaptest logger, or for a benchmark a no-op one, so that
// per-request logs do not weigh on what it measures.
func testLogger(t testing.TB) *zap.Logger {
	if _, ok := t.(*testing.B); ok {
		return zap.NewNop()
	}
	return zaptest.NewLogger(t)
}

// ctx returns a context bounded by waitLimit.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

func reg(fs string, kind wire.TargetKind, index uint32, nodes ...wire.ServiceNode) wire.TargetRegRequest {
	return wire.TargetRegRequest{FSName: fs, Kind: kind, Index: index, UUID: TargetUUID(fs, kind, index), Nodes: nodes}
}

func mustRegister(t testing.TB, p *peer, req wire.TargetRegRequest) uint64 {
	t.Helper()
	gen, err := p.mgc.Register(ctx(t), req)
	if err != nil {
		t.Fatalf("register %s-%s%04x: %v", req.FSName, req.Kind, req.Index, err)
	}
	return gen
}

func mustConfig(t testing.TB, p *peer, fs string) *wire.ConfigReadReply {
	t.Helper()
	rep, err := p.mgc.Config(ctx(t), fs)
	if err != nil {
		t.Fatalf("config %s: %v", fs, err)
	}
	return rep
}

// names lists a configuration's target names.
func names(rep *wire.ConfigReadReply) []string {
	out := make([]string, len(rep.Targets))
	for i, t := range rep.Targets {
		out[i] = t.Name
	}
	return out
}
