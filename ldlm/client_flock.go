package ldlm

import (
	"context"
	"fmt"
	"time"

	"github.com/stria-fs/stria/wire"
)

// FlockCmd is what a flock request does, after fcntl(2)'s commands.
type FlockCmd int

// Flock commands.
const (
	// FlockSet takes or releases a lock, failing with ErrWouldBlock
	// (EAGAIN) on a conflict: F_SETLK, flock(LOCK_NB).
	FlockSet FlockCmd = iota
	// FlockWait takes a lock, waiting for conflicting ones to go (or ctx
	// to end: ErrInterrupted, the request is cancelled): F_SETLKW, flock.
	FlockWait
	// FlockTest reports a conflicting lock without taking anything:
	// F_GETLK.
	FlockTest
)

// Flock is a POSIX record lock as the client layer sees it: the mode
// (PR for F_RDLCK, PW for F_WRLCK, NL for F_UNLCK), the inclusive range
// (End wire.LockEOF: to the end of the file), the process and the lock
// owner (the open file's owner for fcntl, the open file for flock).
type Flock struct {
	Mode       wire.LockMode
	Start, End uint64
	PID        uint32
	Owner      uint64
}

// flockCancelTimeout bounds the cancel of an interrupted F_SETLKW.
const flockCancelTimeout = 30 * time.Second

// Flock runs one flock request on resource res. FlockSet and FlockWait
// return the lock as granted (its range may have merged with the owner's
// adjacent locks); FlockTest returns the conflicting lock, or mode NL if
// there is none. Waiting fails with ErrDeadlock (EDEADLK) when it would
// close a cycle of owners waiting for each other. Flocks are not cached:
// the server keeps them, per owner, until unlocked (mode NL) or the client
// is evicted.
func (c *Client) Flock(ctx context.Context, res wire.ResID, cmd FlockCmd, fl Flock) (Flock, error) {
	d := wire.LockDesc{Res: res, Type: wire.LockFlock, Mode: fl.Mode,
		Policy: wire.Policy{Start: fl.Start, End: fl.End, PID: fl.PID, Owner: fl.Owner}}
	if err := Validate(&d); err != nil {
		return Flock{}, err
	}
	var flags wire.LockFlags
	switch cmd {
	case FlockSet:
		flags = wire.LockFlagBlockNoWait
	case FlockTest:
		flags = wire.LockFlagTestLock
	case FlockWait:
	default:
		return Flock{}, fmt.Errorf("%w: flock command %d", ErrInvalid, cmd)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Flock{}, ErrClosed
	}
	l := c.newLockLocked(&d, true)
	c.stats.enqueues++
	c.mu.Unlock()
	// The enqueue is answered at once (granted, refused or queued): only
	// the wait for the grant is interruptible, so that an interrupted
	// wait knows the server's handle of the queued request to cancel (an
	// enqueue abandoned before its reply would leave it queued).
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), flockCancelTimeout)
	err := c.send(sctx, l, flags, nil)
	scancel()
	if err != nil {
		return Flock{}, err
	}
	select {
	case <-l.done:
	case <-ctx.Done():
	case <-c.ctx.Done():
	}
	c.mu.Lock()
	granted, err, desc, server := l.signaled, l.err, l.desc, l.server
	if !granted {
		err = fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		if c.ctx.Err() != nil {
			err = ErrClosed
		}
	} else if err == nil && l.grantedCP {
		c.cb.grantedFlock(l.cookie)
	}
	c.destroyLocked(l, err)
	c.mu.Unlock()
	if !granted && server != 0 {
		// Cancel the queued request; granted meanwhile, the cancel
		// unlocks what it was granted.
		cctx, cancel := context.WithTimeout(c.ctx, flockCancelTimeout)
		c.sendCancel(cctx, []wire.LockHandle{server})
		cancel()
	}
	if err != nil {
		return Flock{}, err
	}
	return Flock{Mode: desc.Mode, Start: desc.Policy.Start, End: desc.Policy.End, PID: desc.Policy.PID,
		Owner: desc.Policy.Owner}, nil
}
