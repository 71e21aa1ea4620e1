//go:build rdma && cgo

package rdma

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
	"github.com/stria-fs/stria/lnet/o2iblnd"
)

var (
	addrsFlag = flag.String("o2ib.addrs", "", "comma-separated IPv4 addresses on RDMA interfaces of this host, one per node (at least 3; run.sh passes them)")
	ghostFlag = flag.String("o2ib.ghost", "", "an address on an RDMA subnet such that it and the 15 after it are unused (peers that do not exist)")
	netFlag   = flag.String("o2ib.net", "o2ib9", "the o2ib network the test NIs use")
)

// realHarness starts o2iblnd NIs over the host's RDMA devices: node i on
// the i-th address; nodes past the addresses are at the ghost address plus
// i, where nobody answers.
type realHarness struct {
	addrs []netip.Addr
	ghost netip.Addr
	net   lnet.Net
}

func newRealHarness(t testing.TB) *realHarness {
	if *addrsFlag == "" {
		t.Skip("needs an RDMA device (InfiniBand or RoCE), which this machine lacks: run test/rdma/run.sh on one (see test/rdma/README.md)")
	}
	h := &realHarness{}
	for _, s := range strings.Split(*addrsFlag, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !a.Is4() {
			t.Fatalf("-o2ib.addrs: %q is not an IPv4 address", s)
		}
		h.addrs = append(h.addrs, a)
	}
	if len(h.addrs) < 3 {
		t.Fatalf("-o2ib.addrs: %d addresses, the suite needs 3", len(h.addrs))
	}
	var err error
	if h.ghost, err = netip.ParseAddr(*ghostFlag); err != nil {
		t.Fatalf("-o2ib.ghost: %v", err)
	}
	if h.net, err = lnet.ParseNet(*netFlag); err != nil || h.net.Type != lnet.O2IBLND {
		t.Fatalf("-o2ib.net %q: not an o2ib network", *netFlag)
	}
	return h
}

func (h *realHarness) NID(i int) lnet.NID {
	if i < len(h.addrs) {
		return lnet.NID{Addr: h.addrs[i], Net: h.net}
	}
	a := h.ghost.As4()
	a[3] += byte(i) // ghost .. ghost+15: keep them unused
	return lnet.NID{Addr: netip.AddrFrom4(a), Net: h.net}
}

func (h *realHarness) Start(t *testing.T, i int, host lnet.Host) lnet.NI {
	if i >= len(h.addrs) {
		t.Fatalf("node %d: only %d addresses given", i, len(h.addrs))
	}
	l, err := o2iblnd.New(o2iblnd.Config{Keepalive: time.Second, Timeout: 20 * time.Second, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ni, err := l.Startup(context.Background(), lnet.NIConfig{Net: h.net, Interfaces: []string{h.addrs[i].String()}}, host)
	if err != nil {
		t.Fatalf("start node %d on %v: %v", i, h.addrs[i], err)
	}
	t.Cleanup(func() { _ = ni.Close() })
	return ni
}

// TestConformance runs the LND conformance suite over the cgo verbs engine.
func TestConformance(t *testing.T) {
	lndtest.Run(t, newRealHarness(t))
}

// sinkHost takes every payload into one reused buffer and counts arrivals.
type sinkHost struct {
	sink   []byte
	n      atomic.Int64
	target atomic.Int64
	all    chan struct{}
	done   func(error)
}

func newSinkHost(size int) *sinkHost {
	h := &sinkHost{sink: make([]byte, size), all: make(chan struct{}, 1)}
	h.done = func(err error) {
		if err != nil {
			panic(err)
		}
		if h.n.Add(1) == h.target.Load() {
			h.all <- struct{}{}
		}
	}
	return h
}

func (h *sinkHost) Receive(_ lnet.NI, _ lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	rx.Recv(h.sink[:hdr.PayloadLen], h.done)
}

func (h *sinkHost) PeerState(lnet.NI, lnet.NID, bool, error) {}

func (h *sinkHost) expect(n int) { h.target.Store(h.n.Load() + int64(n)) }

func (h *sinkHost) wait(b *testing.B) {
	select {
	case <-h.all:
	case <-time.After(time.Minute):
		b.Fatal("messages missing")
	}
}

// benchPuts streams b.N PUTs of size bytes between the first two
// addresses, depth in flight.
func benchPuts(b *testing.B, size, depth int) {
	h := newRealHarness(b)
	start := func(i int, host lnet.Host) lnet.NI {
		l, err := o2iblnd.New(o2iblnd.Config{})
		if err != nil {
			b.Fatal(err)
		}
		ni, err := l.Startup(context.Background(), lnet.NIConfig{Net: h.net, Interfaces: []string{h.addrs[i].String()}}, host)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ni.Close() })
		return ni
	}
	hb := newSinkHost(size)
	a, dst := start(0, newSinkHost(0)), start(1, hb)
	payload := make([]byte, size)
	inflight := make(chan struct{}, depth)
	var mu sync.Mutex
	var firstErr error
	onComplete := func(_ *lnet.Tx, err error) {
		if err != nil {
			mu.Lock()
			firstErr = err
			mu.Unlock()
		}
		<-inflight
	}
	send := func() {
		inflight <- struct{}{}
		a.Send(&lnet.Tx{
			Dest:       dst.NID(),
			Hdr:        lnet.Header{Dest: dst.NID(), Src: a.NID(), Type: lnet.MsgPut, PayloadLen: uint32(size)},
			Payload:    payload,
			OnComplete: onComplete,
		})
	}
	hb.expect(1)
	send()
	hb.wait(b)
	hb.expect(b.N)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.SetBytes(int64(size))
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		send()
	}
	hb.wait(b)
	d := time.Since(t0)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)*float64(size)/d.Seconds()/(1<<30), "GiB/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N)-1, "lnd-allocs/msg")
}

func BenchmarkSmallMessages(b *testing.B) { benchPuts(b, 64, 64) }

func BenchmarkBulkPut(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchPuts(b, size, 8) })
	}
}
