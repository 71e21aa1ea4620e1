package osc

import (
	"context"
	"fmt"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// newLocks makes the OSC's lock namespace, Lustre's
// "FSNAME-OST0000-osc-<instance>": the client's extent locks on the OST's
// objects. Without Config.Callbacks the OSC takes no locks (Lock returns a
// nil lock, which Release ignores).
func (o *OSC) newLocks() error {
	if o.cfg.Callbacks == nil {
		return nil
	}
	lc, err := ldlm.NewClient(ldlm.ClientConfig{
		Name: o.cfg.Target + "-osc-" + o.cfg.Instance, Import: o.imp, Callbacks: o.cfg.Callbacks,
		LRUSize: o.cfg.LockLRUSize, Hooks: o.hooks(), Logger: o.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	o.locks = lc
	return nil
}

// Locks returns the OSC's lock namespace (nil without Config.Callbacks).
func (o *OSC) Locks() *ldlm.Client { return o.locks }

// ExtentDesc is the description of an extent lock of mode on [start, end]
// (inclusive; end wire.LockEOF: to the end) of object fid.
func ExtentDesc(fid wire.FID, mode wire.LockMode, start, end uint64) wire.LockDesc {
	return wire.LockDesc{Res: wire.ResIDOfFID(fid), Type: wire.LockExtent, Mode: mode,
		Policy: wire.Policy{Start: start, End: end}}
}

// Lock takes (or matches in the cache) an extent lock of mode on [start,
// end] of fid and returns it with a reference the caller releases; data
// is stored with a new lock for the hooks. Without a lock namespace it
// returns nil, nil.
func (o *OSC) Lock(ctx context.Context, fid wire.FID, mode wire.LockMode, start, end uint64, data any) (*ldlm.Lock, error) {
	if o.locks == nil {
		return nil, nil
	}
	l, err := o.locks.Enqueue(ctx, ExtentDesc(fid, mode, start, end), 0)
	if err != nil {
		return nil, fmt.Errorf("osc: %s: lock %v [%d, %d]: %w", o.cfg.Target, fid, start, end, err)
	}
	if data != nil && l.Data() == nil {
		l.SetData(data)
	}
	o.attrs.note(fid, l)
	return l, nil
}

// Covered reports whether a granted lock of this OSC serves mode on
// [start, end] of fid (no RPC, no reference kept).
func (o *OSC) Covered(fid wire.FID, mode wire.LockMode, start, end uint64) bool {
	if o.locks == nil {
		return false
	}
	l := o.locks.Match(ExtentDesc(fid, mode, start, end))
	if l == nil {
		return false
	}
	l.Release()
	return true
}

// closeLocks cancels the OSC's locks (best effort) and stops the
// namespace.
func (o *OSC) closeLocks(ctx context.Context) {
	if o.locks != nil {
		_ = o.locks.Close(ctx)
	}
}

// releaseLock releases l if it is not nil.
func releaseLock(l *ldlm.Lock) {
	if l != nil {
		l.Release()
	}
}
