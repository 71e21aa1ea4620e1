package lnet_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
)

// stuckNode starts an instance on tcp over a stuckLND with the given credits.
func stuckNode(t *testing.T, credits, peerCredits int) (*lnet.LNet, *stuckNI) {
	t.Helper()
	st := &stuckLND{}
	nets, _ := lnet.ParseNetworks("tcp")
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{st},
		Credits: credits, PeerCredits: peerCredits, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln, st.nis[0]
}

func tcpPeer(n byte) lnet.ProcessID {
	return lnet.ProcessID{NID: lnet.NID{Addr: netip.AddrFrom4([4]byte{10, 9, 9, n}), Net: lnet.Net{Type: lnet.SockLND}}, PID: lnet.PIDLustre}
}

func peerStatus(t *testing.T, ln *lnet.LNet, nid lnet.NID) lnet.PeerStatus {
	t.Helper()
	for _, p := range ln.Peers() {
		if p.NID == nid {
			return p
		}
	}
	t.Fatalf("no peer %v", nid)
	return lnet.PeerStatus{}
}

func TestCredits(t *testing.T) {
	leaktest.Check(t)
	ln, ni := stuckNode(t, 3, 2)
	p1, p2 := tcpPeer(1), tcpPeer(2)
	r := newRecorder()
	h := mustBind(t, ln, lnet.MD{Buf: []byte("data"), Threshold: lnet.ThresholdInf, Handler: r.handler})
	send := func(to lnet.ProcessID, bits uint64) {
		t.Helper()
		if err := ln.Put(h, lnet.PutArgs{Target: to, MatchBits: bits}); err != nil {
			t.Fatal(err)
		}
	}
	// Three to p1, two to p2: p1 has two peer credits, the NI three.
	send(p1, 11)
	send(p1, 12)
	send(p2, 21)
	send(p1, 13) // waits for a p1 credit
	send(p2, 22) // has a p2 credit, waits for an NI credit
	var got []*lnet.Tx
	for range 3 {
		got = append(got, ni.nextSent(t))
	}
	ni.noneSent(t)
	for i, want := range []uint64{11, 12, 21} {
		if got[i].Hdr.MatchBits != want {
			t.Fatalf("send %d: bits %d, want %d", i, got[i].Hdr.MatchBits, want)
		}
	}
	if ps := peerStatus(t, ln, p1.NID); ps.Credits != -1 || ps.Queued != 1 || ps.MinCredits != -1 {
		t.Errorf("p1 %+v", ps)
	}

	// p1's first completes: its NI credit goes to p2's waiting message and
	// its peer credit to p1's, which now waits for an NI credit.
	ni.complete(got[0])
	if tx := ni.nextSent(t); tx.Hdr.MatchBits != 22 {
		t.Fatalf("bits %d, want 22", tx.Hdr.MatchBits)
	}
	ni.noneSent(t)
	ni.complete(got[2])
	tx := ni.nextSent(t)
	if tx.Hdr.MatchBits != 13 {
		t.Fatalf("bits %d, want 13", tx.Hdr.MatchBits)
	}
	ni.noneSent(t)
	for range 2 {
		if ev := r.next(t); ev.Type != lnet.EventSend || ev.Err != nil {
			t.Fatalf("%+v", ev)
		}
	}
	r.none(t)
	if ps := peerStatus(t, ln, p1.NID); ps.Credits != 0 || ps.Queued != 0 || ps.SendCount != 1 {
		t.Errorf("p1 %+v", ps)
	}
}

