package osc

import (
	"context"
	"hash/crc32"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

var testAT = ptlrpc.ATConfig{Min: 300 * time.Millisecond, Max: 3 * time.Second, History: 10 * time.Second,
	EarlyMargin: 150 * time.Millisecond, Extra: 300 * time.Millisecond}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

func newLNet(t testing.TB, f *lolnd.Fabric, num int) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks("lo(" + strconv.Itoa(num) + ")")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(f)},
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// fakeOST is a scripted OST on a ptlrpc service: objects in memory, and
// knobs to corrupt reads, refuse writes and hold requests.
type fakeOST struct {
	crc     *crc32.Table
	ost, io *ptlrpc.Service // the "ost" and "ost_io" services

	mu          sync.Mutex
	objs        map[wire.FID][]byte
	corruptRead int   // corrupt the next N reads' data
	badWrites   int   // answer the next N writes EBADMSG
	writeErr    error // answer every write with it
	grant       uint64
	mtimes      map[wire.FID]int64 // the last mtime a write or setattr sent
	writes      int
	now, peak   int           // writes being served
	gate        chan struct{} // if set, writes wait on it
}

const ostName = "testfs-OST0000"

func startFakeOST(t testing.TB, ln *lnet.LNet) *fakeOST {
	t.Helper()
	f := &fakeOST{crc: crc32.MakeTable(crc32.Castagnoli), objs: map[wire.FID][]byte{}}
	tgt, err := ptlrpc.NewTarget(ptlrpc.TargetConfig{Name: ostName, Handlers: map[wire.Opcode]ptlrpc.Handler{
		wire.OSTRead: f.read, wire.OSTWrite: f.write, wire.OSTGetattr: f.getattr, wire.OSTStatfs: f.statfs,
		wire.OSTFallocate: f.fallocate, wire.OSTSetattr: f.setattr,
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []struct {
		name   string
		portal uint32
		svc    **ptlrpc.Service
	}{{"ost", wire.OSTRequestPortal, &f.ost}, {"ost_io", wire.OSTIOPortal, &f.io}} {
		svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{Name: sc.name, LNet: ln, Portal: sc.portal,
			ReplyPortal: wire.OSCReplyPortal, BulkPortal: wire.OSTBulkPortal, Threads: 16, AT: testAT,
			Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named(sc.name)})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.AddTarget(tgt); err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Close)
		*sc.svc = svc
	}
	return f
}

func (f *fakeOST) read(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.IORequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	f.mu.Lock()
	o := f.objs[req.FID]
	var data []byte
	if req.Offset < uint64(len(o)) {
		data = append(data, o[req.Offset:min(uint64(len(o)), req.Offset+uint64(req.Length))]...)
	}
	sum := crc32.Checksum(data, f.crc)
	if f.corruptRead > 0 && len(data) > 0 {
		f.corruptRead--
		data[0] ^= 0xff
	}
	grant := f.grant
	f.mu.Unlock()
	if len(data) > 0 {
		if err := r.BulkPut(ctx, data); err != nil {
			return err
		}
	}
	r.ReplyBody(&wire.IOReply{Length: uint32(len(data)), Checksum: sum, Size: uint64(len(o)), Grant: grant})
	return nil
}

func (f *fakeOST) write(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.IORequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	f.mu.Lock()
	f.writes++
	f.now++
	f.peak = max(f.peak, f.now)
	gate := f.gate
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.now--
		f.mu.Unlock()
	}()
	if gate != nil {
		<-gate
	}
	buf := make([]byte, req.Length)
	if _, err := r.BulkGet(ctx, buf); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r.ReplyBody(&wire.IOReply{Grant: f.grant})
	switch {
	case f.writeErr != nil:
		return f.writeErr
	case f.badWrites > 0:
		f.badWrites--
		return syscall.EBADMSG
	case crc32.Checksum(buf, f.crc) != req.Checksum:
		return syscall.EBADMSG
	}
	o := f.objs[req.FID]
	if end := req.Offset + uint64(len(buf)); end > uint64(len(o)) {
		o = append(o, make([]byte, end-uint64(len(o)))...)
	}
	copy(o[req.Offset:], buf)
	f.objs[req.FID] = o
	if req.Mtime != 0 {
		f.setMtime(req.FID, req.Mtime)
	}
	f.grant += req.GrantWant / 2
	r.ReplyBody(&wire.IOReply{Length: req.Length, Size: uint64(len(o)), Grant: f.grant})
	return nil
}

func (f *fakeOST) getattr(_ context.Context, r *ptlrpc.Request) error {
	var req wire.FIDRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	f.mu.Lock()
	o, ok := f.objs[req.FID]
	f.mu.Unlock()
	if !ok {
		return syscall.ENOENT
	}
	r.ReplyBody(&wire.ObjectAttrRequest{FID: req.FID, Attr: wire.Attr{Valid: wire.AttrSize, Size: uint64(len(o))}})
	return nil
}

func (f *fakeOST) setMtime(fid wire.FID, m int64) {
	if f.mtimes == nil {
		f.mtimes = map[wire.FID]int64{}
	}
	f.mtimes[fid] = m
}

// setattr serves OST_SETATTR of an mtime.
func (f *fakeOST) setattr(_ context.Context, r *ptlrpc.Request) error {
	var req wire.ObjectAttrRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Attr.Valid&wire.AttrMtime != 0 {
		f.setMtime(req.FID, req.Attr.Mtime)
	}
	r.ReplyBody(&wire.ObjectAttrRequest{FID: req.FID, Attr: wire.Attr{Valid: wire.AttrSize | wire.AttrMtime,
		Size: uint64(len(f.objs[req.FID])), Mtime: f.mtimes[req.FID]}})
	return nil
}

// fallocate serves OST_FALLOCATE: mode 0 grows the object, any other
// mode is EOPNOTSUPP; the reply is the object's size.
func (f *fakeOST) fallocate(_ context.Context, r *ptlrpc.Request) error {
	var req wire.FallocateRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	if req.Mode != 0 {
		return syscall.EOPNOTSUPP
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.objs[req.FID]
	if end := req.Offset + req.Length; end > uint64(len(o)) {
		o = append(o, make([]byte, end-uint64(len(o)))...)
	}
	f.objs[req.FID] = o
	r.ReplyBody(&wire.ObjectAttrRequest{FID: req.FID, Attr: wire.Attr{Valid: wire.AttrSize, Size: uint64(len(o))}})
	return nil
}

func (f *fakeOST) statfs(_ context.Context, r *ptlrpc.Request) error {
	r.ReplyBody(&wire.StatFS{Blocks: 100, BFree: 50, BAvail: 40, BSize: 4096})
	return nil
}

// newOSC connects an OSC from client LNet cln to the fake on server LNet sln.
func newOSC(t testing.TB, cln, sln *lnet.LNet, inflight int) *OSC {
	t.Helper()
	o, err := New(Config{Target: ostName, NIDs: sln.NIDs(), LNet: cln, MaxRPCsInFlight: inflight,
		Logger: zaptest.NewLogger(t).Named("osc"), AT: testAT, ReconnectBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	if err := o.Connect(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return o
}

func setup(t *testing.T, inflight int) (*OSC, *fakeOST) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln, cln := newLNet(t, f, 1), newLNet(t, f, 2)
	ost := startFakeOST(t, sln)
	return newOSC(t, cln, sln, inflight), ost
}
