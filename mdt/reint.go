package mdt

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// reint serves MDS_REINT: the modifying operations. Each sets the reply's
// transno from the store operation, which returned after its commit.
func (s *Server) reint(ctx context.Context, req *ptlrpc.Request) error {
	op, body, err := wire.SplitReint(req.Body())
	if err != nil {
		return err
	}
	c := creds(req)
	switch op {
	case wire.ReintSetattr:
		var r wire.SetattrRequest
		if err := wire.DecodeBody(body, &r); err != nil {
			return err
		}
		return s.setattr(ctx, req, c, &r)
	case wire.ReintCreate:
		var r wire.CreateRequest
		if err := wire.DecodeBody(body, &r); err != nil {
			return err
		}
		unlock, err := s.lockNameSlots(ctx, nameRef{r.Parent, r.Name})
		if err != nil {
			return err
		}
		defer unlock()
		return s.create(ctx, req, c, &r)
	case wire.ReintLink:
		var r wire.LinkRequest
		if err := wire.DecodeBody(body, &r); err != nil {
			return err
		}
		s.stats.add(statLink)
		unlock, err := s.lockNameSlots(ctx, nameRef{r.Parent, r.Name})
		if err != nil {
			return err
		}
		defer unlock()
		release, err := s.lockObjects(ctx, objLock{r.FID, bitsAttr})
		if err != nil {
			return err
		}
		defer release()
		a, tn, err := s.mdd.Link(ctx, c, r.FID, r.Parent, r.Name)
		if err != nil {
			return err
		}
		req.SetTransno(tn)
		return s.replyInode(ctx, req, a, nil)
	case wire.ReintUnlink:
		var r wire.UnlinkRequest
		if err := wire.DecodeBody(body, &r); err != nil {
			return err
		}
		return s.unlink(ctx, req, c, &r)
	case wire.ReintRename:
		var r wire.RenameRequest
		if err := wire.DecodeBody(body, &r); err != nil {
			return err
		}
		s.stats.add(statRename)
		release, err := s.lockNames(ctx, bitsName, []nameRef{{r.SrcParent, r.SrcName}, {r.DstParent, r.DstName}})
		if err != nil {
			return err
		}
		defer release()
		_, tn, err := s.mdd.Rename(ctx, c, r.SrcParent, r.SrcName, r.DstParent, r.DstName, r.Flags)
		if err != nil {
			return err
		}
		req.SetTransno(tn)
		req.ReplyBody(&wire.Empty{})
		return nil
	case wire.ReintOpen:
		var r wire.OpenRequest
		if err := wire.DecodeBody(body, &r); err != nil {
			return err
		}
		return s.open(ctx, req, c, &r)
	case wire.ReintSetxattr:
		var r wire.SetxattrRequest
		if err := wire.DecodeBody(body, &r); err != nil {
			return err
		}
		return s.setxattr(ctx, req, c, &r)
	}
	return fmt.Errorf("%w: reint op %v", mdd.ErrNotSupported, op)
}

// setattrValid maps the wire's attribute bits to mdd's.
func setattrValid(v wire.AttrValid) uint32 {
	var out uint32
	for _, m := range []struct {
		w wire.AttrValid
		m uint32
	}{{wire.AttrMode, mdd.SetMode}, {wire.AttrUID, mdd.SetUID}, {wire.AttrGID, mdd.SetGID},
		{wire.AttrSize, mdd.SetSize}, {wire.AttrBlocks, mdd.SetBlocks}, {wire.AttrAtime, mdd.SetAtime},
		{wire.AttrMtime, mdd.SetMtime}, {wire.AttrCtime, mdd.SetCtime}, {wire.AttrFlags, mdd.SetFlags},
		{wire.AttrAtimeNow, mdd.SetAtimeNow}, {wire.AttrMtimeNow, mdd.SetMtimeNow}} {
		if v&m.w != 0 {
			out |= m.m
		}
	}
	return out
}

