package ldlm

import (
	"context"
	"fmt"
	"time"

	"github.com/stria-fs/stria/wire"
)

// IntentCall sends a target's own request carrying req (an intent: the
// server enqueues it for this client while serving the request, Lustre's
// intent locks) and returns the server's lock reply, or nil when it
// granted no lock.
type IntentCall func(req *wire.LockRequest) (*wire.LockReply, error)

// EnqueueIntent asks, through call, for a lock like d, whose resource and
// policy the server chooses (an intent names an object by a name the
// server resolves). The request never waits (LockFlagBlockNoWait): the
// server grants the lock at once or not at all. It returns the granted
// lock, with a reference the caller Releases, or nil when the server
// granted none; call's error is returned as it is. A blocking callback
// that comes before the reply is honoured once the caller releases the
// lock.
func (c *Client) EnqueueIntent(ctx context.Context, d wire.LockDesc, call IntentCall) (*Lock, error) {
	if d.Type == wire.LockFlock {
		return nil, fmt.Errorf("%w: flock requests go through Flock", ErrInvalid)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	// Registered for callbacks, but in no resource's list until the
	// reply says which resource it is on.
	l := &Lock{c: c, desc: d, users: 1, done: make(chan struct{})}
	c.cb.register(l)
	c.stats.enqueues++
	req := &wire.LockRequest{Desc: d, Flags: wire.LockFlagBlockNoWait, Handle: l.cookie}
	c.mu.Unlock()

	rep, err := call(req)

	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil && ctx.Err() != nil && remoteErrno(err) == 0:
		// The server may have granted it: keep the handle known, so that
		// a callback naming it gets it cancelled.
		l.abandoned = true
		c.abandoned[l] = time.Now()
		l.state = stateDone
		c.signalLocked(l, ctx.Err())
		return nil, err
	case err != nil || rep == nil:
		c.destroyLocked(l, ErrWouldBlock)
		return nil, err
	case rep.Flags.Blocked() || rep.Handle == 0 || c.closed || l.state != stateEnqueuing:
		// Not a grant (the server must not queue an intent), or the
		// namespace is closing: give it back.
		l.server = rep.Handle
		if l.server == 0 {
			c.destroyLocked(l, ErrWouldBlock)
			return nil, nil
		}
		l.users = 0
		l.desc = rep.Desc
		c.byRes[l.desc.Res] = append(c.byRes[l.desc.Res], l)
		l.wasGranted = true
		l.state = stateGranted
		c.startCancelLocked(l)
		return nil, nil
	}
	l.server = rep.Handle
	if rep.Flags&wire.LockFlagASTSent != 0 {
		l.cbPending = true
	}
	l.desc, l.lvb, l.state, l.wasGranted = rep.Desc, rep.LVB, stateGranted, true
	c.byRes[l.desc.Res] = append(c.byRes[l.desc.Res], l)
	c.signalLocked(l, nil)
	return l, nil
}
