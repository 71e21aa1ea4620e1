package mdt

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/mdt/internal/ostfake"
	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/mdt/osp"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

var testAT = ptlrpc.ATConfig{Min: 300 * time.Millisecond, Max: 3 * time.Second, History: 10 * time.Second,
	EarlyMargin: 150 * time.Millisecond, Extra: 300 * time.Millisecond}

var ctx = context.Background()

// checkLeaks fails t if goroutines of this module started during the test
// still run after its cleanups. Call it first.
func checkLeaks(t testing.TB) { leaktest.Check(t) }

func node(t testing.TB, f *lolnd.Fabric, networks string) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks(networks)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(f)},
		Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = ln.Close() }) })
	return ln
}

// fakeMGC stands for the MGS: it records registrations and delivers the
// configuration it is given, synchronously, to the watcher.
type fakeMGC struct {
	mu    sync.Mutex
	regs  []wire.TargetRegRequest
	conf  wire.ConfigReadReply
	watch func(*wire.ConfigReadReply)
}

func (m *fakeMGC) Register(_ context.Context, req wire.TargetRegRequest) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.regs = append(m.regs, req)
	return m.conf.Gen, nil
}

func (m *fakeMGC) Watch(_ context.Context, _ string, _ uint64, fn func(*wire.ConfigReadReply)) error {
	m.mu.Lock()
	m.watch = fn
	conf := m.conf
	m.mu.Unlock()
	fn(&conf)
	return nil
}

// addOST publishes a configuration with one more OST at nid.
func (m *fakeMGC) addOST(idx uint32, nid lnet.NID) {
	m.mu.Lock()
	m.conf.Gen++
	m.conf.Targets = append(m.conf.Targets, wire.TargetEntry{Kind: wire.KindOST, Index: idx,
		Name: ostfake.TargetName("testfs", idx), UUID: ostfake.TargetName("testfs", idx) + "_UUID",
		Nodes: []wire.ServiceNode{{NIDs: []lnet.NID{nid}}}})
	conf, fn := m.conf, m.watch
	m.mu.Unlock()
	if fn != nil {
		fn(&conf)
	}
}

// env is an MDS (lo 1) with OSTs served by a fake OSS (lo 2) and a client
// node (lo 3).
type env struct {
	t      testing.TB
	fabric *lolnd.Fabric
	mdsLN  *lnet.LNet
	cliLN  *lnet.LNet
	oss    *ostfake.Server
	mgc    *fakeMGC
	dir    string
	node   *obd.Node
	srv    *Server
	cli    *ptlrpc.Import
	cb     *ldlm.CallbackServer // lockClient's callback service
	tweak  func(*Config)
	sync   bool // fsync the store (benchmarks)
	quiet  bool // no logs (benchmarks)
}

type envOpt func(*env, *FormatOptions)

func withParams(p ...string) envOpt {
	return func(_ *env, o *FormatOptions) { o.Params = append(o.Params, p...) }
}

func withConfig(f func(*Config)) envOpt { return func(e *env, _ *FormatOptions) { e.tweak = f } }

// newBenchEnv is an env with two OSTs, a store that fsyncs, and no logs.
func newBenchEnv(b *testing.B) *env {
	return newEnv(b, 2, func(e *env, o *FormatOptions) { e.sync, e.quiet, o.NoSync = true, true, false })
}

