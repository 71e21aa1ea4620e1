package ost

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// fakeMGS is a ptlrpc service answering MGS_TARGET_REG, recording what it
// got.
type fakeMGS struct {
	mu   sync.Mutex
	regs []wire.TargetRegRequest
}

func (m *fakeMGS) start(t testing.TB, ln *lnet.LNet) {
	t.Helper()
	tgt, err := ptlrpc.NewTarget(ptlrpc.TargetConfig{Name: mgc.MGSName, Handlers: map[wire.Opcode]ptlrpc.Handler{
		wire.MGSTargetReg: func(_ context.Context, r *ptlrpc.Request) error {
			var req wire.TargetRegRequest
			if err := r.DecodeBody(&req); err != nil {
				return err
			}
			m.mu.Lock()
			m.regs = append(m.regs, req)
			gen := uint64(len(m.regs))
			m.mu.Unlock()
			r.ReplyBody(&wire.TargetRegReply{Gen: gen})
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{Name: "mgs", LNet: ln, Portal: wire.MGSRequestPortal,
		ReplyPortal: wire.MGCReplyPortal, BulkPortal: wire.MGSBulkPortal, Threads: 2, AT: testAT,
		Logger: zaptest.NewLogger(t).Named("mgs")})
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
}

func (m *fakeMGS) registrations() []wire.TargetRegRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.regs)
}

// TestRegisterThroughMGC: the label's MGS nodes are used through package
// mgc; an MGS that comes up after the OSS still gets the registration.
func TestRegisterThroughMGC(t *testing.T) {
	checkLeaks(t)
	f := lolnd.NewFabric()
	oss := lnetNode(t, f, "lo(1)")
	mgsLN := lnetNode(t, f, "lo(3)")
	dir := filepath.Join(t.TempDir(), "ost")
	if _, err := Format(dir, FormatOptions{FSName: testFS, Index: 5, MGSNodes: [][]lnet.NID{{lnet.LoNID(3)}},
		Params: []string{"sys.timeout=40"}}); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(testCtx(t), Config{Dirs: []string{dir}, LNet: oss, Logger: zaptest.NewLogger(t).Named("oss"),
		AT: testAT, RegisterRetry: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// The MGS is not there yet: the target serves unregistered.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.WaitRegistered(ctx); err == nil {
		t.Fatal("registered with no MGS running")
	}
	var mgs fakeMGS
	mgs.start(t, mgsLN)
	if err := srv.WaitRegistered(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	regs := mgs.registrations()
	if len(regs) != 1 {
		t.Fatalf("%d registrations", len(regs))
	}
	r := regs[0]
	if r.FSName != testFS || r.Kind != wire.KindOST || r.Index != 5 || r.UUID != ostName(5)+"_UUID" ||
		!slices.Equal(r.Params, []string{"sys.timeout=40"}) || len(r.Nodes) != 1 ||
		!slices.Equal(r.Nodes[0].NIDs, []lnet.NID{lnet.LoNID(1)}) {
		t.Errorf("registration %+v", r)
	}
}
