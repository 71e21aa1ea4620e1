package netfault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/lnet/netfault"
)

const waitLimit = 20 * time.Second // only a hang reaches it

func node(t *testing.T, lnd lnet.LND, networks string) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks(networks)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: []lnet.LND{lnd}, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ln.Close(); err != nil {
			t.Error(err)
		}
	})
	return ln
}

func pid(ln *lnet.LNet) lnet.ProcessID { return lnet.ProcessID{NID: ln.NIDs()[0], PID: ln.PID()} }

type recorder chan lnet.Event

func (r recorder) handler(ev lnet.Event) { r <- ev }

func (r recorder) next(t *testing.T) lnet.Event {
	t.Helper()
	select {
	case ev := <-r:
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no event")
		return lnet.Event{}
	}
}

func (r recorder) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-r:
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

// target attaches a PUT+GET MD on portal 4 of ln and returns its recorder.
func target(t *testing.T, ln *lnet.LNet) recorder {
	t.Helper()
	r := make(recorder, 1024)
	_, err := ln.Attach(4, lnet.MatchSpec{IgnoreBits: ^uint64(0)}, lnet.MD{Buf: []byte("served data"), Threshold: lnet.ThresholdInf,
		Options: lnet.MDOpPut | lnet.MDOpGet | lnet.MDManageRemote | lnet.MDTruncate, Handler: r.handler}, lnet.InsertAfter)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startPut puts a byte to to's portal 4 and returns the initiator's recorder.
func startPut(t *testing.T, from, to *lnet.LNet, bits uint64) recorder {
	t.Helper()
	r := make(recorder, 16)
	h, err := from.Bind(lnet.MD{Buf: []byte{1}, Threshold: 1, Handler: r.handler})
	if err != nil {
		t.Fatal(err)
	}
	if err := from.Put(h, lnet.PutArgs{Target: pid(to), Portal: 4, MatchBits: bits}); err != nil {
		t.Fatal(err)
	}
	return r
}

func sent(t *testing.T, r recorder) {
	t.Helper()
	if ev := r.next(t); ev.Type != lnet.EventSend || ev.Err != nil {
		t.Fatalf("%+v", ev)
	}
}

func TestDropNthReply(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	lnd := netfault.Wrap(lolnd.New(f), rules)
	a, b := node(t, lnd, "lo(1)"), node(t, lnd, "lo(2)")
	tr := target(t, b)
	id := rules.Add(netfault.Rule{Match: netfault.Match{Types: []lnet.MsgType{lnet.MsgReply}}, Skip: 2, Count: 1})

	var recs []recorder
	var mds []*lnet.MDHandle
	early := map[int]lnet.Event{} // REPLYs that came before their SEND event
	for i := range 4 {
		r := make(recorder, 16)
		h, err := a.Bind(lnet.MD{Buf: make([]byte, 6), Threshold: 2, Handler: r.handler})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Get(h, lnet.GetArgs{Target: pid(b), Portal: 4}); err != nil {
			t.Fatal(err)
		}
		// Wait for each exchange's SEND and GET, so the replies leave in
		// order. A REPLY may come before the SEND event (lnet's doc says
		// so): keep it for the check below.
		for {
			ev := r.next(t)
			if ev.Type == lnet.EventReply {
				early[i] = ev
				continue
			}
			if ev.Type != lnet.EventSend || ev.Err != nil {
				t.Fatalf("%+v", ev)
			}
			// The last of the MD's two events unlinks it: the SEND, when
			// the REPLY came first.
			if _, ok := early[i]; ok && !ev.Unlinked {
				t.Fatalf("send %d after its reply: %+v", i, ev)
			}
			break
		}
		if ev := tr.next(t); ev.Type != lnet.EventGet || ev.Err != nil {
			t.Fatalf("%+v", ev)
		}
		recs, mds = append(recs, r), append(mds, h)
	}
	// REPLYs 1, 2 and 4 arrive; the third was lost (had it come, it would
	// have arrived before the fourth: lolnd keeps order per pair).
	for _, i := range []int{0, 1, 3} {
		ev, ok := early[i]
		if !ok {
			ev = recs[i].next(t)
		}
		if ev.Type != lnet.EventReply || ev.MLength != 6 || ev.Unlinked == ok {
			t.Fatalf("get %d: %+v", i, ev)
		}
	}
	recs[2].none(t)
	mds[2].Unlink()
	if ev := recs[2].next(t); ev.Type != lnet.EventUnlink {
		t.Fatalf("%+v", ev)
	}
	if l := rules.List(); len(l) != 1 || l[0].ID != id || l[0].Stats != (netfault.RuleStats{Matched: 4, Fired: 1}) {
		t.Errorf("rules %+v", l)
	}
	if s := rules.Stats(); s.Dropped != 1 || s.Partitioned != 0 || s.Held != 0 {
		t.Errorf("stats %+v", s)
	}
	if d := b.NIs()[0].DropCount; d != 1 {
		t.Errorf("b drop count %d", d)
	}
}

func TestPartitionAndHeal(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	// a is wrapped; b and c are not: the partition holds both ways anyway.
	a := node(t, netfault.Wrap(lolnd.New(f), rules), "lo(1)")
	b := node(t, lolnd.New(f), "lo(2)")
	c := node(t, lolnd.New(f), "lo(3)")
	ta, tb, tc := target(t, a), target(t, b), target(t, c)

	rules.Partition(b.NIDs()[0], a.NIDs()[0])
	sent(t, startPut(t, a, b, 1)) // lost, but the sender cannot tell
	sent(t, startPut(t, b, a, 2))
	sent(t, startPut(t, a, c, 3)) // c is not cut off
	if ev := tc.next(t); ev.MatchBits != 3 {
		t.Fatalf("%+v", ev)
	}
	ta.none(t)
	tb.none(t)
	if s := rules.Stats(); s.Partitioned != 2 {
		t.Errorf("stats %+v", s)
	}

	rules.Heal(a.NIDs()[0], b.NIDs()[0])
	sent(t, startPut(t, a, b, 4))
	sent(t, startPut(t, b, a, 5))
	if ev := tb.next(t); ev.MatchBits != 4 {
		t.Fatalf("%+v", ev)
	}
	if ev := ta.next(t); ev.MatchBits != 5 {
		t.Fatalf("%+v", ev)
	}
	rules.Partition(a.NIDs()[0], c.NIDs()[0])
	rules.HealAll()
	sent(t, startPut(t, c, a, 6))
	if ev := ta.next(t); ev.MatchBits != 6 {
		t.Fatalf("%+v", ev)
	}
}

func TestMatchFields(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	lnd := netfault.Wrap(lolnd.New(f), rules)
	a, b := node(t, lnd, "lo(1)"), node(t, lnd, "lo(2)")
	tb := target(t, b)
	rules.Add(netfault.Rule{Match: netfault.Match{
		Src: a.NIDs()[0], Dst: b.NIDs()[0], Types: []lnet.MsgType{lnet.MsgPut}, Portals: []uint32{4},
		Bits: func(bits uint64) bool { return bits%2 == 1 },
	}})
	for bits := uint64(0); bits < 6; bits++ {
		sent(t, startPut(t, a, b, bits))
	}
	for _, want := range []uint64{0, 2, 4} {
		if ev := tb.next(t); ev.MatchBits != want {
			t.Fatalf("got bits %d, want %d", ev.MatchBits, want)
		}
	}
	tb.none(t)
	// Other direction, other source: not matched.
	ta := target(t, a)
	sent(t, startPut(t, b, a, 1))
	if ev := ta.next(t); ev.MatchBits != 1 {
		t.Fatalf("%+v", ev)
	}
}

func TestDelayUntilRelease(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	lnd := netfault.Wrap(lolnd.New(f), rules)
	a, b := node(t, lnd, "lo(1)"), node(t, lnd, "lo(2)")
	tb := target(t, b)
	id := rules.Add(netfault.Rule{Action: netfault.Delay, Match: netfault.Match{Types: []lnet.MsgType{lnet.MsgPut}}, Count: 1})
	held := startPut(t, a, b, 1)
	sent(t, startPut(t, a, b, 2)) // Count 1: the second overtakes the held first
	if ev := tb.next(t); ev.MatchBits != 2 {
		t.Fatalf("%+v", ev)
	}
	held.none(t)
	if s := rules.Stats(); s.Delayed != 1 || s.Held != 1 {
		t.Fatalf("stats %+v", s)
	}
	if n := rules.Release(id); n != 1 {
		t.Fatalf("released %d", n)
	}
	sent(t, held)
	if ev := tb.next(t); ev.MatchBits != 1 {
		t.Fatalf("%+v", ev)
	}
	if n := rules.ReleaseAll(); n != 0 {
		t.Errorf("released %d more", n)
	}
}

func TestDelayLatency(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	a := node(t, netfault.Wrap(lolnd.New(f), rules), "lo(1)")
	b := node(t, lolnd.New(f), "lo(2)")
	ta, tb := target(t, a), target(t, b)
	rules.Add(netfault.Rule{Action: netfault.Delay, Latency: time.Millisecond})
	sent(t, startPut(t, a, b, 1)) // held on a's sending side, then sent
	if ev := tb.next(t); ev.MatchBits != 1 {
		t.Fatalf("%+v", ev)
	}
	sent(t, startPut(t, b, a, 2)) // held on a's receiving side; b's Tx waits for it
	if ev := ta.next(t); ev.MatchBits != 2 {
		t.Fatalf("%+v", ev)
	}
	if s := rules.Stats(); s.Delayed != 2 || s.Held != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestCloseFailsHeld(t *testing.T) {
	leaktest.Check(t)
	f := lolnd.NewFabric()
	rules := netfault.NewRules(1)
	a := node(t, netfault.Wrap(lolnd.New(f), rules), "lo(1)")
	b := node(t, lolnd.New(f), "lo(2)")
	rules.Add(netfault.Rule{Action: netfault.Delay, Match: netfault.Match{Src: a.NIDs()[0]}})                          // until Release: never
	rules.Add(netfault.Rule{Action: netfault.Delay, Match: netfault.Match{Src: b.NIDs()[0]}, Latency: 24 * time.Hour}) // never fires
	ra := startPut(t, a, b, 1)
	rb := startPut(t, b, a, 2) // held on a's receiving side, once lolnd delivered it
	waitHeld(t, rules, 2)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ev := ra.next(t); ev.Type != lnet.EventSend || !errors.Is(ev.Err, lnet.ErrClosed) {
		t.Fatalf("%+v", ev)
	}
	// b's PUT was taken off the wire unread when a closed: as far as b can
	// tell, it left.
	if ev := rb.next(t); ev.Type != lnet.EventSend {
		t.Fatalf("%+v", ev)
	}
	if s := rules.Stats(); s.Held != 0 {
		t.Errorf("stats %+v", s)
	}
}

// waitHeld waits until rules hold n messages (a delivery on an LND
// goroutine gets there in its own time).
func waitHeld(t *testing.T, rules *netfault.Rules, n int) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); rules.Stats().Held != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("held %d, want %d", rules.Stats().Held, n)
		}
	}
}
