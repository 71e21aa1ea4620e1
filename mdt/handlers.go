package mdt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// withOwner makes every handler read and write the store as the client
// of its export (store.WithOwner): a client sees its own uncommitted
// changes at once, another's only once committed.
func withOwner(h map[wire.Opcode]ptlrpc.Handler) map[wire.Opcode]ptlrpc.Handler {
	for op, fn := range h {
		h[op] = func(ctx context.Context, r *ptlrpc.Request) error {
			if exp := r.Export(); exp != nil {
				ctx = store.WithOwner(ctx, exp.Handle())
			}
			return fn(ctx, r)
		}
	}
	return h
}

// handlers returns the target's opcode table.
func (s *Server) handlers() map[wire.Opcode]ptlrpc.Handler {
	return map[wire.Opcode]ptlrpc.Handler{
		wire.MDSGetRoot:     s.getRoot,
		wire.MDSGetattr:     s.getattr,
		wire.MDSGetattrName: s.getattrName,
		wire.MDSReint:       s.reint,
		wire.MDSClose:       s.close,
		wire.MDSReadpage:    s.readpage,
		wire.MDSStatfs:      s.statfs,
		wire.MDSGetxattr:    s.getxattr,
		wire.MDSSync:        s.sync,
		wire.MDSGetInfo:     s.getInfo,
	}
}

// creds turns the request's credentials into mdd's: the file system uid
// and gid decide, as in the kernel.
func creds(req *ptlrpc.Request) mdd.Creds {
	c := req.Creds()
	return mdd.Creds{UID: c.FSUID, GID: c.FSGID}
}

// wireAttr is the wire form of an inode's attributes.
func wireAttr(a mdd.Attr) wire.Attr {
	return wire.Attr{
		Valid: wire.AttrMode | wire.AttrUID | wire.AttrGID | wire.AttrSize | wire.AttrBlocks | wire.AttrNlink |
			wire.AttrRdev | wire.AttrAtime | wire.AttrMtime | wire.AttrCtime | wire.AttrFlags,
		Mode: a.Mode, UID: a.UID, GID: a.GID, Size: a.Size, Blocks: a.Blocks, Nlink: a.Nlink,
		Rdev: uint32(a.Rdev), Atime: a.Atime, Mtime: a.Mtime, Ctime: a.Ctime, Flags: a.Flags,
	}
}

// layoutOf returns what an InodeReply carries beside the attributes: the
// layout xattr of a regular file (nil if it has none), or a symlink's
// target, as Lustre's getattr reply carries it with OBD_MD_LINKNAME.
func (s *Server) layoutOf(ctx context.Context, a mdd.Attr) ([]byte, error) {
	switch a.Type() {
	case store.TypeReg:
	case store.TypeLink:
		target, err := s.mdd.Readlink(ctx, a.FID)
		return []byte(target), err
	default:
		return nil, nil
	}
	b, err := s.mdd.GetXattr(ctx, mdd.Root(), a.FID, mdd.XattrLOV)
	if errors.Is(err, mdd.ErrNoData) {
		return nil, nil
	}
	return b, err
}

// replyInode answers with an InodeReply for a, loading the layout of a
// regular file unless blob is given.
func (s *Server) replyInode(ctx context.Context, req *ptlrpc.Request, a mdd.Attr, blob []byte) error {
	if blob == nil {
		var err error
		if blob, err = s.layoutOf(ctx, a); err != nil {
			return err
		}
	}
	req.ReplyBody(&wire.InodeReply{FID: a.FID, Attr: wireAttr(a), Layout: blob})
	return nil
}

func (s *Server) getRoot(_ context.Context, req *ptlrpc.Request) error {
	s.stats.add(statGetattr)
	if s.label.Index != 0 {
		return fmt.Errorf("%w: the root lives on MDT0000", mdd.ErrRemote)
	}
	req.ReplyBody(&wire.GetRootReply{Root: wire.RootFID})
	return nil
}

func (s *Server) getattr(ctx context.Context, req *ptlrpc.Request) error {
	s.stats.add(statGetattr)
	var r wire.FIDRequest
	if err := req.DecodeBody(&r); err != nil {
		return err
	}
	a, err := s.mdd.GetAttr(ctx, r.FID)
	if err != nil {
		return err
	}
	return s.replyInode(ctx, req, a, nil)
}

func (s *Server) getattrName(ctx context.Context, req *ptlrpc.Request) error {
	s.stats.add(statGetattr)
	var r wire.GetattrNameRequest
	if err := req.DecodeBody(&r); err != nil {
		return err
	}
	a, err := s.mdd.Lookup(ctx, creds(req), r.Parent, r.Name)
	if errors.Is(err, mdd.ErrNotFound) {
		lock := s.dirNamesLock(req, r.Lock, r.Parent) // dirnames.go
		if lock == nil {
			lock = s.negativeLock(ctx, req, r.Lock, r.Parent, r.Name)
		}
		if lock != nil {
			req.ReplyBody(&wire.InodeReply{Lock: lock}) // no such name, under lock
			return nil
		}
	}
	if err != nil {
		return err
	}
	a, lock := s.intentRead(ctx, req, r.Lock, wire.IntentBits, r.Parent, r.Name, a)
	return s.replyIntent(ctx, req, a, nil, lock)
}

