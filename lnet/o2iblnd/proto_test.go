package o2iblnd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/memverbs"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// TestNegotiation: an NI asking for a deeper queue, larger messages or more
// fragments than its peer takes is rejected and retries with the peer's
// values; both ends then use them.
func TestNegotiation(t *testing.T) {
	cl := newCluster(t, Config{})
	a := cl.startWith("10.0.0.1", 16, nil)
	b := cl.startWith("10.0.0.2", 4, func(c *Config) { c.MaxMsgSize = 1024; c.MaxFrags = 32 })
	talk(t, a, b)
	for _, n := range []*node{a, b} {
		peer := b.nid()
		if n == b {
			peer = a.nid()
		}
		c := n.connTo(peer)
		if c.cp != (connParams{QueueDepth: 4, MaxFrags: 32, MaxMsgSize: 1024}) || c.maxImm != 1024-immHdrSize {
			t.Errorf("%v: connection parameters %+v", n.nid(), c.cp)
		}
	}
	// A 2000-byte payload no longer fits a message: it goes by RDMA.
	regs := a.ni.cache.stats().Regs
	data := pattern(2000, 1)
	if err := send(t, a, putTx(a, b, data)); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, b.host.next(t).data, data)
	if a.ni.cache.stats().Regs == regs {
		t.Error("a 2000-byte PUT over 1 KiB messages did not use RDMA")
	}
}

// TestStalePeer: a peer that restarts before we noticed its death connects
// with a newer incarnation; the old connection is closed as stale, LNet
// hears it, and traffic flows on the new one.
func TestStalePeer(t *testing.T) {
	cl := newCluster(t, Config{Keepalive: -1})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	talk(t, a, b)
	b.dev.SetLinkDown(true) // b dies silently: a is not told
	if err := b.ni.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := cl.start("10.0.0.2", 0)
	data := pattern(100, 4)
	if err := send(t, b2, putTx(b2, a, data)); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, a.host.nextFrom(t, b2.nid()).data, data)
	ev := a.host.waitEvent(t, b.nid(), false)
	if !errors.Is(ev.err, lnet.ErrStalePeer) {
		t.Errorf("old incarnation went with %v, want lnet.ErrStalePeer", ev.err)
	}
	a.host.waitEvent(t, b.nid(), true)
	talk(t, a, b2)
}

// TestKeepalive: a peer cut off the fabric is found out by the keepalive
// NOOP failing; LNet hears it.
func TestKeepalive(t *testing.T) {
	cl := newCluster(t, Config{Keepalive: 5 * time.Millisecond})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	talk(t, a, b)
	b.dev.SetLinkDown(true)
	ev := a.host.waitEvent(t, b.nid(), false)
	if !errors.Is(ev.err, lnet.ErrPeerDown) || !errors.Is(ev.err, ErrCompletion) {
		t.Errorf("dead peer reported with %v", ev.err)
	}
	if err := send(t, a, putTx(a, b, []byte("x"))); !errors.Is(err, lnet.ErrPeerDown) {
		t.Errorf("send to a dead peer: %v", err)
	}
	b.dev.SetLinkDown(false)
	talk(t, a, b)
}

// TestExchangeTimeout: a peer that never answers a PUT_REQ has its
// connection closed after Timeout; the PUT fails.
func TestExchangeTimeout(t *testing.T) {
	cl := newCluster(t, Config{Timeout: 50 * time.Millisecond, Keepalive: -1})
	a := cl.start("10.0.0.1", 0)
	rp := newRawPeer(t, cl, "10.0.0.9")
	established := rp.listen()
	done := make(chan error, 1)
	tx := &lnet.Tx{Dest: rp.nid, Hdr: lnet.Header{Dest: rp.nid, Src: a.nid(), Type: lnet.MsgPut, PayloadLen: 64 << 10},
		Payload: make([]byte, 64<<10), OnComplete: func(_ *lnet.Tx, err error) { done <- err }}
	a.ni.Send(tx)
	established()
	if m, ok := rp.recv(); !ok || m.Type != msgPutReq {
		t.Fatalf("raw peer got %v", m.Type)
	}
	err := <-done
	if !errors.Is(err, lnet.ErrPeerDown) || !errors.Is(err, lnet.ErrTimeout) {
		t.Fatalf("unanswered PUT: %v", err)
	}
	rp.expectClosed()
	checkMRs(t, a)
}

