package ost

import (
	"context"
	"fmt"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/socklnd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// The I/O benchmarks run one OSS and one client in this process over
// socklnd on 127.0.0.1/127.0.0.2 (real TCP sockets), 1 MiB RPCs with their
// crc32c — one at a time, or Parallel: 8 in flight on one object, as an
// OSC sends them — and in the same run the same I/O done raw on a file in
// the same file system. They report the OST's throughput as a fraction of
// raw ("x-of-raw-disk"; 1.0 is no overhead). Both work on a 64 MiB span
// written in full first. The OST makes every write durable before
// replying, so a raw write is durable too: the better of pwrite+fsync
// through the page cache and O_DIRECT pwrite+fsync (both reported), from
// as many goroutines as RPCs in flight. Reads are pread from the page
// cache (both files read once first).

const (
	benchIO   = 1 << 20
	benchSpan = 64 << 20
)

func BenchmarkOSTWrite1MiB(b *testing.B)         { benchOST(b, true, 1) }
func BenchmarkOSTWrite1MiBParallel(b *testing.B) { benchOST(b, true, benchInFlight) }
func BenchmarkOSTRead1MiB(b *testing.B)          { benchOST(b, false, 1) }

// benchInFlight is the RPCs in flight of the Parallel benchmark (the OSC's
// max_rpcs_in_flight).
const benchInFlight = 8

// tcpLND starts socklnd NIs on ephemeral ports and resolves NIDs to them.
type tcpLND struct {
	*socklnd.LND
	mu    sync.Mutex
	ports map[lnet.NID]netip.AddrPort
}

func newTCPLND() *tcpLND {
	l := &tcpLND{ports: map[lnet.NID]netip.AddrPort{}}
	l.LND = socklnd.New(socklnd.Config{Resolve: l.resolve, ReconnectMin: 5 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond})
	return l
}

func (l *tcpLND) resolve(nid lnet.NID) (netip.AddrPort, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ap, ok := l.ports[nid]
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no NI has NID %v", nid)
	}
	return ap, nil
}

func (l *tcpLND) Startup(ctx context.Context, nc lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	ni, err := l.LND.Startup(ctx, nc, host)
	if err != nil {
		return nil, err
	}
	if s, ok := ni.(*socklnd.NI); ok {
		l.mu.Lock()
		l.ports[s.NID()] = s.AddrPort()
		l.mu.Unlock()
	}
	return ni, nil
}

func tcpNode(b *testing.B, lnd *tcpLND, addr string) *lnet.LNet {
	b.Helper()
	nets, err := lnet.ParseNetworks("tcp(" + addr + ")")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lnd}, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	return ln
}

func benchOST(b *testing.B, write bool, inFlight int) {
	ctx := context.Background()
	lnd := newTCPLND()
	sln := tcpNode(b, lnd, "127.0.0.1")
	cln := tcpNode(b, lnd, "127.0.0.2")
	root := b.TempDir()
	dir := filepath.Join(root, "ost")
	if _, err := Format(dir, FormatOptions{FSName: "bench"}); err != nil {
		b.Fatal(err)
	}
	srv, err := Start(ctx, Config{Dirs: []string{dir}, LNet: sln, IOThreads: inFlight})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{
		Target: "bench-OST0000", NIDs: sln.NIDs(), LNet: cln, RequestPortal: wire.OSTIOPortal,
		ReplyPortal: wire.OSCReplyPortal, BulkPortal: wire.OSTBulkPortal, ConnectOpcode: wire.OSTConnect,
		PingInterval: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = imp.Close() })
	if err := imp.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	r, err := imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTCreate, Encode: &wire.PrecreateRequest{Count: 1}})
	if err != nil {
		b.Fatal(err)
	}
	var pre wire.PrecreateReply
	if err := r.Decode(&pre); err != nil {
		b.Fatal(err)
	}
	r.Release()
	fid := pre.First

	buf := make([]byte, benchIO)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	raw, err := os.Create(filepath.Join(root, "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	sum := crc32.Checksum(buf, castagnoli)
	ostWrite := func(off int64) error {
		r, err := imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTWrite, BulkOut: buf, Encode: &wire.IORequest{
			FID: fid, Offset: uint64(off), Length: benchIO, Checksum: crc32.Checksum(buf, castagnoli)}})
		r.Release()
		return err
	}
	ostRead := func(off int64) error {
		r, err := imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTRead, BulkIn: buf, Encode: &wire.IORequest{
			FID: fid, Offset: uint64(off), Length: benchIO}})
		if err == nil {
			var rep wire.IOReply
			if err = r.Decode(&rep); err == nil && (rep.Length != benchIO || crc32.Checksum(buf, castagnoli) != rep.Checksum) {
				err = fmt.Errorf("read %d bytes, checksum %#x, want %#x", rep.Length, rep.Checksum, sum)
			}
		}
		r.Release()
		return err
	}
	for off := int64(0); off < benchSpan; off += benchIO {
		if _, err := raw.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		if err := ostWrite(off); err != nil {
			b.Fatal(err)
		}
	}
	if err := raw.Sync(); err != nil {
		b.Fatal(err)
	}
	if !write {
		for off := int64(0); off < benchSpan; off += benchIO {
			if _, err := raw.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
			if err := ostRead(off); err != nil {
				b.Fatal(err)
			}
		}
	}
	offset := func(i int) int64 { return int64(i) * benchIO % benchSpan }

	var rawTime time.Duration
	var rawMetrics map[string]float64
	if write {
		rawTime, rawMetrics = rawDurableWrites(b, raw, buf, offset, inFlight)
	} else {
		start := time.Now()
		for i := range b.N {
			if _, err := raw.ReadAt(buf, offset(i)); err != nil {
				b.Fatal(err)
			}
		}
		rawTime = time.Since(start)
	}

	b.SetBytes(benchIO)
	b.ReportAllocs()
	b.ResetTimer()
	err = inParallel(b.N, inFlight, func(i int) error {
		if write {
			return ostWrite(offset(i))
		}
		return ostRead(offset(i))
	})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(rawTime.Seconds()/b.Elapsed().Seconds(), "x-of-raw-disk")
	for unit, v := range rawMetrics {
		b.ReportMetric(v, unit)
	}
}

// inParallel runs f(0..n-1) on k goroutines, each taking the next index,
// and returns the first error.
func inParallel(n, k int, f func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// rawDurableWrites times b.N durable 1 MiB writes to raw from inFlight
// goroutines, through the page cache with fsync and with O_DIRECT and
// fsync, and returns the faster's time and each one's throughput.
func rawDurableWrites(b *testing.B, raw *os.File, buf []byte, offset func(int) int64, inFlight int) (time.Duration, map[string]float64) {
	mbps := func(d time.Duration) float64 { return float64(b.N) * benchIO / 1e6 / d.Seconds() }
	m := map[string]float64{}
	timed := func(f *os.File) time.Duration {
		start := time.Now()
		err := inParallel(b.N, inFlight, func(i int) error {
			if _, err := f.WriteAt(buf, offset(i)); err != nil {
				return err
			}
			return f.Sync()
		})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	best := timed(raw)
	m["raw-buffered-MB/s"] = mbps(best)
	direct, err := os.OpenFile(raw.Name(), os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		b.Logf("no O_DIRECT here (%v): the ceiling is buffered", err)
		return best, m
	}
	defer direct.Close()
	t := timed(direct)
	m["raw-direct-MB/s"] = mbps(t)
	return min(best, t), m
}
