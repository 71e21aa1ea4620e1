package ptlrpc

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/benchcmp"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/socklnd"
	"github.com/stria-fs/stria/wire"
)

// The benchmarks run ptlrpc over socklnd on loopback TCP and, in the same
// run, the same traffic over raw TCP; "x-of-raw-tcp" is raw time / ptlrpc
// time (1 is as fast as raw TCP).

// capturedLND is socklnd with a record of the NI it started, so that a
// benchmark can learn its ephemeral port.
type capturedLND struct {
	*socklnd.LND
	ni *socklnd.NI
}

func (c *capturedLND) Startup(ctx context.Context, cfg lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	ni, err := c.LND.Startup(ctx, cfg, host)
	if err == nil {
		c.ni = ni.(*socklnd.NI)
	}
	return ni, err
}

// tcpNodes starts two LNet instances on 127.0.0.41 and .42 with socklnd on
// ephemeral ports.
func tcpNodes(b testing.TB) (srv, cli *lnet.LNet) {
	var mu sync.Mutex
	ports := map[lnet.NID]netip.AddrPort{}
	cfg := socklnd.Config{Resolve: func(nid lnet.NID) (netip.AddrPort, error) {
		mu.Lock()
		defer mu.Unlock()
		ap, ok := ports[nid]
		if !ok {
			return netip.AddrPort{}, fmt.Errorf("unknown NID %v", nid)
		}
		return ap, nil
	}}
	start := func(ip string) *lnet.LNet {
		nets, err := lnet.ParseNetworks("tcp(" + ip + ")")
		if err != nil {
			b.Fatal(err)
		}
		lnd := &capturedLND{LND: socklnd.New(cfg)}
		var log *zap.Logger
		if _, isBench := b.(*testing.B); !isBench {
			log = zaptest.NewLogger(b, zaptest.Level(zap.InfoLevel)).Named(ip)
		}
		ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lnd}, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ln.Close() })
		mu.Lock()
		ports[ln.NIDs()[0]] = lnd.ni.AddrPort()
		mu.Unlock()
		return ln
	}
	return start("127.0.0.41"), start("127.0.0.42")
}

// benchPair starts a service with handlers on one node and a connected
// import on the other.
func benchPair(b *testing.B, handlers map[wire.Opcode]Handler) *Import {
	sln, cln := tcpNodes(b)
	tgt, err := NewTarget(TargetConfig{Name: testTarget, Handlers: handlers})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := NewService(ServiceConfig{Name: "ost_io", LNet: sln, Portal: testReqPortal,
		ReplyPortal: testReplyPortal, BulkPortal: testBulkPortal, Threads: 8})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.AddTarget(tgt); err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	return benchImport(b, cln, sln.NIDs())
}