// replyIntent answers with a, its layout (blob, or read now if nil) and
// the intent lock, if one was granted (given back if the layout cannot be
// read).
func (s *Server) replyIntent(ctx context.Context, req *ptlrpc.Request, a mdd.Attr, blob []byte, lock *wire.LockReply) error {
	if blob == nil {
		var err error
		if blob, err = s.layoutOf(ctx, a); err != nil {
			if lock != nil {
				s.ns.Cancel(req.Export(), []wire.LockHandle{lock.Handle})
			}
			return err
		}
	}
	req.ReplyBody(&wire.InodeReply{FID: a.FID, Attr: wireAttr(a), Layout: blob, Lock: lock})
	return nil
}

// intentRead grants the intent lock h (0: none asked for) on a.FID and
// reads again under it what the client will cache under it: the binding
// of parent/name (unless name is empty) and the attributes. A change made
// before the grant is then in the reply, and one made after it calls the
// lock back first; an unlink or rename of the name that finished before
// the grant would call no lock back, so a name that no longer binds to
// a.FID gets the lock given back. It returns the attributes to reply and
// the lock, nil when none was granted.
func (s *Server) intentRead(ctx context.Context, req *ptlrpc.Request, h wire.LockHandle, bits uint64, parent wire.FID,
	name string, a mdd.Attr) (mdd.Attr, *wire.LockReply) {
	lock := s.intentLock(req, h, wire.LockDesc{Res: wire.ResIDOfFID(a.FID), Type: wire.LockIBits,
		Mode: wire.LockPR, Policy: wire.Policy{Bits: bits}})
	if lock == nil {
		return a, nil
	}
	var b mdd.Attr
	var err error
	if name != "" {
		b, err = s.mdd.Lookup(ctx, mdd.Root(), parent, name)
		if err == nil && b.FID != a.FID {
			err = mdd.ErrNotFound
		}
	} else {
		b, err = s.mdd.GetAttr(ctx, a.FID)
	}
	if err != nil {
		s.ns.Cancel(req.Export(), []wire.LockHandle{lock.Handle})
		return a, nil
	}
	return b, lock
}

// intentLock grants the client of req its intent lock h (0: none asked
// for) as d: on an inode, a PR lock of bits (wire.IntentBits, and OPEN for
// a fresh file: fresh.go); on a name slot, a PR plain lock (negative.go).
// At once or not at all: an intent never waits for other clients. A
// replayed request gets none: the client's locks of the old instance are
// gone.
func (s *Server) intentLock(req *ptlrpc.Request, h wire.LockHandle, d wire.LockDesc) *wire.LockReply {
	if h == 0 || req.IsReplay() || req.Export() == nil {
		return nil
	}
	if _, err := s.exportOf(req); err != nil {
		return nil // the lock would outlive a departed client's reaping
	}
	rep, err := s.ns.Enqueue(req.Export(), &wire.LockRequest{Desc: d, Flags: wire.LockFlagBlockNoWait, Handle: h})
	if err != nil || rep.Flags.Blocked() {
		return nil
	}
	return &rep
}

func (s *Server) readpage(ctx context.Context, req *ptlrpc.Request) error {
	s.stats.add(statReaddir)
	var r wire.ReadpageRequest
	if err := req.DecodeBody(&r); err != nil {
		return err
	}
	ents, eof, err := s.mdd.Readdir(ctx, creds(req), r.FID, r.Cookie, int(r.Count))
	if err != nil {
		return err
	}
	rep := wire.ReadpageReply{Entries: make([]wire.Dirent, 0, len(ents)), End: eof}
	for _, e := range ents {
		de := wire.Dirent{Name: e.Name, FID: e.FID, Type: uint32(e.Type) << 12, Cookie: e.Cookie}
		if r.Plus {
			// An entry removed meanwhile, or living on another MDT, goes
			// without attributes (Valid 0).
			if a, err := s.mdd.GetAttr(ctx, e.FID); err == nil {
				de.Attr = wireAttr(a)
			}
		}
		rep.Entries = append(rep.Entries, de)
	}
	req.ReplyBody(&rep)
	return nil
}

func (s *Server) statfs(ctx context.Context, req *ptlrpc.Request) error {
	s.stats.add(statStatfs)
	st, err := s.mdd.StatFS(ctx)
	if err != nil {
		return err
	}
	req.ReplyBody(&wire.StatFS{Blocks: st.Blocks, BFree: st.Bfree, BAvail: st.Bavail, Files: st.Files,
		FFree: st.Ffree, BSize: uint32(st.BlockSize), NameLen: st.NameLen})
	return nil
}

