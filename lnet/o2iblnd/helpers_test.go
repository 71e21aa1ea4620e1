package o2iblnd

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/memverbs"
)

// waitLimit bounds every wait in these tests so that a bug fails the test
// instead of hanging it; nothing asserts on elapsed time.
const waitLimit = 20 * time.Second

// checkGoroutines fails t if goroutines started during the test are still
// running once it has cleaned up.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf)
		}
	})
}

// arrival is a message a test host received.
type arrival struct {
	from lnet.NID
	hdr  lnet.Header
	data []byte
	err  error
}

type peerEvt struct {
	nid   lnet.NID
	alive bool
	err   error
}

// host is a test lnet.Host: it receives PUTs and REPLYs into fresh buffers
// and answers GETs from getData (REPLY before Recv, as LNet does), or as
// handle says.
type host struct {
	t       testing.TB
	arrived chan arrival
	events  chan peerEvt

	mu      sync.Mutex
	getData []byte
	handle  func(ni lnet.NI, from lnet.NID, hdr *lnet.Header, rx lnet.Rx) bool // true: handled
}

func newHost(t testing.TB) *host {
	return &host{t: t, arrived: make(chan arrival, 4096), events: make(chan peerEvt, 256)}
}

func (h *host) Receive(ni lnet.NI, from lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	h.mu.Lock()
	handle, data := h.handle, h.getData
	h.mu.Unlock()
	if handle != nil && handle(ni, from, hdr, rx) {
		return
	}
	a := arrival{from: from, hdr: *hdr}
	if hdr.Type == lnet.MsgGet {
		if data != nil {
			data = data[:min(len(data), int(hdr.Length))]
			reply := &lnet.Tx{
				Dest:    from,
				Hdr:     lnet.Header{Dest: from, Src: ni.NID(), Type: lnet.MsgReply, PayloadLen: uint32(len(data)), WMD: hdr.WMD},
				Payload: data,
				GetRx:   rx,
			}
			ni.Send(reply)
		}
		rx.Recv(nil, func(err error) { a.err = err; h.arrived <- a })
		return
	}
	a.data = make([]byte, hdr.PayloadLen)
	rx.Recv(a.data, func(err error) { a.err = err; h.arrived <- a })
}

func (h *host) PeerState(_ lnet.NI, peer lnet.NID, alive bool, err error) {
	select {
	case h.events <- peerEvt{nid: peer, alive: alive, err: err}:
	default:
	}
}

func (h *host) next(t testing.TB) arrival {
	t.Helper()
	select {
	case a := <-h.arrived:
		return a
	case <-time.After(waitLimit):
		t.Fatal("no message arrived")
	}
	return arrival{}
}

// nextFrom returns the next message from peer, dropping others.
func (h *host) nextFrom(t testing.TB, peer lnet.NID) arrival {
	t.Helper()
	for {
		if a := h.next(t); a.from == peer {
			return a
		}
	}
}

// waitEvent returns the next peer event about nid with the given liveness.
func (h *host) waitEvent(t testing.TB, nid lnet.NID, alive bool) peerEvt {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case e := <-h.events:
			if e.nid == nid && e.alive == alive {
				return e
			}
		case <-deadline:
			t.Fatalf("no peer event %v alive=%v", nid, alive)
		}
	}
}

// node is one LNet NI over the in-memory fabric.
type node struct {
	ni   *ni
	host *host
	dev  *memverbs.Device
}

func (n *node) nid() lnet.NID { return n.ni.NID() }

type cluster struct {
	t    *testing.T
	f    *memverbs.Fabric
	cfg  Config
	devs map[string]*memverbs.Device
}

func newCluster(t *testing.T, cfg Config) *cluster {
	checkGoroutines(t)
	cl := &cluster{t: t, f: memverbs.NewFabric(), cfg: cfg, devs: map[string]*memverbs.Device{}}
	t.Cleanup(func() {
		if s := cl.f.Stats(); s != (memverbs.Stats{RNR: s.RNR}) {
			t.Errorf("verbs resources leaked: %+v", s)
		}
	})
	return cl
}

// device returns the device for address a (10.0.0.x), plugging it in the
// first time.
func (cl *cluster) device(a string) *memverbs.Device {
	if d := cl.devs[a]; d != nil {
		return d
	}
	i := strings.LastIndexByte(a, '.')
	d := cl.f.AddDevice("mlx5_"+a[i+1:], "ib"+a[i+1:], netip.MustParseAddr(a))
	cl.devs[a] = d
	return d
}

