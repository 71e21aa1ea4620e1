package osd

import (
	"context"
	"sync"
)

// syncGroup coalesces the fsyncs of one object file, as a group commit:
// a caller needs a sync that starts after it asked, so that it covers what
// the caller wrote before asking. While one sync runs, every caller that
// comes joins the next round, which its first caller (the round's leader)
// runs for all once the running one is done: N writers finishing together
// cost two fsyncs, not N, and nobody is acknowledged by a sync that
// started before its data was written.
//
// Each round carries its own result, so a caller gets the error of the
// sync that covered it (after a failed fsync Linux reports nothing the
// next time, so a later success does not mean its data is safe).
type syncGroup struct {
	mu      sync.Mutex // guards the fields below; a leaf
	running *syncRound // the sync in progress, nil if none
	next    *syncRound // the round callers join while one runs
}

type syncRound struct {
	done   chan struct{} // closed when the sync ran; err set before
	err    error
	joined int // callers that joined it besides its leader; guarded by syncGroup.mu
}

// sync runs fn (the fsync) or joins a round that will, and returns the
// result of the round that covers the call. A leader runs its round
// whatever ctx says, as others count on it; a joiner gives up waiting when
// ctx ends.
func (g *syncGroup) sync(ctx context.Context, fn func() error) error {
	g.mu.Lock()
	if r := g.next; r != nil {
		r.joined++
		g.mu.Unlock()
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r := &syncRound{done: make(chan struct{})}
	prev := g.running
	if prev == nil {
		g.running = r
	} else {
		g.next = r
	}
	g.mu.Unlock()
	if prev != nil {
		<-prev.done
		g.mu.Lock()
		g.running, g.next = r, nil // callers from now on wait for the round after r
		g.mu.Unlock()
	}
	r.err = fn()
	close(r.done)
	g.mu.Lock()
	if g.running == r {
		g.running = nil
	}
	g.mu.Unlock()
	return r.err
}
