package osc

import (
	"context"
	"sync"
)

// limiter bounds the RPCs in flight (max_rpcs_in_flight): a counting
// semaphore whose limit can change while it is used, handing slots to
// waiters in arrival order.
type limiter struct {
	mu      sync.Mutex // leaf
	limit   int
	active  int
	peak    int
	waiters []chan struct{} // FIFO; closed when handed a slot
}

func newLimiter(n int) *limiter { return &limiter{limit: n} }

// acquire takes a slot, waiting while every slot is busy.
func (l *limiter) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.active < l.limit && len(l.waiters) == 0 {
		l.takeLocked()
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				l.mu.Unlock()
				return ctx.Err()
			}
		}
		l.mu.Unlock()
		l.release() // handed a slot as ctx ended: give it back
		return ctx.Err()
	}
}

func (l *limiter) takeLocked() {
	l.active++
	l.peak = max(l.peak, l.active)
}

// release gives a slot back.
func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active--
	l.handLocked()
}

func (l *limiter) handLocked() {
	for l.active < l.limit && len(l.waiters) > 0 {
		ch := l.waiters[0]
		l.waiters = l.waiters[1:]
		l.takeLocked()
		close(ch)
	}
}

// setLimit changes the limit; RPCs above a lowered limit finish.
func (l *limiter) setLimit(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = n
	l.handLocked()
}

// state returns the limit, the slots in use and the most ever in use.
func (l *limiter) state() (limit, active, peak int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit, l.active, l.peak
}
