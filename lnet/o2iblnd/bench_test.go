package o2iblnd

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/memverbs"
	"github.com/stria-fs/stria/lnet/socklnd"
)

// The benchmarks run o2iblnd over the in-memory fabric next to socklnd over
// loopback TCP, in the same run, moving the same messages the same way.
// memverbs moves data with memcpy, so the o2ib figures show the cost of the
// protocol path (message building, credits, registration cache, completion
// handling), not wire speed. Besides ns/op (one op = one message) they
// report msgs/s, GiB/s for bulk, and lnd-allocs/msg: allocations per
// message beyond the Tx the benchmark itself allocates.

// benchHost takes every payload into a reused sink and counts arrivals.
type benchHost struct {
	sink   []byte
	n      atomic.Int64
	target atomic.Int64
	all    chan struct{} // receives a value when n reaches target
	done   func(error)
	getSrc []byte // answers GETs from here
	w      window // when set, each arrival ends one message in flight
}

func newBenchHost(size int) *benchHost {
	h := &benchHost{sink: make([]byte, size), all: make(chan struct{}, 1)}
	h.done = func(err error) {
		if err != nil {
			panic(err) // a healthy fabric or loopback does not fail
		}
		if h.n.Add(1) == h.target.Load() {
			h.all <- struct{}{}
		}
		if h.w != nil {
			<-h.w
		}
	}
	return h
}

func (h *benchHost) Receive(ni lnet.NI, from lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	if hdr.Type == lnet.MsgGet {
		ni.Send(&lnet.Tx{
			Dest:    from,
			Hdr:     lnet.Header{Dest: from, Src: ni.NID(), Type: lnet.MsgReply, PayloadLen: uint32(len(h.getSrc)), WMD: hdr.WMD},
			Payload: h.getSrc,
			GetRx:   rx,
		})
	}
	rx.Recv(h.sink[:hdr.PayloadLen], h.done)
}

func (h *benchHost) PeerState(lnet.NI, lnet.NID, bool, error) {}

// expect arranges for all to fire once n more messages have arrived.
func (h *benchHost) expect(n int) { h.target.Store(h.n.Load() + int64(n)) }

func (h *benchHost) wait(b *testing.B) {
	select {
	case <-h.all:
	case <-time.After(time.Minute):
		b.Fatal("messages missing")
	}
}

type pairFunc func(b *testing.B, ha, hb lnet.Host) (lnet.NI, lnet.NI)

// o2ibPair starts two o2ib NIs on a fresh in-memory fabric.
func o2ibPair(b *testing.B, ha, hb lnet.Host) (lnet.NI, lnet.NI) {
	f := memverbs.NewFabric()
	start := func(i int, h lnet.Host) lnet.NI {
		a := netip.AddrFrom4([4]byte{10, 0, 9, byte(i)})
		f.AddDevice(fmt.Sprintf("mlx5_%d", i), fmt.Sprintf("ib%d", i), a)
		l, err := New(Config{Provider: f})
		if err != nil {
			b.Fatal(err)
		}
		ni, err := l.Startup(context.Background(), lnet.NIConfig{Net: lnet.Net{Type: lnet.O2IBLND}, Interfaces: []string{a.String()}}, h)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ni.Close() })
		return ni
	}
	return start(1, ha), start(2, hb)
}

// sockPair starts two socklnd NIs on loopback addresses, ephemeral ports.
func sockPair(b *testing.B, ha, hb lnet.Host) (lnet.NI, lnet.NI) {
	var mu sync.Mutex
	ports := map[lnet.NID]netip.AddrPort{}
	l := socklnd.New(socklnd.Config{Resolve: func(nid lnet.NID) (netip.AddrPort, error) {
		mu.Lock()
		defer mu.Unlock()
		if ap, ok := ports[nid]; ok {
			return ap, nil
		}
		return netip.AddrPort{}, fmt.Errorf("unknown %v", nid)
	}})
	start := func(i int, h lnet.Host) lnet.NI {
		ni, err := l.Startup(context.Background(), lnet.NIConfig{Net: lnet.Net{Type: lnet.SockLND}, Interfaces: []string{fmt.Sprintf("127.0.9.%d", i)}}, h)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ni.Close() })
		mu.Lock()
		ports[ni.NID()] = ni.(*socklnd.NI).AddrPort()
		mu.Unlock()
		return ni
	}
	return start(1, ha), start(2, hb)
}

