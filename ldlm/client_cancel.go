package ldlm

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// cancelBatch bounds the handles of one LDLM_CANCEL.
const cancelBatch = 64

// Release drops the caller's reference. An unused lock stays cached (in
// the LRU) unless a server asked for it back, in which case it is
// cancelled now.
func (l *Lock) Release() {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.users <= 0 {
		panic("ldlm: Lock released more often than taken")
	}
	l.users--
	if l.users > 0 || l.state != stateGranted {
		return
	}
	if l.cbPending || c.closed {
		c.startCancelLocked(l)
		return
	}
	l.lastUsed = time.Now()
	c.lruPushLocked(l)
	c.shrinkLRULocked()
}

// ReleaseCancel drops the caller's reference and has the lock cancelled
// once unused, instead of cached.
func (l *Lock) ReleaseCancel() {
	l.c.mu.Lock()
	l.cbPending, l.keep = true, 0
	l.c.mu.Unlock()
	l.Release()
}

// Handle returns the server's handle of the lock (0 until the server
// answered).
func (l *Lock) Handle() wire.LockHandle {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.server
}

// Desc returns the lock as granted (its extent may be wider than asked).
func (l *Lock) Desc() wire.LockDesc {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.desc
}

// LVB returns the lock value block the grant carried.
func (l *Lock) LVB() wire.LVB {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.lvb
}

// Data returns what SetData stored (the client layer's object).
func (l *Lock) Data() any {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.data
}

// SetData stores the client layer's object with the lock, for its hooks.
func (l *Lock) SetData(v any) {
	l.c.mu.Lock()
	l.data = v
	l.c.mu.Unlock()
}

// BlockPending reports whether a server asked for the lock back: new
// users should not start on it.
func (l *Lock) BlockPending() bool {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.cbPending || l.state != stateGranted
}

// startCancelLocked queues l for a cancel worker.
func (c *Client) startCancelLocked(l *Lock) {
	if l.state == stateCancelling || l.state == stateDone {
		return
	}
	l.state = stateCancelling
	c.lruRemoveLocked(l)
	c.queueCancelLocked(l)
}

func (c *Client) queueCancelLocked(l *Lock) {
	c.cancelQ = append(c.cancelQ, l)
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// cancelAbandonedLocked cancels on the server a lock whose enqueue was
// given up, now that a callback told its server handle.
func (c *Client) cancelAbandonedLocked(l *Lock, server wire.LockHandle) {
	l.abandoned = false
	delete(c.abandoned, l)
	l.server = server
	l.state = stateCancelling
	c.queueCancelLocked(l)
}

// cancelWorker runs Cancel hooks and sends cancels for queued locks.
func (c *Client) cancelWorker() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		n := min(len(c.cancelQ), cancelBatch)
		batch := append([]*Lock(nil), c.cancelQ[:n]...)
		c.cancelQ = c.cancelQ[:copy(c.cancelQ, c.cancelQ[n:])]
		more := len(c.cancelQ) > 0
		c.mu.Unlock()
		if more {
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
		if len(batch) > 0 {
			c.cancelNow(c.ctx, batch)
			continue
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		}
	}
}

// cancelNow gives up locks already marked cancelling: their Cancel hooks
// run (for locks that were granted), then one LDLM_CANCEL per batch tells
// the server, then they are forgotten.
func (c *Client) cancelNow(ctx context.Context, locks []*Lock) {
	var handles []wire.LockHandle
	gone := locks[:0:0]
	for _, l := range locks {
		c.mu.Lock()
		granted, h, keep := l.wasGranted, l.server, l.keep
		c.mu.Unlock()
		if granted && keep != 0 && h != 0 && c.convert(ctx, l, h, keep) {
			continue
		}
		if granted && c.cfg.Hooks.Cancel != nil {
			c.cfg.Hooks.Cancel(ctx, l, false)
		}
		if h != 0 {
			handles = append(handles, h)
		}
		gone = append(gone, l)
	}
	for len(handles) > 0 {
		n := min(len(handles), cancelBatch)
		c.sendCancel(ctx, handles[:n])
		handles = handles[n:]
	}
	c.mu.Lock()
	for _, l := range gone {
		c.destroyLocked(l, ErrClosed)
	}
	c.stats.cancels += uint64(len(gone))
	c.mu.Unlock()
}

