package osp

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// shrinkAfter: a refill this long after the previous one means demand is
// low, and the batch halves.
const shrinkAfter = 30 * time.Second

// Alloc hands out one precreated object. It does not wait for the OST when
// the pool holds objects; on an empty pool it waits for the precreator at
// most Config.CreateTimeout, and fails at once with ErrNoObjects when the
// last precreate failed.
func (d *Device) Alloc(ctx context.Context) (wire.FID, error) {
	var timer *time.Timer
	for {
		d.mu.Lock()
		if d.avail > 0 {
			f := d.takeLocked()
			low := d.avail <= d.batch/2
			d.mu.Unlock()
			d.allocated.Add(1)
			if low {
				kick(d.kickCreate)
			}
			return f, nil
		}
		d.starved = true
		ch, cerr := d.refilled, d.createErr
		d.mu.Unlock()
		if cerr != nil {
			return wire.FID{}, fmt.Errorf("%w: %s: precreation failing: %w", ErrNoObjects, d.name, cerr)
		}
		kick(d.kickCreate)
		if timer == nil {
			timer = time.NewTimer(d.cfg.CreateTimeout)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return wire.FID{}, fmt.Errorf("%w: %s: none precreated within %v", ErrNoObjects, d.name, d.cfg.CreateTimeout)
		case <-ctx.Done():
			return wire.FID{}, ctx.Err()
		case <-d.ctx.Done():
			return wire.FID{}, ErrClosed
		}
	}
}

func (d *Device) takeLocked() wire.FID {
	r := &d.pool[0]
	f := wire.FID{Seq: r.seq, Oid: uint32(r.next)}
	r.next++
	if r.next == r.end {
		d.pool[0] = objRange{}
		d.pool = d.pool[1:]
	}
	d.avail--
	return f
}

// Release returns objects that Alloc handed out but no file got (the
// create failed); the next creates use them first.
func (d *Device) Release(objs ...wire.FID) {
	if len(objs) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	back := make([]objRange, 0, len(objs)+len(d.pool))
	for _, f := range objs {
		back = append(back, objRange{seq: f.Seq, next: uint64(f.Oid), end: uint64(f.Oid) + 1})
	}
	d.pool = append(back, d.pool...)
	d.avail += len(objs)
	d.allocated.Add(^uint64(len(objs) - 1))
}

// precreator keeps the pool between half a batch and a batch and a half.
func (d *Device) precreator() {
	defer d.wg.Done()
	if err := d.imp.Connect(d.ctx); err != nil {
		return // closed before the OST was ever reached
	}
	backoff := d.cfg.RetryInterval
	for !d.resetOrphans() {
		if !d.sleep(backoff, nil) {
			return
		}
		backoff = min(2*backoff, 32*d.cfg.RetryInterval)
	}
	backoff = d.cfg.RetryInterval
	for {
		d.mu.Lock()
		need, n := d.avail <= d.batch/2, d.batch
		d.mu.Unlock()
		if !need {
			select {
			case <-d.kickCreate:
				continue
			case <-d.ctx.Done():
				return
			}
		}
		if err := d.precreate(n); err != nil {
			if d.ctx.Err() != nil {
				return
			}
			if !d.sleep(backoff, nil) {
				return
			}
			backoff = min(2*backoff, 32*d.cfg.RetryInterval)
			continue
		}
		backoff = d.cfg.RetryInterval
	}
}

