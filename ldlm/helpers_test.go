package ldlm

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/lnet/netfault"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

// testAT keeps callback and request timeouts short.
var testAT = ptlrpc.ATConfig{Min: 300 * time.Millisecond, Max: 5 * time.Second, History: 10 * time.Second,
	EarlyMargin: 150 * time.Millisecond, Extra: 500 * time.Millisecond}

const testTarget = "test-MDT0000"

// checkLeaks fails t if goroutines of this module started during the test
// are still running after its cleanups. Call it first.
func checkLeaks(t testing.TB) {
	t.Helper()
	leaktest.Check(t)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
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

func logger(t testing.TB, name string) *zap.Logger {
	if _, ok := t.(*testing.B); ok {
		return zap.NewNop()
	}
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(name)
}

// cluster is one lock server (a target with a namespace, on 1@lo) and the
// clients a test adds, each on its own LNet instance.
type cluster struct {
	t     testing.TB
	f     *lolnd.Fabric
	rules *netfault.Rules
	ln    *lnet.LNet
	ns    *Namespace
	tgt   *ptlrpc.Target
	next  uint32

	mu      sync.Mutex
	evicted []string
}

type clusterOpt func(*Config)

func newCluster(t testing.TB, opts ...clusterOpt) *cluster {
	t.Helper()
	cl := &cluster{t: t, f: lolnd.NewFabric(), rules: netfault.NewRules(1), next: 2}
	cl.ln = startLNet(t, cl.f, 1, nil)
	cfg := Config{
		Name: "mdt-" + testTarget + "_UUID", LNet: cl.ln, ASTTimeout: time.Second, CancelTimeout: 2 * time.Second,
		AT: testAT, Logger: logger(t, "server"),
		Evict: func(uuid string) {
			cl.mu.Lock()
			cl.evicted = append(cl.evicted, uuid)
			cl.mu.Unlock()
			cl.tgt.Evict(uuid)
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	ns, err := NewNamespace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cl.ns = ns
	handlers := ns.Handlers()
	// A modifying request carrying early cancels, as a reint will.
	handlers[wire.MDSReint] = func(_ context.Context, r *ptlrpc.Request) error {
		var cancels wire.CancelList
		if err := r.DecodeBody(&cancels); err != nil {
			return err
		}
		ns.Cancel(r.Export(), cancels.Handles)
		return nil
	}
	tgt, err := ptlrpc.NewTarget(ptlrpc.TargetConfig{Name: testTarget, Handlers: handlers})
	if err != nil {
		t.Fatal(err)
	}
	cl.tgt = tgt
	svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{
		Name: "mdt", LNet: cl.ln, Portal: wire.MDSRequestPortal, ReplyPortal: wire.MDCReplyPortal,
		Threads: 4, AT: testAT, Logger: logger(t, "service"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AddTarget(tgt); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Close()
		_ = ns.Close()
		if err := ns.Check(); err != nil {
			t.Errorf("at cleanup: %v", err)
		}
	})
	return cl
}

func (cl *cluster) evictedUUIDs() []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]string(nil), cl.evicted...)
}

func startLNet(t testing.TB, f *lolnd.Fabric, n uint32, rules *netfault.Rules) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks("lo(" + itoa(n) + ")")
	if err != nil {
		t.Fatal(err)
	}
	var lnd lnet.LND = lolnd.New(f)
	if rules != nil {
		lnd = netfault.Wrap(lnd, rules)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lnd}, Logger: logger(t, "lnet")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// tclient is one client process: its LNet, callback server, import and
// lock namespace, with hooks that record what they were called for.
type tclient struct {
	t    testing.TB
	nid  lnet.NID
	ln   *lnet.LNet
	cb   *CallbackServer
	imp  *ptlrpc.Import
	c    *Client
	uuid string

	mu        sync.Mutex
	cancelled []wire.LockDesc // Cancel hook calls
	evictedN  int             // Cancel hook calls after an eviction
	size      atomic.Uint64   // what Glimpse answers
	hold      chan struct{}   // if set, Cancel hooks wait for it to close
}