// convert gives up the inode bits of granted lock l (server handle h)
// that it does not keep: the Convert hook drops what is cached under
// them, LDLM_CONVERT tells the server, and l goes back to the cache with
// the rest. It reports false, having done nothing the caller's cancel
// would not redo, when the server refused (the caller then cancels l).
// A blocking callback that came meanwhile (for the bits kept) has l
// cancelled after all.
func (c *Client) convert(ctx context.Context, l *Lock, h wire.LockHandle, keep uint64) bool {
	c.mu.Lock()
	d := l.desc
	c.mu.Unlock()
	c.cfg.Hooks.Convert(ctx, l, d.Policy.Bits&^keep)
	d.Policy.Bits = keep
	rep, err := c.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.LDLMConvert,
		Encode: &wire.LockCallback{Handle: l.cookie, ServerHandle: h, Desc: d}})
	rep.Release()
	if err != nil {
		c.log.Debug("ldlm: convert failed; cancelling", zap.Stringer("res", d.Res), zap.Error(err))
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.converts++
	l.desc.Policy.Bits, l.keep, l.cbPending = keep, 0, false
	if l.state != stateCancelling {
		return true // dropped meanwhile (an eviction, Close)
	}
	l.state = stateGranted
	if l.againCB || c.closed {
		l.againCB, l.cbPending = false, true
		c.startCancelLocked(l)
		return true
	}
	if l.users == 0 {
		l.lastUsed = time.Now()
		c.lruPushLocked(l)
		c.shrinkLRULocked()
	}
	return true
}

// sendCancel sends one LDLM_CANCEL. ESTALE (the server knew none of the
// locks) is success; an evicted or closing client has nothing to cancel.
func (c *Client) sendCancel(ctx context.Context, handles []wire.LockHandle) {
	rep, err := c.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.LDLMCancel, Encode: &wire.CancelList{Handles: handles}})
	rep.Release()
	if err != nil && remoteErrno(err) != syscall.ESTALE && ctx.Err() == nil {
		c.log.Debug("ldlm: cancel failed", zap.Int("locks", len(handles)), zap.Error(err))
	}
}

// CancelUnused cancels every unused cached lock (of res, or of every
// resource if res is nil) and returns once the server was told: Lustre's
// `lru_size=clear`, and what a client does before it forgets an object.
func (c *Client) CancelUnused(ctx context.Context, res *wire.ResID) int {
	c.mu.Lock()
	var locks []*Lock
	for l := c.lruTail; l != nil; l = l.prev {
		if res == nil || l.desc.Res == *res {
			locks = append(locks, l)
		}
	}
	for _, l := range locks {
		l.state = stateCancelling
		c.lruRemoveLocked(l)
	}
	c.mu.Unlock()
	if len(locks) > 0 {
		c.cancelNow(ctx, locks)
	}
	return len(locks)
}

// lruPushLocked puts l at the head (most recently used) of the LRU.
func (c *Client) lruPushLocked(l *Lock) {
	if l.inLRU {
		c.lruRemoveLocked(l)
	}
	l.inLRU, l.prev, l.next = true, nil, c.lruHead
	if c.lruHead != nil {
		c.lruHead.prev = l
	}
	c.lruHead = l
	if c.lruTail == nil {
		c.lruTail = l
	}
	c.lruLen++
}

func (c *Client) lruRemoveLocked(l *Lock) {
	if !l.inLRU {
		return
	}
	if l.prev != nil {
		l.prev.next = l.next
	} else {
		c.lruHead = l.next
	}
	if l.next != nil {
		l.next.prev = l.prev
	} else {
		c.lruTail = l.prev
	}
	l.inLRU, l.prev, l.next = false, nil, nil
	c.lruLen--
}

