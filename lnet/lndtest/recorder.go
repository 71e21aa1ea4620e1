package lndtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// Patience bounds every wait of the suite. Only a hang reaches it.
const Patience = 60 * time.Second

// Msg is one message as the Recorder received it.
type Msg struct {
	From    lnet.NID
	Hdr     lnet.Header
	Payload []byte // the sink Recv filled; nil when none was given
	Err     error  // what Recv's done reported
}

// PeerEvent is one Host.PeerState call.
type PeerEvent struct {
	Peer  lnet.NID
	Alive bool
	Err   error
}

// Policy says how a Recorder treats arriving messages.
type Policy struct {
	// Sink returns how many bytes of the payload to take: a negative value
	// means a nil sink. Nil takes the whole payload.
	Sink func(hdr *lnet.Header) int
	// Hold says whether to keep the message, without calling Recv, until
	// Release. Nil holds nothing.
	Hold func(hdr *lnet.Header) bool
	// Async calls Recv from a new goroutine instead of inside Receive.
	Async bool
	// InDone, when set, is called from within Recv's done once the message
	// is recorded, with the message's Rx (for lnet.Inliner).
	InDone func(hdr *lnet.Header, rx lnet.Rx)
}

// Snapshot is what a Recorder has seen so far. Await hands it to its
// condition under the Recorder's lock: read it, do not keep it.
type Snapshot struct {
	Msgs   []Msg
	Events []PeerEvent
	Held   int      // messages held and not yet released
	Bad    []string // contract violations seen (wrong NI, Recv misbehaving)
}

// Recorder is an lnet.Host that records what an NI delivers.
type Recorder struct {
	policy Policy

	mu       sync.Mutex
	ni       lnet.NI // the NI it serves, once known
	snap     Snapshot
	held     []heldMsg
	released bool          // Release was called: hold nothing more
	wake     chan struct{} // closed and replaced on every change
	wg       sync.WaitGroup
}

type heldMsg struct {
	from lnet.NID
	hdr  lnet.Header
	rx   lnet.Rx
}

var _ lnet.Host = (*Recorder)(nil)

// NewRecorder returns a Recorder with policy p.
func NewRecorder(p Policy) *Recorder {
	return &Recorder{policy: p, wake: make(chan struct{})}
}

// setNI tells the Recorder which NI it serves, so it can check Receive's ni.
func (r *Recorder) setNI(ni lnet.NI) {
	r.mu.Lock()
	r.ni = ni
	r.mu.Unlock()
}

// changedLocked wakes every Await.
func (r *Recorder) changedLocked() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// Receive implements lnet.Host.
func (r *Recorder) Receive(ni lnet.NI, from lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	h := *hdr
	r.mu.Lock()
	if r.ni != nil && ni != r.ni {
		r.snap.Bad = append(r.snap.Bad, fmt.Sprintf("Receive from %v on NI %v, want %v", from, ni.NID(), r.ni.NID()))
		r.changedLocked()
	}
	if r.policy.Hold != nil && !r.released && r.policy.Hold(&h) {
		r.held = append(r.held, heldMsg{from: from, hdr: h, rx: rx})
		r.snap.Held++
		r.changedLocked()
		r.mu.Unlock()
		return
	}
	if r.policy.Async {
		r.wg.Add(1)
		r.mu.Unlock()
		go func() {
			defer r.wg.Done()
			r.recv(from, h, rx)
		}()
		return
	}
	r.mu.Unlock()
	r.recv(from, h, rx)
}

// recv calls rx.Recv as the policy says and records the outcome.
func (r *Recorder) recv(from lnet.NID, h lnet.Header, rx lnet.Rx) {
	n := int(h.PayloadLen)
	if r.policy.Sink != nil {
		n = min(r.policy.Sink(&h), n)
	}
	var sink []byte
	if n >= 0 {
		sink = make([]byte, n)
	}
	calls := 0
	rx.Recv(sink, func(err error) {
		r.mu.Lock()
		calls++
		if calls > 1 {
			r.snap.Bad = append(r.snap.Bad, fmt.Sprintf("Recv's done called %d times for %v", calls, h.MatchBits))
		}
		r.snap.Msgs = append(r.snap.Msgs, Msg{From: from, Hdr: h, Payload: sink, Err: err})
		r.changedLocked()
		r.mu.Unlock()
		if r.policy.InDone != nil {
			r.policy.InDone(&h, rx)
		}
	})
}

// Release calls Recv for every held message, in arrival order, on the
// caller's goroutine, and stops holding messages.
func (r *Recorder) Release() {
	r.mu.Lock()
	held := r.held
	r.held = nil
	r.released = true
	r.mu.Unlock()
	for _, m := range held {
		r.recv(m.from, m.hdr, m.rx)
		r.mu.Lock()
		r.snap.Held--
		r.changedLocked()
		r.mu.Unlock()
	}
}

// PeerState implements lnet.Host.
func (r *Recorder) PeerState(ni lnet.NI, peer lnet.NID, alive bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ni != nil && ni != r.ni {
		r.snap.Bad = append(r.snap.Bad, fmt.Sprintf("PeerState for %v on NI %v, want %v", peer, ni.NID(), r.ni.NID()))
	}
	r.snap.Events = append(r.snap.Events, PeerEvent{Peer: peer, Alive: alive, Err: err})
	r.changedLocked()
}

// Await waits until cond holds for the Recorder's snapshot; after Patience
// it fails t with what it was waiting for.
func (r *Recorder) Await(t testing.TB, what string, cond func(s *Snapshot) bool) {
	t.Helper()
	timeout := time.NewTimer(Patience)
	defer timeout.Stop()
	for {
		r.mu.Lock()
		ok := cond(&r.snap)
		wake := r.wake
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-timeout.C:
			t.Fatalf("gave up after %v waiting for %s", Patience, what)
		}
	}
}

// View calls f with the current snapshot.
func (r *Recorder) View(f func(s *Snapshot)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.snap)
}

// Wait waits for the goroutines the Recorder started (Async receives).
func (r *Recorder) Wait() { r.wg.Wait() }