func TestStartupErrors(t *testing.T) {
	ctx := context.Background()
	host := newHost(t)
	o2ib := lnet.Net{Type: lnet.O2IBLND}
	// The host's devices: without the rdma tag there is no RDMA support at
	// all; with it, no device behind an interface that does not exist.
	l, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Startup(ctx, lnet.NIConfig{Net: o2ib, Interfaces: []string{"stria-no-ib0"}}, host)
	if !errors.Is(err, lnet.ErrNotSupported) || !(errors.Is(err, ErrNoRDMA) || errors.Is(err, ErrNoDevice)) {
		t.Errorf("host devices: %v", err)
	}
	// An interface of the fabric without an RDMA device.
	f := memverbs.NewFabric()
	l, _ = New(Config{Provider: f})
	_, err = l.Startup(ctx, lnet.NIConfig{Net: o2ib, Interfaces: []string{"eth0"}}, host)
	if !errors.Is(err, lnet.ErrNotSupported) || !errors.Is(err, ErrNoDevice) {
		t.Errorf("no device: %v", err)
	}
	f.AddDevice("mlx5_0", "ib0", netip.MustParseAddr("10.0.0.1"))
	for _, nc := range []lnet.NIConfig{
		{Net: o2ib, Interfaces: []string{"ib0", "ib1"}},
		{Net: lnet.Net{Type: lnet.SockLND}, Interfaces: []string{"ib0"}},
	} {
		if _, err := l.Startup(ctx, nc, host); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v", nc, err)
		}
	}
	// ib0 is the default interface; a second NI on the same address cannot listen.
	ni, err := l.Startup(ctx, lnet.NIConfig{Net: o2ib}, host)
	if err != nil {
		t.Fatal(err)
	}
	if ni.NID() != lnet.MustParseNID("10.0.0.1@o2ib") {
		t.Errorf("NID %v", ni.NID())
	}
	if _, err := l.Startup(ctx, lnet.NIConfig{Net: o2ib, Interfaces: []string{"10.0.0.1"}}, host); !errors.Is(err, verbs.ErrAddrInUse) {
		t.Errorf("second NI on one address: %v", err)
	}
	if err := ni.Close(); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s != (memverbs.Stats{}) {
		t.Errorf("leak after failed starts: %+v", s)
	}
	for _, c := range []Config{{Port: 70000}, {MaxMsgSize: 100}, {MaxFrags: -1}, {Timeout: -1}, {CreditsHiw: -2}} {
		if _, err := New(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
}

// TestRecvMisuse: a second Recv, or a sink longer than the payload, is
// reported to done and does not disturb the connection.
func TestRecvMisuse(t *testing.T) {
	cl := newCluster(t, Config{})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	errs := make(chan error, 8)
	b.host.handle = func(_ lnet.NI, _ lnet.NID, hdr *lnet.Header, rx lnet.Rx) bool {
		if hdr.MatchBits != 1 {
			return false
		}
		rx.Recv(make([]byte, hdr.PayloadLen+1), func(err error) { errs <- err })
		rx.Recv(nil, func(err error) { errs <- err })
		return true
	}
	for _, size := range []int{10, 64 << 10} {
		tx := putTx(a, b, make([]byte, size))
		tx.Hdr.MatchBits = 1
		if err := send(t, a, tx); err != nil && size == 10 {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := <-errs; !errors.Is(err, ErrRecvMisuse) {
				t.Errorf("%d bytes, call %d: %v", size, i, err)
			}
		}
	}
	talk(t, a, b)
}

// TestRegistrationFailure: a sink that cannot be registered gets PUT_NAK
// with -ENOMEM; the PUT fails on both sides and the connection stays.
func TestRegistrationFailure(t *testing.T) {
	cl := newCluster(t, Config{})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	talk(t, a, b)
	b.dev.SetMRLimit(b.dev.MRs())
	err := send(t, a, putTx(a, b, make([]byte, 64<<10)))
	if !errors.Is(err, ErrRemote) {
		t.Errorf("PUT into an unregistrable sink: %v", err)
	}
	if got := b.host.next(t); !errors.Is(got.err, verbs.ErrNoMemory) {
		t.Errorf("receiver's done: %v", got.err)
	}
	b.dev.SetMRLimit(0)
	talk(t, a, b)
	if a.connTo(b.nid()) == nil {
		t.Error("connection closed")
	}
}

// TestCreditsUnderLoad: shallow queues, every kind of exchange in both
// directions at once from the first message (so both NIs connect at once),
// Recv called late from other goroutines: everything arrives, no send ever
// finds the peer without a receive buffer, and the connection ends idle with
// every credit back.
func TestCreditsUnderLoad(t *testing.T) {
	for _, qd := range []int{1, 2, 8} {
		t.Run(fmt.Sprint("depth", qd), func(t *testing.T) {
			cl := newCluster(t, Config{})
			a, b := cl.start("10.0.0.1", qd), cl.start("10.0.0.2", qd)
			src := pattern(256<<10, 5)
			for _, n := range []*node{a, b} {
				n.host.getData = src
				h := n.host
				h.handle = func(ni lnet.NI, from lnet.NID, hdr *lnet.Header, rx lnet.Rx) bool {
					if hdr.Type == lnet.MsgGet {
						return false
					}
					go func() { // Recv later, from another goroutine, as LNet may
						a := arrival{from: from, hdr: *hdr, data: make([]byte, hdr.PayloadLen)}
						rx.Recv(a.data, func(err error) { a.err = err; h.arrived <- a })
					}()
					return true
				}
			}
			const per = 40
			var wg sync.WaitGroup
			errs := make(chan error, 8*per)
			for _, p := range [][2]*node{{a, b}, {b, a}} {
				from, to := p[0], p[1]
				wg.Add(3)
				go func() {
					defer wg.Done()
					for i := range per {
						if err := send(t, from, putTx(from, to, pattern(100, byte(i)))); err != nil {
							errs <- err
						}
					}
				}()
				go func() {
					defer wg.Done()
					for i := range per / 4 {
						if err := send(t, from, putTx(from, to, pattern(128<<10, byte(i)))); err != nil {
							errs <- err
						}
					}
				}()
				go func() {
					defer wg.Done()
					for range per / 4 {
						sink := make([]byte, 256<<10)
						if r := get(t, from, to, sink); r.sent != nil || r.err != nil || r.n != len(sink) {
							errs <- errors.Join(r.sent, r.err)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for _, n := range []*node{a, b} {
				got := 0
				for got < per+per/4 {
					if m := n.host.next(t); m.hdr.Type == lnet.MsgPut {
						if m.err != nil {
							t.Fatal(m.err)
						}
						got++
					}
				}
			}
			checkIdle(t, a.connTo(b.nid()))
			checkIdle(t, b.connTo(a.nid()))
			ca, cb := a.connTo(b.nid()), b.connTo(a.nid())
			eventually(t, "every credit back", func() bool {
				ca.mu.Lock()
				credA, owedA := ca.credits, ca.owed
				ca.mu.Unlock()
				cb.mu.Lock()
				credB, owedB := cb.credits, cb.owed
				cb.mu.Unlock()
				return credA+owedB == qd && credB+owedA == qd
			})
			if s := cl.f.Stats(); s.RNR != 0 {
				t.Errorf("%d sends found no receive buffer", s.RNR)
			}
		})
	}
}

// TestGetCompletionOrder: the initiator of a GET hears ReplyDone before
// Complete, when the data landed and when the connection failed first:
// LNet releases the sink at Complete.
func TestGetCompletionOrder(t *testing.T) {
	cl := newCluster(t, Config{Keepalive: 5 * time.Millisecond})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	b.host.getData = pattern(1<<20, 6)
	run := func() ([]string, []error) {
		var mu sync.Mutex
		var order []string
		var errs []error
		done := make(chan struct{})
		tx := &lnet.Tx{
			Dest:      b.nid(),
			Hdr:       lnet.Header{Dest: b.nid(), Src: a.nid(), Type: lnet.MsgGet, Length: 1 << 20},
			ReplySink: make([]byte, 1<<20),
			OnReplyDone: func(_ *lnet.Tx, _ int, err error) {
				mu.Lock()
				order, errs = append(order, "ReplyDone"), append(errs, err)
				mu.Unlock()
			},
			OnComplete: func(_ *lnet.Tx, err error) {
				mu.Lock()
				order, errs = append(order, "Complete"), append(errs, err)
				mu.Unlock()
				close(done)
			},
		}
		a.ni.Send(tx)
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Fatal("GET never completed")
		}
		mu.Lock()
		defer mu.Unlock()
		return order, errs
	}
	order, errs := run()
	if fmt.Sprint(order) != "[ReplyDone Complete]" || errs[0] != nil || errs[1] != nil {
		t.Errorf("GET answered: %v %v", order, errs)
	}
	// b takes the GET and never answers; then it vanishes.
	b.host.mu.Lock()
	b.host.handle = func(_ lnet.NI, _ lnet.NID, hdr *lnet.Header, _ lnet.Rx) bool {
		if hdr.Type == lnet.MsgGet {
			b.dev.SetLinkDown(true)
			return true
		}
		return false
	}
	b.host.mu.Unlock()
	order, errs = run()
	if fmt.Sprint(order) != "[ReplyDone Complete]" || !errors.Is(errs[0], lnet.ErrPeerDown) || !errors.Is(errs[1], lnet.ErrPeerDown) {
		t.Errorf("GET unanswered: %v %v", order, errs)
	}
}
