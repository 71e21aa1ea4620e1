package lolnd_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
)

// host records what an NI delivers; it takes every payload in Receive.
type host struct {
	mu    sync.Mutex
	msgs  []lnet.Header
	data  [][]byte
	peers map[lnet.NID]bool
	got   chan struct{}
}

func newHost() *host { return &host{peers: map[lnet.NID]bool{}, got: make(chan struct{}, 1<<16)} }

func (h *host) Receive(_ lnet.NI, from lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	sink := make([]byte, hdr.PayloadLen)
	rx.Recv(sink, func(err error) {
		h.mu.Lock()
		h.msgs = append(h.msgs, *hdr)
		h.data = append(h.data, sink)
		h.mu.Unlock()
		h.got <- struct{}{}
	})
}

func (h *host) PeerState(_ lnet.NI, peer lnet.NID, alive bool, _ error) {
	h.mu.Lock()
	h.peers[peer] = alive
	h.mu.Unlock()
}

func (h *host) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.got:
		case <-time.After(20 * time.Second):
			t.Fatal("message did not arrive")
		}
	}
}

func start(t *testing.T, l *lolnd.LND, ifs []string, h lnet.Host) lnet.NI {
	t.Helper()
	ni, err := l.Startup(context.Background(), lnet.NIConfig{Net: lnet.Net{Type: lnet.LoLND}, Interfaces: ifs}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ni.Close() })
	return ni
}

// send sends and returns a channel that gets the Tx's completion error.
func send(ni lnet.NI, to lnet.NID, bits uint64, payload []byte) chan error {
	done := make(chan error, 1)
	tx := &lnet.Tx{Dest: to, Payload: payload, OnComplete: func(_ *lnet.Tx, err error) { done <- err }}
	tx.Hdr = lnet.Header{Dest: to, Src: ni.NID(), Type: lnet.MsgPut, PayloadLen: uint32(len(payload)), MatchBits: bits}
	ni.Send(tx)
	return done
}

func TestOrderAndCopy(t *testing.T) {
	leaktest.Check(t)
	l := lolnd.New(lolnd.NewFabric())
	ha, hb := newHost(), newHost()
	a := start(t, l, []string{"3"}, ha)
	b := start(t, l, nil, hb)
	if a.NID() != lnet.LoNID(3) || b.NID() != lnet.LoNID(0) {
		t.Fatalf("NIDs %v %v", a.NID(), b.NID())
	}
	var dones []chan error
	for i := range 200 {
		dones = append(dones, send(a, b.NID(), uint64(i), []byte{byte(i), 1, 2}))
	}
	for _, d := range dones {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	hb.wait(t, 200)
	hb.mu.Lock()
	for i, hdr := range hb.msgs {
		if hdr.MatchBits != uint64(i) || hb.data[i][0] != byte(i) {
			t.Fatalf("message %d: bits %d data %v", i, hdr.MatchBits, hb.data[i])
		}
	}
	alive := hb.peers[a.NID()]
	hb.mu.Unlock()
	if !alive {
		t.Error("receiver not told the sender is alive")
	}
	if st := a.Status(); st.SendCount != 200 || st.SendBytes != 600 || !st.Up || st.Peers != 1 {
		t.Errorf("sender status %+v", st)
	}
	if st := b.Status(); st.RecvCount != 200 || st.RecvBytes != 600 {
		t.Errorf("receiver status %+v", st)
	}
}

func TestNoSuchPeerAndClose(t *testing.T) {
	leaktest.Check(t)
	l := lolnd.New(lolnd.NewFabric())
	ha, hb := newHost(), newHost()
	a := start(t, l, []string{"1"}, ha)
	b := start(t, l, []string{"2"}, hb)
	if err := <-send(a, lnet.LoNID(9), 0, nil); !errors.Is(err, lnet.ErrPeerDown) {
		t.Errorf("to nobody: %v", err)
	}
	if err := <-send(a, lnet.MustParseNID("10.0.0.1@tcp"), 0, nil); !errors.Is(err, lnet.ErrPeerDown) {
		t.Errorf("to tcp: %v", err)
	}
	if err := <-send(a, b.NID(), 0, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Startup(context.Background(), lnet.NIConfig{Net: lnet.Net{Type: lnet.LoLND}, Interfaces: []string{"2"}}, hb); !errors.Is(err, lolnd.ErrInUse) {
		t.Errorf("2@lo twice: %v", err)
	}
	if _, err := l.Startup(context.Background(), lnet.NIConfig{Net: lnet.Net{Type: lnet.LoLND}, Interfaces: []string{"x"}}, hb); !errors.Is(err, lnet.ErrBadNetworks) {
		t.Errorf("lo(x): %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	ha.mu.Lock()
	alive, known := ha.peers[b.NID()]
	ha.mu.Unlock()
	if !known || alive {
		t.Errorf("sender not told the receiver closed: known %v alive %v", known, alive)
	}
	if err := <-send(a, b.NID(), 0, nil); !errors.Is(err, lnet.ErrPeerDown) {
		t.Errorf("to closed: %v", err)
	}
	if err := <-send(b, a.NID(), 0, nil); !errors.Is(err, lnet.ErrClosed) {
		t.Errorf("from closed: %v", err)
	}
	// The number is free again: a restarted node gets its NID back.
	b2 := start(t, l, []string{"2"}, hb)
	if err := <-send(a, b2.NID(), 0, nil); err != nil {
		t.Errorf("to restarted: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