func (c *Client) lruLimitLocked() int {
	if c.lruSize == 0 {
		return DefaultLRUSize()
	}
	return c.lruSize
}

// shrinkLRULocked cancels the least recently used locks beyond lru_size.
func (c *Client) shrinkLRULocked() {
	for limit := c.lruLimitLocked(); c.lruLen > limit; {
		l := c.lruTail
		c.stats.lruCancels++
		c.startCancelLocked(l)
	}
}

// ageLRULocked cancels the unused locks older than lru_max_age.
func (c *Client) ageLRULocked(now time.Time) {
	for l := c.lruTail; l != nil && now.Sub(l.lastUsed) > c.lruMaxAge; l = c.lruTail {
		c.stats.lruCancels++
		c.startCancelLocked(l)
	}
	for l, t := range c.abandoned {
		if now.Sub(t) > c.lruMaxAge {
			c.destroyLocked(l, nil)
		}
	}
}

// sweeper ages the LRU and watches the import for an eviction.
func (c *Client) sweeper() {
	defer c.wg.Done()
	t := time.NewTicker(min(c.cfg.EvictionCheck, c.cfg.LRUMaxAge))
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C:
			c.checkEviction()
			c.mu.Lock()
			c.ageLRULocked(now)
			c.mu.Unlock()
		}
	}
}

// checkEviction drops every lock if the import was evicted since the last
// look: the server has freed them, so nothing cached under them is
// coherent any more.
func (c *Client) checkEviction() {
	ev := c.imp.Info().Evictions
	c.mu.Lock()
	if ev == c.evictions || c.closed {
		c.mu.Unlock()
		return
	}
	c.evictions = ev
	c.stats.evictions++
	var granted []*Lock
	for _, q := range c.byRes {
		for _, l := range q {
			if l.wasGranted {
				granted = append(granted, l)
			}
		}
	}
	for _, q := range c.byRes {
		for _, l := range slices.Clone(q) {
			c.destroyLocked(l, fmt.Errorf("%w: %s", ErrEvicted, c.cfg.Name))
		}
	}
	for l := range c.abandoned {
		c.destroyLocked(l, nil)
	}
	c.mu.Unlock()
	c.log.Warn("ldlm: evicted, all locks dropped", zap.Int("granted", len(granted)))
	if c.cfg.Hooks.Cancel != nil {
		for _, l := range granted {
			c.cfg.Hooks.Cancel(c.ctx, l, true)
		}
	}
}

// Close cancels the namespace's locks on the server (best effort, bounded
// by ctx), fails waiting requests with ErrClosed and waits for the
// namespace's goroutines. Close it before its import and callback server.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var handles []wire.LockHandle
	for _, q := range c.byRes {
		for _, l := range q {
			if l.server != 0 && l.state != stateDone {
				handles = append(handles, l.server)
			}
		}
	}
	c.mu.Unlock()
	for len(handles) > 0 && ctx.Err() == nil {
		n := min(len(handles), cancelBatch)
		c.sendCancel(ctx, handles[:n])
		handles = handles[n:]
	}
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	for _, q := range c.byRes {
		for _, l := range slices.Clone(q) {
			c.destroyLocked(l, ErrClosed)
		}
	}
	for _, l := range c.cancelQ {
		c.destroyLocked(l, ErrClosed)
	}
	c.cancelQ = nil
	for l := range c.abandoned {
		c.destroyLocked(l, ErrClosed)
	}
	c.mu.Unlock()
	return nil
}

// ClientStats is a snapshot of a client namespace.
type ClientStats struct {
	Locks        int // enqueuing, waiting, granted or being cancelled
	Unused       int // in the LRU
	Resources    int
	Enqueues     uint64 // requests sent to the server
	Matches      uint64 // requests served from the cache
	Cancels      uint64
	Blocking     uint64 // blocking callbacks received
	EarlyCancels uint64
	LRUCancels   uint64 // cancelled for lru_size or lru_max_age
	Evictions    uint64
	Converts     uint64 // locks that gave up some bits and stayed
}