// start starts an NI on the device with address a, adding the device when
// there is none; credits is the queue depth (0: default).
func (cl *cluster) start(a string, credits int) *node {
	cl.t.Helper()
	return cl.startWith(a, credits, nil)
}

// startWith is start with the cluster's configuration changed by mod (a
// Provider it sets must open the cluster's devices, as gateProvider does).
func (cl *cluster) startWith(a string, credits int, mod func(*Config)) *node {
	cl.t.Helper()
	dev := cl.device(a)
	dev.SetLinkDown(false)
	cfg := cl.cfg
	if mod != nil {
		mod(&cfg)
	}
	if cfg.Provider == nil {
		cfg.Provider = cl.f
	}
	cfg.Logger = zaptest.NewLogger(cl.t).Named(a)
	l, err := New(cfg)
	if err != nil {
		cl.t.Fatal(err)
	}
	h := newHost(cl.t)
	nn, err := l.Startup(context.Background(), lnet.NIConfig{Net: lnet.Net{Type: lnet.O2IBLND}, Interfaces: []string{a}, PeerCredits: credits}, h)
	if err != nil {
		cl.t.Fatal(err)
	}
	n := &node{ni: nn.(*ni), host: h, dev: dev}
	cl.t.Cleanup(func() {
		if err := n.ni.Close(); err != nil {
			cl.t.Errorf("close %v: %v", n.nid(), err)
		}
	})
	return n
}

// send sends tx and waits for its completion.
func send(t testing.TB, from *node, tx *lnet.Tx) error {
	t.Helper()
	done := make(chan error, 1)
	tx.OnComplete = func(_ *lnet.Tx, err error) { done <- err }
	from.ni.Send(tx)
	select {
	case err := <-done:
		return err
	case <-time.After(waitLimit):
		t.Fatal("send did not complete")
	}
	return nil
}

func putTx(from, to *node, payload []byte) *lnet.Tx {
	return &lnet.Tx{
		Dest:    to.nid(),
		Hdr:     lnet.Header{Dest: to.nid(), Src: from.nid(), Type: lnet.MsgPut, PayloadLen: uint32(len(payload)), MatchBits: 42},
		Payload: payload,
	}
}

// getResult is what a GET's initiator learns.
type getResult struct {
	sent  error
	n     int
	err   error
	reply bool // ReplyDone was called (else the REPLY came as a message)
}

// get sends a GET for len(sink) bytes and waits for it to be sent and, when
// the data is placed directly, for ReplyDone.
func get(t testing.TB, from, to *node, sink []byte) getResult {
	t.Helper()
	sent := make(chan error, 1)
	replied := make(chan getResult, 1)
	tx := &lnet.Tx{
		Dest:        to.nid(),
		Hdr:         lnet.Header{Dest: to.nid(), Src: from.nid(), Type: lnet.MsgGet, Length: uint32(len(sink)), WMD: lnet.WireHandle{Object: 7}},
		ReplySink:   sink,
		OnComplete:  func(_ *lnet.Tx, err error) { sent <- err },
		OnReplyDone: func(_ *lnet.Tx, n int, err error) { replied <- getResult{n: n, err: err, reply: true} },
	}
	from.ni.Send(tx)
	var r getResult
	select {
	case r.sent = <-sent:
	case <-time.After(waitLimit):
		t.Fatal("GET not sent")
	}
	if r.sent != nil || len(sink) <= from.ni.cfg.MaxMsgSize-immHdrSize {
		return r
	}
	select {
	case rr := <-replied:
		rr.sent = r.sent
		return rr
	case <-time.After(waitLimit):
		t.Fatal("no ReplyDone")
	}
	return r
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func mustEqual(t testing.TB, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("data differs: got %d bytes, want %d (%s)", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) string {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at %d", i)
		}
	}
	return "one is a prefix of the other"
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// connTo returns n's connection to peer, or nil.
func (n *node) connTo(peer lnet.NID) *conn {
	n.ni.mu.Lock()
	defer n.ni.mu.Unlock()
	if p := n.ni.peers[peer]; p != nil {
		return p.conn
	}
	return nil
}

// checkIdle checks a connection's invariants once traffic has stopped: every
// credit back, every descriptor free, no exchange open.
func checkIdle(t testing.TB, c *conn) {
	t.Helper()
	eventually(t, "connection idle", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.freeTx) == len(c.txs) && len(c.ops) == 0 && c.sqUsed == 0 && c.txq.len() == 0 &&
			c.respq.len() == 0 && c.deliverQ.len() == 0 && !c.delivering
	})
}
