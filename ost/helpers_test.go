package ost

import (
	"context"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

const testFS = "testfs"

// testAT keeps the services' early replies for requests that are really
// late: with Lustre's defaults (early margin 5 s) every request whose
// client allows less than 5 s — a connect — would get one at once.
var testAT = ptlrpc.ATConfig{EarlyMargin: 50 * time.Millisecond}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkLeaks fails t if goroutines of this module started during the test
// are still running after its cleanups. Call it first.
func checkLeaks(t testing.TB) {
	t.Helper()
	before := map[string]bool{}
	for _, g := range goroutines() {
		before[g[:strings.IndexByte(g, '\n')]] = true
	}
	t.Cleanup(func() {
		var leaked []string
		for wait := time.Millisecond; wait < 5*time.Second; wait *= 2 {
			leaked = leaked[:0]
			for _, g := range goroutines() {
				if !before[g[:strings.IndexByte(g, '\n')]] && strings.Contains(g, "github.com/stria-fs/stria/") &&
					!strings.Contains(g, "created by testing.") && !strings.Contains(g, "checkLeaks") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			time.Sleep(wait)
		}
		for _, g := range leaked {
			t.Errorf("leaked goroutine:\n%s", g)
		}
	})
}

func goroutines() []string {
	b := make([]byte, 1<<20)
	for {
		n := runtime.Stack(b, true)
		if n < len(b) {
			b = b[:n]
			break
		}
		b = make([]byte, 2*len(b))
	}
	return strings.Split(string(b), "\n\n")
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond until it holds; it fails t after waitLimit.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// lnetNode starts an LNet instance on f with the given networks string.
func lnetNode(t testing.TB, f *lolnd.Fabric, networks string) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks(networks)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(f)},
		Logger: zaptest.NewLogger(t).Named(networks)})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = ln.Close() }) })
	return ln
}

// cluster is an OSS on 1@lo and a client node on 2@lo.
type cluster struct {
	t     testing.TB
	fab   *lolnd.Fabric
	sln   *lnet.LNet
	cln   *lnet.LNet
	node  *obd.Node
	dirs  []string
	srv   *Server
	nimps int
}

// formatDirs formats n OSTs of testFS (indexes 0..n-1) in fresh
// directories.
func formatDirs(t testing.TB, n int, capacity int64) []string {
	t.Helper()
	root := t.TempDir()
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprintf("ost%d", i))
		if _, err := Format(dirs[i], FormatOptions{FSName: testFS, Index: uint32(i), Capacity: capacity}); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// newCluster formats n OSTs and starts a server on them; cfg adjusts the
// Config.
func newCluster(t testing.TB, n int, capacity int64, cfg func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, fab: lolnd.NewFabric()}
	c.sln = lnetNode(t, c.fab, "lo(1)")
	c.cln = lnetNode(t, c.fab, "lo(2)")
	c.node = obd.NewNode(zaptest.NewLogger(t))
	c.dirs = formatDirs(t, n, capacity)
	c.start(cfg)
	return c
}

func (c *cluster) config() Config {
	return Config{Dirs: c.dirs, LNet: c.sln, Node: c.node, Logger: zaptest.NewLogger(c.t).Named("oss"),
		Threads: 2, IOThreads: 4, StatFSInterval: 10 * time.Millisecond, AT: testAT}
}

// start starts the server (again) on the cluster's directories.
func (c *cluster) start(adjust func(*Config)) {
	c.t.Helper()
	cfg := c.config()
	if adjust != nil {
		adjust(&cfg)
	}
	srv, err := Start(testCtx(c.t), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.srv = srv
	c.t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			c.t.Error(err)
		}
	})
}

// stop closes the server.
func (c *cluster) stop() {
	c.t.Helper()
	if err := c.srv.Close(); err != nil {
		c.t.Fatal(err)
	}
}

// connect returns a connected import to OST index idx on portal.
func (c *cluster) connect(idx uint32, portal uint32, uuid string) *ptlrpc.Import {
	c.t.Helper()
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{
		Target: ostName(idx), NIDs: c.sln.NIDs(), LNet: c.cln, RequestPortal: portal,
		ReplyPortal: wire.OSCReplyPortal, BulkPortal: wire.OSTBulkPortal, ConnectOpcode: wire.OSTConnect,
		ClientUUID: uuid, Flags: wire.ConnectGrant | wire.ConnectCksum, ConnectTimeout: 200 * time.Millisecond,
		ReconnectBackoff: 20 * time.Millisecond, PingInterval: -1,
		Logger: zaptest.NewLogger(c.t).Named("client"),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = imp.Close() })
	if err := imp.Connect(testCtx(c.t)); err != nil {
		c.t.Fatal(err)
	}
	return imp
}

// io returns a connected ost_io import to OST 0.
func (c *cluster) io() *ptlrpc.Import { return c.connect(0, wire.OSTIOPortal, "") }

