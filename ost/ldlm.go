package ost

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// glimpseTimeout bounds the wait of a getattr for a glimpse of the holder
// of a write lock (the namespace evicts a holder silent for ASTTimeout).
const glimpseTimeout = 2 * time.Minute

// newNamespace makes the target's lock namespace: EXTENT (and PLAIN)
// locks on its objects, Lustre's "filter-FSNAME-OST0000_UUID". The lock
// value block of a resource is its object's size, blocks and times. A
// client that misses a callback is evicted: its locks go, then its export.
func (t *target) newNamespace() (*ldlm.Namespace, error) {
	s := t.srv
	return ldlm.NewNamespace(ldlm.Config{
		Name: "filter-" + t.name + "_UUID", LNet: s.cfg.LNet,
		Types:      []wire.LockType{wire.LockExtent, wire.LockPlain},
		ASTTimeout: s.cfg.ASTTimeout, CancelTimeout: s.cfg.CancelTimeout,
		Evict: t.evictClient, LVB: t.lvb, AT: s.cfg.AT, Logger: t.log.Named("ldlm"),
	})
}

// lvb is the namespace's LVB hook: what the store knows of the object.
func (t *target) lvb(res wire.ResID) wire.LVB {
	a, err := t.store.GetAttr(t.srv.ctx, res.FID())
	if err != nil {
		return wire.LVB{}
	}
	w := toWireAttr(a)
	return wire.LVB{Size: w.Size, Blocks: w.Blocks, MTime: w.Mtime, ATime: w.Atime, CTime: w.Ctime}
}

// evictClient is the namespace's Evict hook: the client failed to answer
// a callback in time and lost its locks; its export goes too (it will
// reconnect as a new client, with no grant).
func (t *target) evictClient(uuid string) {
	if t.ptl.Evict(uuid) {
		t.log.Warn("client evicted: it did not answer a lock callback in time", zap.String("client", uuid))
	}
	t.reconcileGrants()
}

// glimpseSize merges into a what the holder of a write lock on the
// object caches (dirty data not yet written makes the file longer than
// the object): Lustre's OST getattr under a glimpse.
func (t *target) glimpseSize(ctx context.Context, fid wire.FID, a *wire.Attr) {
	ctx, cancel := context.WithTimeout(ctx, glimpseTimeout)
	defer cancel()
	lvb, err := t.ns.Glimpse(ctx, wire.ResIDOfFID(fid))
	if err != nil {
		if !errors.Is(err, ldlm.ErrNoData) {
			t.log.Debug("glimpse failed", zap.Stringer("fid", fid), zap.Error(err))
		}
		return
	}
	if lvb.Size > a.Size {
		a.Size = lvb.Size
	}
	if lvb.Blocks > a.Blocks {
		a.Blocks = lvb.Blocks
	}
	if lvb.MTime > a.Mtime {
		a.Mtime, a.Valid = lvb.MTime, a.Valid|wire.AttrMtime
	}
}

// lockHandlers are the namespace's handlers, served by both services.
func (t *target) lockHandlers() map[wire.Opcode]ptlrpc.Handler { return t.ns.Handlers() }
