package lnet_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
)

func TestPutWithAck(t *testing.T) {
	a, b := pair(t)
	tr := newRecorder()
	buf := make([]byte, 64)
	th := mustAttach(t, b, 5, lnet.MatchSpec{MatchBits: 0x10}, lnet.MD{
		Buf: buf, Threshold: 1, Options: lnet.MDOpPut, Handler: tr.handler, UserData: "target",
	}, lnet.InsertAfter)

	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: []byte("hello"), Threshold: 2, Handler: ir.handler, UserData: "init"})
	if err := a.Put(ih, lnet.PutArgs{Target: pid(b), Portal: 5, MatchBits: 0x10, HdrData: 77, Ack: true}); err != nil {
		t.Fatal(err)
	}
	evs := ir.collect(t, 2)
	send, ack := evs[lnet.EventSend], evs[lnet.EventAck]
	if send.Err != nil || ack.Err != nil {
		t.Fatalf("send %v ack %v", send.Err, ack.Err)
	}
	if send.Unlinked == ack.Unlinked {
		t.Errorf("exactly one of SEND and ACK should be the last event: %v %v", send.Unlinked, ack.Unlinked)
	}
	if ack.MLength != 5 || ack.MatchBits != 0x10 || ack.MD != ih || ack.UserData != "init" {
		t.Errorf("ack %+v", ack)
	}
	if ack.Initiator != pid(b) {
		t.Errorf("ack from %v, want %v", ack.Initiator, pid(b))
	}
	ev := tr.next(t)
	want := lnet.Event{Type: lnet.EventPut, Initiator: pid(a), MatchBits: 0x10, HdrData: 77,
		RLength: 5, MLength: 5, MD: th, UserData: "target", Unlinked: true}
	if ev != want {
		t.Errorf("target event\n got %+v\nwant %+v", ev, want)
	}
	if string(buf[:5]) != "hello" {
		t.Errorf("buffer %q", buf[:5])
	}
	ir.none(t)
	tr.none(t)
}

func TestPutAckDisabled(t *testing.T) {
	a, b := pair(t)
	tr := newRecorder()
	mustAttach(t, b, 5, lnet.MatchSpec{}, lnet.MD{Buf: make([]byte, 8), Threshold: 1,
		Options: lnet.MDOpPut | lnet.MDAckDisable, Handler: tr.handler}, lnet.InsertAfter)
	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: []byte("x"), Threshold: 2, Handler: ir.handler})
	if err := a.Put(ih, lnet.PutArgs{Target: pid(b), Portal: 5, Ack: true}); err != nil {
		t.Fatal(err)
	}
	if ev := ir.next(t); ev.Type != lnet.EventSend || ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
	if ev := tr.next(t); ev.Type != lnet.EventPut {
		t.Fatalf("%+v", ev)
	}
	// The PUT event precedes the SEND's completion, and no ACK was sent:
	// the initiator MD is still live and unacknowledged. Unlink ends it.
	ih.Unlink()
	if ev := ir.next(t); ev.Type != lnet.EventUnlink || !ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
	ir.none(t)
}

func TestGetReply(t *testing.T) {
	a, b := pair(t)
	src := []byte("0123456789abcdef")
	tr := newRecorder()
	th := mustAttach(t, b, 7, lnet.MatchSpec{MatchBits: 3}, lnet.MD{
		Buf: src, Threshold: 1, Options: lnet.MDOpGet | lnet.MDManageRemote, Handler: tr.handler,
	}, lnet.InsertAfter)
	sink := make([]byte, 6)
	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: sink, Threshold: 2, Handler: ir.handler})
	if err := a.Get(ih, lnet.GetArgs{Target: pid(b), Portal: 7, MatchBits: 3, Offset: 4}); err != nil {
		t.Fatal(err)
	}
	evs := ir.collect(t, 2)
	rep := evs[lnet.EventReply]
	if rep.Err != nil || rep.MLength != 6 || rep.RLength != 6 || rep.Initiator != pid(b) {
		t.Errorf("reply %+v", rep)
	}
	if !evs[lnet.EventSend].Unlinked && !rep.Unlinked {
		t.Error("no event marked Unlinked")
	}
	if string(sink) != "456789" {
		t.Errorf("sink %q", sink)
	}
	ev := tr.next(t)
	if ev.Type != lnet.EventGet || ev.MLength != 6 || ev.RLength != 6 || ev.Offset != 4 || !ev.Unlinked || ev.MD != th {
		t.Errorf("target %+v", ev)
	}
}

func TestGetNoMatchSendsNothing(t *testing.T) {
	a, b := pair(t)
	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: make([]byte, 4), Threshold: 2, Handler: ir.handler})
	if err := a.Get(ih, lnet.GetArgs{Target: pid(b), Portal: 9, MatchBits: 1}); err != nil {
		t.Fatal(err)
	}
	if ev := ir.next(t); ev.Type != lnet.EventSend || ev.Err != nil || ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
	// b dropped the GET before the SEND completed.
	if d := b.NIs()[0].DropCount; d != 1 {
		t.Errorf("target drop count %d", d)
	}
	ih.Unlink()
	if ev := ir.next(t); ev.Type != lnet.EventUnlink || !ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
}