// precreate asks the OST for n objects and adds them to the pool.
func (d *Device) precreate(n int) error {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.RPCTimeout)
	defer cancel()
	d.precreates.Add(1)
	rep, err := d.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTCreate,
		Encode: &wire.PrecreateRequest{MDTIndex: d.cfg.MDTIndex, Count: uint32(n)}})
	var pr wire.PrecreateReply
	if err == nil {
		err = rep.Decode(&pr)
		if err == nil && (pr.Count == 0 || pr.Count > uint32(n) || pr.First.IsZero() ||
			uint64(pr.First.Oid)+uint64(pr.Count) > 1<<32) {
			err = fmt.Errorf("%w: %d objects from %v for %d asked", ErrBadReply, pr.Count, pr.First, n)
		}
	}
	rep.Release()
	if err != nil {
		if errors.Is(err, context.Canceled) && d.ctx.Err() != nil {
			return err
		}
		d.mu.Lock()
		first := d.createErr == nil
		d.createErr = err
		d.broadcastLocked()
		d.mu.Unlock()
		if first {
			d.log.Warn("precreate failed", zap.Int("count", n), zap.Error(err))
		}
		return err
	}
	now := time.Now()
	d.mu.Lock()
	recovered := d.createErr != nil
	d.pool = append(d.pool, objRange{seq: pr.First.Seq, next: uint64(pr.First.Oid), end: uint64(pr.First.Oid) + uint64(pr.Count)})
	d.avail += int(pr.Count)
	d.lastID = wire.FID{Seq: pr.First.Seq, Oid: pr.First.Oid + pr.Count - 1}
	d.createErr = nil
	switch {
	case d.starved:
		d.batch = min(2*d.batch, d.cfg.MaxBatch)
	case !d.lastRefill.IsZero() && now.Sub(d.lastRefill) > shrinkAfter:
		d.batch = max(d.batch/2, d.cfg.MinBatch)
	}
	d.starved, d.lastRefill = false, now
	d.broadcastLocked()
	d.mu.Unlock()
	d.created.Add(uint64(pr.Count))
	if recovered {
		d.log.Info("precreate works again", zap.Stringer("first", pr.First), zap.Uint32("count", pr.Count))
	}
	return nil
}

// broadcastLocked wakes every Alloc waiting for the pool.
func (d *Device) broadcastLocked() {
	close(d.refilled)
	d.refilled = make(chan struct{})
}

// lastUsed reads the store's last used object of this OST (ok false:
// none yet); an error is logged.
func (d *Device) lastUsed() (last wire.FID, ok bool, err error) {
	err = d.cfg.Store.View(d.ctx, func(t *store.Tx) error {
		var err error
		last, ok, err = t.OSTLastUsed(d.cfg.Index)
		return err
	})
	if err != nil && d.ctx.Err() == nil {
		d.log.Error("reading the last used object", zap.Error(err))
	}
	return last, ok, err
}

// cleanupOrphans has the OST destroy the objects it precreated for this
// MDT that no committed layout uses — those above the last used object the
// store records (Lustre's "resetting orphans" at the first connection). It
// runs before the first precreate, so the pool hands out nothing it
// destroys. It reports false when it should be tried again.
func (d *Device) cleanupOrphans() bool {
	last, ok, err := d.lastUsed()
	if err != nil {
		return false
	}
	var lastUsed uint32
	if ok {
		lastUsed = last.Oid
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.RPCTimeout)
	defer cancel()
	rep, err := d.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTSetInfo,
		Encode: &wire.OrphanRequest{MDTIndex: d.cfg.MDTIndex, LastUsed: lastUsed}})
	var or wire.OrphanReply
	if err == nil {
		err = rep.Decode(&or)
	}
	rep.Release()
	switch {
	case errors.Is(err, syscall.EOPNOTSUPP):
		d.log.Warn("the OST does not clean up orphans; unused precreated objects stay", zap.Error(err))
		return true
	case err != nil:
		if d.ctx.Err() == nil {
			d.log.Warn("orphan cleanup failed, will retry", zap.Error(err))
			// No precreate runs before the cleanup: its failure is
			// precreation failing, for Alloc, Avail and prealloc_status.
			d.mu.Lock()
			d.createErr = err
			d.broadcastLocked()
			d.mu.Unlock()
		}
		return false
	}
	d.orphans.Store(uint64(or.Destroyed))
	d.log.Info(d.cfg.Target+"_UUID now active, resetting orphans", zap.Uint32("last_used", lastUsed),
		zap.Stringer("last_id", or.LastID), zap.Uint32("destroyed", or.Destroyed))
	return true
}
