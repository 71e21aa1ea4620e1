package ptlrpc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/benchcmp"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/socklnd"
	"github.com/stria-fs/stria/wire"
)

// The server of BenchmarkRPCPingPongTwoProcesses runs in a process of its
// own, as an MDS does: in one process the client's and the server's
// goroutines share the Go scheduler, which hides what a hand-off costs the
// server (see TestMain).

// benchServerEnv makes the test binary the benchmark's server process.
const benchServerEnv = "STRIA_PTLRPC_BENCH_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" {
		os.Exit(benchServer(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// benchServer serves echo over ptlrpc (socklnd on 127.0.0.43) and over raw
// TCP, prints "READY <ptlrpc port> <raw port>", then answers each "stat"
// line on in with "STAT <context switches> <CPU ns>" of the process, until
// in ends.
func benchServer(in io.Reader, out io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	nets, err := lnet.ParseNetworks("tcp(127.0.0.43)")
	if err != nil {
		return fail(err)
	}
	lnd := &capturedLND{LND: socklnd.New(socklnd.Config{Resolve: func(nid lnet.NID) (netip.AddrPort, error) {
		return netip.AddrPort{}, fmt.Errorf("the bench server dials nobody (%v)", nid)
	}})}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lnd}})
	if err != nil {
		return fail(err)
	}
	defer func() { _ = ln.Close() }()
	tgt, err := NewTarget(TargetConfig{Name: testTarget, Handlers: map[wire.Opcode]Handler{opEcho: echo}})
	if err != nil {
		return fail(err)
	}
	svc, err := NewService(ServiceConfig{Name: "ost_io", LNet: ln, Portal: testReqPortal,
		ReplyPortal: testReplyPortal, BulkPortal: testBulkPortal, Threads: 8})
	if err != nil {
		return fail(err)
	}
	if err := svc.AddTarget(tgt); err != nil {
		return fail(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		return fail(err)
	}
	defer svc.Close()
	raw, err := net.Listen("tcp", "127.0.0.43:0")
	if err != nil {
		return fail(err)
	}
	defer func() { _ = raw.Close() }()
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	fmt.Fprintf(out, "READY %d %d\n", lnd.ni.AddrPort().Port(), raw.Addr().(*net.TCPAddr).Port)
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		cs, cpu := rusage()
		fmt.Fprintf(out, "STAT %d %d\n", cs, cpu)
	}
	return 0
}

// rusage returns the process's context switches and CPU time so far.
func rusage() (cs, cpuNS int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Nvcsw + ru.Nivcsw, ru.Utime.Nano() + ru.Stime.Nano()
}

// benchServerProc is the running server process.
type benchServerProc struct {
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func (p *benchServerProc) stat(b *testing.B) (cs, cpuNS int64) {
	if _, err := fmt.Fprintln(p.stdin, "stat"); err != nil {
		b.Fatal(err)
	}
	if !p.out.Scan() {
		b.Fatalf("bench server: %v", p.out.Err())
	}
	if _, err := fmt.Sscanf(p.out.Text(), "STAT %d %d", &cs, &cpuNS); err != nil {
		b.Fatalf("bench server said %q: %v", p.out.Text(), err)
	}
	return cs, cpuNS
}

// BenchmarkRPCPingPongTwoProcesses: BenchmarkRPCPingPong with the server in
// another process, against a raw TCP echo in that process. Besides the
// ratio it reports what each RPC costs the server and the client in
// context switches and CPU time.
func BenchmarkRPCPingPongTwoProcesses(b *testing.B) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	srv := &benchServerProc{stdin: stdin, out: bufio.NewScanner(stdout)}
	var port, rawPort uint16
	if !srv.out.Scan() {
		b.Fatalf("bench server: %v", srv.out.Err())
	}
	if _, err := fmt.Sscanf(srv.out.Text(), "READY %d %d", &port, &rawPort); err != nil {
		b.Fatalf("bench server said %q: %v", srv.out.Text(), err)
	}
	srvAddr := netip.MustParseAddr("127.0.0.43")
	nets, err := lnet.ParseNetworks("tcp(127.0.0.44)")
	if err != nil {
		b.Fatal(err)
	}
	cln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{socklnd.New(socklnd.Config{
		Resolve: func(lnet.NID) (netip.AddrPort, error) { return netip.AddrPortFrom(srvAddr, port), nil },
	})}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cln.Close() })
	imp := benchImport(b, cln, []lnet.NID{{Addr: srvAddr, Net: lnet.Net{Type: lnet.SockLND}}})
	rc, err := net.DialTimeout("tcp", netip.AddrPortFrom(srvAddr, rawPort).String(), time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rc.Close() })
	const size = 64
	raw := &rawEcho{c: rc, buf: make([]byte, size)}
	req := &Req{Opcode: opEcho, Body: make([]byte, size)}
	benchCall(b, imp, req)
	var srvCS, srvCPU, cliCS, cliCPU int64
	benchcmp.Interleave(b, 256, "x-of-raw-tcp", func(n int) { raw.roundTrips(b, n) }, func(n int) {
		scs, scpu := srv.stat(b)
		ccs, ccpu := rusage()
		for range n {
			benchCall(b, imp, req)
		}
		scs2, scpu2 := srv.stat(b)
		ccs2, ccpu2 := rusage()
		srvCS, srvCPU = srvCS+scs2-scs, srvCPU+scpu2-scpu
		cliCS, cliCPU = cliCS+ccs2-ccs, cliCPU+ccpu2-ccpu
	})
	n := float64(b.N)
	b.ReportMetric(float64(srvCS)/n, "srv-cs/op")
	b.ReportMetric(float64(srvCPU)/n/1e3, "srv-cpu-us/op")
	b.ReportMetric(float64(cliCS)/n, "cli-cs/op")
	b.ReportMetric(float64(cliCPU)/n/1e3, "cli-cpu-us/op")
}