func TestFailedGetWakesWaiter(t *testing.T) {
	a, _ := pair(t)
	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: make([]byte, 4), Threshold: 2, Handler: ir.handler})
	// 9@lo is on the fabric's network but nobody is there.
	if err := a.Get(ih, lnet.GetArgs{Target: lnet.ProcessID{NID: lnet.LoNID(9), PID: lnet.PIDLustre}}); err != nil {
		t.Fatal(err)
	}
	send, rep := ir.next(t), ir.next(t)
	if send.Type != lnet.EventSend || !errors.Is(send.Err, lnet.ErrPeerDown) || send.Unlinked {
		t.Errorf("send %+v", send)
	}
	if rep.Type != lnet.EventReply || !errors.Is(rep.Err, lnet.ErrPeerDown) || !rep.Unlinked {
		t.Errorf("reply %+v", rep)
	}
}

func TestZeroLength(t *testing.T) {
	a, b := pair(t)
	tr := newRecorder()
	mustAttach(t, b, 1, lnet.MatchSpec{}, lnet.MD{Buf: nil, Threshold: 2,
		Options: lnet.MDOpPut | lnet.MDOpGet, Handler: tr.handler}, lnet.InsertAfter)
	if ev := put(t, a, nil, lnet.PutArgs{Target: pid(b), Portal: 1, Ack: true}); ev.Err != nil {
		t.Fatal(ev.Err)
	}
	if ev := tr.next(t); ev.Type != lnet.EventPut || ev.MLength != 0 {
		t.Fatalf("%+v", ev)
	}
	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: nil, Threshold: 2, Handler: ir.handler})
	if err := a.Get(ih, lnet.GetArgs{Target: pid(b), Portal: 1}); err != nil {
		t.Fatal(err)
	}
	if rep := ir.collect(t, 2)[lnet.EventReply]; rep.Err != nil || rep.MLength != 0 {
		t.Fatalf("%+v", rep)
	}
	if ev := tr.next(t); ev.Type != lnet.EventGet || !ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
}

func TestLargePayload(t *testing.T) {
	a, b := pair(t)
	const size = 16 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	got := make([]byte, size)
	tr := newRecorder()
	mustAttach(t, b, 2, lnet.MatchSpec{}, lnet.MD{Buf: got, Threshold: 1, Options: lnet.MDOpPut, Handler: tr.handler}, lnet.InsertAfter)
	put(t, a, data, lnet.PutArgs{Target: pid(b), Portal: 2})
	if ev := tr.next(t); ev.MLength != size {
		t.Fatalf("%+v", ev)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("PUT data differs")
	}

	// And back with a GET.
	mustAttach(t, b, 3, lnet.MatchSpec{}, lnet.MD{Buf: data, Threshold: 1, Options: lnet.MDOpGet}, lnet.InsertAfter)
	back := make([]byte, size)
	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: back, Threshold: 2, Handler: ir.handler})
	if err := a.Get(ih, lnet.GetArgs{Target: pid(b), Portal: 3}); err != nil {
		t.Fatal(err)
	}
	if rep := ir.collect(t, 2)[lnet.EventReply]; rep.MLength != size {
		t.Fatalf("%+v", rep)
	}
	if !bytes.Equal(back, data) {
		t.Fatal("GET data differs")
	}
}

func TestSelfSend(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	a := node(t, f, "lo(4)")
	tr := newRecorder()
	buf := make([]byte, 8)
	mustAttach(t, a, 4, lnet.MatchSpec{}, lnet.MD{Buf: buf, Threshold: 2,
		Options: lnet.MDOpPut | lnet.MDOpGet, Handler: tr.handler}, lnet.InsertAfter)
	if ev := put(t, a, []byte("self"), lnet.PutArgs{Target: pid(a), Portal: 4, Ack: true}); ev.Err != nil {
		t.Fatal(ev.Err)
	}
	if string(buf[:4]) != "self" {
		t.Fatalf("%q", buf)
	}
	sink := make([]byte, 4)
	ir := newRecorder()
	ih := mustBind(t, a, lnet.MD{Buf: sink, Threshold: 2, Handler: ir.handler})
	if err := a.Get(ih, lnet.GetArgs{Target: pid(a), Portal: 4}); err != nil {
		t.Fatal(err)
	}
	ir.collect(t, 2)
	// The GET reads from the local offset that the PUT advanced.
	if string(sink) != "\x00\x00\x00\x00" {
		t.Fatalf("%q", sink)
	}
	// Nothing went through the fabric.
	if st := a.NIs()[0]; st.SendCount != 0 || st.RecvCount != 0 {
		t.Errorf("lo NI status %+v", st)
	}
}

