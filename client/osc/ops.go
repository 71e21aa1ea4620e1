package osc

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// call sends one non-bulk RPC and decodes its reply into reply (if not nil).
func (o *OSC) call(ctx context.Context, opc wire.Opcode, body, reply wire.Body) error {
	start := time.Now()
	rep, err := o.imp.Call(ctx, &ptlrpc.Req{Opcode: opc, Encode: body})
	o.stats.RPC(opc, time.Since(start))
	defer rep.Release()
	if err != nil {
		return o.fail(opc.String(), wire.FID{}, 0, err)
	}
	if reply != nil {
		if err := rep.Decode(reply); err != nil {
			return fmt.Errorf("%w: %s: %v: %w (%w)", ErrBadReply, o.cfg.Target, opc, err, syscall.EIO)
		}
	}
	return nil
}

// GetAttr returns object fid's attributes (OST_GETATTR): its size, blocks
// and times; without an RPC while this OSC holds a lock on the whole
// object (attrcache.go: size, blocks and mtime as this client knows them).
func (o *OSC) GetAttr(ctx context.Context, fid wire.FID) (wire.Attr, error) {
	if a, ok := o.attrs.get(fid); ok {
		return a, nil
	}
	var r wire.ObjectAttrRequest
	if err := o.call(ctx, wire.OSTGetattr, &wire.FIDRequest{FID: fid}, &r); err != nil {
		return wire.Attr{}, fmt.Errorf("getattr %v: %w", fid, err)
	}
	o.attrs.merge(fid, r.Attr)
	return r.Attr, nil
}

// Punch truncates object fid to size (OST_PUNCH to EOF); an object not
// longer than size is left as it is. It runs under a PW lock on [size,
// EOF], which calls back what other clients cache beyond the new end.
func (o *OSC) Punch(ctx context.Context, fid wire.FID, size uint64) error {
	l, err := o.Lock(ctx, fid, wire.LockPW, size, wire.LockEOF, nil)
	if err != nil {
		return err
	}
	defer releaseLock(l)
	var r wire.ObjectAttrRequest
	if err := o.call(ctx, wire.OSTPunch, &wire.PunchRequest{FID: fid, Start: size, End: wire.PunchToEOF}, &r); err != nil {
		return fmt.Errorf("punch %v at %d: %w", fid, size, err)
	}
	o.attrs.set(fid, r.Attr)
	return nil
}

// SetSize sets object fid's size (OST_SETATTR), extending it sparsely: a
// truncate that grows the file sets the object holding the new last byte.
// It runs under a PW lock on [size, EOF], as Punch.
func (o *OSC) SetSize(ctx context.Context, fid wire.FID, size uint64) error {
	l, err := o.Lock(ctx, fid, wire.LockPW, size, wire.LockEOF, nil)
	if err != nil {
		return err
	}
	defer releaseLock(l)
	var r wire.ObjectAttrRequest
	req := &wire.ObjectAttrRequest{FID: fid, Attr: wire.Attr{Valid: wire.AttrSize, Size: size}}
	if err := o.call(ctx, wire.OSTSetattr, req, &r); err != nil {
		return fmt.Errorf("setattr %v size %d: %w", fid, size, err)
	}
	o.attrs.set(fid, r.Attr)
	return nil
}

// SetMtime sets object fid's mtime (OST_SETATTR; ns since the epoch), as
// utimes sets it on the MDT: the objects' mtimes count in the file's, so
// one that a write left newer would hide the time set. It runs under a PW
// lock on the whole object, which calls back what other clients cache
// (their data, written back first, carries older times).
func (o *OSC) SetMtime(ctx context.Context, fid wire.FID, mtime int64) error {
	l, err := o.Lock(ctx, fid, wire.LockPW, 0, wire.LockEOF, nil)
	if err != nil {
		return err
	}
	defer releaseLock(l)
	var r wire.ObjectAttrRequest
	req := &wire.ObjectAttrRequest{FID: fid, Attr: wire.Attr{Valid: wire.AttrMtime, Mtime: mtime}}
	if err := o.call(ctx, wire.OSTSetattr, req, &r); err != nil {
		return fmt.Errorf("setattr %v mtime: %w", fid, err)
	}
	o.attrs.set(fid, r.Attr)
	return nil
}

// Fallocate is fallocate(2) of [off, off+n) of object fid with mode (0,
// KEEP_SIZE or PUNCH_HOLE|KEEP_SIZE): one OST_FALLOCATE on the I/O portal
// (it may take as long as a write), durable when it returns. The caller
// holds a PW lock on the range, as for a write. The object's attributes
// after it join what the OSC knows (the size only grows: a write of ours
// may have gone further meanwhile).
func (o *OSC) Fallocate(ctx context.Context, fid wire.FID, off, n uint64, mode uint32) error {
	start := time.Now()
	rep, err := o.imp.Call(ctx, &ptlrpc.Req{Opcode: wire.OSTFallocate, Portal: wire.OSTIOPortal,
		Encode: &wire.FallocateRequest{FID: fid, Offset: off, Length: n, Mode: mode}})
	o.stats.RPC(wire.OSTFallocate, time.Since(start))
	defer rep.Release()
	if err != nil {
		return o.fail("fallocate", fid, off, err)
	}
	var r wire.ObjectAttrRequest
	if err := rep.Decode(&r); err != nil {
		return fmt.Errorf("%w: %s: fallocate: %w (%w)", ErrBadReply, o.cfg.Target, err, syscall.EIO)
	}
	o.attrs.merge(fid, r.Attr)
	return nil
}

// StatFS returns the OST's usage (OST_STATFS).
func (o *OSC) StatFS(ctx context.Context) (wire.StatFS, error) {
	var s wire.StatFS
	if err := o.call(ctx, wire.OSTStatfs, &wire.Empty{}, &s); err != nil {
		return wire.StatFS{}, err
	}
	return s, nil
}

// Sync asks the OST to make object fid durable (OST_SYNC; the zero FID:
// the whole OST). The OST already syncs every write before it answers.
func (o *OSC) Sync(ctx context.Context, fid wire.FID) error {
	return o.call(ctx, wire.OSTSync, &wire.FIDRequest{FID: fid}, nil)
}
