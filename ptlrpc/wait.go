package ptlrpc

import "sync"

// Waiting for a reply.
//
// A call's goroutine sleeps until an LNet event (reply, send done), the
// import's deadline timer, a state change or its context wakes it. Woken
// through a channel, the sleeper is made runnable at once by the goroutine
// that signals (an LND reader), and the Go scheduler, seeing an idle CPU,
// wakes another thread to run it: a context switch there, another when that
// thread finds the sleeper already taken and sleeps again, and the threads
// then keep handing the network poller to each other. On a small RPC that
// costs more than the RPC. So on Linux a call sleeps in the network poller,
// reading an eventfd, and is woken by a write to it: the reader goroutine's
// thread, about to sleep itself, finds the call runnable when it polls the
// network, and runs it, as it runs a goroutine whose socket turned readable
// (the raw TCP ping-pong the benchmarks compare with is served that way,
// by one thread). That costs a write and a read of the eventfd, more than a
// channel, so only a call that waits alone on its import does it: with
// other calls waiting, the process is busy, its threads awake, and a
// channel wakes a goroutine for less. Elsewhere than Linux, and when no
// eventfd can be had, calls sleep on their channel.

// maxIdleWaiters bounds the eventfds an import keeps for later calls; more
// are made while more calls wait at once, and closed when they are done.
const maxIdleWaiters = 8

// waiterPool is an import's idle pollWaiters.
type waiterPool struct {
	mu     sync.Mutex
	idle   []*pollWaiter
	closed bool
}

// get returns an idle waiter or a new one; nil when none can be had (the
// caller sleeps on its channel instead).
func (p *waiterPool) get() *pollWaiter {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return w
	}
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil
	}
	w, err := newPollWaiter()
	if err != nil {
		return nil
	}
	return w
}

// put returns a waiter that is not in use, with no wake pending.
func (p *waiterPool) put(w *pollWaiter) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < maxIdleWaiters {
		p.idle = append(p.idle, w)
		w = nil
	}
	p.mu.Unlock()
	if w != nil {
		w.close()
	}
}

// close closes the idle waiters; those in use are closed when put back.
func (p *waiterPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, w := range idle {
		w.close()
	}
}
