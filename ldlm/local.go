package ldlm

import (
	"context"
	"fmt"
	"sync"

	"github.com/stria-fs/stria/wire"
)

// LocalLock is a lock the server takes for itself (Lustre's
// ldlm_cli_enqueue_local): an MDT locks a directory's UPDATE bit before
// changing it, an OST locks an object's extent before punching it. Taking
// it sends blocking callbacks to the clients caching under conflicting
// locks, and it is granted once they cancelled (or were evicted); its
// holder then does the change and calls Release.
type LocalLock struct {
	ns *Namespace
	lk *lock // set at enqueue; guarded by ns.mu

	done     chan struct{} // closed when granted or failed
	blocking chan struct{} // closed when a request waits for this lock

	// Guarded by ns.mu.
	finished    bool
	err         error
	blockClosed bool

	relOnce sync.Once
}

// Lock takes a local lock and waits until it is granted or ctx ends
// (ErrInterrupted wrapping ctx's error; nothing stays queued). FLOCK locks
// cannot be taken locally. flags may hold LockFlagBlockNoWait (fail with
// ErrWouldBlock instead of waiting). Local extent locks are not expanded.
func (ns *Namespace) Lock(ctx context.Context, d wire.LockDesc, flags wire.LockFlags) (*LocalLock, error) {
	if err := ns.validate(&d); err != nil {
		return nil, err
	}
	if d.Type == wire.LockFlock {
		return nil, fmt.Errorf("%w: flock locks are taken by clients only", ErrInvalid)
	}
	ll := &LocalLock{ns: ns, done: make(chan struct{}), blocking: make(chan struct{})}
	var work []ast
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return nil, ErrClosed
	}
	rep, err := ns.enqueueLocked(nil, ll, &d, flags, 0, &work)
	if err == nil && !rep.Flags.Blocked() {
		ll.finished = true
		close(ll.done)
	}
	ns.mu.Unlock()
	ns.dispatch(work)
	if err != nil {
		return nil, err
	}
	select {
	case <-ll.done:
	case <-ctx.Done():
		ns.mu.Lock()
		granted := ll.finished && ll.err == nil
		if !ll.finished {
			ll.finish(ctx.Err())
			ns.cancelLocked(ll.lk, &work)
		}
		ns.mu.Unlock()
		ns.dispatch(work)
		if !granted {
			return nil, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
	}
	ns.mu.Lock()
	err = ll.err
	ns.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return ll, nil
}

// finish ends the wait of the lock's taker; called with ns.mu held.
func (ll *LocalLock) finish(err error) {
	if ll.finished {
		return
	}
	ll.finished, ll.err = true, err
	close(ll.done)
}

// signalBlocking tells the holder that someone waits; ns.mu held.
func (ll *LocalLock) signalBlocking() {
	if !ll.blockClosed {
		ll.blockClosed = true
		close(ll.blocking)
	}
}

// Blocking returns a channel closed once another request waits for this
// lock: a holder that keeps a local lock across steps lets go early.
func (ll *LocalLock) Blocking() <-chan struct{} { return ll.blocking }

// Desc returns the lock as granted.
func (ll *LocalLock) Desc() wire.LockDesc {
	ll.ns.mu.Lock()
	defer ll.ns.mu.Unlock()
	return ll.lk.desc()
}

// Release drops the lock and grants what waited for it. Safe to call more
// than once.
func (ll *LocalLock) Release() {
	ll.relOnce.Do(func() {
		ns := ll.ns
		var work []ast
		ns.mu.Lock()
		ns.cancelLocked(ll.lk, &work)
		ns.mu.Unlock()
		ns.dispatch(work)
	})
}