func newEnv(t testing.TB, nOSTs int, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, fabric: lolnd.NewFabric(), mgc: &fakeMGC{}, dir: filepath.Join(t.TempDir(), "mdt0")}
	e.mdsLN = node(t, e.fabric, "lo(1)")
	ossLN := node(t, e.fabric, "lo(2)")
	e.cliLN = node(t, e.fabric, "lo(3)")
	var idx []uint32
	for i := range nOSTs {
		idx = append(idx, uint32(i))
		e.mgc.addOST(uint32(i), lnet.LoNID(2))
	}
	oss, err := ostfake.Start(ossLN, "testfs", zap.NewNop(), idx...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oss.Close)
	e.oss = oss
	fo := FormatOptions{FSName: "testfs", Index: 0, MGSNodes: [][]lnet.NID{{lnet.LoNID(9)}}, NoSync: true}
	for _, o := range opts {
		o(e, &fo)
	}
	if _, err := Format(e.dir, fo); err != nil {
		t.Fatal(err)
	}
	e.node = obd.NewNode(zap.NewNop())
	e.start()
	e.connect()
	t.Cleanup(func() {
		e.stop()
		e.check()
	})
	if nOSTs > 0 {
		wctx, cancel := context.WithTimeout(ctx, waitLimit)
		defer cancel()
		if err := e.srv.WaitOSTs(wctx, nOSTs); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// check verifies the stopped MDT's store and namespace invariants (with no
// operation in flight, as bbolt's check needs).
func (e *env) check() {
	e.t.Helper()
	st, err := store.Open(storePath(e.dir), store.Options{NoSync: true})
	if err != nil {
		e.t.Errorf("check: %v", err)
		return
	}
	defer st.Close()
	m, err := mdd.New(st, mdd.Config{})
	if err == nil {
		err = m.Check(ctx)
	}
	if err != nil {
		e.t.Errorf("check: %v", err)
	}
}

func (e *env) config() Config {
	log := zap.NewNop()
	if !e.quiet {
		log = zaptest.NewLogger(e.t).Named("mds")
	}
	cfg := Config{Dir: e.dir, FSName: "testfs", LNet: e.mdsLN, Node: e.node, Logger: log,
		AT: testAT, MGC: e.mgc, NoSync: !e.sync, ReadyTimeout: 5 * time.Second, ExportCheckInterval: 20 * time.Millisecond,
		RecoveryWindow: 50 * time.Millisecond,
		OSP: func(c *osp.Config) {
			c.CreateTimeout, c.RPCTimeout, c.StatfsInterval, c.RetryInterval = 2*time.Second, time.Second, 50*time.Millisecond, 20*time.Millisecond
			c.Import = func(ic *ptlrpc.ImportConfig) {
				ic.ConnectTimeout, ic.ReconnectBackoff, ic.PingInterval, ic.AT = 300*time.Millisecond, 20*time.Millisecond, -1, testAT
			}
		}}
	if e.tweak != nil {
		e.tweak(&cfg)
	}
	return cfg
}

func (e *env) start() {
	e.t.Helper()
	srv, err := Start(ctx, e.config())
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
}

func (e *env) stop() {
	if e.cli != nil {
		_ = e.cli.Close()
		e.cli = nil
	}
	if e.srv != nil {
		if err := e.srv.Close(); err != nil {
			e.t.Errorf("close: %v", err)
		}
		e.srv = nil
	}
}

// restart stops the MDS and starts it again on the same directory; the
// client reconnects.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.start()
	e.connect()
}

func (e *env) connect() {
	e.t.Helper()
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{Target: "testfs-MDT0000", NIDs: []lnet.NID{lnet.LoNID(1)},
		LNet: e.cliLN, RequestPortal: wire.MDSRequestPortal, ReplyPortal: wire.MDCReplyPortal,
		BulkPortal: wire.MDSBulkPortal, ConnectOpcode: wire.MDSConnect, ClientUUID: "client-1",
		ConnectTimeout: 500 * time.Millisecond, ReconnectBackoff: 20 * time.Millisecond, PingInterval: -1,
		MaxReplySize: 1 << 20, AT: testAT, Logger: zap.NewNop()})
	if err != nil {
		e.t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := imp.Connect(cctx); err != nil {
		e.t.Fatal(err)
	}
	e.cli = imp
}

var (
	rootCreds  = ptlrpc.Creds{}
	aliceCreds = ptlrpc.Creds{UID: 1000, GID: 1000, FSUID: 1000, FSGID: 1000}
)

// call sends one request as c and decodes the reply into rep (nil: none).
func (e *env) call(c ptlrpc.Creds, opc wire.Opcode, body wire.Body, rep wire.Body) (uint64, error) {
	e.t.Helper()
	return e.send(c, &ptlrpc.Req{Opcode: opc, Encode: body}, rep)
}

func (e *env) send(c ptlrpc.Creds, req *ptlrpc.Req, rep wire.Body) (uint64, error) {
	e.t.Helper()
	cctx, cancel := context.WithTimeout(ptlrpc.WithCreds(ctx, c), waitLimit)
	defer cancel()
	r, err := e.cli.Call(cctx, req)
	defer r.Release()
	if err != nil {
		return 0, err
	}
	if rep != nil {
		// The reply aliases a pooled buffer: decode a copy, as the
		// decoded slices outlive the Release.
		if err := wire.DecodeBody(append([]byte(nil), r.Body...), rep); err != nil {
			e.t.Fatalf("%v reply: %v", req.Opcode, err)
		}
	}
	return r.Msg.Transno, nil
}