type clientOpt func(*ClientConfig)

// addClient starts a client; faulty wraps its LND with the cluster's
// netfault rules.
func (cl *cluster) addClient(faulty bool, opts ...clientOpt) *tclient {
	t := cl.t
	t.Helper()
	n := cl.next
	cl.next++
	var rules *netfault.Rules
	if faulty {
		rules = cl.rules
	}
	tc := &tclient{t: t, nid: lnet.LoNID(n)}
	tc.ln = startLNet(t, cl.f, n, rules)
	cb, err := StartCallbackServer(context.Background(), CallbackConfig{LNet: tc.ln, AT: testAT, Logger: logger(t, "cbd")})
	if err != nil {
		t.Fatal(err)
	}
	tc.cb = cb
	t.Cleanup(func() { _ = cb.Close() })
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{
		Target: testTarget, NIDs: []lnet.NID{lnet.LoNID(1)}, LNet: tc.ln, RequestPortal: wire.MDSRequestPortal,
		ReplyPortal: wire.MDCReplyPortal, ConnectOpcode: wire.MDSConnect, ConnectTimeout: 500 * time.Millisecond,
		ReconnectBackoff: 20 * time.Millisecond, PingInterval: -1, AT: testAT, Logger: logger(t, "import"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tc.imp = imp
	tc.uuid = imp.ClientUUID()
	t.Cleanup(func() { _ = imp.Close() })
	if err := imp.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	cfg := ClientConfig{
		Name: testTarget + "-mdc-" + itoa(n), Import: imp, Callbacks: cb, EvictionCheck: 20 * time.Millisecond,
		Logger: logger(t, "client"),
		Hooks: Hooks{
			Cancel: func(ctx context.Context, l *Lock, evicted bool) {
				tc.mu.Lock()
				tc.cancelled = append(tc.cancelled, l.Desc())
				if evicted {
					tc.evictedN++
				}
				hold := tc.hold
				tc.mu.Unlock()
				if hold != nil && !evicted {
					select {
					case <-hold:
					case <-ctx.Done():
					}
				}
			},
			Glimpse: func(l *Lock) (wire.LVB, error) {
				s := tc.size.Load()
				if s == 0 {
					return wire.LVB{}, ErrNoData
				}
				return wire.LVB{Size: s}, nil
			},
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc.c = c
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return tc
}

func (tc *tclient) cancelCount() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return len(tc.cancelled)
}

func (tc *tclient) enqueue(d wire.LockDesc) *Lock {
	tc.t.Helper()
	l, err := tc.c.Enqueue(testCtx(tc.t), d, 0)
	if err != nil {
		tc.t.Fatalf("enqueue %v %v: %v", d.Mode, d.Policy, err)
	}
	return l
}

// Lock descriptions for tests.
func resN(n uint64) wire.ResID { return wire.ResIDOfFID(wire.FID{Seq: 0x200000401, Oid: uint32(n)}) }

func ibits(res uint64, mode wire.LockMode, bits uint64) wire.LockDesc {
	return wire.LockDesc{Res: resN(res), Type: wire.LockIBits, Mode: mode, Policy: wire.Policy{Bits: bits}}
}

func extent(res uint64, mode wire.LockMode, start, end uint64) wire.LockDesc {
	return wire.LockDesc{Res: resN(res), Type: wire.LockExtent, Mode: mode, Policy: wire.Policy{Start: start, End: end}}
}

func plain(res uint64, mode wire.LockMode) wire.LockDesc {
	return wire.LockDesc{Res: resN(res), Type: wire.LockPlain, Mode: mode}
}

// mustCheck fails t if the namespace's invariants are broken.
func (cl *cluster) mustCheck() {
	cl.t.Helper()
	if err := cl.ns.Check(); err != nil {
		cl.t.Fatal(err)
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
