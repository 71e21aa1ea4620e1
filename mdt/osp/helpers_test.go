package osp

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/mdt/internal/ostfake"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

var testAT = ptlrpc.ATConfig{Min: 200 * time.Millisecond, Max: 2 * time.Second, History: 10 * time.Second,
	EarlyMargin: 100 * time.Millisecond, Extra: 200 * time.Millisecond}

// checkLeaks fails t if goroutines of this module started during the test
// still run after its cleanups. Call it first.
func checkLeaks(t testing.TB) { leaktest.Check(t) }

// node starts an LNet instance on f.
func node(t testing.TB, f *lolnd.Fabric, networks string) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks(networks)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(f)},
		Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = ln.Close() }) })
	return ln
}

// env is an MDS node with a store and an OSS node with fake OSTs.
type env struct {
	t     *testing.T
	mds   *lnet.LNet
	oss   *ostfake.Server
	store *store.Store
}

func newEnv(t *testing.T, osts ...uint32) *env {
	t.Helper()
	f := lolnd.NewFabric()
	e := &env{t: t, mds: node(t, f, "lo(1)")}
	ossLN := node(t, f, "lo(2)")
	oss, err := ostfake.Start(ossLN, "testfs", zaptest.NewLogger(t).Named("oss"), osts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(oss.Close)
	e.oss = oss
	path := filepath.Join(t.TempDir(), "mdt.db")
	if err := store.Format(path, store.Label{FSName: "testfs", UUID: "testfs-MDT0000_UUID"}, store.FormatOptions{NoSync: true}, nil); err != nil {
		t.Fatal(err)
	}
	e.openStore(path)
	return e
}

func (e *env) openStore(path string) {
	s, err := store.Open(path, store.Options{NoSync: true, Logger: zaptest.NewLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	e.store = s
}

// device starts the proxy of OST idx with test timings.
func (e *env) device(idx uint32, tweak ...func(*Config)) *Device {
	e.t.Helper()
	cfg := Config{
		Target: ostfake.TargetName("testfs", idx), Index: idx, MDT: "testfs-MDT0000",
		NIDs: []lnet.NID{lnet.LoNID(2)}, LNet: e.mds, Store: e.store, Logger: zaptest.NewLogger(e.t),
		CreateTimeout: 2 * time.Second, RPCTimeout: time.Second, StatfsInterval: 50 * time.Millisecond,
		RetryInterval: 20 * time.Millisecond,
		Import: func(c *ptlrpc.ImportConfig) {
			c.ConnectTimeout, c.ReconnectBackoff, c.PingInterval, c.AT = 300*time.Millisecond, 20*time.Millisecond, -1, testAT
		},
	}
	for _, f := range tweak {
		f(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = d.Close() })
	return d
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

func waitReady(t testing.TB, d *Device) {
	t.Helper()
	select {
	case <-d.Ready():
	case <-time.After(waitLimit):
		t.Fatalf("%s never ready", d.Name())
	}
	waitFor(t, d.Name()+" available", func() bool { return d.QOS().Avail })
}
