package lndtest

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// Run runs every case of the suite against h, each as a subtest.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		run  func(e *env)
	}{
		{"Header", testHeader},
		{"PayloadSizes", testPayloadSizes},
		{"Payload64MiB", testPayload64MiB},
		{"PartialRecv", testPartialRecv},
		{"Ordering", testOrdering},
		{"ConcurrentSenders", testConcurrentSenders},
		{"SimultaneousConnect", testSimultaneousConnect},
		{"NoSuchPeer", testNoSuchPeer},
		{"PeerDeath", testPeerDeath},
		{"Restart", testRestart},
		{"Close", testClose},
		{"RawFrame", testRawFrame},
		{"Garbage", testGarbage},
		{"Truncated", testTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			CheckLeaks(t)
			c.run(&env{t: t, h: h})
		})
	}
}

// CheckLeaks arranges for t to fail if, once everything t started has been
// cleaned up, more goroutines run than now. Call it before starting anything,
// so that its cleanup runs last.
func CheckLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d running, %d before the case\n%s", n, before, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// env is one case's world: the harness and the nodes started so far.
type env struct {
	t    *testing.T
	h    Harness
	nis  [MaxNodes]lnet.NI
	recs [MaxNodes]*Recorder
}

// start starts node i with a Recorder of policy p.
func (e *env) start(i int, p Policy) (lnet.NI, *Recorder) {
	e.t.Helper()
	rec := NewRecorder(p)
	ni := e.h.Start(e.t, i, rec)
	if ni == nil {
		e.t.Fatalf("Start(%d) returned no NI", i)
	}
	rec.setNI(ni)
	if got, want := ni.NID(), e.h.NID(i); got != want {
		e.t.Fatalf("node %d: NID %v, want %v", i, got, want)
	}
	e.t.Cleanup(func() {
		_ = ni.Close()
		rec.Wait()
		rec.View(func(s *Snapshot) {
			for _, b := range s.Bad {
				e.t.Errorf("node %d: %s", i, b)
			}
		})
	})
	e.nis[i], e.recs[i] = ni, rec
	return ni, rec
}

// kill ends node i as a crash would.
func (e *env) kill(i int) {
	if k, ok := e.h.(Killer); ok {
		k.Kill(e.t, i, e.nis[i])
		return
	}
	if err := e.nis[i].Close(); err != nil {
		e.t.Errorf("closing node %d: %v", i, err)
	}
}

// pending is one Tx handed to an NI.
type pending struct {
	tx   *lnet.Tx
	done chan error
}

// newTx builds a PUT from node `from` to dest.
func (e *env) newTx(from int, dest lnet.NID, payload []byte, match, data uint64) *pending {
	p := &pending{done: make(chan error, 1)}
	p.tx = &lnet.Tx{
		Dest: dest,
		Hdr: lnet.Header{
			Dest: dest, Src: e.h.NID(from), DestPID: lnet.PIDLustre, SrcPID: lnet.PIDLustre,
			Type: lnet.MsgPut, PayloadLen: uint32(len(payload)),
			MatchBits: match, HdrData: data, Portal: 7, Offset: 3,
		},
		Payload: payload,
		OnComplete: func(_ *lnet.Tx, err error) {
			p.done <- err
		},
	}
	return p
}

// put sends a PUT from node `from` to dest.
func (e *env) put(from int, dest lnet.NID, payload []byte, match, data uint64) *pending {
	p := e.newTx(from, dest, payload, match, data)
	e.nis[from].Send(p.tx)
	return p
}

// errHang is what result reports for a Tx that never completes.
var errHang = errors.New("lndtest: Tx never completed")

// result returns the Tx's completion, or errHang after Patience. Any
// goroutine may call it.
func (p *pending) result() error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(Patience):
		return fmt.Errorf("%w: to %v, match %#x", errHang, p.tx.Dest, p.tx.Hdr.MatchBits)
	}
}

// wait returns the Tx's completion, failing t if it never comes.
func (p *pending) wait(t testing.TB) error {
	t.Helper()
	err := p.result()
	if errors.Is(err, errHang) {
		t.Fatal(err)
	}
	return err
}

// mustSend waits for the Tx and fails t unless it completed without error.
func (p *pending) mustSend(t testing.TB) {
	t.Helper()
	if err := p.wait(t); err != nil {
		t.Fatalf("Tx to %v (match %#x): %v", p.tx.Dest, p.tx.Hdr.MatchBits, err)
	}
}

// completed reports whether the Tx has completed, and how, without waiting.
func (p *pending) completed() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// pattern returns n bytes that differ from message to message (seed) and
// from place to place within one, so a misplaced or stale byte shows.
func pattern(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := 0; i < n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	return b
}

// expectMsg checks that m is the message p sent, payload taken in full.
func expectMsg(t testing.TB, m Msg, p *pending) {
	t.Helper()
	if m.Err != nil {
		t.Fatalf("message %#x: Recv failed: %v", p.tx.Hdr.MatchBits, m.Err)
	}
	if m.From != p.tx.Hdr.Src {
		t.Errorf("message %#x: from %v, want %v", p.tx.Hdr.MatchBits, m.From, p.tx.Hdr.Src)
	}
	if m.Hdr != p.tx.Hdr {
		t.Errorf("message %#x: header\n got %+v\nwant %+v", p.tx.Hdr.MatchBits, m.Hdr, p.tx.Hdr)
	}
	if !bytes.Equal(m.Payload, p.tx.Payload) {
		t.Errorf("message %#x: payload of %d bytes differs from the %d sent%s", p.tx.Hdr.MatchBits,
			len(m.Payload), len(p.tx.Payload), firstDiff(m.Payload, p.tx.Payload))
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf(" (first at byte %d)", i)
		}
	}
	return ""
}

// count returns how many messages in s match f.
func count(s *Snapshot, f func(m *Msg) bool) int {
	n := 0
	for i := range s.Msgs {
		if f(&s.Msgs[i]) {
			n++
		}
	}
	return n
}

// find returns the first message with match bits mb from from.
func find(s *Snapshot, from lnet.NID, mb uint64) (Msg, bool) {
	for _, m := range s.Msgs {
		if m.From == from && m.Hdr.MatchBits == mb {
			return m, true
		}
	}
	return Msg{}, false
}

// awaitMsgs waits until rec has n messages that match f.
func awaitMsgs(t testing.TB, rec *Recorder, what string, n int, f func(m *Msg) bool) {
	t.Helper()
	rec.Await(t, what, func(s *Snapshot) bool { return count(s, f) >= n })
}

// isPeerDown reports whether err says the peer is unreachable.
func isPeerDown(err error) bool { return errors.Is(err, lnet.ErrPeerDown) }
