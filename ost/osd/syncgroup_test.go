package osd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// roundErr is what the test's fsync returns: which sync ran.
type roundErr struct{ n int64 }

func (e *roundErr) Error() string { return fmt.Sprintf("round %d", e.n) }

// waitFor polls cond under a generous deadline (no timing is asserted).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSyncGroupCoalesces: callers that come while a sync runs share the
// next one, and each gets the result of the sync that covered it — never
// that of one that started before it asked.
func TestSyncGroupCoalesces(t *testing.T) {
	var g syncGroup
	var rounds atomic.Int64
	gate := make(chan struct{})
	fsync := func() error {
		n := rounds.Add(1)
		if n == 1 {
			<-gate
		}
		return &roundErr{n}
	}
	results := make([]error, 4)
	var wg sync.WaitGroup
	call := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g.sync(context.Background(), fsync)
		}()
	}
	call(0) // leads round 1, which blocks
	waitFor(t, "round 1 to start", func() bool { return rounds.Load() == 1 })
	call(1) // leads round 2
	waitFor(t, "round 2 to be queued", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.next != nil
	})
	call(2)
	call(3)
	waitFor(t, "two callers to join round 2", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.next != nil && g.next.joined == 2
	})
	close(gate)
	wg.Wait()
	if n := rounds.Load(); n != 2 {
		t.Errorf("%d fsyncs for 4 callers, want 2", n)
	}
	for i, want := range []int64{1, 2, 2, 2} {
		var re *roundErr
		if !errors.As(results[i], &re) || re.n != want {
			t.Errorf("caller %d got %v, want the result of round %d", i, results[i], want)
		}
	}
	// Idle again: the next caller runs its own sync at once.
	if err := g.sync(context.Background(), fsync); !errors.As(err, new(*roundErr)) {
		t.Errorf("sync on an idle group: %v", err)
	}
	if n := rounds.Load(); n != 3 {
		t.Errorf("%d fsyncs, want 3", n)
	}
}

// TestSyncGroupJoinerContext: a caller waiting for a round gives up when
// its context ends; the round still runs for the others.
func TestSyncGroupJoinerContext(t *testing.T) {
	var g syncGroup
	gate := make(chan struct{})
	var rounds atomic.Int64
	fsync := func() error {
		if rounds.Add(1) == 1 {
			<-gate
		}
		return nil
	}
	done := make(chan error, 2)
	go func() { done <- g.sync(context.Background(), fsync) }()
	waitFor(t, "round 1 to start", func() bool { return rounds.Load() == 1 })
	go func() { done <- g.sync(context.Background(), fsync) }() // leads round 2
	waitFor(t, "round 2 to be queued", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.next != nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.sync(ctx, fsync); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled joiner got %v", err)
	}
	close(gate)
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if n := rounds.Load(); n != 2 {
		t.Errorf("%d fsyncs, want 2", n)
	}
}
