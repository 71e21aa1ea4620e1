package ost

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// SeqOSTBase is the first of the sequences an OST uses for the objects of
// MDTs other than MDT0000: Sequence(ost, mdt) = SeqOSTBase | mdt<<16 | ost.
// It lies far above the sequences the MDTs' controller grants from
// wire.SeqNormalStart, so the two never meet.
const SeqOSTBase uint64 = 1 << 48

// Sequence returns the FID sequence OST ostIndex precreates MDT mdtIndex's
// objects in: for MDT0000 the OST's IDIF sequence (as Lustre on a one-MDT
// file system: [0x1_0000_0000 | ost<<16 : oid : 0]), for any other MDT a
// sequence of its own above SeqOSTBase.
func Sequence(ostIndex, mdtIndex uint32) uint64 {
	if mdtIndex == 0 {
		return wire.SeqIDIFBase | uint64(ostIndex)<<16
	}
	return SeqOSTBase | uint64(mdtIndex)<<16 | uint64(ostIndex)
}

// MaxMDTIndex is the highest MDT index Sequence accepts.
const MaxMDTIndex = 0xffff

// handlers maps every OST opcode to its handler; both services use them.
func (t *target) handlers() map[wire.Opcode]ptlrpc.Handler {
	hs := map[wire.Opcode]ptlrpc.Handler{
		wire.OSTRead:      t.read,
		wire.OSTWrite:     t.write,
		wire.OSTPunch:     t.punch,
		wire.OSTFallocate: t.fallocate,
		wire.OSTSetattr:   t.setattr,
		wire.OSTGetattr:   t.getattr,
		wire.OSTCreate:    t.create,
		wire.OSTDestroy:   t.destroy,
		wire.OSTStatfs:    t.statfs,
		wire.OSTSync:      t.sync,
		wire.OSTGetInfo:   t.getInfo,
		wire.OSTSetInfo:   t.setInfo,
	}
	for op, h := range t.lockHandlers() {
		hs[op] = h
	}
	for op, h := range hs {
		hs[op] = t.counted(op, h)
	}
	return hs
}

// counted wraps h with the target's statistics and error log.
func (t *target) counted(op wire.Opcode, h ptlrpc.Handler) ptlrpc.Handler {
	return func(ctx context.Context, r *ptlrpc.Request) error {
		t.stats.count(op)
		err := h(ctx, r)
		if err != nil {
			t.stats.errors.Add(1)
			if ce := t.log.Check(zap.DebugLevel, "request failed"); ce != nil {
				ce.Write(zap.Stringer("opc", op), zap.Uint64("xid", r.Msg().XID), zap.Error(err),
					zap.Stringer("nid", r.Peer().NID))
			}
		}
		return err
	}
}

// client is the UUID grants are kept under.
func client(r *ptlrpc.Request) (string, error) {
	exp := r.Export()
	if exp == nil {
		return "", ErrNoExport
	}
	return exp.ClientUUID(), nil
}

// objectAttr builds the attributes of an object reply.
func (t *target) objectAttr(ctx context.Context, fid wire.FID) (*wire.ObjectAttrRequest, error) {
	a, err := t.store.GetAttr(ctx, fid)
	if err != nil {
		return nil, err
	}
	return &wire.ObjectAttrRequest{FID: fid, Attr: toWireAttr(a)}, nil
}

// toWireAttr converts an object's attributes; only fields the object has
// are marked valid.
func toWireAttr(a osd.Attr) wire.Attr {
	w := wire.Attr{
		Valid: wire.AttrMode | wire.AttrSize | wire.AttrBlocks | wire.AttrNlink,
		Mode:  syscall.S_IFREG | 0o666, Size: uint64(a.Size), Blocks: uint64(a.Blocks), Nlink: 1,
	}
	if a.Valid&osd.AttrUID != 0 {
		w.Valid |= wire.AttrUID
		w.UID = a.UID
	}
	if a.Valid&osd.AttrGID != 0 {
		w.Valid |= wire.AttrGID
		w.GID = a.GID
	}
	for _, tm := range []struct {
		have osd.AttrMask
		bit  wire.AttrValid
		v    time.Time
		dst  *int64
	}{{osd.AttrAtime, wire.AttrAtime, a.Atime, &w.Atime}, {osd.AttrMtime, wire.AttrMtime, a.Mtime, &w.Mtime},
		{osd.AttrCtime, wire.AttrCtime, a.Ctime, &w.Ctime}} {
		if a.Valid&tm.have != 0 {
			w.Valid |= tm.bit
			*tm.dst = tm.v.UnixNano()
		}
	}
	return w
}

