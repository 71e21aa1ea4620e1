package o2iblnd

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/memverbs"
	"github.com/stria-fs/stria/lnet/socklnd"
)

// tcpLND is socklnd on ephemeral ports: it records where each NI listens,
// and dials peers there.
type tcpLND struct {
	*socklnd.LND
	ports *sync.Map // lnet.NID -> netip.AddrPort
}

func newTCPLND(ports *sync.Map) tcpLND {
	return tcpLND{LND: socklnd.New(socklnd.Config{Resolve: func(nid lnet.NID) (netip.AddrPort, error) {
		if ap, ok := ports.Load(nid); ok {
			return ap.(netip.AddrPort), nil
		}
		return netip.AddrPort{}, fmt.Errorf("%v: %w", nid, lnet.ErrPeerDown)
	}}), ports: ports}
}

func (l tcpLND) Startup(ctx context.Context, nc lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	ni, err := l.LND.Startup(ctx, nc, host)
	if err == nil {
		l.ports.Store(ni.NID(), ni.(*socklnd.NI).AddrPort())
	}
	return ni, err
}

// newLNet starts an LNet instance with the networks string nets, o2ib over
// fabric f and tcp over loopback (ports recorded in tcpPorts). It returns
// New's error.
func newLNet(t *testing.T, f *memverbs.Fabric, tcpPorts *sync.Map, nets string) (*lnet.LNet, error) {
	t.Helper()
	cfg, err := lnet.ParseNetworks(nets)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t).Named(nets)
	o2ib, err := New(Config{Provider: f, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: cfg, LNDs: []lnet.LND{o2ib, newTCPLND(tcpPorts)}, Logger: log})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := ln.Close(); err != nil {
			t.Error(err)
		}
	})
	return ln, nil
}

type events chan lnet.Event

func (e events) handler(ev lnet.Event) { e <- ev }

// wait returns the next event of type typ, skipping others.
func (e events) wait(t *testing.T, typ lnet.EventType) lnet.Event {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case ev := <-e:
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event", typ)
		}
	}
}

// TestOverLNet runs PUTs and GETs of both sizes through LNet over o2ib.
func TestOverLNet(t *testing.T) {
	checkGoroutines(t)
	f := memverbs.NewFabric()
	var ports sync.Map
	f.AddDevice("mlx5_1", "ib1", netip.MustParseAddr("10.0.7.1"))
	f.AddDevice("mlx5_2", "ib2", netip.MustParseAddr("10.0.7.2"))
	a, err := newLNet(t, f, &ports, "o2ib0(ib1)")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newLNet(t, f, &ports, "o2ib0(ib2)")
	if err != nil {
		t.Fatal(err)
	}
	target := lnet.ProcessID{NID: b.NIDs()[0], PID: b.PID()}
	for _, size := range []int{100, 1 << 20} {
		// PUT
		sink := make([]byte, size)
		be := make(events, 16)
		if _, err := b.Attach(10, lnet.MatchSpec{MatchBits: uint64(size)}, lnet.MD{Buf: sink, Threshold: 1, Options: lnet.MDOpPut, Handler: be.handler}, lnet.InsertAfter); err != nil {
			t.Fatal(err)
		}
		data := pattern(size, 3)
		ae := make(events, 16)
		h, err := a.Bind(lnet.MD{Buf: data, Threshold: 1, Handler: ae.handler})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Put(h, lnet.PutArgs{Target: target, Portal: 10, MatchBits: uint64(size)}); err != nil {
			t.Fatal(err)
		}
		if ev := be.wait(t, lnet.EventPut); ev.Err != nil || int(ev.MLength) != size {
			t.Fatalf("PUT of %d bytes: %+v", size, ev)
		}
		mustEqual(t, sink, data)
		if ev := ae.wait(t, lnet.EventSend); ev.Err != nil {
			t.Fatalf("PUT of %d bytes: send %v", size, ev.Err)
		}

		// GET
		src := pattern(size, 4)
		if _, err := b.Attach(11, lnet.MatchSpec{MatchBits: uint64(size)}, lnet.MD{Buf: src, Threshold: 1, Options: lnet.MDOpGet}, lnet.InsertAfter); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		ge := make(events, 16)
		h, err = a.Bind(lnet.MD{Buf: got, Threshold: 2, Handler: ge.handler})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Get(h, lnet.GetArgs{Target: target, Portal: 11, MatchBits: uint64(size)}); err != nil {
			t.Fatal(err)
		}
		ev := ge.wait(t, lnet.EventReply)
		if ev.Err != nil || int(ev.MLength) != size || !bytes.Equal(got, src) {
			t.Fatalf("GET of %d bytes: %+v", size, ev)
		}
	}
}

// TestFallbackToTCP: a node configured o2ib0(ib0),tcp0 whose ib0 has no
// RDMA device serves on tcp0, and reaches a peer over the first network
// they share.
func TestFallbackToTCP(t *testing.T) {
	checkGoroutines(t)
	f := memverbs.NewFabric() // no devices at all
	var ports sync.Map
	ln, err := newLNet(t, f, &ports, "o2ib0(ib0),tcp0(127.0.7.1)")
	if err != nil {
		t.Fatal(err)
	}
	nids := ln.NIDs()
	if len(nids) != 1 || nids[0].Net.Type != lnet.SockLND {
		t.Fatalf("NIDs %v, want only the tcp0 one", nids)
	}
	peer, err := newLNet(t, f, &ports, "tcp0(127.0.7.2)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Ping(context.Background(), peer.NIDs()[0]); err != nil {
		t.Fatalf("ping over tcp: %v", err)
	}
}
