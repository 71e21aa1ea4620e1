package mdt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// openHandle is one open file of a client.
type openHandle struct {
	fid   wire.FID
	write bool // opened for writing: its close may report size and times
}

// exportState is the MDT's per-client state, kept on the export: its open
// handles, closed when the client goes (evicted, disconnected, replaced by
// a new connection of the same UUID).
type exportState struct {
	mu      sync.Mutex
	handles map[uint64]openHandle
	dead    bool // the export is gone and its handles closed
}

func (st *exportState) add(h uint64, oh openHandle) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dead {
		return false
	}
	st.handles[h] = oh
	return true
}

// lookup returns the file of open handle h, if it is one.
func (st *exportState) lookup(h uint64) (wire.FID, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	oh, ok := st.handles[h]
	return oh.fid, ok
}

func (st *exportState) take(h uint64, f wire.FID) (openHandle, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	oh, ok := st.handles[h]
	if !ok || oh.fid != f {
		return openHandle{}, false
	}
	delete(st.handles, h)
	return oh, true
}

// open serves REINT_OPEN: open by name (creating the file with O_CREAT,
// with objects from the OST pools and the layout stored in the create's
// transaction) or by FID. Opening a regular file without objects for
// writing instantiates its default layout then (Lustre's delayed create).
// The reply carries the open handle and the layout.
func (s *Server) open(ctx context.Context, req *ptlrpc.Request, c mdd.Creds, r *wire.OpenRequest) error {
	s.stats.add(statOpen)
	st, err := s.exportOf(req)
	if err != nil {
		return err
	}
	if req.IsReplay() && r.Name == "" && r.Handle != 0 {
		return s.replayOpen(ctx, req, st, r) // recovery.go
	}
	if req.IsReplay() && int(r.Flags)&os.O_CREATE != 0 && r.Name != "" && !r.FID.IsZero() {
		return s.replayCreate(ctx, req, c, st, r) // replay.go
	}
	flags := int(r.Flags)
	var a mdd.Attr
	var blob []byte
	var tn uint64
	created := false
	switch {
	case r.Name == "":
		a, err = s.mdd.Open(ctx, c, r.FID, flags)
	case flags&os.O_CREATE != 0:
		unlock, lerr := s.lockNameSlots(ctx, nameRef{r.Parent, r.Name})
		if lerr != nil {
			return lerr
		}
		a, blob, tn, created, err = s.openName(ctx, c, r)
		unlock()
	default:
		a, blob, tn, created, err = s.openName(ctx, c, r)
	}
	if err != nil {
		return err
	}
	write := flags&(os.O_WRONLY|os.O_RDWR) != 0
	if created {
		defer s.fresh.take(a.FID) // whatever becomes of the reply
	}
	// From here on the inode is open: undo that on failure.
	fail := func(err error) error {
		if _, _, cerr := s.mdd.Close(context.WithoutCancel(ctx), a.FID); cerr != nil {
			s.log.Error("closing after a failed open", zap.Stringer("fid", a.FID), zap.Error(cerr))
		}
		return err
	}
	if !created && a.Type() == store.TypeReg {
		if write {
			// A creator that knows the size of its fresh file holds the
			// OPEN bit: call it back (fresh.go).
			s.fresh.openedForWrite(a.FID)
			release, err := s.lockObjects(ctx, objLock{a.FID, wire.InodeLockOpen})
			if err != nil {
				return fail(err)
			}
			release()
		}
		if flags&os.O_TRUNC != 0 {
			// The client truncates the objects; the MDT keeps the size.
			release, err := s.lockObjects(ctx, objLock{a.FID, bitsAttr})
			if err != nil {
				return fail(err)
			}
			var t2 uint64
			a, t2, err = s.mdd.SetAttr(ctx, c, a.FID, mdd.SetAttrArgs{Valid: mdd.SetSize | mdd.SetFromOpen})
			release()
			if err != nil {
				return fail(err)
			}
			tn = max(tn, t2)
		}
		if blob, err = s.layoutOf(ctx, a); err != nil {
			return fail(err)
		}
		if blob == nil && write {
			if blob, tn, err = s.delayedCreate(ctx, a.FID, r.Parent, tn); err != nil {
				return fail(err)
			}
		}
	}
	h := s.handles.Add(1)
	if !st.add(h, openHandle{fid: a.FID, write: write}) {
		return fail(fmt.Errorf("%w: the client was evicted", ErrNoExport))
	}
	bits := wire.IntentBits
	if created && a.Type() == store.TypeReg {
		bits |= wire.InodeLockOpen // taken back below unless fresh
	}
	a, lock := s.intentRead(ctx, req, r.Lock, bits, r.Parent, r.Name, a)
	if lock != nil && bits&wire.InodeLockOpen != 0 && !s.fresh.take(a.FID) {
		// Opened for writing since its create: its size is not known.
		s.ns.Cancel(req.Export(), []wire.LockHandle{lock.Handle})
		a, lock = s.intentRead(ctx, req, r.Lock, wire.IntentBits, r.Parent, r.Name, a)
	}
	if lock != nil && a.Type() == store.TypeReg {
		// The layout, read again under the lock too.
		nb, err := s.layoutOf(ctx, a)
		if err != nil {
			s.ns.Cancel(req.Export(), []wire.LockHandle{lock.Handle})
			lock = nil
		} else {
			blob = nb
		}
	}
	req.SetTransno(tn)
	req.ReplyBody(&wire.InodeReply{FID: a.FID, Attr: wireAttr(a), Layout: blob, Handle: h, Created: created,
		Lock: lock})
	return nil
}

