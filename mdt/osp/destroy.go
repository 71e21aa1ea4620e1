package osp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Kick wakes the destroy job: new destroy records for this OST committed.
func (d *Device) Kick() { kick(d.kickDestroy) }

// destroyer drains this OST's part of the store's destroy queue.
func (d *Device) destroyer() {
	defer d.wg.Done()
	backoff := d.cfg.RetryInterval
	for {
		n, failed := 0, !d.queueOrphans()
		if !failed {
			n, failed = d.destroyRound()
		}
		if d.ctx.Err() != nil {
			return
		}
		switch {
		case failed:
			if !d.sleep(backoff, nil) {
				return
			}
			backoff = min(2*backoff, 32*d.cfg.RetryInterval)
		case n > 0:
			backoff = d.cfg.RetryInterval // maybe more queued: go again
		default:
			select {
			case <-d.kickDestroy:
			case <-d.ctx.Done():
				return
			}
		}
	}
}

// destroyRound sends the destroys of up to DestroyBatch queued objects
// and deletes the records of those done. It returns how many were done
// and whether anything failed.
func (d *Device) destroyRound() (int, bool) {
	var objs []wire.FID
	err := d.cfg.Store.View(d.ctx, func(t *store.Tx) error {
		objs = objs[:0]
		return t.OSTDestroys(d.cfg.Index, wire.FID{}, func(obj wire.FID, _ store.OSTDestroy) bool {
			objs = append(objs, obj)
			return len(objs) < d.cfg.DestroyBatch
		})
	})
	if err != nil {
		if d.ctx.Err() == nil {
			d.log.Error("reading the destroy queue", zap.Error(err))
		}
		return 0, true
	}
	d.pendingDestroys.Store(int64(len(objs)))
	if len(objs) == 0 {
		return 0, false
	}
	done := d.sendDestroys(objs)
	if len(done) > 0 {
		_, err = d.cfg.Store.Update(d.ctx, func(t *store.Tx) error {
			for _, f := range done {
				if err := t.DeleteOSTDestroy(d.cfg.Index, f); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			if d.ctx.Err() == nil {
				d.log.Error("deleting destroy records", zap.Int("count", len(done)), zap.Error(err))
			}
			return 0, true
		}
	}
	d.pendingDestroys.Add(-int64(len(done)))
	return len(done), len(done) < len(objs)
}

// sendDestroys sends OST_DESTROY for objs, DestroyParallel at a time, and
// returns the objects the OST no longer has.
func (d *Device) sendDestroys(objs []wire.FID) []wire.FID {
	jobs := make(chan wire.FID)
	var abort atomic.Bool // one failure (the OST is down or sick) ends the round
	var mu sync.Mutex
	var done []wire.FID
	var wg sync.WaitGroup
	for range min(d.cfg.DestroyParallel, len(objs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				if abort.Load() {
					continue
				}
				if !d.destroyOne(f) {
					abort.Store(true)
				} else {
					mu.Lock()
					done = append(done, f)
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range objs {
		select {
		case jobs <- f:
		case <-d.ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return done
}

// destroyOne destroys one object; true when the OST has it no more.
func (d *Device) destroyOne(f wire.FID) bool {
	if d.ctx.Err() != nil {
		return false
	}
	d.destroysInFlight.Add(1)
	defer d.destroysInFlight.Add(-1)
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.RPCTimeout)
	defer cancel()
	rep, err := d.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTDestroy, Encode: &wire.FIDRequest{FID: f}})
	rep.Release()
	switch {
	case err == nil || errors.Is(err, syscall.ENOENT):
		d.destroyed.Add(1)
		return true
	case d.ctx.Err() != nil:
		return false
	}
	d.destroyErrs.Add(1)
	d.log.Debug("destroy failed", zap.Stringer("fid", f), zap.Error(err))
	return false
}
