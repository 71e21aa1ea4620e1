package osc

import (
	"context"
	"fmt"
)

// Grant and dirty accounting (Lustre's osc_enter_cache / osc_exit_cache).
//
// dirty counts the bytes the client caches towards this OST, dirty or in
// flight; the OST's grant (IOReply.Grant, its word on what it reserved for
// us) covers them. A write enters the cache only while dirty stays within
// MaxDirty; it is granted while the grant not yet used by cached bytes,
// grant - dirty, covers it. A write that is not granted is still cached,
// but its writer must write it back before returning (a synchronous write,
// which asks for grant): the OST then charges it to the space it has not
// promised, and a full OST answers ENOSPC to that writer. The estimate is
// conservative: a reply's grant may already have been charged for writes
// still counted as in flight, never the reverse.

// EnterCache accounts n more cached bytes. It waits (calling kick once, so
// that whoever caches data for this OST writes some back) while they do
// not fit in MaxDirty; a lone write larger than MaxDirty enters an empty
// cache. granted says the OST's grant covers them.
func (o *OSC) EnterCache(ctx context.Context, n int64, kick func()) (granted bool, err error) {
	kicked := false
	o.mu.Lock()
	for {
		if o.closed {
			o.mu.Unlock()
			return false, ErrClosed
		}
		if o.dirty == 0 || o.dirty+n <= o.maxDirty {
			granted = o.grant-o.dirty >= n
			o.dirty += n
			o.signalLocked()
			o.mu.Unlock()
			return granted, nil
		}
		ch := o.changed
		o.mu.Unlock()
		if !kicked && kick != nil {
			kicked = true
			kick()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, fmt.Errorf("osc: %s: waiting for cache space: %w", o.cfg.Target, ctx.Err())
		}
		o.mu.Lock()
	}
}

// ExitCache accounts n cached bytes gone: written back, or dropped.
func (o *OSC) ExitCache(n int64) {
	o.mu.Lock()
	o.dirty -= n
	if o.dirty < 0 {
		o.mu.Unlock()
		panic(fmt.Sprintf("osc: %s: dirty bytes below zero", o.cfg.Target))
	}
	o.signalLocked()
	o.mu.Unlock()
}

// noteGrant records the grant an OST reply reported.
func (o *OSC) noteGrant(g uint64) {
	o.mu.Lock()
	o.grant = int64(min(g, 1<<62))
	o.signalLocked()
	o.mu.Unlock()
}

// grantWant is what a write asks for: enough to cover MaxDirty.
func (o *OSC) grantWant() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return uint64(max(o.maxDirty-o.grant, 0))
}

func (o *OSC) signalLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// Grant returns the OST's last word on our grant (cur_grant_bytes).
func (o *OSC) Grant() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.grant
}

// Dirty returns the bytes cached towards the OST (cur_dirty_bytes).
func (o *OSC) Dirty() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dirty
}

// MaxDirty returns the bound on cached bytes (max_dirty_mb, in bytes).
func (o *OSC) MaxDirty() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.maxDirty
}

// SetMaxDirty changes the bound; writers above a lowered one wait.
func (o *OSC) SetMaxDirty(n int64) error {
	if n < 1<<20 || n > MaxDirty {
		return fmt.Errorf("%w: max dirty %d", ErrBadConfig, n)
	}
	o.mu.Lock()
	o.maxDirty = n
	o.signalLocked()
	o.mu.Unlock()
	return nil
}
