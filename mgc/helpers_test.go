package mgc

import (
	"context"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

var testAT = ptlrpc.ATConfig{Min: 300 * time.Millisecond, Max: 3 * time.Second, History: 10 * time.Second,
	EarlyMargin: 150 * time.Millisecond, Extra: 300 * time.Millisecond}

func newLNet(t testing.TB, f *lolnd.Fabric, num int) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks("lo(" + strconv.Itoa(num) + ")")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(f)},
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = ln.Close() }) })
	return ln
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

// fakeMGS is a scripted MGS on a ptlrpc service: one file system "testfs"
// whose generation grows with every registration and parameter.
type fakeMGS struct {
	ln *lnet.LNet

	mu        sync.Mutex
	gen       uint64
	targets   []wire.TargetEntry
	params    []string
	reads     int // config reads answered with a configuration
	unchanged int // config reads answered Unchanged
	since     []uint64
}

func startFake(t testing.TB, ln *lnet.LNet) *fakeMGS {
	t.Helper()
	m := &fakeMGS{ln: ln}
	tgt, err := ptlrpc.NewTarget(ptlrpc.TargetConfig{Name: MGSName, Handlers: map[wire.Opcode]ptlrpc.Handler{
		wire.MGSTargetReg:  m.targetReg,
		wire.MGSConfigRead: m.configRead,
		wire.MGSSetInfo:    m.setInfo,
	}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{Name: "mgs", LNet: ln, Portal: wire.MGSRequestPortal,
		ReplyPortal: wire.MGCReplyPortal, BulkPortal: wire.MGSBulkPortal, Threads: 2, AT: testAT,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named("fake")})
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
	return m
}

func (m *fakeMGS) targetReg(_ context.Context, r *ptlrpc.Request) error {
	var req wire.TargetRegRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	if req.UUID == "taken" {
		return syscall.EADDRINUSE
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.targets = append(m.targets, wire.TargetEntry{Kind: req.Kind, Index: req.Index, UUID: req.UUID,
		Name: req.FSName + "-" + req.Kind.String(), Nodes: req.Nodes})
	r.ReplyBody(&wire.TargetRegReply{Gen: m.gen})
	return nil
}

func (m *fakeMGS) configRead(_ context.Context, r *ptlrpc.Request) error {
	var req wire.ConfigReadRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	if req.FSName != "testfs" {
		return syscall.ENOENT
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.since = append(m.since, req.SinceGen)
	if m.gen <= req.SinceGen {
		m.unchanged++
		r.ReplyBody(&wire.ConfigReadReply{Gen: m.gen, Unchanged: true})
		return nil
	}
	m.reads++
	r.ReplyBody(&wire.ConfigReadReply{Gen: m.gen, Targets: m.targets, Params: m.params})
	return nil
}

func (m *fakeMGS) setInfo(_ context.Context, r *ptlrpc.Request) error {
	var req wire.SetParamRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.params = append(m.params, req.Param)
	r.ReplyBody(&wire.SetParamReply{Gen: m.gen})
	return nil
}

func (m *fakeMGS) counts() (reads, unchanged int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads, m.unchanged
}

func newClient(t testing.TB, ln *lnet.LNet, nodes [][]lnet.NID) *Client {
	t.Helper()
	c, err := New(Config{LNet: ln, MGSNodes: nodes, Logger: zaptest.NewLogger(t).Named("mgc"),
		PollInterval: 5 * time.Millisecond, ReconnectBackoff: 20 * time.Millisecond, AT: testAT})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}