func setattrArgs(a *wire.Attr) mdd.SetAttrArgs {
	return mdd.SetAttrArgs{Valid: setattrValid(a.Valid), Mode: a.Mode, UID: a.UID, GID: a.GID, Size: a.Size,
		Blocks: a.Blocks, Atime: a.Atime, Mtime: a.Mtime, Ctime: a.Ctime, Flags: a.Flags}
}

func (s *Server) setattr(ctx context.Context, req *ptlrpc.Request, c mdd.Creds, r *wire.SetattrRequest) error {
	s.stats.add(statSetattr)
	release, err := s.lockObjects(ctx, objLock{r.FID, bitsAttr})
	if err != nil {
		return err
	}
	defer release()
	a, tn, err := s.mdd.SetAttr(ctx, c, r.FID, setattrArgs(&r.Attr))
	if err != nil {
		return err
	}
	req.SetTransno(tn)
	return s.replyInode(ctx, req, a, nil)
}

// create serves REINT_CREATE: mkdir (with a default layout if one is
// given), symlink, mknod, and a regular file — with objects when the
// request carries a layout template, without (Lustre's delayed create)
// otherwise.
func (s *Server) create(ctx context.Context, req *ptlrpc.Request, c mdd.Creds, r *wire.CreateRequest) error {
	args := mdd.CreateArgs{Mode: r.Mode, Rdev: uint64(r.Rdev)}
	var a mdd.Attr
	var tn uint64
	var blob []byte
	var err error
	switch r.Mode & store.TypeMask {
	case store.TypeDir:
		s.stats.add(statMkdir)
		if r.MDTIndex >= 0 && uint32(r.MDTIndex) != s.label.Index {
			return fmt.Errorf("%w: mkdir on MDT%04x: this file system has no such MDT here", mdd.ErrInvalid, r.MDTIndex)
		}
		var def *layout.Layout
		if def, err = decodeTemplate(r.Layout); err != nil {
			return err
		}
		owner := store.OwnerOf(ctx)
		args.OnCreated = func(f wire.FID) { s.makers.made(f, owner) } // dirnames.go
		if a, tn, err = s.mdd.Mkdir(ctx, c, r.Parent, r.Name, args); err != nil {
			return err
		}
		if def != nil {
			// Not atomic with the mkdir: a crash between leaves the
			// directory with its parent's default.
			t2, err := s.mdd.SetXattr(ctx, c, a.FID, mdd.XattrDefaultLOV, r.Layout, 0)
			if err != nil {
				return err
			}
			tn = max(tn, t2)
		}
	case store.TypeLink:
		s.stats.add(statMknod)
		a, tn, err = s.mdd.Symlink(ctx, c, r.Parent, r.Name, r.Target, args)
	case store.TypeReg:
		s.stats.add(statMknod)
		if len(r.Layout) == 0 {
			a, tn, err = s.mdd.Mknod(ctx, c, r.Parent, r.Name, args)
			break
		}
		a, blob, tn, err = s.createFile(ctx, c, r.Parent, r.Name, r.Mode, r.Layout, false)
	default:
		s.stats.add(statMknod)
		a, tn, err = s.mdd.Mknod(ctx, c, r.Parent, r.Name, args)
	}
	if err != nil {
		return err
	}
	req.SetTransno(tn)
	b, lock := s.intentRead(ctx, req, r.Lock, wire.IntentBits, r.Parent, r.Name, a)
	if lock != nil {
		a, blob = b, nil // the layout too is read again under the lock
	}
	return s.replyIntent(ctx, req, a, blob, lock)
}

