package lndtest

import (
	"errors"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// awaitDown waits until rec has heard that peer went down.
func awaitDown(t testing.TB, rec *Recorder, peer lnet.NID) {
	t.Helper()
	rec.Await(t, "PeerState("+peer.String()+", down)", func(s *Snapshot) bool {
		for _, ev := range s.Events {
			if ev.Peer == peer && !ev.Alive {
				return true
			}
		}
		return false
	})
}

// exchange checks that nodes a and b still talk, both ways, in both size
// classes. Match bits start at seq.
func (e *env) exchange(a, b int, seq uint64) {
	t := e.t
	for _, dir := range [][2]int{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		p1 := e.put(from, e.h.NID(to), pattern(seq, smallSize), seq, 0xe0)
		p2 := e.put(from, e.h.NID(to), pattern(seq+1, bulkSize), seq+1, 0xe1)
		p1.mustSend(t)
		p2.mustSend(t)
		e.recs[to].Await(t, "exchanged messages", func(s *Snapshot) bool {
			_, ok1 := find(s, e.h.NID(from), seq)
			_, ok2 := find(s, e.h.NID(from), seq+1)
			return ok1 && ok2
		})
		e.recs[to].View(func(s *Snapshot) {
			m, _ := find(s, e.h.NID(from), seq)
			expectMsg(t, m, p1)
			m, _ = find(s, e.h.NID(from), seq+1)
			expectMsg(t, m, p2)
		})
	}
}

// testNoSuchPeer: a message to a NID nobody serves completes with
// lnet.ErrPeerDown, every time, and the host hears the peer is down.
func testNoSuchPeer(e *env) {
	t := e.t
	_, r0 := e.start(0, Policy{})
	ghost := e.h.NID(MaxNodes + 1)
	for i, size := range []int{smallSize, smallSize, bulkSize} {
		if err := e.put(0, ghost, pattern(uint64(i), size), uint64(i), 0).wait(t); !isPeerDown(err) {
			t.Errorf("send %d to %v: %v, want lnet.ErrPeerDown", i, ghost, err)
		}
	}
	awaitDown(t, r0, ghost)
}

// testPeerDeath: node 1 dies while node 0 streams a large message into it.
// The transfer fails, later sends to node 1 fail with ErrPeerDown, node 0's
// host hears of it, and node 0 keeps talking to node 2.
func testPeerDeath(e *env) {
	t := e.t
	const hold = 0xdead
	_, r0 := e.start(0, Policy{})
	_, r1 := e.start(1, Policy{Hold: func(h *lnet.Header) bool { return h.HdrData == hold }})
	e.start(2, Policy{})
	e.exchange(0, 1, 0)
	e.exchange(0, 2, 0)

	big := e.put(0, e.h.NID(1), make([]byte, 32<<20), 100, hold)
	r1.Await(t, "the large message's header", func(s *Snapshot) bool { return s.Held == 1 })
	doneBefore, _ := big.completed()
	e.kill(1)
	err := big.wait(t)
	switch {
	case err != nil && !isPeerDown(err):
		t.Errorf("transfer to a dying peer: %v, want lnet.ErrPeerDown", err)
	case err == nil && !doneBefore:
		t.Errorf("a transfer the dead peer never took completed without error")
	}
	// The dead NI's Rx must still answer: done is called, with an error or not.
	r1.Release()
	r1.Await(t, "Recv's done on the dead NI", func(s *Snapshot) bool { return s.Held == 0 })

	// A send may still slip into a socket before the death is noticed; soon
	// sends must fail, and none may hang.
	deadline := time.Now().Add(Patience)
	for seq := uint64(200); ; seq++ {
		err := e.put(0, e.h.NID(1), pattern(seq, smallSize), seq, 0).wait(t)
		if isPeerDown(err) {
			break
		}
		if err != nil {
			t.Fatalf("send to a dead peer: %v, want lnet.ErrPeerDown", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("sends to a dead peer still succeed after %v", Patience)
		}
		time.Sleep(time.Millisecond)
	}
	awaitDown(t, r0, e.h.NID(1))
	e.exchange(0, 2, 300)
}

// retryUntilDelivered sends from node `from` to node `to` until a message
// lands in to's (current) Recorder: the sender may need a few tries while it
// notices that the old incarnation is gone.
func (e *env) retryUntilDelivered(from, to int, seq uint64) {
	t := e.t
	deadline := time.Now().Add(Patience)
	for ; ; seq++ {
		err := e.put(from, e.h.NID(to), pattern(seq, smallSize), seq, 0x7e).wait(t)
		if err != nil && !isPeerDown(err) {
			t.Fatalf("send to a restarted peer: %v, want success or lnet.ErrPeerDown", err)
		}
		got := false
		e.recs[to].View(func(s *Snapshot) { got = count(s, func(m *Msg) bool { return m.Err == nil }) > 0 })
		if got {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node %d unreachable from node %d after %v", to, from, Patience)
		}
		time.Sleep(time.Millisecond)
	}
}

// testRestart: node 1 restarts with a new incarnation; node 0 reaches it
// again, and it reaches node 0.
func testRestart(e *env) {
	t := e.t
	_, r0 := e.start(0, Policy{})
	b, _ := e.start(1, Policy{})
	e.exchange(0, 1, 0)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e.start(1, Policy{})
	e.retryUntilDelivered(0, 1, 100)
	awaitDown(t, r0, e.h.NID(1))
	e.exchange(0, 1, 1000)
	e.exchange(1, 0, 2000)
}

// testClose: Close completes every Tx it has not sent with lnet.ErrClosed
// and refuses later ones; a second Close is harmless.
func testClose(e *env) {
	t := e.t
	a, _ := e.start(0, Policy{})
	_, r1 := e.start(1, Policy{Hold: func(*lnet.Header) bool { return true }})
	payload := pattern(1, 1<<20)
	var sent []*pending
	// More Txs than an LND would plausibly take into one write, so that
	// some are still queued, not only in flight, when Close comes.
	const n = 200
	for i := range n {
		sent = append(sent, e.put(0, e.h.NID(1), payload, uint64(i), 0))
	}
	r1.Await(t, "the first message's header", func(s *Snapshot) bool { return s.Held >= 1 })
	var open []*pending
	for _, p := range sent {
		if done, _ := p.completed(); !done {
			open = append(open, p)
		}
	}
	if len(open) == 0 {
		t.Errorf("%d MiB of Txs to a receiver that took nothing all completed: nothing left for Close to test", n)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, p := range open {
		if err := p.wait(t); !errors.Is(err, lnet.ErrClosed) {
			t.Errorf("Tx %d open at Close: %v, want lnet.ErrClosed", p.tx.Hdr.MatchBits, err)
		}
	}
	if err := e.put(0, e.h.NID(1), payload[:10], 99, 0).wait(t); !errors.Is(err, lnet.ErrClosed) {
		t.Errorf("Send after Close: %v, want lnet.ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if a.Status().Up {
		t.Errorf("status after Close: up")
	}
	r1.Release()
	r1.Await(t, "Recv's done for the held messages", func(s *Snapshot) bool { return s.Held == 0 })
}