func TestCreditsFIFOPerPeer(t *testing.T) {
	leaktest.Check(t)
	ln, ni := stuckNode(t, 256, 1)
	h := mustBind(t, ln, lnet.MD{Buf: nil, Threshold: lnet.ThresholdInf})
	for i := range 50 {
		if err := ln.Put(h, lnet.PutArgs{Target: tcpPeer(1), MatchBits: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		tx := ni.nextSent(t)
		if tx.Hdr.MatchBits != uint64(i) {
			t.Fatalf("got %d, want %d", tx.Hdr.MatchBits, i)
		}
		ni.noneSent(t) // one peer credit: one at a time
		ni.complete(tx)
	}
}

func TestCloseFailsQueuedAndUnlinks(t *testing.T) {
	leaktest.Check(t)
	ln, ni := stuckNode(t, 256, 1)
	r := newRecorder()
	h := mustBind(t, ln, lnet.MD{Buf: []byte("x"), Threshold: lnet.ThresholdInf, Handler: r.handler})
	ar := newRecorder()
	mustAttach(t, ln, 3, lnet.MatchSpec{}, lnet.MD{Buf: make([]byte, 4), Threshold: 1, Options: lnet.MDOpPut, Handler: ar.handler}, lnet.InsertAfter)
	gr := newRecorder()
	g := mustBind(t, ln, lnet.MD{Buf: make([]byte, 4), Threshold: 2, Handler: gr.handler})
	for range 2 {
		if err := ln.Put(h, lnet.PutArgs{Target: tcpPeer(1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ln.Get(g, lnet.GetArgs{Target: tcpPeer(2)}); err != nil {
		t.Fatal(err)
	}
	ni.nextSent(t)
	ni.nextSent(t)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	// Two SENDs failed (one queued in LNet, one held by the NI), then the unlink.
	for range 2 {
		if ev := r.next(t); ev.Type != lnet.EventSend || !errors.Is(ev.Err, lnet.ErrClosed) || ev.Unlinked {
			t.Fatalf("%+v", ev)
		}
	}
	if ev := r.next(t); ev.Type != lnet.EventUnlink || !ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
	if ev := ar.next(t); ev.Type != lnet.EventUnlink || !ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
	send, rep := gr.next(t), gr.next(t)
	if send.Type != lnet.EventSend || rep.Type != lnet.EventReply || !errors.Is(rep.Err, lnet.ErrClosed) || !rep.Unlinked {
		t.Fatalf("%+v %+v", send, rep)
	}
	r.none(t)
	ar.none(t)
	gr.none(t)
	if err := ln.Put(h, lnet.PutArgs{Target: tcpPeer(1)}); !errors.Is(err, lnet.ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	if _, err := ln.Bind(lnet.MD{Threshold: 1}); !errors.Is(err, lnet.ErrClosed) {
		t.Errorf("Bind after Close: %v", err)
	}
	if err := ln.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUnlink(t *testing.T) {
	a, b := pair(t)
	tr := newRecorder()
	th := mustAttach(t, b, 8, lnet.MatchSpec{}, lnet.MD{Buf: make([]byte, 8), Threshold: lnet.ThresholdInf,
		Options: lnet.MDOpPut, Handler: tr.handler}, lnet.InsertAfter)
	put(t, a, []byte("1"), lnet.PutArgs{Target: pid(b), Portal: 8})
	if ev := tr.next(t); ev.Type != lnet.EventPut || ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
	th.Unlink()
	if ev := tr.next(t); ev.Type != lnet.EventUnlink || !ev.Unlinked || ev.MD != th {
		t.Fatalf("%+v", ev)
	}
	th.Unlink() // again: nothing
	put(t, a, []byte("2"), lnet.PutArgs{Target: pid(b), Portal: 8})
	tr.none(t)
	if d := b.NIs()[0].DropCount; d != 1 {
		t.Errorf("drops %d", d)
	}
	// An MD that is used up cannot start a Put.
	h := mustBind(t, a, lnet.MD{Buf: nil, Threshold: 1})
	put := func() error { return a.Put(h, lnet.PutArgs{Target: pid(b), Portal: 8}) }
	if err := put(); err != nil {
		t.Fatal(err)
	}
	if err := put(); !errors.Is(err, lnet.ErrUnlinked) {
		t.Errorf("second Put: %v", err)
	}
}

func TestUnlinkFromHandler(t *testing.T) {
	a, b := pair(t)
	tr := newRecorder()
	var th *lnet.MDHandle
	th = mustAttach(t, b, 8, lnet.MatchSpec{}, lnet.MD{Buf: make([]byte, 8), Threshold: lnet.ThresholdInf,
		Options: lnet.MDOpPut, Handler: func(ev lnet.Event) {
			tr.handler(ev)
			if ev.Type == lnet.EventPut {
				th.Unlink()
			}
		}}, lnet.InsertAfter)
	put(t, a, []byte("1"), lnet.PutArgs{Target: pid(b), Portal: 8})
	if ev := tr.next(t); ev.Type != lnet.EventPut {
		t.Fatalf("%+v", ev)
	}
	if ev := tr.next(t); ev.Type != lnet.EventUnlink || !ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
}

func TestInvalidMD(t *testing.T) {
	a, _ := pair(t)
	for _, md := range []lnet.MD{
		{Threshold: 0},
		{Threshold: -2},
		{Threshold: 1, Options: lnet.MDMaxSize, MaxSize: 5, Buf: make([]byte, 4)},
	} {
		if _, err := a.Bind(md); !errors.Is(err, lnet.ErrInvalidMDSpec) {
			t.Errorf("Bind(%+v): %v", md, err)
		}
	}
	if _, err := a.Attach(lnet.MaxPortal, lnet.MatchSpec{}, lnet.MD{Threshold: 1}, lnet.InsertAfter); !errors.Is(err, lnet.ErrBadPortal) {
		t.Errorf("Attach portal 64: %v", err)
	}
}

func TestPeerDownSeen(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	a := node(t, f, "lo(1)")
	b := node(t, f, "lo(2)")
	put(t, a, nil, lnet.PutArgs{Target: pid(b)})
	if ps := peerStatus(t, a, b.NIDs()[0]); !ps.Alive || ps.SendCount != 1 {
		t.Fatalf("%+v", ps)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// lolnd told a before b's Close returned.
	if ps := peerStatus(t, a, b.NIDs()[0]); ps.Alive || !errors.Is(ps.LastErr, lnet.ErrPeerDown) {
		t.Fatalf("%+v", ps)
	}
}