var lnds = []struct {
	name string
	pair pairFunc
}{
	{"o2ib-memverbs", o2ibPair},
	{"socklnd-loopback", sockPair},
}

// window bounds the messages in flight from one sender.
type window chan struct{}

func (w window) onComplete(_ *lnet.Tx, err error) {
	if err != nil {
		panic(err)
	}
	<-w
}

// streamPuts sends b.N PUTs of size bytes from a to b, at most depth in
// flight, and reports msgs/s, GiB/s and allocations per message.
func streamPuts(b *testing.B, pair pairFunc, size, depth int) {
	hb := newBenchHost(size)
	a, bn := pair(b, newBenchHost(0), hb)
	payload := make([]byte, size)
	w := make(window, depth)
	onComplete := w.onComplete
	send := func() {
		w <- struct{}{}
		a.Send(&lnet.Tx{
			Dest:       bn.NID(),
			Hdr:        lnet.Header{Dest: bn.NID(), Src: a.NID(), Type: lnet.MsgPut, PayloadLen: uint32(size)},
			Payload:    payload,
			OnComplete: onComplete,
		})
	}
	hb.expect(1) // connect before timing
	send()
	hb.wait(b)
	hb.expect(b.N)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		send()
	}
	hb.wait(b)
	d := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	report(b, d, size, ms1.Mallocs-ms0.Mallocs)
}

func report(b *testing.B, d time.Duration, size int, mallocs uint64) {
	b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
	if size >= 64<<10 {
		b.ReportMetric(float64(b.N)*float64(size)/d.Seconds()/(1<<30), "GiB/s")
	}
	b.ReportMetric(float64(mallocs)/float64(b.N)-1, "lnd-allocs/msg")
}

// BenchmarkSmallMessages: 64-byte PUTs streamed, 64 in flight.
func BenchmarkSmallMessages(b *testing.B) {
	for _, l := range lnds {
		b.Run(l.name, func(b *testing.B) { streamPuts(b, l.pair, 64, 64) })
	}
}

// BenchmarkBulkPut: 1 MiB PUTs streamed, 8 in flight.
func BenchmarkBulkPut(b *testing.B) {
	for _, l := range lnds {
		b.Run(l.name, func(b *testing.B) { streamPuts(b, l.pair, 1<<20, 8) })
	}
}

// BenchmarkBulkGet: 1 MiB GETs, 8 in flight (sent and not yet answered).
// o2ib places each REPLY by RDMA write into the GET's sink; socklnd carries
// it back as a REPLY message.
func BenchmarkBulkGet(b *testing.B) {
	const size = 1 << 20
	for _, l := range lnds {
		b.Run(l.name, func(b *testing.B) {
			w := make(window, 8)
			ha, hb := newBenchHost(size), newBenchHost(0)
			ha.w = w
			hb.getSrc = make([]byte, size)
			a, bn := l.pair(b, ha, hb)
			sink := make([]byte, size)
			onReply := func(_ *lnet.Tx, n int, err error) {
				if err == nil && n != size {
					err = fmt.Errorf("REPLY of %d bytes", n)
				}
				ha.done(err)
			}
			noop := func(*lnet.Tx, error) {}
			get := func() {
				w <- struct{}{}
				a.Send(&lnet.Tx{
					Dest:        bn.NID(),
					Hdr:         lnet.Header{Dest: bn.NID(), Src: a.NID(), Type: lnet.MsgGet, Length: size},
					ReplySink:   sink,
					OnComplete:  noop,
					OnReplyDone: onReply,
				})
			}
			ha.expect(1)
			get()
			ha.wait(b)
			ha.expect(b.N)
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.SetBytes(size)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				get()
			}
			ha.wait(b)
			d := time.Since(start)
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			report(b, d, size, ms1.Mallocs-ms0.Mallocs)
		})
	}
}
