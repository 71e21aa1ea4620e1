package ptlrpc

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/wire"
)

// Requests run on the goroutine that received them (threads.go) only over
// an LND that offers it: these tests run over socklnd.

// tcpSetup starts a server and a connected import over socklnd on loopback.
func tcpSetup(t *testing.T, handlers map[wire.Opcode]Handler, sopts []serverOpt, iopts ...importOpt) (*server, *Import) {
	t.Helper()
	sln, cln := tcpNodes(t)
	srv := startServer(t, sln, handlers, sopts...)
	imp := newImport(t, cln, sln.NIDs(), iopts...)
	connect(t, imp)
	return srv, imp
}

func tcall(t *testing.T, imp *Import, req *Req) []byte {
	t.Helper()
	rep, err := imp.Call(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Release()
	return append([]byte(nil), rep.Body...)
}

// slowFor returns a handler that takes at least d (on the clock, not
// counting on the scheduler) and then echoes.
func slowFor(d time.Duration) Handler {
	return func(ctx context.Context, r *Request) error {
		for start := time.Now(); time.Since(start) < d; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-waitTick():
			}
		}
		return echo(ctx, r)
	}
}

func TestInlineOverTCP(t *testing.T) {
	leaktest.Check(t)
	srv, imp := tcpSetup(t, map[wire.Opcode]Handler{opEcho: echo}, nil)
	before := srv.svc.Stats().Inline
	const n = 20
	for i := range n {
		body := []byte{byte(i), 1, 2, 3}
		if got := tcall(t, imp, &Req{Opcode: opEcho, Body: body}); !bytes.Equal(got, body) {
			t.Fatalf("call %d: %v", i, got)
		}
	}
	if st := srv.svc.Stats(); st.Inline-before != n {
		t.Fatalf("%d of %d quick requests ran inline (stats %+v)", st.Inline-before, n, st)
	}
}

// TestInlineSmallBulk: bulk small enough to travel over the connection its
// request came on is moved while the handler runs inline (the handler's
// connection is detached first, or the transfer would wait for itself).
func TestInlineSmallBulk(t *testing.T) {
	leaktest.Check(t)
	data := []byte("a small bulk transfer, under socklnd's MinBulk")
	srv, imp := tcpSetup(t, map[wire.Opcode]Handler{
		wire.OSTWrite: func(ctx context.Context, r *Request) error {
			buf := make([]byte, r.BulkLen())
			n, err := r.BulkGet(ctx, buf)
			r.Reply(buf[:n])
			return err
		},
		wire.OSTRead: func(ctx context.Context, r *Request) error {
			return r.BulkPut(ctx, data)
		},
	}, nil)
	for i := range 3 {
		if got := tcall(t, imp, &Req{Opcode: wire.OSTWrite, BulkOut: data}); !bytes.Equal(got, data) {
			t.Fatalf("write %d: server got %q", i, got)
		}
		in := make([]byte, len(data))
		rep, err := imp.Call(testCtx(t), &Req{Opcode: wire.OSTRead, BulkIn: in})
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if rep.BulkLen() != len(data) || !bytes.Equal(in, data) {
			t.Fatalf("read %d: %d bytes: %q", i, rep.BulkLen(), in)
		}
		rep.Release()
	}
	if st := srv.svc.Stats(); st.Detached == 0 || st.Inline == 0 {
		t.Fatalf("stats %+v: no inline run was detached for its bulk", st)
	}
}

// TestInlineWaitsForOwnConnection: a handler running inline that waits for
// another request from the same client (same connection) gets it: the
// watchdog hands its connection to a new reader.
func TestInlineWaitsForOwnConnection(t *testing.T) {
	leaktest.Check(t)
	const opWait, opWake = wire.OSTGetattr, wire.OSTSetattr
	waiting, woken := make(chan struct{}), make(chan struct{})
	srv, imp := tcpSetup(t, map[wire.Opcode]Handler{
		opWait: func(ctx context.Context, r *Request) error {
			close(waiting)
			select {
			case <-woken:
				return echo(ctx, r)
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		opWake: func(ctx context.Context, r *Request) error {
			close(woken)
			return echo(ctx, r)
		},
	}, nil)
	errs := make(chan error, 1)
	go func() {
		rep, err := imp.Call(testCtx(t), &Req{Opcode: opWait, Body: []byte("w")})
		rep.Release()
		errs <- err
	}()
	<-waiting
	tcall(t, imp, &Req{Opcode: opWake, Body: []byte("x")})
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if st := srv.svc.Stats(); st.Detached == 0 {
		t.Fatalf("stats %+v: the waiting handler was not detached", st)
	}
}

// TestInlineLearnsSlowOpcodes: once a handler of an opcode took long, its
// requests go to the worker threads.
func TestInlineLearnsSlowOpcodes(t *testing.T) {
	leaktest.Check(t)
	const opSlow = wire.OSTSetattr
	srv, imp := tcpSetup(t, map[wire.Opcode]Handler{opEcho: echo, opSlow: slowFor(2 * inlineQuick)}, nil)
	tcall(t, imp, &Req{Opcode: opSlow, Body: []byte("first")})
	before := srv.svc.Stats().Inline
	tcall(t, imp, &Req{Opcode: opSlow, Body: []byte("second")})
	tcall(t, imp, &Req{Opcode: opEcho, Body: []byte("quick")})
	if st := srv.svc.Stats(); st.Inline != before+1 {
		t.Fatalf("after a slow request of its opcode, %d of 2 requests (1 slow, 1 quick) ran inline", st.Inline-before)
	}
}

// TestInlineQueueFull: the bounded pool holds with inline runs: Threads
// handlers at once, QueueDepth waiting, the rest refused with EBUSY and
// resent.
func TestInlineQueueFull(t *testing.T) { testQueueFull(t, tcpSetup) }

// TestInlineClose: closing the service while a handler runs inline cancels
// the handler's context and waits for it.
func TestInlineClose(t *testing.T) {
	leaktest.Check(t)
	var done atomic.Bool
	running := make(chan struct{})
	srv, imp := tcpSetup(t, map[wire.Opcode]Handler{opEcho: func(ctx context.Context, r *Request) error {
		close(running)
		<-ctx.Done()
		done.Store(true)
		return ctx.Err()
	}}, nil)
	errs := make(chan error, 1)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	go func() {
		rep, err := imp.Call(ctx, &Req{Opcode: opEcho})
		rep.Release()
		errs <- err
	}()
	<-running
	srv.svc.Close()
	if !done.Load() {
		t.Fatal("Close returned before the handler")
	}
	if st := srv.svc.Stats(); st.Inline == 0 {
		t.Fatalf("stats %+v: the handler did not run inline", st)
	}
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) && !errors.Is(err, syscall.ECANCELED) {
		t.Fatalf("call: %v", err)
	}
}