// fromWireAttr converts a setattr: size, owner and times (AttrAtimeNow /
// AttrMtimeNow take the OST's clock). Mode, link count and flags of an
// object are not stored and are ignored.
func fromWireAttr(w wire.Attr, now time.Time) (osd.Attr, osd.AttrMask) {
	var a osd.Attr
	var mask osd.AttrMask
	if w.Valid&wire.AttrSize != 0 {
		a.Size, mask = int64(w.Size), mask|osd.AttrSize
	}
	if w.Valid&wire.AttrUID != 0 {
		a.UID, mask = w.UID, mask|osd.AttrUID
	}
	if w.Valid&wire.AttrGID != 0 {
		a.GID, mask = w.GID, mask|osd.AttrGID
	}
	switch {
	case w.Valid&wire.AttrAtimeNow != 0:
		a.Atime, mask = now, mask|osd.AttrAtime
	case w.Valid&wire.AttrAtime != 0:
		a.Atime, mask = time.Unix(0, w.Atime), mask|osd.AttrAtime
	}
	switch {
	case w.Valid&wire.AttrMtimeNow != 0:
		a.Mtime, mask = now, mask|osd.AttrMtime
	case w.Valid&wire.AttrMtime != 0:
		a.Mtime, mask = time.Unix(0, w.Mtime), mask|osd.AttrMtime
	}
	if w.Valid&wire.AttrCtime != 0 {
		a.Ctime, mask = time.Unix(0, w.Ctime), mask|osd.AttrCtime
	}
	return a, mask
}

// punch serves OST_PUNCH: deallocate [Start, End), or truncate to Start
// when End is wire.PunchToEOF. The reply carries the object's attributes.
func (t *target) punch(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.PunchRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	length := osd.PunchToEOF
	if req.End != wire.PunchToEOF {
		length = int64(req.End - req.Start)
	}
	if req.Start > uint64(osd.MaxObjectSize) || length < 0 {
		return fmt.Errorf("%w: punch [%d, %d)", osd.ErrInvalid, req.Start, req.End)
	}
	if err := t.store.Punch(ctx, req.FID, int64(req.Start), length); err != nil {
		return err
	}
	if err := t.store.SyncObject(ctx, req.FID); err != nil {
		return err
	}
	rep, err := t.objectAttr(ctx, req.FID)
	if err != nil {
		return err
	}
	r.ReplyBody(rep)
	return nil
}

// fallocate serves OST_FALLOCATE: mode 0 preallocates [Offset,
// Offset+Length) growing the object to its end, KEEP_SIZE preallocates
// without growing it, PUNCH_HOLE|KEEP_SIZE deallocates the range (as
// OST_PUNCH of it); any other mode is EOPNOTSUPP. A preallocation is
// charged to the space no client was promised (grant.Preallocate), so a
// target whose free space is granted refuses it with ENOSPC before the
// disk is touched. The change is durable before the reply, which carries
// the object's attributes. The client holds a PW extent lock on the range
// (the OST trusts clients to lock, as for writes).
func (t *target) fallocate(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.FallocateRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	if req.Length == 0 {
		return fmt.Errorf("%w: fallocate of 0 bytes", osd.ErrInvalid)
	}
	if req.Offset > uint64(osd.MaxObjectSize) || req.Length > uint64(osd.MaxObjectSize) {
		return fmt.Errorf("%w: fallocate [%d, +%d)", osd.ErrTooBig, req.Offset, req.Length)
	}
	off, length := int64(req.Offset), int64(req.Length)
	switch req.Mode {
	case 0, wire.FallocKeepSize:
		if ok, _ := t.srv.fail.check(FailENOSPC); ok {
			return fmt.Errorf("%w: %w", ErrFailPoint, syscall.ENOSPC)
		}
		if err := t.preallocate(ctx, req.FID, off, length); err != nil {
			return err
		}
		err := t.store.Allocate(ctx, req.FID, off, length, req.Mode&wire.FallocKeepSize != 0)
		t.refreshAvail(ctx)
		if err != nil {
			return err
		}
	case wire.FallocPunchHole | wire.FallocKeepSize:
		if err := t.store.Punch(ctx, req.FID, off, length); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: mode %#x", ErrFallocMode, req.Mode)
	}
	if err := t.store.SyncObject(ctx, req.FID); err != nil {
		return err
	}
	rep, err := t.objectAttr(ctx, req.FID)
	if err != nil {
		return err
	}
	r.ReplyBody(rep)
	return nil
}

// preallocate charges the part of [off, off+n) of fid that has no blocks
// yet to the unpromised space; when that fails it refreshes the free
// space once before refusing with ENOSPC.
func (t *target) preallocate(ctx context.Context, fid wire.FID, off, n int64) error {
	need, err := t.store.Unallocated(ctx, fid, off, n)
	if err != nil {
		return err
	}
	if err := t.grants.Preallocate(need); err == nil {
		return nil
	}
	t.refreshAvail(ctx)
	return t.grants.Preallocate(need)
}