// createFile makes a regular file with objects: its layout from the
// template (if any), the parent's default and the root's, instantiated
// from the OST pools, stored in the create's transaction. Objects of a
// create that fails go back to the pools.
func (s *Server) createFile(ctx context.Context, c mdd.Creds, parent wire.FID, name string, mode uint32,
	tmpl []byte, open bool) (mdd.Attr, []byte, uint64, error) {
	explicit, err := decodeTemplate(tmpl)
	if err != nil {
		return mdd.Attr{}, nil, 0, err
	}
	l, blob, err := s.newLayout(ctx, explicit, parent)
	if err != nil {
		return mdd.Attr{}, nil, 0, err
	}
	args := mdd.CreateArgs{Mode: mode, Layout: blob, Open: open}
	if open {
		// Answered before its commit: mdc keeps the open for replay
		// with the reply's FID and layout (replay.go).
		args.OnCreated, args.Early = s.fresh.created, !s.cfg.SyncCreates
	}
	a, tn, err := s.mdd.Create(ctx, c, parent, name, args)
	if err != nil {
		s.lod.Release(l, nil)
		return mdd.Attr{}, nil, 0, err
	}
	return a, blob, tn, nil
}

// newLayout makes the layout of a new regular file in directory parent
// (the zero FID: only the root default applies) and encodes it.
func (s *Server) newLayout(ctx context.Context, explicit *layout.Layout, parent wire.FID) (*layout.Layout, []byte, error) {
	pdef, rdef, err := s.defaults(ctx, parent)
	if err != nil {
		return nil, nil, err
	}
	l, err := s.lod.NewLayout(ctx, explicit, pdef, rdef)
	if err != nil {
		return nil, nil, err
	}
	blob, err := layout.Encode(l)
	if err != nil {
		s.lod.Release(l, nil)
		return nil, nil, fmt.Errorf("%w: %w", ErrBadLayout, err)
	}
	return l, blob, nil
}