func TestZeroAtLoIsSelfWithoutLoNetwork(t *testing.T) {
	leaktest.Check(t)
	st := &stuckLND{}
	a := node(t, lolnd.NewFabric(), "tcp", st)
	ids, err := a.Ping(context.Background(), lnet.LoNID(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0].NID != a.NIDs()[0] || ids[0].PID != lnet.PIDLustre {
		t.Fatalf("%v", ids)
	}
	st.nis[0].noneSent(t)
}

func TestPing(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	st := &stuckLND{}
	a := node(t, f, "lo")
	b := node(t, f, "tcp0(10.0.0.1),lo", st)
	ids, err := a.Ping(context.Background(), b.NIDs()[1])
	if err != nil {
		t.Fatal(err)
	}
	want := []lnet.ProcessID{{NID: b.NIDs()[0], PID: lnet.PIDLustre}, {NID: b.NIDs()[1], PID: lnet.PIDLustre}}
	if len(ids) != 2 || ids[0] != want[0] || ids[1] != want[1] {
		t.Fatalf("ping: %v, want %v", ids, want)
	}
	if a.NIDs()[0] != lnet.LoNID(0) || b.NIDs()[1] != lnet.LoNID(1) {
		t.Errorf("default lo numbers: %v %v", a.NIDs(), b.NIDs())
	}

	// Nobody at 7@lo: the GET fails at once.
	if _, err := a.Ping(context.Background(), lnet.LoNID(7)); !errors.Is(err, lnet.ErrPeerDown) {
		t.Errorf("ping nobody: %v", err)
	}
	// No network in common.
	if _, err := a.Ping(context.Background(), lnet.MustParseNID("10.0.0.2@tcp")); !errors.Is(err, lnet.ErrNoRoute) {
		t.Errorf("ping no route: %v", err)
	}
	// A peer that never answers: the context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := b.Ping(ctx, lnet.MustParseNID("10.0.0.9@tcp"))
		done <- err
	}()
	st.nis[0].nextSent(t)
	cancel()
	if err := <-done; !errors.Is(err, lnet.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("ping timeout: %v", err)
	}
}

func TestNoRoute(t *testing.T) {
	a, _ := pair(t)
	h := mustBind(t, a, lnet.MD{Buf: []byte("x"), Threshold: 1})
	err := a.Put(h, lnet.PutArgs{Target: lnet.ProcessID{NID: lnet.MustParseNID("192.168.1.1@tcp"), PID: lnet.PIDLustre}})
	if !errors.Is(err, lnet.ErrNoRoute) {
		t.Fatalf("Put: %v", err)
	}
	err = a.Get(h, lnet.GetArgs{Target: lnet.ProcessID{NID: lnet.MustParseNID("10.1.1.1@o2ib1"), PID: lnet.PIDLustre}})
	if !errors.Is(err, lnet.ErrNoRoute) {
		t.Fatalf("Get: %v", err)
	}
	if err := a.Put(h, lnet.PutArgs{Target: pid(a), Portal: lnet.MaxPortal}); !errors.Is(err, lnet.ErrBadPortal) {
		t.Fatalf("bad portal: %v", err)
	}
}

func TestPickNID(t *testing.T) {
	leaktest.Check(t)
	a := node(t, lolnd.NewFabric(), "tcp0(10.0.0.1),lo(2)", &stuckLND{})
	tcp := a.NIDs()[0]
	cases := []struct {
		cands       []string
		peer, local string
		ok          bool
	}{
		{[]string{"10.1.1.1@o2ib", "10.0.0.5@tcp", "3@lo"}, "10.0.0.5@tcp", tcp.String(), true},
		{[]string{"3@lo", "10.0.0.5@tcp"}, "3@lo", "2@lo", true},
		{[]string{"10.0.0.5@tcp1"}, "", "", false},
		{nil, "", "", false},
	}
	for _, c := range cases {
		var cands []lnet.NID
		for _, s := range c.cands {
			cands = append(cands, lnet.MustParseNID(s))
		}
		p, l, ok := a.PickNID(cands)
		if ok != c.ok || (ok && (p.String() != c.peer || l.String() != c.local)) {
			t.Errorf("PickNID(%v) = %v, %v, %v", c.cands, p, l, ok)
		}
	}
}

func TestNewErrors(t *testing.T) {
	leaktest.Check(t)
	nets, _ := lnet.ParseNetworks("lo,tcp")
	_, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(lolnd.NewFabric())},
		Logger: zaptest.NewLogger(t)})
	if !errors.Is(err, lnet.ErrNoLND) {
		t.Fatalf("missing LND: %v", err)
	}
	// A failing start-up closes the NIs already started.
	f := lolnd.NewFabric()
	node(t, f, "lo(5)")
	nets, _ = lnet.ParseNetworks("tcp,lo(5)")
	st := &stuckLND{}
	_, err = lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(f), st},
		Logger: zaptest.NewLogger(t)})
	if !errors.Is(err, lolnd.ErrInUse) {
		t.Fatalf("lo(5) twice: %v", err)
	}
	if len(st.nis) != 1 || !st.nis[0].closed {
		t.Fatal("tcp NI not closed after the failed start")
	}
}
