package mdt

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// replayCreate serves a create replay: a replayed REINT_OPEN of an open
// that created its file (mdc's createReplay, sent after the reply said
// Created), naming the file's FID and the layout — with its objects —
// that the reply gave, and the open handle, or 0 once the client closed
// the file. The create was answered before it committed; if the previous
// instance crashed before the commit, the file is not here and the client
// may have written into its objects: it is created again at r.Parent/
// r.Name with that FID and layout, opened under the handle if there is
// one, and its objects are claimed from the OST proxies' recovery (so
// that the cleanup after the window keeps them). A file that is here is
// reopened as replayOpen does (a handle) or only described (0). Like
// replayOpen, it is served only while the recovery window is open. The
// create runs with the request's credentials, as the original did, and
// commits before it is answered (not CreateArgs.Early): the reply gives
// it no transno of its own, and the client drops the request once
// last_committed passes the original's. A name some other file took
// meanwhile fails the replay (EEXIST).
func (s *Server) replayCreate(ctx context.Context, req *ptlrpc.Request, c mdd.Creds, st *exportState, r *wire.OpenRequest) error {
	if !s.Recovering() {
		return fmt.Errorf("%w: replayed create of %v/%q (%v) after recovery", ErrBadHandle, r.Parent, r.Name, r.FID)
	}
	a, err := s.mdd.GetAttr(ctx, r.FID)
	switch {
	case err == nil:
		return s.replayCreated(ctx, req, st, r, a)
	case !errors.Is(err, mdd.ErrNotFound):
		return err
	}
	if len(r.Layout) > 0 {
		if _, err := layout.Decode(r.Layout); err != nil {
			return fmt.Errorf("%w: replayed create of %v: %w", ErrBadLayout, r.FID, err)
		}
	}
	if r.Handle != 0 {
		if f, ok := st.lookup(r.Handle); ok {
			return fmt.Errorf("%w: replayed handle %#x of %v is one of %v", ErrBadHandle, r.Handle, r.FID, f)
		}
	}
	unlock, err := s.lockNameSlots(ctx, nameRef{r.Parent, r.Name})
	if err != nil {
		return err
	}
	a, err = s.recreate(ctx, c, r)
	unlock()
	if err != nil {
		return err
	}
	s.claimObjects(r.Layout)
	if r.Handle != 0 {
		oh := openHandle{fid: a.FID, write: int(r.Flags)&(os.O_WRONLY|os.O_RDWR) != 0}
		if !st.add(r.Handle, oh) {
			if _, _, cerr := s.mdd.Close(context.WithoutCancel(ctx), a.FID); cerr != nil {
				s.log.Error("closing after a failed replay", zap.Stringer("fid", a.FID), zap.Error(cerr))
			}
			return fmt.Errorf("%w: the client was evicted", ErrNoExport)
		}
	}
	s.rec.replayed.Add(1)
	s.log.Info("replayed create restored a lost file", zap.Stringer("fid", a.FID), zap.String("name", r.Name))
	req.ReplyBody(&wire.InodeReply{FID: a.FID, Attr: wireAttr(a), Layout: r.Layout, Handle: r.Handle, Created: true})
	return nil
}

// recreate creates the file of create replay r, under its name slot's
// lock: r.Parent/r.Name with r.FID and r.Layout, open if r has a handle.
func (s *Server) recreate(ctx context.Context, c mdd.Creds, r *wire.OpenRequest) (mdd.Attr, error) {
	if other, err := s.mdd.Lookup(ctx, c, r.Parent, r.Name); err == nil {
		return mdd.Attr{}, fmt.Errorf("%w: replayed create of %v: %v/%q is %v now", mdd.ErrExist, r.FID,
			r.Parent, r.Name, other.FID)
	}
	a, _, err := s.mdd.Create(ctx, c, r.Parent, r.Name, mdd.CreateArgs{FID: r.FID, Layout: r.Layout, Mode: r.Mode,
		Open: r.Handle != 0})
	if err != nil {
		return mdd.Attr{}, fmt.Errorf("replayed create of %v at %v/%q: %w", r.FID, r.Parent, r.Name, err)
	}
	return a, nil
}

// replayCreated serves a create replay whose file is here (its create
// committed): with a handle it is a replayed open of the file; without,
// the file is only described.
func (s *Server) replayCreated(ctx context.Context, req *ptlrpc.Request, st *exportState, r *wire.OpenRequest, a mdd.Attr) error {
	if r.Handle != 0 {
		q := *r
		q.Name, q.Layout = "", nil
		return s.replayOpen(ctx, req, st, &q) // recovery.go
	}
	blob, err := s.layoutOf(ctx, a)
	if err != nil {
		return err
	}
	req.ReplyBody(&wire.InodeReply{FID: a.FID, Attr: wireAttr(a), Layout: blob})
	return nil
}
