package memverbs

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// side is one end of a test connection.
type side struct {
	dev verbs.Device
	pd  verbs.PD
	cq  verbs.CQ
	ep  verbs.Endpoint
	qp  verbs.QP
	buf []byte
	mr  verbs.MR
}

func (s *side) close(t *testing.T) {
	t.Helper()
	for _, err := range []error{s.ep.Close(), s.mr.Close(), s.cq.Close(), s.pd.Close(), s.dev.Close()} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func open(t *testing.T, f *Fabric, ifname string) *side {
	t.Helper()
	dev, _, err := f.Open(ifname)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := dev.AllocPD()
	if err != nil {
		t.Fatal(err)
	}
	cq, err := dev.CreateCQ(64)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	mr, err := pd.RegMR(buf, verbs.AccessLocalWrite|verbs.AccessRemoteWrite)
	if err != nil {
		t.Fatal(err)
	}
	return &side{dev: dev, pd: pd, cq: cq, buf: buf, mr: mr}
}

func (s *side) qpConfig() verbs.QPConfig {
	return verbs.QPConfig{PD: s.pd, CQ: s.cq, MaxSendWR: 8, MaxRecvWR: 8, MaxSendSGE: 2, MaxRecvSGE: 2}
}

func (s *side) sge(off, n int) []verbs.SGE {
	return []verbs.SGE{{Addr: s.mr.Addr() + uint64(off), Length: uint32(n), LKey: s.mr.LKey()}}
}

func (s *side) poll(t *testing.T) []verbs.WC {
	t.Helper()
	wc := make([]verbs.WC, 16)
	n, err := s.cq.Poll(wc)
	if err != nil {
		t.Fatal(err)
	}
	return wc[:n]
}

// pair connects two fresh devices and returns (active, passive).
func pair(t *testing.T) (*Fabric, *side, *side) {
	t.Helper()
	f := NewFabric()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	f.AddDevice("mlx5_0", "ib0", a)
	f.AddDevice("mlx5_1", "ib1", b)
	sa, sb := open(t, f, "ib0"), open(t, f, "10.0.0.2")
	l, err := sb.dev.Listen(netip.AddrPortFrom(b, 987))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	sa.ep, err = sa.dev.Dial(ctx, a, netip.AddrPortFrom(b, 987))
	if err != nil {
		t.Fatal(err)
	}
	if sa.qp, err = sa.ep.CreateQP(sa.qpConfig()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ep, err := l.Accept(ctx)
		if err == nil {
			sb.ep = ep
			if !bytes.Equal(ep.PrivateData(), []byte("hello")) {
				err = errors.New("bad private data")
			}
		}
		if err == nil {
			sb.qp, err = ep.CreateQP(sb.qpConfig())
		}
		if err == nil {
			err = ep.Accept(ctx, []byte("welcome"))
		}
		done <- err
	}()
	rep, err := sa.ep.Connect(ctx, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(rep) != "welcome" {
		t.Fatalf("accept private data %q", rep)
	}
	return f, sa, sb
}

func TestSendRecvAndRDMAWrite(t *testing.T) {
	f, a, b := pair(t)
	if err := b.qp.PostRecv(&verbs.RecvWR{ID: 7, SGL: b.sge(0, 100)}); err != nil {
		t.Fatal(err)
	}
	copy(a.buf, "ping")
	if err := a.qp.PostSend(&verbs.SendWR{ID: 1, Opcode: verbs.OpSend, SGL: a.sge(0, 4), Signaled: true}); err != nil {
		t.Fatal(err)
	}
	if wc := b.poll(t); len(wc) != 1 || wc[0] != (verbs.WC{ID: 7, Status: verbs.Success, Opcode: verbs.OpRecv, ByteLen: 4}) {
		t.Fatalf("receiver completions %+v", wc)
	}
	if string(b.buf[:4]) != "ping" {
		t.Fatalf("received %q", b.buf[:4])
	}
	// An unsignalled RDMA write, then a signalled one: one completion retires both.
	copy(a.buf[100:], "bulkdata")
	w := verbs.SendWR{ID: 2, Opcode: verbs.OpRDMAWrite, SGL: a.sge(100, 4), RemoteAddr: b.mr.Addr() + 1000, RKey: b.mr.RKey()}
	if err := a.qp.PostSend(&w); err != nil {
		t.Fatal(err)
	}
	w = verbs.SendWR{ID: 3, Opcode: verbs.OpRDMAWrite, SGL: a.sge(104, 4), RemoteAddr: b.mr.Addr() + 1004, RKey: b.mr.RKey(), Signaled: true}
	if err := a.qp.PostSend(&w); err != nil {
		t.Fatal(err)
	}
	wc := a.poll(t)
	if len(wc) != 2 || wc[0].ID != 1 || wc[1].ID != 3 || wc[1].Status != verbs.Success {
		t.Fatalf("sender completions %+v", wc)
	}
	if string(b.buf[1000:1008]) != "bulkdata" {
		t.Fatalf("RDMA write landed as %q", b.buf[1000:1008])
	}
	if got := a.qp.(*QP).outstanding.Load(); got != 0 {
		t.Fatalf("%d send slots still outstanding", got)
	}
	if f.Stats().RNR != 0 {
		t.Fatal("unexpected RNR")
	}
	a.close(t)
	b.close(t)
	if s := f.Stats(); s != (Stats{}) {
		t.Fatalf("leak: %+v", s)
	}
}

func TestRNRWaitsForReceive(t *testing.T) {
	f, a, b := pair(t)
	defer a.close(t)
	defer b.close(t)
	copy(a.buf, "first")
	copy(a.buf[5:], "second")
	_ = a.qp.PostSend(&verbs.SendWR{ID: 1, Opcode: verbs.OpSend, SGL: a.sge(0, 5), Signaled: true})
	_ = a.qp.PostSend(&verbs.SendWR{ID: 2, Opcode: verbs.OpSend, SGL: a.sge(5, 6), Signaled: true})
	if wc := a.poll(t); len(wc) != 0 {
		t.Fatalf("send completed without a receive: %+v", wc)
	}
	if f.Stats().RNR != 1 {
		t.Fatalf("RNR = %d", f.Stats().RNR)
	}
	_ = b.qp.PostRecv(&verbs.RecvWR{ID: 1, SGL: b.sge(0, 64)})
	_ = b.qp.PostRecv(&verbs.RecvWR{ID: 2, SGL: b.sge(64, 64)})
	if wc := a.poll(t); len(wc) != 2 {
		t.Fatalf("sender completions %+v", wc)
	}
	if string(b.buf[:5]) != "first" || string(b.buf[64:70]) != "second" {
		t.Fatal("messages out of order")
	}
}

func TestErrorsMoveToErrorAndFlush(t *testing.T) {
	t.Run("remote access outside the MR", func(t *testing.T) {
		_, a, b := pair(t)
		defer a.close(t)
		defer b.close(t)
		_ = b.qp.PostRecv(&verbs.RecvWR{ID: 9, SGL: b.sge(0, 64)})
		w := verbs.SendWR{ID: 4, Opcode: verbs.OpRDMAWrite, SGL: a.sge(0, 100), RemoteAddr: b.mr.Addr() + 4000, RKey: b.mr.RKey()}
		_ = a.qp.PostSend(&w)
		if wc := a.poll(t); len(wc) != 1 || wc[0].Status != verbs.RemAccessErr || wc[0].ID != 4 {
			t.Fatalf("sender %+v", wc)
		}
		if wc := b.poll(t); len(wc) != 1 || wc[0].Status != verbs.WRFlushErr {
			t.Fatalf("receiver %+v", wc)
		}
		// Posting on an errored QP completes at once with a flush.
		_ = a.qp.PostSend(&verbs.SendWR{ID: 5, Opcode: verbs.OpSend, SGL: a.sge(0, 1)})
		if wc := a.poll(t); len(wc) != 1 || wc[0].Status != verbs.WRFlushErr {
			t.Fatalf("post after error %+v", wc)
		}
	})
	t.Run("message larger than the receive buffer", func(t *testing.T) {
		_, a, b := pair(t)
		defer a.close(t)
		defer b.close(t)
		_ = b.qp.PostRecv(&verbs.RecvWR{ID: 9, SGL: b.sge(0, 8)})
		_ = a.qp.PostSend(&verbs.SendWR{ID: 1, Opcode: verbs.OpSend, SGL: a.sge(0, 9)})
		if wc := b.poll(t); len(wc) != 1 || wc[0].Status != verbs.LocLenErr {
			t.Fatalf("receiver %+v", wc)
		}
		if wc := a.poll(t); len(wc) != 1 || wc[0].Status != verbs.RemInvReqErr {
			t.Fatalf("sender %+v", wc)
		}
	})
	t.Run("link down and QP failure", func(t *testing.T) {
		f, a, b := pair(t)
		defer a.close(t)
		defer b.close(t)
		_ = a.qp.PostRecv(&verbs.RecvWR{ID: 1, SGL: a.sge(0, 8)})
		_ = a.qp.PostRecv(&verbs.RecvWR{ID: 2, SGL: a.sge(8, 8)})
		a.qp.(*QP).Fail(verbs.FatalErr)
		wc := a.poll(t)
		if len(wc) != 2 || wc[0].Status != verbs.FatalErr || wc[1].Status != verbs.WRFlushErr {
			t.Fatalf("failed QP %+v", wc)
		}
		// The peer learns when it sends.
		_ = b.qp.PostSend(&verbs.SendWR{ID: 3, Opcode: verbs.OpSend, SGL: b.sge(0, 1)})
		if wc := b.poll(t); len(wc) != 1 || wc[0].Status != verbs.RetryExcErr {
			t.Fatalf("peer of failed QP %+v", wc)
		}
		f.devices[0].SetLinkDown(true)
		if _, err := b.dev.Dial(context.Background(), b.dev.(*devctx).d.addr, netip.MustParseAddrPort("10.0.0.1:987")); !errors.Is(err, verbs.ErrUnreachable) {
			t.Fatalf("dial to a downed device: %v", err)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		_, a, b := pair(t)
		defer a.close(t)
		defer b.close(t)
		_ = a.qp.PostSend(&verbs.SendWR{ID: 1, Opcode: verbs.OpSend, SGL: []verbs.SGE{{Addr: a.mr.Addr(), Length: 1, LKey: 12345}}})
		if wc := a.poll(t); len(wc) != 1 || wc[0].Status != verbs.LocProtErr {
			t.Fatalf("%+v", wc)
		}
	})
}

func TestConnectionManager(t *testing.T) {
	f := NewFabric()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	f.AddDevice("d0", "ib0", a)
	f.AddDevice("d1", "ib1", b)
	if _, _, err := f.Open("eth0"); !errors.Is(err, verbs.ErrNoDevice) {
		t.Fatalf("Open(eth0): %v", err)
	}
	sa, sb := open(t, f, "ib0"), open(t, f, "ib1")
	ctx := context.Background()
	if _, err := sa.dev.Dial(ctx, a, netip.MustParseAddrPort("10.0.0.9:987")); !errors.Is(err, verbs.ErrUnreachable) {
		t.Fatalf("dial unknown address: %v", err)
	}
	// Nobody listening: the CM rejects with "invalid service ID".
	ep, err := sa.dev.Dial(ctx, a, netip.AddrPortFrom(b, 987))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep.CreateQP(sa.qpConfig()); err != nil {
		t.Fatal(err)
	}
	var rej *verbs.RejectError
	if _, err := ep.Connect(ctx, nil); !errors.As(err, &rej) || rej.Status != verbs.RejectInvalidServiceID {
		t.Fatalf("connect without listener: %v", err)
	}
	if _, err := ep.Connect(ctx, make([]byte, MaxConnectPrivate+1)); !errors.Is(err, verbs.ErrInvalid) {
		t.Fatalf("oversized private data: %v", err)
	}
	// A consumer reject carries private data.
	l, err := sb.dev.Listen(netip.AddrPortFrom(b, 987))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.dev.Listen(netip.AddrPortFrom(b, 987)); !errors.Is(err, verbs.ErrAddrInUse) {
		t.Fatalf("second listen: %v", err)
	}
	go func() {
		pe, err := l.Accept(ctx)
		if err == nil {
			_ = pe.Reject([]byte("go away"))
			_ = pe.Close()
		}
	}()
	if _, err := ep.Connect(ctx, []byte("hi")); !errors.As(err, &rej) || rej.Status != verbs.RejectConsumer || string(rej.PrivateData) != "go away" {
		t.Fatalf("rejected connect: %v", err)
	}
	// A requester that gives up.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ep.Connect(cctx, nil); !errors.Is(err, verbs.ErrUnreachable) && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled connect: %v", err)
	}
	pe, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pe.CreateQP(sb.qpConfig()); err != nil {
		t.Fatal(err)
	}
	if err := pe.Accept(ctx, nil); !errors.Is(err, verbs.ErrUnreachable) {
		t.Fatalf("accepting an abandoned request: %v", err)
	}
	_ = pe.Close()
	_ = l.Close()
	if _, err := l.Accept(ctx); !errors.Is(err, verbs.ErrClosed) {
		t.Fatalf("accept on closed listener: %v", err)
	}
	sa.ep = ep
	sb.ep = pe
	if err := sa.cq.Close(); !errors.Is(err, verbs.ErrInvalid) {
		t.Fatalf("closing a CQ still in use: %v", err)
	}
	sa.close(t)
	sb.close(t)
	if s := f.Stats(); s != (Stats{}) {
		t.Fatalf("leak: %+v", s)
	}
}