func ostName(idx uint32) string { return fmt.Sprintf("%s-OST%04x", testFS, idx) }

// precreate makes n objects for MDT mdt and returns the first.
func precreate(t testing.TB, imp *ptlrpc.Import, mdt, n uint32) wire.PrecreateReply {
	t.Helper()
	var rep wire.PrecreateReply
	call(t, imp, wire.OSTCreate, &wire.PrecreateRequest{MDTIndex: mdt, Count: n}, &rep)
	return rep
}

// call sends a bodied request and decodes the reply; it fails t on error.
func call(t testing.TB, imp *ptlrpc.Import, op wire.Opcode, req, rep wire.Body) {
	t.Helper()
	if err := try(t, imp, op, req, rep); err != nil {
		t.Fatalf("%v: %v", op, err)
	}
}

// try sends a bodied request and decodes the reply into rep (nil: none).
func try(t testing.TB, imp *ptlrpc.Import, op wire.Opcode, req, rep wire.Body) error {
	t.Helper()
	r, err := imp.Call(testCtx(t), &ptlrpc.Req{Opcode: op, Encode: req})
	defer r.Release()
	if err != nil {
		return err
	}
	if rep != nil {
		if err := r.Decode(rep); err != nil {
			t.Fatalf("%v reply: %v", op, err)
		}
	}
	return nil
}

// write sends data at off with its crc32c (or sum, when given).
func write(t testing.TB, imp *ptlrpc.Import, fid wire.FID, off uint64, data []byte, want uint64, sum ...uint32) (wire.IOReply, error) {
	t.Helper()
	req := &wire.IORequest{FID: fid, Offset: off, Length: uint32(len(data)),
		Checksum: crc32.Checksum(data, castagnoli), GrantWant: want}
	if len(sum) > 0 {
		req.Checksum = sum[0]
	}
	r, err := imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.OSTWrite, Encode: req, BulkOut: data})
	defer r.Release()
	var rep wire.IOReply
	if r != nil && len(r.Body) > 0 {
		if derr := r.Decode(&rep); derr != nil {
			t.Fatalf("write reply: %v", derr)
		}
	}
	return rep, err
}

// mustWrite writes and checks the reply.
func mustWrite(t testing.TB, imp *ptlrpc.Import, fid wire.FID, off uint64, data []byte) wire.IOReply {
	t.Helper()
	rep, err := write(t, imp, fid, off, data, 0)
	if err != nil {
		t.Fatalf("write %v at %d (%d bytes): %v", fid, off, len(data), err)
	}
	if rep.Length != uint32(len(data)) {
		t.Fatalf("write moved %d of %d bytes", rep.Length, len(data))
	}
	return rep
}

// read reads n bytes at off into a fresh buffer and checks the checksum.
func read(t testing.TB, imp *ptlrpc.Import, fid wire.FID, off uint64, n int) ([]byte, wire.IOReply, error) {
	t.Helper()
	buf := make([]byte, n)
	r, err := imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.OSTRead,
		Encode: &wire.IORequest{FID: fid, Offset: off, Length: uint32(n)}, BulkIn: buf})
	defer r.Release()
	var rep wire.IOReply
	if r != nil && len(r.Body) > 0 {
		if derr := r.Decode(&rep); derr != nil {
			t.Fatalf("read reply: %v", derr)
		}
	}
	if err != nil {
		return nil, rep, err
	}
	return buf[:rep.Length], rep, nil
}

// mustRead reads and verifies the checksum.
func mustRead(t testing.TB, imp *ptlrpc.Import, fid wire.FID, off uint64, n int) ([]byte, wire.IOReply) {
	t.Helper()
	data, rep, err := read(t, imp, fid, off, n)
	if err != nil {
		t.Fatalf("read %v at %d (%d bytes): %v", fid, off, n, err)
	}
	if got := crc32.Checksum(data, castagnoli); got != rep.Checksum {
		t.Fatalf("read checksum %#x, reply says %#x", got, rep.Checksum)
	}
	return data, rep
}

// pattern returns n bytes that differ with seed and position.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed ^ byte(i>>12)
	}
	return b
}

// getattr returns an object's attributes.
func getattr(t testing.TB, imp *ptlrpc.Import, fid wire.FID) (wire.Attr, error) {
	t.Helper()
	var rep wire.ObjectAttrRequest
	err := try(t, imp, wire.OSTGetattr, &wire.FIDRequest{FID: fid}, &rep)
	return rep.Attr, err
}

// param reads one obd parameter of the cluster's node.
func (c *cluster) param(name string) string {
	c.t.Helper()
	vs, err := c.node.Params.Get(name)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(vs) != 1 {
		c.t.Fatalf("%s: %d values", name, len(vs))
	}
	return vs[0].Value
}