// Stats returns a snapshot of the namespace.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ClientStats{Unused: c.lruLen, Resources: len(c.byRes), Enqueues: c.stats.enqueues,
		Matches: c.stats.matches, Cancels: c.stats.cancels, Blocking: c.stats.blocking,
		EarlyCancels: c.stats.earlyCancels, LRUCancels: c.stats.lruCancels, Evictions: c.stats.evictions,
		Converts: c.stats.converts}
	for _, q := range c.byRes {
		s.Locks += len(q)
	}
	return s
}

// SetLRUSize sets lru_size: the most unused locks kept (0: dynamic,
// DefaultLRUSize). Locks beyond it are cancelled at once.
func (c *Client) SetLRUSize(n int) error {
	if n < 0 {
		return fmt.Errorf("%w: lru_size %d", ErrInvalid, n)
	}
	c.mu.Lock()
	c.lruSize = n
	c.shrinkLRULocked()
	c.mu.Unlock()
	return nil
}

// SetLRUMaxAge sets lru_max_age; older unused locks are cancelled at the
// next sweep.
func (c *Client) SetLRUMaxAge(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: lru_max_age %v", ErrInvalid, d)
	}
	c.mu.Lock()
	c.lruMaxAge = d
	c.ageLRULocked(time.Now())
	c.mu.Unlock()
	return nil
}

// Params returns the client namespace's parameters, as Lustre names them
// under ldlm.namespaces.<name>: lock_count, lock_unused_count,
// resource_count, lru_size (a number, 0 for dynamic, or "clear" to cancel
// every unused lock), lru_max_age (milliseconds; a value may end in "s"
// or "ms") and early_lock_cancel (0 or 1).
func (c *Client) Params() []Param {
	return []Param{
		uintParam("lock_count", func() uint64 { return uint64(c.Stats().Locks) }),
		uintParam("lock_unused_count", func() uint64 { return uint64(c.Stats().Unused) }),
		uintParam("resource_count", func() uint64 { return uint64(c.Stats().Resources) }),
		{Name: "lru_size", Get: func() string {
			c.mu.Lock()
			defer c.mu.Unlock()
			return strconv.Itoa(c.lruSize)
		}, Set: func(v string) error {
			v = strings.TrimSpace(v)
			if v == "clear" {
				ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
				defer cancel()
				c.CancelUnused(ctx, nil)
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%w: lru_size %q", ErrInvalid, v)
			}
			return c.SetLRUSize(n)
		}},
		{Name: "lru_max_age", Get: func() string {
			c.mu.Lock()
			defer c.mu.Unlock()
			return strconv.FormatInt(c.lruMaxAge.Milliseconds(), 10)
		}, Set: func(v string) error {
			d, err := parseMillis(v)
			if err != nil {
				return err
			}
			return c.SetLRUMaxAge(d)
		}},
		{Name: "early_lock_cancel", Get: func() string {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.earlyCancel {
				return "1"
			}
			return "0"
		}, Set: func(v string) error {
			switch strings.TrimSpace(v) {
			case "0":
				c.mu.Lock()
				c.earlyCancel = false
				c.mu.Unlock()
			case "1":
				c.mu.Lock()
				c.earlyCancel = true
				c.mu.Unlock()
			default:
				return fmt.Errorf("%w: early_lock_cancel %q", ErrInvalid, v)
			}
			return nil
		}},
	}
}

// parseMillis parses lru_max_age: milliseconds, or a number ending in "s"
// or "ms".
func parseMillis(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	unit := time.Millisecond
	switch {
	case strings.HasSuffix(v, "ms"):
		v = strings.TrimSuffix(v, "ms")
	case strings.HasSuffix(v, "s"):
		v, unit = strings.TrimSuffix(v, "s"), time.Second
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > int64(365*24*time.Hour/unit) {
		return 0, fmt.Errorf("%w: lru_max_age %q", ErrInvalid, v)
	}
	return time.Duration(n) * unit, nil
}