// openName opens r.Name in r.Parent, creating it if O_CREAT asks and it
// does not exist (a concurrent creator that wins makes this an open of
// its file, unless O_EXCL).
func (s *Server) openName(ctx context.Context, c mdd.Creds, r *wire.OpenRequest) (a mdd.Attr, blob []byte, tn uint64, created bool, err error) {
	flags := int(r.Flags)
	for range 2 {
		a, err = s.mdd.Lookup(ctx, c, r.Parent, r.Name)
		switch {
		case err == nil:
			if flags&os.O_CREATE != 0 && flags&os.O_EXCL != 0 {
				return a, nil, 0, false, fmt.Errorf("%w: %v/%q", mdd.ErrExist, r.Parent, r.Name)
			}
			a, err = s.mdd.Open(ctx, c, a.FID, flags)
			return a, nil, 0, false, err
		case !errors.Is(err, mdd.ErrNotFound) || flags&os.O_CREATE == 0:
			return a, nil, 0, false, err
		}
		a, blob, tn, err = s.createFile(ctx, c, r.Parent, r.Name, r.Mode, r.Layout, true)
		if err == nil {
			return a, blob, tn, true, nil
		}
		if !errors.Is(err, mdd.ErrExist) || flags&os.O_EXCL != 0 {
			return a, nil, 0, false, err
		}
	}
	return a, nil, 0, false, err
}

// delayedCreate instantiates the default layout of a regular file opened
// for writing that has no objects yet. Another opener may have done it
// meanwhile: then its layout is used.
func (s *Server) delayedCreate(ctx context.Context, f, parent wire.FID, tn uint64) ([]byte, uint64, error) {
	release, err := s.lockObjects(ctx, objLock{f, bitsLOV})
	if err != nil {
		return nil, tn, err
	}
	defer release()
	t2, err := s.instantiate(ctx, mdd.Root(), f, nil, parent)
	if err != nil && !errors.Is(err, ErrHasLayout) {
		return nil, tn, err
	}
	blob, err := s.mdd.GetXattr(ctx, mdd.Root(), f, mdd.XattrLOV)
	if err != nil {
		return nil, tn, err
	}
	return blob, max(tn, t2), nil
}

// close serves MDS_CLOSE: the handle goes; a client that wrote reports
// the size and times it knows, kept as the MDT's lazy size; the last close
// of an unlinked file destroys it and queues its objects for destruction.
func (s *Server) close(ctx context.Context, req *ptlrpc.Request) error {
	s.stats.add(statClose)
	var r wire.CloseRequest
	if err := req.DecodeBody(&r); err != nil {
		return err
	}
	st, err := s.exportOf(req)
	if err != nil {
		return err
	}
	oh, ok := st.take(r.Handle, r.FID)
	if !ok && req.IsReplay() {
		// A close replayed after a restart whose open was replayed
		// without its handle (the client released it at close, keeping
		// only its create): what remains is the size and times it reports.
		if _, err := s.mdd.GetAttr(ctx, r.FID); err != nil {
			return fmt.Errorf("replayed close of %v: %w", r.FID, err)
		}
		tn, err := s.closeAttrs(ctx, &r, openHandle{fid: r.FID, write: true})
		if err != nil {
			return err
		}
		req.SetTransno(tn)
		req.ReplyBody(&wire.Empty{})
		return nil
	}
	if !ok {
		return fmt.Errorf("%w: handle %#x of %v", ErrBadHandle, r.Handle, r.FID)
	}
	tn, err := s.closeAttrs(ctx, &r, oh)
	if err != nil {
		st.add(r.Handle, oh) // the close did not happen
		return err
	}
	_, t2, err := s.mdd.Close(ctx, r.FID)
	if err != nil {
		return err
	}
	req.SetTransno(max(tn, t2))
	req.ReplyBody(&wire.Empty{})
	return nil
}

