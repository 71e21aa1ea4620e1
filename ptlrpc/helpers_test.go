package ptlrpc

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

// testAT keeps timeouts short so that resend and failover tests run fast,
// yet long enough that a loaded machine does not time requests out.
var testAT = ATConfig{Min: 500 * time.Millisecond, Max: 5 * time.Second, History: 10 * time.Second,
	EarlyMargin: 250 * time.Millisecond, Extra: 500 * time.Millisecond}

const (
	testReqPortal   = wire.OSTIOPortal
	testReplyPortal = wire.OSCReplyPortal
	testBulkPortal  = wire.OSTBulkPortal
	testTarget      = "lustre-OST0000"
	opEcho          = wire.OSTGetattr
)

// node starts an LNet instance on f with the given networks string.
func node(t testing.TB, f *lolnd.Fabric, networks string, lnds ...lnet.LND) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks(networks)
	if err != nil {
		t.Fatal(err)
	}
	if len(lnds) == 0 {
		lnds = []lnet.LND{lolnd.New(f)}
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: lnds, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = ln.Close() }) })
	return ln
}

// server is a service with one target on its own node.
type server struct {
	ln       *lnet.LNet
	svc      *Service
	tgt      *Target
	transnos *TransnoCounter
}

type serverOpt func(*ServiceConfig, *TargetConfig)

func startServer(t testing.TB, ln *lnet.LNet, handlers map[wire.Opcode]Handler, opts ...serverOpt) *server {
	t.Helper()
	s := &server{ln: ln, transnos: &TransnoCounter{}}
	scfg := ServiceConfig{
		Name: "ost_io", LNet: ln, Portal: testReqPortal, ReplyPortal: testReplyPortal, BulkPortal: testBulkPortal,
		Threads: 4, AT: testAT, Logger: zaptest.NewLogger(t).Named("server"),
		RequestBufferSize: 256 << 10, MaxRequestSize: 16 << 10,
	}
	tcfg := TargetConfig{Name: testTarget, Handlers: handlers, LastCommitted: s.transnos.LastCommitted}
	for _, o := range opts {
		o(&scfg, &tcfg)
	}
	tgt, err := NewTarget(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AddTarget(tgt); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	s.svc, s.tgt = svc, tgt
	return s
}

type importOpt func(*ImportConfig)

func newImport(t testing.TB, ln *lnet.LNet, nids []lnet.NID, opts ...importOpt) *Import {
	t.Helper()
	cfg := ImportConfig{
		Target: testTarget, NIDs: nids, LNet: ln, RequestPortal: testReqPortal, ReplyPortal: testReplyPortal,
		BulkPortal: testBulkPortal, ConnectOpcode: wire.OSTConnect, ConnectTimeout: 500 * time.Millisecond,
		ReconnectBackoff: 20 * time.Millisecond, PingInterval: -1, AT: testAT,
		Logger: zaptest.NewLogger(t).Named("client"),
	}
	for _, o := range opts {
		o(&cfg)
	}
	imp, err := NewImport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = imp.Close() })
	return imp
}

func connect(t testing.TB, imp *Import) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := imp.Connect(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond until it holds; it fails t after waitLimit.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// echo replies with the request body.
func echo(_ context.Context, r *Request) error {
	r.Reply(r.Body())
	return nil
}

// pairSetup starts a server on 1@lo with handlers and a connected import on 2@lo.
func pairSetup(t testing.TB, handlers map[wire.Opcode]Handler, sopts []serverOpt, iopts ...importOpt) (*server, *Import) {
	t.Helper()
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	srv := startServer(t, sln, handlers, sopts...)
	imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, iopts...)
	connect(t, imp)
	return srv, imp
}

// waitTick paces polling loops inside handlers.
func waitTick() <-chan time.Time { return time.After(time.Millisecond) }
