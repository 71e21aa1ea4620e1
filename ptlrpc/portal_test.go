package ptlrpc

import (
	"context"
	"errors"
	"github.com/stria-fs/stria/internal/leaktest"
	"testing"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

// TestRequestPortal sends requests of one import to two services of the
// same target, as an osc sends I/O to OST_IO and the rest to OST_REQUEST:
// each request runs on the service whose portal it named.
func TestRequestPortal(t *testing.T) {
	leaktest.Check(t)
	const otherPortal = testReqPortal + 1
	srv, imp := pairSetup(t, map[wire.Opcode]Handler{wire.OSTRead: echo}, nil)

	// A second service on another portal, serving the same target.
	io, err := NewService(ServiceConfig{Name: "io", LNet: srv.ln, Portal: otherPortal, ReplyPortal: testReplyPortal,
		BulkPortal: testBulkPortal, Threads: 1, AT: testAT})
	if err != nil {
		t.Fatal(err)
	}
	if err := io.AddTarget(srv.tgt); err != nil {
		t.Fatal(err)
	}
	if err := io.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(io.Close)

	ctx := testCtx(t)
	for _, c := range []struct {
		portal uint32
		want   *Service
	}{{0, srv.svc}, {otherPortal, io}, {testReqPortal, srv.svc}} {
		before := c.want.Stats().Requests
		rep, err := imp.Call(ctx, &Req{Opcode: wire.OSTRead, Body: []byte("x"), Portal: c.portal})
		if err != nil {
			t.Fatalf("portal %d: %v", c.portal, err)
		}
		if string(rep.Body) != "x" {
			t.Errorf("portal %d: reply %q", c.portal, rep.Body)
		}
		rep.Release()
		if got := c.want.Stats().Requests; got != before+1 {
			t.Errorf("portal %d: service %s served %d requests, want %d", c.portal, c.want.Stats().Name, got-before, 1)
		}
	}
	if _, err := imp.Call(ctx, &Req{Opcode: wire.OSTRead, Portal: lnet.MaxPortal}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("portal out of range: %v, want ErrBadRequest", err)
	}
}