// defaults reads the default layouts of directory parent (nil for the
// root or the zero FID) and of the root, in one read transaction.
func (s *Server) defaults(ctx context.Context, parent wire.FID) (pdef, rdef *layout.Layout, err error) {
	var pb, rb []byte
	err = s.store.View(ctx, func(t *store.Tx) error {
		var err error
		if parent != wire.RootFID && !parent.IsZero() {
			if pb, err = t.Xattr(parent, mdd.XattrDefaultLOV); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if rb, err = t.Xattr(wire.RootFID, mdd.XattrDefaultLOV); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if pdef, err = decodeTemplate(pb); err != nil {
		s.log.Warn("directory default layout unreadable; ignored", zap.Stringer("fid", parent), zap.Error(err))
		pdef = nil
	}
	if rdef, err = decodeTemplate(rb); err != nil {
		s.log.Warn("root default layout unreadable; ignored", zap.Error(err))
		rdef = nil
	}
	return pdef, rdef, nil
}

func (s *Server) unlink(ctx context.Context, req *ptlrpc.Request, c mdd.Creds, r *wire.UnlinkRequest) error {
	if len(r.Cancels.Handles) > 0 && req.Export() != nil && !req.IsReplay() {
		s.ns.Cancel(req.Export(), r.Cancels.Handles)
	}
	release, err := s.lockNames(ctx, bitsName, []nameRef{{r.Parent, r.Name}})
	if err != nil {
		return err
	}
	defer release()
	var tn uint64
	if r.Dir {
		s.stats.add(statRmdir)
		_, tn, err = s.mdd.Rmdir(ctx, c, r.Parent, r.Name)
	} else {
		s.stats.add(statUnlink)
		_, tn, err = s.mdd.Unlink(ctx, c, r.Parent, r.Name)
	}
	if err != nil {
		return err
	}
	req.SetTransno(tn)
	req.ReplyBody(&wire.Empty{})
	return nil
}

// setxattr serves REINT_SETXATTR. The layout names are special: on a
// directory "lustre.lov" (or "trusted.lov", "lustre.lov.default") is its
// default layout, validated as a template, and removing it reverts the
// directory to the file system default; on a regular file without objects
// (made by mknod) it is a template to instantiate now (`lfs setstripe
// NEWFILE`), EEXIST when the file has a layout already.
func (s *Server) setxattr(ctx context.Context, req *ptlrpc.Request, c mdd.Creds, r *wire.SetxattrRequest) error {
	s.stats.add(statSetxattr)
	if r.Flags&^(wire.XattrCreate|wire.XattrReplace|wire.XattrRemove) != 0 {
		return fmt.Errorf("%w: setxattr flags %#x", mdd.ErrInvalid, r.Flags)
	}
	remove := r.Flags&wire.XattrRemove != 0
	flags := int(r.Flags & (wire.XattrCreate | wire.XattrReplace))
	bits := bitsXattr
	switch r.Name {
	case mdd.XattrLOV, "trusted.lov", mdd.XattrDefaultLOV:
		bits = bitsLOV
	}
	release, err := s.lockObjects(ctx, objLock{r.FID, bits})
	if err != nil {
		return err
	}
	defer release()
	var tn uint64
	switch r.Name {
	case mdd.XattrLOV, "trusted.lov", mdd.XattrDefaultLOV:
		tn, err = s.setLayoutXattr(ctx, c, r, remove, flags)
	default:
		if remove {
			tn, err = s.mdd.RemoveXattr(ctx, c, r.FID, r.Name)
		} else {
			tn, err = s.mdd.SetXattr(ctx, c, r.FID, r.Name, r.Value, flags)
		}
	}
	if err != nil {
		return err
	}
	req.SetTransno(tn)
	req.ReplyBody(&wire.Empty{})
	return nil
}

func (s *Server) setLayoutXattr(ctx context.Context, c mdd.Creds, r *wire.SetxattrRequest, remove bool, flags int) (uint64, error) {
	a, err := s.mdd.GetAttr(ctx, r.FID)
	if err != nil {
		return 0, err
	}
	switch {
	case a.IsDir():
		if remove {
			tn, err := s.mdd.RemoveXattr(ctx, c, r.FID, mdd.XattrDefaultLOV)
			if errors.Is(err, mdd.ErrNoData) {
				return 0, nil // `lfs setstripe -d` of a directory without a default
			}
			return tn, err
		}
		tmpl, err := decodeTemplate(r.Value)
		if err != nil || len(r.Value) == 0 {
			return 0, fmt.Errorf("%w: directory default: %w", ErrBadLayout, err)
		}
		// A default no file could be created with (more stripes than
		// OSTs, an OST that does not exist) is refused now, not at every
		// later create in the directory.
		if err := s.lod.Check(tmpl); err != nil {
			return 0, err
		}
		return s.mdd.SetXattr(ctx, c, r.FID, mdd.XattrDefaultLOV, r.Value, flags)
	case a.Type() != store.TypeReg || r.Name == mdd.XattrDefaultLOV:
		return 0, fmt.Errorf("%w: %s of a %#o", ErrBadLayout, r.Name, a.Type())
	case remove:
		return 0, fmt.Errorf("%w: a file's layout cannot be removed", mdd.ErrPerm)
	}
	if cur, err := s.layoutOf(ctx, a); err != nil {
		return 0, err
	} else if cur != nil {
		return 0, fmt.Errorf("%w: %v", ErrHasLayout, r.FID)
	}
	tmpl, err := decodeTemplate(r.Value)
	if err != nil {
		return 0, err
	}
	if tmpl == nil {
		return 0, fmt.Errorf("%w: empty layout", ErrBadLayout)
	}
	return s.instantiate(ctx, c, a.FID, tmpl, wire.FID{})
}

// instantiate gives regular file f, which has no layout yet, the layout of
// template tmpl (nil: the defaults of parent, or the root's), with
// objects; EEXIST if the file got a layout meanwhile.
func (s *Server) instantiate(ctx context.Context, c mdd.Creds, f wire.FID, tmpl *layout.Layout, parent wire.FID) (uint64, error) {
	l, blob, err := s.newLayout(ctx, tmpl, parent)
	if err != nil {
		return 0, err
	}
	tn, err := s.mdd.SetXattr(ctx, c, f, mdd.XattrLOV, blob, mdd.XattrCreate)
	if err != nil {
		s.lod.Release(l, nil)
		if errors.Is(err, mdd.ErrExist) {
			return 0, fmt.Errorf("%w: %v: %w", ErrHasLayout, f, err)
		}
		return 0, err
	}
	return tn, nil
}
