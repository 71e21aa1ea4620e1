package clientit

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/socklnd"
	"github.com/stria-fs/stria/mdt"
	"github.com/stria-fs/stria/mgs"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ost"
)

// The client benchmarks run an MGS, an MDS, two OSSs of two OSTs each and
// one client in this process, every one on its own 127.0.0.x address over
// socklnd (real TCP sockets), and move a 256 MiB file striped over 4 OSTs
// (1 MiB stripes) in 1 MiB operations: BenchmarkClientWrite writes it
// (write-back, then fsync and close), BenchmarkClientRead reads it back.
// In the same run the same I/O goes to a local file with write+fsync /
// read, and the client's throughput is reported as a fraction of that
// ("x-of-raw-disk"; the OSTs live on the same disk, so 1.0 means the whole
// stack costs nothing, and the two share the machine's cores).

const (
	benchFile = 256 << 20
	benchOp   = 1 << 20
)

func BenchmarkClientWrite(b *testing.B) { benchClient(b, true) }
func BenchmarkClientRead(b *testing.B)  { benchClient(b, false) }

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

func tcpNode(b *testing.B, lnd *tcpLND, host int) *lnet.LNet {
	b.Helper()
	nets, err := lnet.ParseNetworks("tcp(127.0.0." + strconv.Itoa(host) + ")")
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

// benchCluster starts the servers over TCP and mounts a client.
func benchCluster(b *testing.B) *client.FS {
	b.Helper()
	ctx := context.Background()
	lnd := newTCPLND()
	dir := b.TempDir()
	mgsLN := tcpNode(b, lnd, 1)
	if err := mgs.Format(filepath.Join(dir, "mgs"), mgs.FormatOptions{}); err != nil {
		b.Fatal(err)
	}
	m, err := mgs.Start(ctx, mgs.Config{Dir: filepath.Join(dir, "mgs"), LNet: mgsLN})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	nodes := [][]lnet.NID{mgsLN.NIDs()}
	mdsLN := tcpNode(b, lnd, 2)
	if _, err := mdt.Format(filepath.Join(dir, "mdt"), mdt.FormatOptions{FSName: fsname, MGSNodes: nodes,
		Params: []string{"lov.stripecount=4", "lov.stripesize=1048576"}}); err != nil {
		b.Fatal(err)
	}
	mds, err := mdt.Start(ctx, mdt.Config{Dir: filepath.Join(dir, "mdt"), FSName: fsname, LNet: mdsLN})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mds.Close() })
	for s := range 2 {
		ln := tcpNode(b, lnd, 3+s)
		var dirs []string
		for j := range 2 {
			d := filepath.Join(dir, fmt.Sprintf("ost%d", 2*s+j))
			if _, err := ost.Format(d, ost.FormatOptions{FSName: fsname, Index: uint32(2*s + j), MGSNodes: nodes}); err != nil {
				b.Fatal(err)
			}
			dirs = append(dirs, d)
		}
		srv, err := ost.Start(ctx, ost.Config{Dirs: dirs, FSName: fsname, LNet: ln, RegisterRetry: 20 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Close() })
	}
	wctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := mds.WaitOSTs(wctx, 4); err != nil {
		b.Fatal(err)
	}
	node := obd.NewNode(zap.NewNop())
	b.Cleanup(func() { _ = node.Close() })
	fs, err := client.Mount(wctx, client.Config{MGSNodes: nodes, FSName: fsname, LNet: tcpNode(b, lnd, 5), Node: node})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fs.Close(context.Background()) })
	return fs
}

// rawIO writes (with a final fsync) or reads a benchFile-byte local file
// in benchOp operations and returns the bytes per second.
func rawIO(b *testing.B, path string, write bool, buf []byte) float64 {
	b.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	for off := int64(0); off < benchFile; off += benchOp {
		if write {
			_, err = f.WriteAt(buf, off)
		} else {
			_, err = f.ReadAt(buf, off)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if write {
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return benchFile / time.Since(start).Seconds()
}

func benchClient(b *testing.B, write bool) {
	fs := benchCluster(b)
	ctx := context.Background()
	buf := pattern(benchOp, 1)
	raw := filepath.Join(b.TempDir(), "raw")
	rawIO(b, raw, true, buf) // the file exists for reads, and the first write is not special
	var rawRate float64
	if write {
		rawRate = rawIO(b, raw, true, buf)
	} else {
		rawRate = rawIO(b, raw, false, buf)
	}
	// The file to read, or the one every write iteration overwrites.
	f, fid, _, err := fs.Create(ctx, fs.Root(), "bench", syscall.O_RDWR, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	for off := int64(0); off < benchFile; off += benchOp {
		if _, err := f.WriteAt(ctx, buf, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Release(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchFile)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		flags := uint32(syscall.O_RDONLY)
		if write {
			flags = syscall.O_WRONLY
		}
		f, err := fs.Open(ctx, fid, flags)
		if err != nil {
			b.Fatal(err)
		}
		p := make([]byte, benchOp)
		for off := int64(0); off < benchFile; off += benchOp {
			if write {
				_, err = f.WriteAt(ctx, buf, off)
			} else {
				_, err = f.ReadAt(ctx, p, off)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if write {
			if err := f.Fsync(ctx, false); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(b.N) * benchFile / time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(rawRate/1e6, "raw-MB/s")
	b.ReportMetric(rate/rawRate, "x-of-raw-disk")
}