// reint sends an MDS_REINT of op with body.
func (e *env) reint(c ptlrpc.Creds, op wire.ReintOp, body wire.Body, rep wire.Body) (uint64, error) {
	e.t.Helper()
	return e.send(c, &ptlrpc.Req{Opcode: wire.MDSReint, Body: wire.AppendReint(nil, op, body)}, rep)
}

// create opens parent/name with O_CREAT|O_EXCL (and tmpl as the explicit
// layout) and closes it.
func (e *env) create(parent wire.FID, name string, tmpl *layout.Layout) (*wire.InodeReply, error) {
	e.t.Helper()
	rep, err := e.open(rootCreds, parent, name, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, tmpl)
	if err != nil {
		return nil, err
	}
	e.mustClose(rep)
	return rep, nil
}

func (e *env) open(c ptlrpc.Creds, parent wire.FID, name string, flags int, tmpl *layout.Layout) (*wire.InodeReply, error) {
	e.t.Helper()
	req := &wire.OpenRequest{Parent: parent, Name: name, Flags: uint32(flags), Mode: 0o644}
	if tmpl != nil {
		req.Layout = encode(e.t, tmpl)
	}
	var rep wire.InodeReply
	if _, err := e.reint(c, wire.ReintOpen, req, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

func (e *env) mustClose(rep *wire.InodeReply) {
	e.t.Helper()
	if _, err := e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: rep.FID, Handle: rep.Handle}, nil); err != nil {
		e.t.Fatalf("close %v: %v", rep.FID, err)
	}
}

func (e *env) mkdir(parent wire.FID, name string, def *layout.Layout) wire.FID {
	e.t.Helper()
	req := &wire.CreateRequest{Parent: parent, Name: name, Mode: syscall.S_IFDIR | 0o755, MDTIndex: -1}
	if def != nil {
		req.Layout = encode(e.t, def)
	}
	var rep wire.InodeReply
	if _, err := e.reint(rootCreds, wire.ReintCreate, req, &rep); err != nil {
		e.t.Fatalf("mkdir %s: %v", name, err)
	}
	return rep.FID
}

func (e *env) lookup(parent wire.FID, name string) (*wire.InodeReply, error) {
	var rep wire.InodeReply
	_, err := e.call(rootCreds, wire.MDSGetattrName, &wire.GetattrNameRequest{Parent: parent, Name: name}, &rep)
	return &rep, err
}

func (e *env) unlink(parent wire.FID, name string) {
	e.t.Helper()
	if _, err := e.reint(rootCreds, wire.ReintUnlink, &wire.UnlinkRequest{Parent: parent, Name: name}, nil); err != nil {
		e.t.Fatalf("unlink %s: %v", name, err)
	}
}

func encode(t testing.TB, l *layout.Layout) []byte {
	t.Helper()
	b, err := layout.Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t testing.TB, b []byte) *layout.Layout {
	t.Helper()
	l, err := layout.Decode(b)
	if err != nil {
		t.Fatalf("layout: %v", err)
	}
	return l
}

// tmpl is a plain template: count, size (0: unset), offset.
func tmpl(t testing.TB, count int32, size uint32, offset int32) *layout.Layout {
	t.Helper()
	l, err := layout.Template([]layout.Options{{Count: count, Size: size, Offset: offset}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// objects returns the objects of a layout's initialised components.
func objects(l *layout.Layout) []layout.Object {
	var out []layout.Object
	for i := range l.Components {
		out = append(out, l.Components[i].Stripe.Objects...)
	}
	return out
}

func wantErrno(t testing.TB, what string, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Fatalf("%s: %v, want %v", what, err, errno)
	}
}

func mustOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls cond until it holds; it fails the test after waitLimit.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gone reports whether no OST holds any of objs.
func (e *env) gone(objs []layout.Object) bool {
	for _, o := range objs {
		if e.oss.Has(o.OSTIndex, o.FID) {
			return false
		}
	}
	return true
}

func lolndFabric() *lolnd.Fabric { return lolnd.NewFabric() }

// reqRaw is a request with a raw body.
func reqRaw(opc wire.Opcode, body []byte) *ptlrpc.Req { return &ptlrpc.Req{Opcode: opc, Body: body} }

// ctxTimeout is a context bounded by waitLimit, cancelled at cleanup.
func ctxTimeout(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(ctx, waitLimit)
	t.Cleanup(cancel)
	return c
}