// setattr serves OST_SETATTR. Times are set as given (utimes semantics:
// `touch -d` may move them back); the change is durable before the reply,
// which carries the object's attributes.
func (t *target) setattr(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.ObjectAttrRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	a, mask := fromWireAttr(req.Attr, time.Now())
	if mask != 0 {
		if err := t.store.SetAttr(ctx, req.FID, a, mask); err != nil {
			return err
		}
		if err := t.store.SyncObject(ctx, req.FID); err != nil {
			return err
		}
	}
	rep, err := t.objectAttr(ctx, req.FID)
	if err != nil {
		return err
	}
	r.ReplyBody(rep)
	return nil
}

// getattr serves OST_GETATTR: FIDRequest in, ObjectAttrRequest out.
func (t *target) getattr(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.FIDRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	rep, err := t.objectAttr(ctx, req.FID)
	if err != nil {
		return err
	}
	t.glimpseSize(ctx, req.FID, &rep.Attr)
	r.ReplyBody(rep)
	return nil
}

// sequence returns the MDT's sequence on this OST.
func (t *target) sequence(mdt uint32) (uint64, error) {
	if mdt > MaxMDTIndex {
		return 0, fmt.Errorf("%w: MDT index %d", osd.ErrInvalid, mdt)
	}
	return Sequence(t.label.Index, mdt), nil
}

// create serves OST_CREATE: precreate objects in the MDT's sequence. The
// new LAST_ID and the objects are durable before the reply.
func (t *target) create(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.PrecreateRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	if ok, _ := t.srv.fail.check(FailENOSPC); ok {
		return fmt.Errorf("%w: %w", ErrFailPoint, syscall.ENOSPC)
	}
	seq, err := t.sequence(req.MDTIndex)
	if err != nil {
		return err
	}
	first, last, err := t.store.Precreate(ctx, seq, int(req.Count))
	if err != nil {
		return err
	}
	r.ReplyBody(&wire.PrecreateReply{First: first, Count: last.Oid - first.Oid + 1})
	t.log.Debug("objects precreated", zap.Uint32("mdt", req.MDTIndex), zap.Stringer("fid", first),
		zap.Uint32("count", last.Oid-first.Oid+1))
	return nil
}

// destroy serves OST_DESTROY (durable before the reply).
func (t *target) destroy(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.FIDRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	return t.store.Destroy(ctx, req.FID)
}

// sync serves OST_SYNC: one object, or the whole target for the zero FID.
func (t *target) sync(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.FIDRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	if req.FID.IsZero() {
		return t.store.Sync(ctx)
	}
	return t.store.SyncObject(ctx, req.FID)
}

// statfs serves OST_STATFS (any request body).
func (t *target) statfs(ctx context.Context, r *ptlrpc.Request) error {
	st, err := t.store.StatFS(ctx)
	if err != nil {
		return err
	}
	t.grants.SetAvail(st.Avail)
	r.ReplyBody(toWireStatFS(st))
	return nil
}

// toWireStatFS converts a store's statfs. The target is flagged S (out of
// space) when less than max(one block, 1/1024 of it) is available, and I
// when no object can be created.
func toWireStatFS(st osd.StatFS) *wire.StatFS {
	bs := max(st.BlockSize, 1)
	w := &wire.StatFS{
		Blocks: uint64(st.Total / bs), BFree: uint64(st.Free / bs), BAvail: uint64(st.Avail / bs),
		Files: uint64(st.Files), FFree: uint64(st.FilesFree), BSize: uint32(bs), NameLen: 255,
	}
	if st.Avail < max(bs, st.Total/1024) {
		w.State |= wire.StateNoSpace
	}
	if st.FilesFree <= 0 {
		w.State |= wire.StateNoInodes
	}
	return w
}

// getInfo serves OST_GET_INFO: the last object id of an MDT's sequence.
func (t *target) getInfo(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.LastIDRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	seq, err := t.sequence(req.MDTIndex)
	if err != nil {
		return err
	}
	last, err := t.store.LastID(ctx, seq)
	if err != nil {
		return err
	}
	r.ReplyBody(&wire.LastIDReply{LastID: wire.FID{Seq: seq, Oid: last}})
	return nil
}

// setInfo serves OST_SET_INFO: an MDT's orphan cleanup after it
// (re)connects — destroy the objects of its sequence above the last one it
// handed out. LAST_ID does not move back.
func (t *target) setInfo(ctx context.Context, r *ptlrpc.Request) error {
	var req wire.OrphanRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	seq, err := t.sequence(req.MDTIndex)
	if err != nil {
		return err
	}
	n, err := t.store.DestroyOrphans(ctx, seq, req.LastUsed)
	if err != nil {
		return err
	}
	last, err := t.store.LastID(ctx, seq)
	if err != nil {
		return err
	}
	t.log.Info("orphans destroyed", zap.Uint32("mdt", req.MDTIndex), zap.Uint64("seq", seq),
		zap.Uint32("last_used", req.LastUsed), zap.Uint32("last_id", last), zap.Int("destroyed", n))
	r.ReplyBody(&wire.OrphanReply{LastID: wire.FID{Seq: seq, Oid: last}, Destroyed: uint32(n)})
	return nil
}