// closeAttrs keeps the size and times a close of a file open for writing
// reports, as the MDT's lazy size. It fails only if the file could not
// be locked.
func (s *Server) closeAttrs(ctx context.Context, r *wire.CloseRequest, oh openHandle) (uint64, error) {
	if !oh.write || r.Attr.Valid&(wire.AttrSize|wire.AttrBlocks|wire.AttrMtime|wire.AttrAtime|wire.AttrCtime) == 0 ||
		!s.closeChanges(ctx, r.FID, &r.Attr) {
		return 0, nil
	}
	args := setattrArgs(&r.Attr)
	args.Valid &= mdd.SetSize | mdd.SetBlocks | mdd.SetMtime | mdd.SetAtime | mdd.SetCtime
	args.Valid |= mdd.SetFromOpen
	release, err := s.lockObjects(ctx, objLock{r.FID, bitsAttr})
	if err != nil {
		return 0, err
	}
	_, tn, err := s.mdd.SetAttr(ctx, mdd.Root(), r.FID, args)
	release()
	if err != nil && !errors.Is(err, mdd.ErrNotFound) {
		s.log.Warn("close: attributes not kept", zap.Stringer("fid", r.FID), zap.Error(err))
	}
	return tn, nil
}

// closeChanges reports whether the size and times a close reports differ
// from what the MDT keeps of f: a close that changes nothing neither locks
// the file (which would call back every client's cached attributes) nor
// writes (which would wait for a group commit). An error reading them
// counts as a change: the SetAttr then reports it.
func (s *Server) closeChanges(ctx context.Context, f wire.FID, a *wire.Attr) bool {
	cur, err := s.mdd.GetAttr(ctx, f)
	if err != nil {
		return true
	}
	return a.Valid&wire.AttrSize != 0 && a.Size != cur.Size ||
		a.Valid&wire.AttrBlocks != 0 && a.Blocks != cur.Blocks ||
		a.Valid&wire.AttrMtime != 0 && a.Mtime != cur.Mtime ||
		a.Valid&wire.AttrAtime != 0 && a.Atime != cur.Atime ||
		a.Valid&wire.AttrCtime != 0 && a.Ctime != cur.Ctime
}

// exportLoop closes the open handles of clients that are gone, every
// ExportCheckInterval: ptlrpc has no export teardown callback, so the
// MDT compares its per-client states with the target's exports.
func (s *Server) exportLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ExportCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.reapExports()
		}
	}
}

// reapExports closes the handles of every export the target forgot.
func (s *Server) reapExports() {
	live := map[uint64]bool{}
	for _, e := range s.tgt.Exports() {
		live[e.Handle] = true
	}
	var gone []*exportState
	var goneExps []*ptlrpc.Export
	s.mu.Lock()
	for exp, st := range s.exports {
		if !live[exp.Handle()] {
			delete(s.exports, exp)
			gone = append(gone, st)
			goneExps = append(goneExps, exp)
		}
	}
	s.mu.Unlock()
	// A departed client's locks go with it: its flocks get no blocking
	// callback that would find it gone.
	for _, exp := range goneExps {
		if s.ns.EvictExport(exp) {
			s.log.Info("dropped the locks of a departed client")
		}
	}
	for _, st := range gone {
		st.mu.Lock()
		st.dead = true
		handles := st.handles
		st.handles = nil
		st.mu.Unlock()
		for _, oh := range handles {
			if _, _, err := s.mdd.Close(s.ctx, oh.fid); err != nil && s.ctx.Err() == nil {
				s.log.Warn("closing a departed client's handle", zap.Stringer("fid", oh.fid), zap.Error(err))
			}
		}
		if len(handles) > 0 {
			s.log.Info("closed the open files of a departed client", zap.Int("handles", len(handles)))
		}
	}
}
