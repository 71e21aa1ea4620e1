package lndtest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// RunInline runs the cases of lnet.Inliner against h, each as a subtest.
// An LND whose Rx implements lnet.Inliner calls it beside Run; the cases
// fail if its Rx does not.
func RunInline(t *testing.T, h Harness) {
	cases := []struct {
		name string
		run  func(e *env)
	}{
		{"Order", testInlineOrder},
		{"Detach", func(e *env) { testInlineDetach(e, false) }},
		{"DetachFromF", func(e *env) { testInlineDetach(e, true) }},
		{"Close", testInlineClose},
		{"LateRecv", testInlineLateRecv},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			CheckLeaks(t)
			c.run(&env{t: t, h: h})
		})
	}
}

// inlineProbe asks for an Inline f on the message with match bits 0 and
// records what happens to it.
type inlineProbe struct {
	t      testing.TB
	f      func(in lnet.Inliner) // the work; runs once
	ran    atomic.Int32
	second atomic.Bool // a second Inline for the same message was refused
}

func newInlineProbe(t testing.TB, f func(in lnet.Inliner)) *inlineProbe {
	return &inlineProbe{t: t, f: f}
}

func (p *inlineProbe) policy() Policy {
	return Policy{InDone: func(hdr *lnet.Header, rx lnet.Rx) {
		if hdr.MatchBits != 0 {
			return
		}
		in, ok := rx.(lnet.Inliner)
		if !ok {
			p.t.Errorf("the Rx (%T) does not implement lnet.Inliner", rx)
			return
		}
		if !in.Inline(func() { p.ran.Add(1); p.f(in) }) {
			p.t.Errorf("Inline from within done refused")
			return
		}
		p.second.Store(!in.Inline(func() { p.t.Errorf("a second Inline f ran") }))
	}}
}

// check fails t unless f ran exactly once and a second Inline for the same
// message was refused.
func (p *inlineProbe) check() {
	p.t.Helper()
	if n := p.ran.Load(); n != 1 {
		p.t.Errorf("Inline f ran %d times, want once", n)
	}
	if !p.second.Load() {
		p.t.Errorf("a second Inline for one message was accepted")
	}
}

// testInlineOrder: the f of message 0 runs before message 1, sent on the
// same connection before f returns, is received.
func testInlineOrder(e *env) {
	t := e.t
	e.start(0, Policy{})
	var r1 *Recorder
	started, sent := make(chan struct{}), make(chan struct{})
	var seen int
	probe := newInlineProbe(t, func(lnet.Inliner) {
		close(started)
		<-sent // message 1 is in the network now
		r1.View(func(s *Snapshot) { seen = len(s.Msgs) })
	})
	_, r1 = e.start(1, probe.policy())
	e.put(0, e.h.NID(1), pattern(0, smallSize), 0, 0).mustSend(t)
	<-started
	e.put(0, e.h.NID(1), pattern(1, smallSize), 1, 0).mustSend(t)
	close(sent)
	checkOrder(e, r1, map[streamKey]int{{e.h.NID(0), 0}: 2})
	if seen != 1 {
		t.Errorf("f saw %d messages received, want 1: the next message came in while f ran", seen)
	}
	probe.check()
}

// testInlineDetach: an f that waits for the next message on its own
// connection gets it once the reader is detached (by another goroutine, or
// by f itself), and the stream goes on in order.
func testInlineDetach(e *env, fromF bool) {
	t := e.t
	e.start(0, Policy{})
	var r1 *Recorder
	started := make(chan lnet.Inliner, 1)
	probe := newInlineProbe(t, func(in lnet.Inliner) {
		if fromF {
			in.Detach()
		}
		started <- in
		r1.Await(t, "message 1, received while f runs", func(s *Snapshot) bool { return len(s.Msgs) >= 2 })
	})
	_, r1 = e.start(1, probe.policy())
	const n = 50
	// Message 0 alone first: an LND may refuse Inline when the next
	// message is already there.
	ps := []*pending{e.put(0, e.h.NID(1), pattern(0, smallSize), 0, 0)}
	in := <-started
	for i := 1; i < n; i++ {
		ps = append(ps, e.put(0, e.h.NID(1), pattern(uint64(i), smallSize), uint64(i), 0))
	}
	if !fromF {
		in.Detach()
	}
	in.Detach() // a second call does nothing
	for _, p := range ps {
		p.mustSend(t)
	}
	checkOrder(e, r1, map[streamKey]int{{e.h.NID(0), 0}: n})
	probe.check()
}

// testInlineClose: closing the receiving NI does not wait for an f that is
// still running; f runs to its end afterwards.
func testInlineClose(e *env) {
	t := e.t
	e.start(0, Policy{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	probe := newInlineProbe(t, func(lnet.Inliner) {
		defer wg.Done()
		close(started)
		<-release
	})
	ni1, _ := e.start(1, probe.policy())
	e.put(0, e.h.NID(1), pattern(0, smallSize), 0, 0).mustSend(t)
	<-started
	closed := make(chan error, 1)
	go func() { closed <- ni1.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
		close(release)
	case <-time.After(Patience):
		t.Errorf("Close waits for a running Inline f")
		close(release)
		<-closed
	}
	wg.Wait()
	probe.check()
}

// testInlineLateRecv: a message whose Recv comes after its connection
// closed still has its Inline f run once, if Recv delivered it.
func testInlineLateRecv(e *env) {
	t := e.t
	e.start(0, Policy{})
	probe := newInlineProbe(t, func(lnet.Inliner) {})
	pol := probe.policy()
	pol.Hold = func(*lnet.Header) bool { return true }
	ni1, r1 := e.start(1, pol)
	e.put(0, e.h.NID(1), pattern(0, smallSize), 0, 0).mustSend(t)
	r1.Await(t, "the message, held", func(s *Snapshot) bool { return s.Held == 1 })
	if err := ni1.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	r1.Release()
	var err error
	r1.View(func(s *Snapshot) { err = s.Msgs[0].Err })
	if err != nil {
		// The payload was lost with the connection: no done, no Inline.
		t.Logf("late Recv failed (allowed): %v", err)
		return
	}
	probe.check()
}