// benchImport connects an import from cln to the benchmark target at nids.
func benchImport(b *testing.B, cln *lnet.LNet, nids []lnet.NID) *Import {
	imp, err := NewImport(ImportConfig{Target: testTarget, NIDs: nids, LNet: cln, RequestPortal: testReqPortal,
		ReplyPortal: testReplyPortal, BulkPortal: testBulkPortal, ConnectOpcode: wire.OSTConnect, PingInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = imp.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := imp.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	return imp
}

// The raw baselines run beside ptlrpc in alternating chunks (benchcmp.Interleave),
// so that both see the same machine: on a shared machine the load changes
// faster than a benchmark runs.

// rawEcho is a connection whose far end echoes size-byte messages.
type rawEcho struct {
	c   net.Conn
	buf []byte
}

func newRawEcho(b *testing.B, size int) *rawEcho {
	client, server := benchcmp.TCPPair(b)
	go func() {
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(server, buf); err != nil {
				return
			}
			if _, err := server.Write(buf); err != nil {
				return
			}
		}
	}()
	return &rawEcho{c: client, buf: make([]byte, size)}
}

// roundTrips does n round trips.
func (r *rawEcho) roundTrips(b *testing.B, n int) {
	for range n {
		if _, err := r.c.Write(r.buf); err != nil {
			b.Error(err)
			return
		}
		if _, err := io.ReadFull(r.c, r.buf); err != nil {
			b.Error(err)
			return
		}
	}
}

// rawStream is a connection whose far end reads size-byte messages into a
// reused sink and counts them.
type rawStream struct {
	c       net.Conn
	payload []byte
	got     chan struct{}
}

func newRawStream(b *testing.B, size int) *rawStream {
	client, server := benchcmp.TCPPair(b)
	r := &rawStream{c: client, payload: make([]byte, size), got: make(chan struct{}, 1024)}
	go func() {
		sink := make([]byte, size)
		for {
			if _, err := io.ReadFull(server, sink); err != nil {
				return
			}
			r.got <- struct{}{}
		}
	}()
	return r
}

// send streams n messages and waits until the far end has them all.
func (r *rawStream) send(b *testing.B, n int) {
	go func() {
		for range n {
			if _, err := r.c.Write(r.payload); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for range n {
		<-r.got
	}
}

// parallel runs n operations over workers goroutines, each calling op.
func parallel(n, workers int, op func(w int)) {
	var wg sync.WaitGroup
	for w := range workers {
		count := n / workers
		if w < n%workers {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range count {
				op(w)
			}
		}()
	}
	wg.Wait()
}

// benchCall makes one call and releases its reply.
func benchCall(b *testing.B, imp *Import, req *Req) {
	rep, err := imp.Call(context.Background(), req)
	if err != nil {
		b.Error(err)
		return
	}
	rep.Release()
}

// BenchmarkRPCPingPong: one 64-byte request and its 64-byte reply at a
// time, against a raw TCP ping-pong of 64 bytes each way.
func BenchmarkRPCPingPong(b *testing.B) {
	const size = 64
	raw := newRawEcho(b, size)
	imp := benchPair(b, map[wire.Opcode]Handler{opEcho: echo})
	req := &Req{Opcode: opEcho, Body: make([]byte, size)}
	benchCall(b, imp, req)
	benchcmp.Interleave(b, 256, "x-of-raw-tcp", func(n int) { raw.roundTrips(b, n) }, func(n int) {
		for range n {
			benchCall(b, imp, req)
		}
	})
}

// BenchmarkRPCParallel: small RPCs from 8 goroutines at once, against 8
// raw TCP ping-pong connections driven at once.
func BenchmarkRPCParallel(b *testing.B) {
	const size, workers = 64, 8
	raws := make([]*rawEcho, workers)
	for i := range raws {
		raws[i] = newRawEcho(b, size)
	}
	imp := benchPair(b, map[wire.Opcode]Handler{opEcho: echo})
	reqs := make([]*Req, workers)
	for i := range reqs {
		reqs[i] = &Req{Opcode: opEcho, Body: make([]byte, size)}
	}
	benchCall(b, imp, reqs[0])
	ours := benchcmp.Interleave(b, 1024, "x-of-raw-tcp", func(n int) {
		parallel(n, workers, func(w int) { raws[w].roundTrips(b, 1) })
	}, func(n int) {
		parallel(n, workers, func(w int) { benchCall(b, imp, reqs[w]) })
	})
	b.ReportMetric(float64(b.N)/ours.Seconds(), "ops/s")
}

var bulkSizes = []struct {
	name string
	size int
}{{"1MiB", 1 << 20}, {"4MiB", 4 << 20}}

// inFlight is how many bulk RPCs a client keeps going (osc's default
// max_rpcs_in_flight).
const inFlight = 8

// BenchmarkBulkWrite: the server GETs 1 or 4 MiB from the client per RPC,
// 8 RPCs in flight, against a raw TCP stream of messages of that size.
func BenchmarkBulkWrite(b *testing.B) {
	for _, bc := range bulkSizes {
		b.Run(bc.name, func(b *testing.B) {
			raw := newRawStream(b, bc.size)
			sinks := make(chan []byte, 8)
			for range 8 {
				sinks <- make([]byte, bc.size)
			}
			imp := benchPair(b, map[wire.Opcode]Handler{wire.OSTWrite: func(ctx context.Context, r *Request) error {
				sink := <-sinks
				defer func() { sinks <- sink }()
				_, err := r.BulkGet(ctx, sink)
				return err
			}})
			reqs := make([]*Req, inFlight)
			for i := range reqs {
				reqs[i] = &Req{Opcode: wire.OSTWrite, BulkOut: make([]byte, bc.size)}
			}
			benchCall(b, imp, reqs[0])
			b.SetBytes(int64(bc.size))
			benchcmp.Interleave(b, 32, "x-of-raw-tcp", func(n int) { raw.send(b, n) }, func(n int) {
				parallel(n, inFlight, func(w int) { benchCall(b, imp, reqs[w]) })
			})
		})
	}
}

// BenchmarkBulkRead: the server PUTs 1 or 4 MiB into the client per RPC,
// 8 RPCs in flight, against a raw TCP stream of messages of that size.
func BenchmarkBulkRead(b *testing.B) {
	for _, bc := range bulkSizes {
		b.Run(bc.name, func(b *testing.B) {
			raw := newRawStream(b, bc.size)
			src := make([]byte, bc.size)
			imp := benchPair(b, map[wire.Opcode]Handler{wire.OSTRead: func(ctx context.Context, r *Request) error {
				return r.BulkPut(ctx, src)
			}})
			reqs := make([]*Req, inFlight)
			for i := range reqs {
				reqs[i] = &Req{Opcode: wire.OSTRead, BulkIn: make([]byte, bc.size)}
			}
			benchCall(b, imp, reqs[0])
			b.SetBytes(int64(bc.size))
			benchcmp.Interleave(b, 32, "x-of-raw-tcp", func(n int) { raw.send(b, n) }, func(n int) {
				parallel(n, inFlight, func(w int) { benchCall(b, imp, reqs[w]) })
			})
		})
	}
}