// sync answers MDS_SYNC: every change is on disk before its reply, so
// there is nothing to flush; the FID, if not zero, must exist.
func (s *Server) sync(ctx context.Context, req *ptlrpc.Request) error {
	s.stats.add(statSync)
	var r wire.FIDRequest
	if err := req.DecodeBody(&r); err != nil {
		return err
	}
	if !r.FID.IsZero() {
		if _, err := s.mdd.GetAttr(ctx, r.FID); err != nil {
			return err
		}
	}
	// Creates are answered before their commit: make them durable.
	if err := s.store.Sync(ctx); err != nil {
		return err
	}
	req.ReplyBody(&wire.Empty{})
	return nil
}

// getInfo answers MDS_GET_INFO, which carries fid2path: the LinkNo'th
// path of the FID, relative to the root; NextLinkNo is LinkNo+1 while
// another name follows and LinkNo at the last one (lfs stops when it does
// not change).
func (s *Server) getInfo(ctx context.Context, req *ptlrpc.Request) error {
	var r wire.Fid2pathRequest
	if err := req.DecodeBody(&r); err != nil {
		return err
	}
	paths, err := s.mdd.Paths(ctx, r.FID)
	if err != nil {
		return err
	}
	if int(r.LinkNo) >= len(paths) {
		return fmt.Errorf("%w: %v has %d names, no link %d", mdd.ErrNotFound, r.FID, len(paths), r.LinkNo)
	}
	p := paths[r.LinkNo]
	if !p.Parent.IsZero() {
		return fmt.Errorf("%w: path of %v continues on another MDT at %v", mdd.ErrRemote, r.FID, p.Parent)
	}
	next := r.LinkNo
	if int(r.LinkNo)+1 < len(paths) {
		next++
	}
	req.ReplyBody(&wire.Fid2pathReply{Path: strings.TrimPrefix(p.Path, "/"), NextLinkNo: next})
	return nil
}

// getxattr answers MDS_GETXATTR: one value, or with an empty name the
// NUL-terminated names. "lustre.lov" (and "trusted.lov") of a directory
// is its default layout. A Size of 0 asks for the length only; a value
// longer than Size is ERANGE.
func (s *Server) getxattr(ctx context.Context, req *ptlrpc.Request) error {
	s.stats.add(statGetxattr)
	var r wire.GetxattrRequest
	if err := req.DecodeBody(&r); err != nil {
		return err
	}
	c := creds(req)
	var v []byte
	if r.Name == "" {
		a, err := s.mdd.GetAttr(ctx, r.FID)
		if err != nil {
			return err
		}
		names, err := s.mdd.ListXattr(ctx, c, r.FID)
		if err != nil {
			return err
		}
		for _, n := range names {
			if a.IsDir() && n == mdd.XattrDefaultLOV {
				n = mdd.XattrLOV
			}
			v = append(append(v, n...), 0)
		}
	} else {
		name, err := s.xattrName(ctx, r.FID, r.Name)
		if err != nil {
			return err
		}
		if v, err = s.mdd.GetXattr(ctx, c, r.FID, name); err != nil {
			return err
		}
	}
	switch {
	case r.Size == 0:
		req.ReplyBody(&wire.GetxattrReply{Len: uint32(len(v))})
	case uint32(len(v)) > r.Size:
		return fmt.Errorf("%w: %d bytes, buffer of %d", mdd.ErrRange, len(v), r.Size)
	default:
		req.ReplyBody(&wire.GetxattrReply{Value: v, Len: uint32(len(v))})
	}
	return nil
}

// xattrName maps the layout xattr names: on a directory "lustre.lov" and
// "trusted.lov" are its default layout.
func (s *Server) xattrName(ctx context.Context, f wire.FID, name string) (string, error) {
	if name != mdd.XattrLOV && name != "trusted.lov" {
		return name, nil
	}
	a, err := s.mdd.GetAttr(ctx, f)
	if err != nil {
		return "", err
	}
	if a.IsDir() {
		return mdd.XattrDefaultLOV, nil
	}
	return name, nil
}

// exportOf returns the per-client state of the request's export.
func (s *Server) exportOf(req *ptlrpc.Request) (*exportState, error) {
	exp := req.Export()
	if exp == nil {
		return nil, ErrNoExport
	}
	if st, ok := exp.Private().(*exportState); ok {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := exp.Private().(*exportState); ok {
		return st, nil
	}
	if s.closing {
		return nil, ErrClosed
	}
	st := &exportState{handles: map[uint64]openHandle{}}
	exp.SetPrivate(st)
	s.exports[exp] = st
	return st, nil
}

// errnoIs reports whether err stands for errno e.
func errnoIs(err error, e syscall.Errno) bool { return errors.Is(err, e) }
