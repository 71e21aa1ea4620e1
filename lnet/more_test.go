package lnet_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
)

// An LND that places the REPLY straight into ReplySink (o2iblnd's way)
// calls ReplyDone and then Complete.
func TestReplyDone(t *testing.T) {
	leaktest.Check(t)
	ln, ni := stuckNode(t, 8, 8)
	r := newRecorder()
	sink := make([]byte, 8)
	h := mustBind(t, ln, lnet.MD{Buf: sink, Threshold: 2, Handler: r.handler})
	if err := ln.Get(h, lnet.GetArgs{Target: tcpPeer(1), Portal: 3, MatchBits: 9}); err != nil {
		t.Fatal(err)
	}
	tx := ni.nextSent(t)
	if tx.Hdr.Type != lnet.MsgGet || tx.Hdr.Length != 8 || len(tx.ReplySink) != 8 || tx.Hdr.WMD.IsNone() {
		t.Fatalf("GET %+v", tx.Hdr)
	}
	copy(tx.ReplySink, "rdma")
	tx.ReplyDone(4, nil)
	tx.ReplyDone(4, nil) // a second call is ignored
	rep := r.next(t)
	if rep.Type != lnet.EventReply || rep.MLength != 4 || rep.Err != nil || rep.Unlinked {
		t.Fatalf("%+v", rep)
	}
	ni.complete(tx)
	if ev := r.next(t); ev.Type != lnet.EventSend || !ev.Unlinked {
		t.Fatalf("%+v", ev)
	}
	if string(sink[:4]) != "rdma" {
		t.Fatalf("%q", sink)
	}

	// A failed GET whose LND already reported the failure through
	// ReplyDone gets one REPLY event, not two.
	h = mustBind(t, ln, lnet.MD{Buf: sink, Threshold: 2, Handler: r.handler})
	if err := ln.Get(h, lnet.GetArgs{Target: tcpPeer(1)}); err != nil {
		t.Fatal(err)
	}
	tx = ni.nextSent(t)
	tx.ReplyDone(0, lnet.ErrPeerDown)
	tx.Complete(lnet.ErrPeerDown)
	rep, send := r.next(t), r.next(t)
	if rep.Type != lnet.EventReply || !errors.Is(rep.Err, lnet.ErrPeerDown) || send.Type != lnet.EventSend || !send.Unlinked {
		t.Fatalf("%+v %+v", rep, send)
	}
	r.none(t)
}

// Many goroutines on three nodes PUT to each other at once; every PUT is
// acknowledged and lands once.
func TestConcurrentTraffic(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	nodes := []*lnet.LNet{node(t, f, "lo(1)"), node(t, f, "lo(2)"), node(t, f, "lo(3)")}
	const perSender = 100
	landed := make([]chan lnet.Event, len(nodes))
	for i, n := range nodes {
		landed[i] = make(chan lnet.Event, 2*len(nodes)*perSender)
		ch := landed[i]
		mustAttach(t, n, 12, lnet.MatchSpec{IgnoreBits: ^uint64(0)}, lnet.MD{Buf: make([]byte, 7*len(nodes)*perSender), Threshold: lnet.ThresholdInf,
			Options: lnet.MDOpPut, Handler: func(ev lnet.Event) { ch <- ev }}, lnet.InsertAfter)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(nodes)*len(nodes))
	for i, from := range nodes {
		for j, to := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acks := make(chan lnet.Event, 2*perSender)
				h, err := from.Bind(lnet.MD{Buf: []byte("payload"), Threshold: lnet.ThresholdInf,
					Handler: func(ev lnet.Event) { acks <- ev }})
				if err != nil {
					errs <- err
					return
				}
				defer h.Unlink()
				for k := range perSender {
					bits := uint64(i<<16 | j<<8 | k)
					if err := from.Put(h, lnet.PutArgs{Target: pid(to), Portal: 12, MatchBits: bits, Ack: true}); err != nil {
						errs <- err
						return
					}
				}
				for range 2 * perSender {
					if ev := <-acks; ev.Err != nil {
						errs <- fmt.Errorf("%v: %w", ev.Type, ev.Err)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range nodes {
		seen := map[uint64]bool{}
		for range len(nodes) * perSender {
			ev := <-landed[i]
			if seen[ev.MatchBits] || ev.MLength != 7 {
				t.Fatalf("node %d: %+v (seen %v)", i, ev, seen[ev.MatchBits])
			}
			seen[ev.MatchBits] = true
		}
	}
}
