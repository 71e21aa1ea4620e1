package lndtest

import (
	"bytes"
	"sync"

	"github.com/stria-fs/stria/lnet"
)

// testHeader: every header field of every message type arrives as sent,
// from the sender's NID, and the counters of both NIs move.
func testHeader(e *env) {
	t := e.t
	a, _ := e.start(0, Policy{})
	b, rb := e.start(1, Policy{})
	dst := e.h.NID(1)
	var sent []*pending
	for i, typ := range []lnet.MsgType{lnet.MsgPut, lnet.MsgGet, lnet.MsgAck, lnet.MsgReply} {
		var payload []byte
		if typ == lnet.MsgPut || typ == lnet.MsgReply {
			payload = pattern(uint64(i), 100+i)
		}
		p := e.newTx(0, dst, payload, 0xfeedface00000000|uint64(i), 0x0123456789abcdef)
		p.tx.Hdr.Type = typ
		p.tx.Hdr.DestPID, p.tx.Hdr.SrcPID = 12345, 54321+uint32(i)
		p.tx.Hdr.WMD = lnet.WireHandle{Interface: 0x1111111122222222, Object: 0x3333333344444444 + uint64(i)}
		p.tx.Hdr.Portal, p.tx.Hdr.Offset, p.tx.Hdr.Length = lnet.MaxPortal-1, 0xffffffff, 0x80000001
		a.Send(p.tx)
		sent = append(sent, p)
	}
	for _, p := range sent {
		p.mustSend(t)
	}
	awaitMsgs(t, rb, "4 messages", len(sent), func(*Msg) bool { return true })
	rb.View(func(s *Snapshot) {
		for _, p := range sent {
			m, ok := find(s, e.h.NID(0), p.tx.Hdr.MatchBits)
			if !ok {
				t.Fatalf("message %#x missing", p.tx.Hdr.MatchBits)
			}
			expectMsg(t, m, p)
		}
	})
	sa, sb := a.Status(), b.Status()
	if sa.NID != e.h.NID(0) || !sa.Up || sb.NID != dst || !sb.Up {
		t.Errorf("status: %+v / %+v", sa, sb)
	}
	var bytes uint64
	for _, p := range sent {
		bytes += uint64(len(p.tx.Payload))
	}
	if sa.SendCount != uint64(len(sent)) || sa.SendBytes != bytes {
		t.Errorf("sender status: %+v, want %d messages, %d bytes sent", sa, len(sent), bytes)
	}
	if sb.RecvCount != uint64(len(sent)) || sb.RecvBytes != bytes {
		t.Errorf("receiver status: %+v, want %d messages, %d bytes received", sb, len(sent), bytes)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if a.Status().Up {
		t.Errorf("status after Close: up")
	}
}

// testPayloadSizes: payloads around page and small/bulk boundaries, both
// directions at once.
func testPayloadSizes(e *env) {
	t := e.t
	sizes := []int{0, 1, 4095, 4096, 4097, 1 << 20}
	_, r0 := e.start(0, Policy{})
	_, r1 := e.start(1, Policy{})
	var sent [2][]*pending
	for i, n := range sizes {
		sent[0] = append(sent[0], e.put(0, e.h.NID(1), pattern(uint64(i), n), uint64(i), 0))
		sent[1] = append(sent[1], e.put(1, e.h.NID(0), pattern(uint64(100+i), n), uint64(i), 1))
	}
	for dir, rec := range []*Recorder{r1, r0} {
		for _, p := range sent[dir] {
			p.mustSend(t)
		}
		awaitMsgs(t, rec, "every size", len(sizes), func(*Msg) bool { return true })
		rec.View(func(s *Snapshot) {
			for _, p := range sent[dir] {
				m, ok := find(s, p.tx.Hdr.Src, p.tx.Hdr.MatchBits)
				if !ok {
					t.Fatalf("%d-byte message missing", len(p.tx.Payload))
				}
				expectMsg(t, m, p)
			}
		})
	}
}

// testPayload64MiB: the largest payload LNet sends.
func testPayload64MiB(e *env) {
	t := e.t
	e.start(0, Policy{})
	_, r1 := e.start(1, Policy{})
	payload := make([]byte, 64<<20)
	block := pattern(64, 1<<20)
	for off := 0; off < len(payload); off += len(block) {
		copy(payload[off:], block)
		payload[off] = byte(off >> 20) // a misplaced block shows
	}
	p := e.put(0, e.h.NID(1), payload, 64, 0)
	p.mustSend(t)
	awaitMsgs(t, r1, "the 64 MiB message", 1, func(*Msg) bool { return true })
	r1.View(func(s *Snapshot) { expectMsg(t, s.Msgs[0], p); s.Msgs[0].Payload = nil })
}

// testPartialRecv: a receiver that takes a prefix of a payload, or nothing,
// gets that prefix, and the messages after it arrive intact.
func testPartialRecv(e *env) {
	t := e.t
	// HdrData carries how many bytes to take: 1<<31 and up means a nil sink.
	e.start(0, Policy{})
	_, r1 := e.start(1, Policy{Sink: func(h *lnet.Header) int {
		if h.HdrData >= 1<<31 {
			return -1
		}
		return int(h.HdrData)
	}})
	cases := []struct{ size, take int }{
		{100, 50}, {100, 0}, {100, -1}, {0, -1}, {8192, 4096}, {8192, 1}, {8192, -1},
		{1 << 20, 1000}, {1 << 20, 1<<20 - 1}, {1 << 20, -1}, {100, 100}, {8192, 8192},
	}
	var sent []*pending
	for i, c := range cases {
		data := uint64(c.take)
		if c.take < 0 {
			data = 1 << 31
		}
		sent = append(sent, e.put(0, e.h.NID(1), pattern(uint64(i), c.size), uint64(i), data))
	}
	for _, p := range sent {
		p.mustSend(t)
	}
	awaitMsgs(t, r1, "every message", len(cases), func(*Msg) bool { return true })
	r1.View(func(s *Snapshot) {
		for i, c := range cases {
			m, ok := find(s, e.h.NID(0), uint64(i))
			switch {
			case !ok:
				t.Fatalf("message %d missing", i)
			case m.Err != nil:
				t.Errorf("message %d (%d bytes, take %d): %v", i, c.size, c.take, m.Err)
			case c.take < 0 && m.Payload != nil:
				t.Errorf("message %d: nil sink came back as %d bytes", i, len(m.Payload))
			case c.take >= 0 && !bytes.Equal(m.Payload, sent[i].tx.Payload[:c.take]):
				t.Errorf("message %d (%d bytes): the first %d bytes differ%s", i, c.size, c.take,
					firstDiff(m.Payload, sent[i].tx.Payload))
			}
		}
	})
}

// Size classes of the ordering cases: LNDs may let a small message overtake
// a bulk one, never one of its own class.
const (
	smallSize = 64
	bulkSize  = 16 << 10
)

// checkOrder checks that, from each (sender NID, HdrData) stream, rec got
// match bits 0, 1, 2, ... without gaps, duplicates or errors, want of each.
func checkOrder(e *env, rec *Recorder, want map[streamKey]int) {
	t := e.t
	total := 0
	for _, n := range want {
		total += n
	}
	awaitMsgs(t, rec, "every message of every stream", total, func(*Msg) bool { return true })
	rec.View(func(s *Snapshot) {
		next := map[streamKey]uint64{}
		for _, m := range s.Msgs {
			k := streamKey{m.From, m.Hdr.HdrData}
			if m.Err != nil {
				t.Fatalf("stream %v: message %d: %v", k, m.Hdr.MatchBits, m.Err)
			}
			if m.Hdr.MatchBits != next[k] {
				t.Fatalf("stream %v: got message %d, want %d", k, m.Hdr.MatchBits, next[k])
			}
			if len(m.Payload) != int(m.Hdr.PayloadLen) || !bytes.Equal(m.Payload, pattern(m.Hdr.MatchBits, len(m.Payload))) {
				t.Fatalf("stream %v: message %d: payload damaged", k, m.Hdr.MatchBits)
			}
			next[k]++
		}
		for k, n := range want {
			if next[k] != uint64(n) {
				t.Errorf("stream %v: %d messages, want %d", k, next[k], n)
			}
		}
	})
}

type streamKey struct {
	from lnet.NID
	data uint64
}

// testOrdering: one sender interleaves small and bulk messages; each class
// arrives in order. The receiver calls Recv from other goroutines.
func testOrdering(e *env) {
	t := e.t
	e.start(0, Policy{})
	_, r1 := e.start(1, Policy{Async: true})
	const nSmall, nBulk = 1000, 100
	var sent []*pending
	var ns, nb uint64
	for ns < nSmall || nb < nBulk {
		if ns < nSmall {
			sent = append(sent, e.put(0, e.h.NID(1), pattern(ns, smallSize), ns, 0))
			ns++
		}
		if nb < nBulk && ns%10 == 0 {
			sent = append(sent, e.put(0, e.h.NID(1), pattern(nb, bulkSize), nb, 1))
			nb++
		}
	}
	for _, p := range sent {
		p.mustSend(t)
	}
	checkOrder(e, r1, map[streamKey]int{{e.h.NID(0), 0}: nSmall, {e.h.NID(0), 1}: nBulk})
}

// testConcurrentSenders: 16 goroutines on each of two nodes send to the
// other at once, from the first message on, mixing sizes.
func testConcurrentSenders(e *env) {
	t := e.t
	const senders, perSender = 16, 40
	sizes := []int{0, smallSize, bulkSize, 100 << 10}
	_, r0 := e.start(0, Policy{})
	_, r1 := e.start(1, Policy{Async: true})
	var wg sync.WaitGroup
	errs := make(chan error, 2*senders*perSender)
	for node := range 2 {
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var next [4]uint64
				var sent []*pending
				for i := range perSender {
					class := i % len(sizes)
					// HdrData names the stream: sender goroutine and size class.
					p := e.put(node, e.h.NID(1-node), pattern(next[class], sizes[class]), next[class], uint64(g<<8|class))
					next[class]++
					sent = append(sent, p)
				}
				for _, p := range sent {
					errs <- p.result()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	for node, rec := range []*Recorder{r0, r1} {
		want := map[streamKey]int{}
		for g := range senders {
			for class := range sizes {
				want[streamKey{e.h.NID(1 - node), uint64(g<<8 | class)}] = perSender / len(sizes)
			}
		}
		checkOrder(e, rec, want)
	}
}

// testSimultaneousConnect: two fresh nodes send each other their first
// messages, small and bulk, at the same moment, several times over.
func testSimultaneousConnect(e *env) {
	t := e.t
	for round := range 5 {
		a, b := 2*(round%2), 2*(round%2)+1
		e.start(a, Policy{})
		e.start(b, Policy{})
		start := make(chan struct{})
		var wg sync.WaitGroup
		var sent [2][]*pending
		for side, from := range []int{a, b} {
			to := a + b - from
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range 4 {
					size := smallSize
					if i%2 == 1 {
						size = bulkSize
					}
					sent[side] = append(sent[side], e.put(from, e.h.NID(to), pattern(uint64(i/2), size), uint64(i/2), uint64(i%2)))
				}
			}()
		}
		close(start)
		wg.Wait()
		for side := range sent {
			for _, p := range sent[side] {
				p.mustSend(t)
			}
		}
		checkOrder(e, e.recs[b], map[streamKey]int{{e.h.NID(a), 0}: 2, {e.h.NID(a), 1}: 2})
		checkOrder(e, e.recs[a], map[streamKey]int{{e.h.NID(b), 0}: 2, {e.h.NID(b), 1}: 2})
		if err := e.nis[a].Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.nis[b].Close(); err != nil {
			t.Fatal(err)
		}
	}
}
