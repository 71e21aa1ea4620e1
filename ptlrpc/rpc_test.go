package ptlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/stria-fs/stria/internal/leaktest"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/wire"
)

func TestRequestReply(t *testing.T) {
	leaktest.Check(t)
	var srv *server
	var seen Creds
	var seenUUID string
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{
		opEcho: func(ctx context.Context, r *Request) error {
			seen, seenUUID = r.Creds(), r.Export().ClientUUID()
			r.SetTransno(srv.transnos.Next())
			r.Reply(append([]byte("echo:"), r.Body()...))
			return nil
		},
	}, nil)
	srv.transnos.Start(10)
	ctx := WithCreds(testCtx(t), Creds{UID: 1000, GID: 100, FSUID: 1000, FSGID: 100, JobID: "dd.1000"})
	rep, err := imp.Call(ctx, &Req{Opcode: opEcho, Body: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Release()
	if string(rep.Body) != "echo:hello" {
		t.Fatalf("body %q", rep.Body)
	}
	if rep.Msg.Transno != 11 || rep.Msg.LastCommitted != 10 || rep.Msg.Type != wire.MsgReply || rep.Msg.Opcode != opEcho {
		t.Fatalf("envelope %+v", rep.Msg)
	}
	if seen.UID != 1000 || seen.FSGID != 100 || seen.JobID != "dd.1000" || seenUUID != imp.ClientUUID() {
		t.Fatalf("creds %+v uuid %q", seen, seenUUID)
	}
	info := imp.Info()
	if info.State != StateFull || info.CurrentNID != lnet.LoNID(1) || info.Connects != 1 || info.LastCommitted != 10 {
		t.Fatalf("import %+v", info)
	}
	exps := srv.tgt.Exports()
	if len(exps) != 1 || exps[0].ClientUUID != imp.ClientUUID() || exps[0].ConnCnt != 1 {
		t.Fatalf("exports %+v", exps)
	}
	// Typed bodies through wire.Body.
	rep2, err := imp.Call(ctx, &Req{Opcode: opEcho, Encode: &wire.ConnectRequest{Target: "x", ClientUUID: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rep2.Release()
	var cr wire.ConnectRequest
	if err := wire.DecodeBody(rep2.Body[len("echo:"):], &cr); err != nil || cr.Target != "x" {
		t.Fatalf("typed body: %v %+v", err, cr)
	}
}

func TestConcurrentCalls(t *testing.T) {
	leaktest.Check(t)
	var executed atomic.Int64
	_, imp := pairSetup(t, map[wire.Opcode]Handler{opEcho: func(ctx context.Context, r *Request) error {
		executed.Add(1)
		return echo(ctx, r)
	}}, nil)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := fmt.Appendf(nil, "worker %d call %d", w, i)
				rep, err := imp.Call(testCtx(t), &Req{Opcode: opEcho, Body: body})
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(rep.Body, body) {
					errs <- fmt.Errorf("got %q for %q", rep.Body, body)
				}
				rep.Release()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := executed.Load(); n != workers*each {
		t.Fatalf("%d executions for %d calls", n, workers*each)
	}
}

var errNoGrant = errors.New("test: out of grant")

func TestErrorsCrossTheWire(t *testing.T) {
	leaktest.Check(t)
	_, imp := pairSetup(t, map[wire.Opcode]Handler{
		opEcho: func(ctx context.Context, r *Request) error {
			r.Reply([]byte("why"))
			return fmt.Errorf("write: %w", errNoGrant)
		},
		wire.OSTStatfs: func(ctx context.Context, r *Request) error {
			return fmt.Errorf("stat: %w", syscall.ENOENT)
		},
	}, []serverOpt{func(_ *ServiceConfig, tc *TargetConfig) {
		tc.Errnos = wire.ErrnoTable{{Err: errNoGrant, Errno: wire.Errno(syscall.EDQUOT)}}
	}})
	ctx := testCtx(t)

	rep, err := imp.Call(ctx, &Req{Opcode: opEcho})
	if !errors.Is(err, syscall.EDQUOT) || !errors.Is(err, wire.ErrRemote) {
		t.Fatalf("mapped error: %v", err)
	}
	if rep == nil || string(rep.Body) != "why" {
		t.Fatalf("error reply body %v", rep)
	}
	rep.Release()

	_, err = imp.Call(ctx, &Req{Opcode: wire.OSTStatfs})
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("errno: %v", err)
	}

	// An opcode nobody serves: EOPNOTSUPP, and the service carries on.
	rep, err = imp.Call(ctx, &Req{Opcode: wire.Opcode(9999)})
	if !errors.Is(err, syscall.EOPNOTSUPP) || rep.Msg.Type != wire.MsgErr {
		t.Fatalf("unknown opcode: %v %+v", err, rep)
	}
	rep.Release()
	if _, err := imp.Call(ctx, &Req{Opcode: wire.OSTStatfs}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("after unknown opcode: %v", err)
	}
}

func TestBulk(t *testing.T) {
	leaktest.Check(t)
	const size = 1 << 20
	stored := make([]byte, size)
	_, imp := pairSetup(t, map[wire.Opcode]Handler{
		wire.OSTWrite: func(ctx context.Context, r *Request) error {
			n, err := r.BulkGet(ctx, stored)
			if err != nil {
				return err
			}
			r.Reply(fmt.Appendf(nil, "%d", n))
			return nil
		},
		wire.OSTRead: func(ctx context.Context, r *Request) error {
			var want uint32
			d := wire.NewDecoder(r.Body())
			want = d.U32()
			if err := d.Finish(); err != nil {
				return err
			}
			return r.BulkPut(ctx, stored[:want])
		},
	}, nil)
	ctx := testCtx(t)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	rep, err := imp.Call(ctx, &Req{Opcode: wire.OSTWrite, BulkOut: data})
	if err != nil {
		t.Fatal(err)
	}
	if string(rep.Body) != fmt.Sprint(size) || rep.BulkLen() != size || !bytes.Equal(stored, data) {
		t.Fatalf("write: reply %q bulk %d, equal %v", rep.Body, rep.BulkLen(), bytes.Equal(stored, data))
	}
	rep.Release()

	// Read back less than the buffer: a short read.
	in := make([]byte, size)
	var e wire.Encoder
	e.U32(size / 2)
	rep, err = imp.Call(ctx, &Req{Opcode: wire.OSTRead, Body: e.Bytes(), BulkIn: in})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BulkLen() != size/2 || !bytes.Equal(in[:size/2], data[:size/2]) {
		t.Fatalf("read: bulk %d", rep.BulkLen())
	}
	rep.Release()

	// A read larger than the posted buffer is refused: nothing is written,
	// not even the part that would fit.
	slab := make([]byte, 8192)
	e = wire.Encoder{}
	e.U32(8192)
	_, err = imp.Call(ctx, &Req{Opcode: wire.OSTRead, Body: e.Bytes(), BulkIn: slab[:4096]})
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("oversize read: %v", err)
	}
	if !bytes.Equal(slab, make([]byte, 8192)) {
		t.Fatal("bulk written past or into a refused buffer")
	}

	// Requests without bulk cannot move any.
	if _, err := imp.Call(ctx, &Req{Opcode: wire.OSTWrite}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write without bulk: %v", err)
	}
	if _, err := imp.Call(ctx, &Req{Opcode: wire.OSTWrite, BulkOut: data, BulkIn: in}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("two-way bulk: %v", err)
	}
}

func TestRequestTooBig(t *testing.T) {
	leaktest.Check(t)
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{opEcho: echo}, []serverOpt{func(sc *ServiceConfig, _ *TargetConfig) {
		sc.MaxRequestSize = 1024
		sc.RequestBufferSize = 4096
	}})
	ctx := testCtx(t)
	_, err := imp.Call(ctx, &Req{Opcode: opEcho, Body: make([]byte, 2000)})
	if !errors.Is(err, syscall.EMSGSIZE) {
		t.Fatalf("oversize request: %v", err)
	}
	// Many requests cycle the small buffers; the service keeps serving.
	for i := 0; i < 50; i++ {
		rep, err := imp.Call(ctx, &Req{Opcode: opEcho, Body: make([]byte, 700)})
		if err != nil {
			t.Fatal(err)
		}
		rep.Release()
	}
	if st := srv.svc.Stats(); st.TooBig != 1 || st.Requests < 52 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMalformedRequest(t *testing.T) {
	leaktest.Check(t)
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{opEcho: echo}, nil)
	// Garbage straight onto the request portal from the client's LNet.
	ln := imp.ln
	garbage := bytes.Repeat([]byte{0xa5}, 300)
	done := make(chan struct{})
	md, err := ln.Bind(lnet.MD{Buf: garbage, Threshold: 1, Handler: func(ev lnet.Event) {
		if ev.Unlinked {
			close(done)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Put(md, lnet.PutArgs{Target: lnet.ProcessID{NID: lnet.LoNID(1), PID: lnet.PIDLustre}, Portal: testReqPortal}); err != nil {
		t.Fatal(err)
	}
	<-done
	waitUntil(t, "malformed request counted", func() bool { return srv.svc.Stats().Malformed == 1 })
	rep, err := imp.Call(testCtx(t), &Req{Opcode: opEcho, Body: []byte("still here")})
	if err != nil || string(rep.Body) != "still here" {
		t.Fatalf("after garbage: %v", err)
	}
	rep.Release()
}

func TestQueueFull(t *testing.T) {
	testQueueFull(t, func(t *testing.T, h map[wire.Opcode]Handler, s []serverOpt, i ...importOpt) (*server, *Import) {
		return pairSetup(t, h, s, i...)
	})
}

// testQueueFull: with Threads 1 and QueueDepth 1, one request runs, one
// waits and the third is refused with EBUSY, which the client resends; all
// three run in the end. setup connects an import to a server.
func testQueueFull(t *testing.T, setup func(*testing.T, map[wire.Opcode]Handler, []serverOpt, ...importOpt) (*server, *Import)) {
	leaktest.Check(t)
	release := make(chan struct{})
	var executed atomic.Int64
	srv, imp := setup(t, map[wire.Opcode]Handler{opEcho: func(ctx context.Context, r *Request) error {
		executed.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return echo(ctx, r)
	}}, []serverOpt{func(sc *ServiceConfig, _ *TargetConfig) {
		sc.Threads, sc.QueueDepth = 1, 1
		sc.AT.Min, sc.AT.EarlyMargin = waitLimit, waitLimit/2
	}}, func(ic *ImportConfig) { ic.AT.Min = waitLimit })
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	call := func() {
		defer wg.Done()
		rep, err := imp.Call(testCtx(t), &Req{Opcode: opEcho, Body: []byte("x")})
		rep.Release()
		if err != nil {
			errs <- err
		}
	}
	wg.Add(1)
	go call()
	waitUntil(t, "first request running", func() bool { return executed.Load() == 1 })
	wg.Add(1)
	go call()
	waitUntil(t, "second request queued", func() bool { return srv.svc.Stats().Queued == 1 })
	wg.Add(1)
	go call()
	waitUntil(t, "third request refused", func() bool { return srv.svc.Stats().Busy >= 1 })
	if st := srv.svc.Stats(); st.Running != 1 {
		t.Errorf("%d handlers running with Threads 1", st.Running)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := executed.Load(); n != 3 {
		t.Fatalf("%d executions", n)
	}
	if imp.Info().Busy == 0 {
		t.Fatal("client did not see EBUSY")
	}
}

func TestConnectErrors(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	sln := node(t, f, "lo(1)")
	cln := node(t, f, "lo(2)")
	startServer(t, sln, map[wire.Opcode]Handler{opEcho: echo}, func(_ *ServiceConfig, tc *TargetConfig) {
		tc.Connect = func(ctx context.Context, exp *Export, req *wire.ConnectRequest, reconnect bool) error {
			if req.ClientUUID == "banned" {
				return fmt.Errorf("no: %w", syscall.EACCES)
			}
			return nil
		}
	})
	for name, opt := range map[string]importOpt{
		"unknown target": func(c *ImportConfig) { c.Target = "lustre-OST00ff" },
		"refused":        func(c *ImportConfig) { c.ClientUUID = "banned" },
	} {
		imp := newImport(t, cln, []lnet.NID{lnet.LoNID(1)}, opt)
		ctx, cancel := context.WithCancel(context.Background())
		connErr := make(chan error, 1)
		go func() { connErr <- imp.Connect(ctx) }()
		waitUntil(t, name+" error", func() bool { return imp.Info().LastError != nil })
		cancel()
		if err := <-connErr; !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Connect returned %v", name, err)
		}
		err := imp.Info().LastError
		want := map[string]syscall.Errno{"unknown target": syscall.ENODEV, "refused": syscall.EACCES}[name]
		if !errors.Is(err, want) {
			t.Errorf("%s: %v", name, err)
		}
		if imp.State() == StateFull {
			t.Errorf("%s: connected", name)
		}
		if err := imp.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := imp.Call(testCtx(t), &Req{Opcode: opEcho}); !errors.Is(err, ErrClosed) {
			t.Errorf("call after close: %v", err)
		}
	}
}

// A reply longer than the reply buffer: the call is resent with a buffer
// that fits and answered from the saved reply, without running twice.
func TestLargeReply(t *testing.T) {
	leaktest.Check(t)
	var executed atomic.Int64
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<10/16)
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{wire.MDSGetxattr: func(ctx context.Context, r *Request) error {
		executed.Add(1)
		r.Reply(big)
		return nil
	}}, nil)
	rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.MDSGetxattr})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Release()
	if !bytes.Equal(rep.Body, big) || executed.Load() != 1 {
		t.Fatalf("%d bytes, executed %d", len(rep.Body), executed.Load())
	}
	if imp.Info().Resends < 1 || srv.svc.Stats().Reconstructed < 1 {
		t.Fatalf("import %+v service %+v", imp.Info(), srv.svc.Stats())
	}
}
