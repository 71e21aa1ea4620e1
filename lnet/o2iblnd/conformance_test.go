package o2iblnd

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
	"github.com/stria-fs/stria/lnet/o2iblnd/memverbs"
)

// memHarness runs the conformance suite over the in-memory fabric: node i
// is the device mlx5_i behind ib<i>, address 10.0.5.(i+1).
type memHarness struct {
	f   *memverbs.Fabric
	cfg Config

	mu   sync.Mutex
	devs map[int]*memverbs.Device
}

var (
	_ lndtest.Harness = (*memHarness)(nil)
	_ lndtest.Killer  = (*memHarness)(nil)
)

func (h *memHarness) addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 5, byte(i + 1)}) }

func (h *memHarness) NID(i int) lnet.NID {
	return lnet.NID{Addr: h.addr(i), Net: lnet.Net{Type: lnet.O2IBLND}}
}

func (h *memHarness) Start(t *testing.T, i int, host lnet.Host) lnet.NI {
	h.mu.Lock()
	d := h.devs[i]
	if d == nil {
		d = h.f.AddDevice(fmt.Sprintf("mlx5_%d", i), fmt.Sprintf("ib%d", i), h.addr(i))
		h.devs[i] = d
	}
	h.mu.Unlock()
	d.SetLinkDown(false)
	cfg := h.cfg
	cfg.Provider = h.f
	cfg.Logger = zaptest.NewLogger(t).Named(h.NID(i).String())
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ni, err := l.Startup(context.Background(), lnet.NIConfig{
		Net: lnet.Net{Type: lnet.O2IBLND}, Interfaces: []string{fmt.Sprintf("ib%d", i)},
	}, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ni.Close() })
	return ni
}

// Kill cuts node i off the fabric, as a crash or a pulled cable would, and
// then releases its NI; its peers learn only when their sends fail.
func (h *memHarness) Kill(t *testing.T, i int, ni lnet.NI) {
	h.mu.Lock()
	d := h.devs[i]
	h.mu.Unlock()
	d.SetLinkDown(true)
	if err := ni.Close(); err != nil {
		t.Errorf("close killed node %d: %v", i, err)
	}
}

func TestConformance(t *testing.T) {
	h := &memHarness{
		f:    memverbs.NewFabric(),
		cfg:  Config{Keepalive: 50 * time.Millisecond, Timeout: 10 * time.Second},
		devs: map[int]*memverbs.Device{},
	}
	lndtest.Run(t, h)
	s := h.f.Stats()
	if s.RNR != 0 {
		t.Errorf("%d sends found no receive buffer posted: the credits let a peer overrun its receive queue", s.RNR)
	}
	if s != (memverbs.Stats{RNR: s.RNR}) {
		t.Errorf("verbs resources leaked: %+v", s)
	}
}
