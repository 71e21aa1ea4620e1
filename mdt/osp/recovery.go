package osp

import (
	"context"
	"errors"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// orphanChunk bounds the destroy records of one store update of the
// recovery-time cleanup.
const orphanChunk = 4096

// orphanRange holds the objects a previous run may have precreated and
// never committed in a layout: oids (after, last] of seq.
type orphanRange struct {
	seq         uint64
	after, last uint32
}

func (r orphanRange) size() uint64 { return uint64(r.last) - uint64(min(r.after, r.last)) }

// orphanSweep is the work EndRecovery hands to the destroy job: the range
// less the claimed objects. next is the first oid not queued yet; only
// the destroy job touches it.
type orphanSweep struct {
	orphanRange
	claimed map[wire.FID]struct{}
	next    uint64
}

// Claim records that a create replayed during the MDT's recovery uses
// object obj, so that the cleanup at EndRecovery keeps it. A claim after
// EndRecovery is too late: it is logged, and obj is kept only if it is not
// an orphan of the range.
func (d *Device) Claim(obj wire.FID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.recovering:
		d.claimed[obj] = struct{}{}
	case d.cfg.DeferOrphans && d.rangeKnown && d.inRangeLocked(obj):
		d.log.Warn("object claimed after the end of recovery; it may be destroyed as an orphan",
			zap.Stringer("fid", obj))
	}
}

func (d *Device) inRangeLocked(obj wire.FID) bool {
	r := d.orphanRange
	return obj.Seq == r.seq && obj.Oid > r.after && obj.Oid <= r.last
}

// EndRecovery tells the device that the MDT's recovery ended: the
// unclaimed objects of the range read at the first connection are
// orphans. The destroy job records them in the store's destroy queue and
// destroys them. If the device has not reached its OST yet, it does the
// normal orphan cleanup when it does. Idempotent; a no-op without
// Config.DeferOrphans.
func (d *Device) EndRecovery() {
	d.mu.Lock()
	if !d.recovering {
		d.mu.Unlock()
		return
	}
	d.recovering = false
	claimed := d.claimed
	d.claimed = nil
	if d.rangeKnown && d.orphanRange.size() > 0 {
		d.sweep = &orphanSweep{orphanRange: d.orphanRange, claimed: claimed, next: uint64(d.orphanRange.after) + 1}
	}
	known := d.rangeKnown
	d.mu.Unlock()
	d.log.Info("recovery ended", zap.Bool("range_known", known), zap.Int("claimed", len(claimed)))
	d.Kick()
}

// resetOrphans is the orphan step of the first connection: the normal
// cleanup, or, while the MDT recovers, reading the range of possible
// orphans. It reports false when it should be tried again.
func (d *Device) resetOrphans() bool {
	d.mu.Lock()
	recovering := d.recovering
	d.mu.Unlock()
	if !recovering {
		return d.cleanupOrphans()
	}
	r, ok, done := d.readOrphanRange()
	if !done {
		return false
	}
	d.mu.Lock()
	if d.recovering {
		d.rangeKnown, d.orphanRange = ok, r
		d.mu.Unlock()
		return true
	}
	d.mu.Unlock()
	// Recovery ended while the OST answered; nothing was handed out yet.
	return d.cleanupOrphans()
}

// readOrphanRange reads the store's last used object and the OST's
// LAST_ID for this MDT. ok is false when the OST cannot tell (its orphans
// then stay); done is false when it should be tried again.
func (d *Device) readOrphanRange() (r orphanRange, ok, done bool) {
	last, used, err := d.lastUsed()
	if err != nil {
		return r, false, false
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.RPCTimeout)
	defer cancel()
	rep, err := d.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTGetInfo, Encode: &wire.LastIDRequest{MDTIndex: d.cfg.MDTIndex}})
	var lr wire.LastIDReply
	if err == nil {
		err = rep.Decode(&lr)
	}
	rep.Release()
	switch {
	case errors.Is(err, syscall.EOPNOTSUPP):
		d.log.Warn("the OST does not tell its LAST_ID; unused precreated objects of the previous run stay", zap.Error(err))
		return r, false, true
	case err != nil:
		if d.ctx.Err() == nil {
			d.log.Warn("reading the OST's LAST_ID failed, will retry", zap.Error(err))
			d.mu.Lock()
			d.createErr = err // as a failed cleanup: no precreate runs before it
			d.broadcastLocked()
			d.mu.Unlock()
		}
		return r, false, false
	}
	r = orphanRange{seq: lr.LastID.Seq, last: lr.LastID.Oid}
	if used {
		r.after = last.Oid
	}
	d.log.Info(d.cfg.Target+"_UUID now active, orphans kept until recovery ends",
		zap.Uint32("last_used", r.after), zap.Stringer("last_id", lr.LastID), zap.Uint64("possible_orphans", r.size()))
	return r, true, true
}

// queueOrphans records the sweep's objects in the store's destroy queue,
// orphanChunk per update; the last update also raises the store's last
// used object to the range's end, so that the next start does not go over
// the range again. It reports false when it should be tried again.
func (d *Device) queueOrphans() bool {
	d.mu.Lock()
	sw := d.sweep
	d.mu.Unlock()
	if sw == nil {
		return true
	}
	now := time.Now().UnixNano()
	for sw.next <= uint64(sw.last) {
		end := min(sw.next+orphanChunk, uint64(sw.last)+1)
		var n uint64
		_, err := d.cfg.Store.Update(d.ctx, func(t *store.Tx) error {
			n = 0
			for oid := sw.next; oid < end; oid++ {
				f := wire.FID{Seq: sw.seq, Oid: uint32(oid)}
				if _, kept := sw.claimed[f]; kept {
					continue
				}
				if err := t.AddOSTDestroy(d.cfg.Index, f, store.OSTDestroy{Time: now}); err != nil {
					return err
				}
				n++
			}
			if end > uint64(sw.last) {
				return t.NoteOSTUsed(d.cfg.Index, wire.FID{Seq: sw.seq, Oid: sw.last})
			}
			return nil
		})
		if err != nil {
			if d.ctx.Err() == nil {
				d.log.Error("queueing the orphans of recovery for destroy", zap.Error(err))
			}
			return false
		}
		d.orphansQueued.Add(n)
		sw.next = end
	}
	d.mu.Lock()
	d.sweep = nil
	d.mu.Unlock()
	d.log.Info("orphans of the previous run queued for destroy", zap.Uint32("after", sw.after),
		zap.Uint32("last_id", sw.last), zap.Int("claimed", len(sw.claimed)), zap.Uint64("queued", d.orphansQueued.Load()))
	return true
}
