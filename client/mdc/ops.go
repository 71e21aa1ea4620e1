package mdc

import (
	"bytes"
	"context"
	"fmt"
	"syscall"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// readpageReplySize bounds a readpage reply of n entries with attributes.
func readpageReplySize(n int) int {
	return 64 + n*(4+wire.MaxFileNameLen+wire.FIDSize+4+8+80)
}

// GetRoot returns the file system's root FID (MDS_GET_ROOT).
func (m *MDC) GetRoot(ctx context.Context) (wire.FID, error) {
	var r wire.GetRootReply
	if err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetRoot, Encode: &wire.Empty{}}, "get root", &r); err != nil {
		return wire.FID{}, err
	}
	return r.Root, nil
}

// Getattr returns an inode's attributes and layout (MDS_GETATTR).
func (m *MDC) Getattr(ctx context.Context, fid wire.FID) (*wire.InodeReply, error) {
	var r wire.InodeReply
	err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetattr, Encode: &wire.FIDRequest{FID: fid}},
		"getattr "+fid.String(), &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// GetattrName looks name up in parent (MDS_GETATTR_NAME). With a lock
// namespace it asks for an intent lock on the inode found (Config.Intent
// receives it; r.Lock says the MDT granted one).
func (m *MDC) GetattrName(ctx context.Context, parent wire.FID, name string) (*wire.InodeReply, error) {
	var r wire.InodeReply
	send := func(h wire.LockHandle) (*wire.LockReply, error) {
		err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetattrName,
			Encode: &wire.GetattrNameRequest{Parent: parent, Name: name, Lock: h}}, "lookup "+name, &r)
		return r.Lock, err
	}
	if err := m.withIntent(ctx, parent, name, &r, send); err != nil {
		return nil, err
	}
	if r.FID.IsZero() { // no such name; Config.Intent had its lock
		return nil, fmt.Errorf("mdc: lookup %q in %v: %w", name, parent, syscall.ENOENT)
	}
	return &r, nil
}

// withIntent sends a request that may carry an intent lock (send, given
// the lock's handle or 0) and hands a granted lock to Config.Intent. An
// intent is asked for only of a name ("." and ".." are their parent's or
// the name's own directory) and when the MDC has a lock namespace.
func (m *MDC) withIntent(ctx context.Context, parent wire.FID, name string, r *wire.InodeReply,
	send func(h wire.LockHandle) (*wire.LockReply, error)) error {
	if m.locks == nil || m.cfg.Intent == nil || name == "" || name == "." || name == ".." {
		_, err := send(0)
		return err
	}
	var sendErr error
	inc := m.Incarnation()
	l, err := m.locks.EnqueueIntent(ctx, wire.LockDesc{Type: wire.LockIBits, Mode: wire.LockPR,
		Policy: wire.Policy{Bits: wire.IntentBits}}, func(req *wire.LockRequest) (*wire.LockReply, error) {
		lr, err := send(req.Handle)
		sendErr = err
		return lr, err
	})
	if sendErr != nil {
		return sendErr
	}
	if err != nil {
		m.log.Debug("intent lock not kept", zap.String("name", name), zap.Error(err))
		r.Lock = nil
		return nil
	}
	if l == nil {
		r.Lock = nil
		return nil
	}
	if inc != m.Incarnation() {
		inc = 0 // the MDT restarted meanwhile: which instance granted it?
	}
	if m.cfg.Intent(m, parent, name, r, l, inc) {
		l.Release()
	} else {
		l.ReleaseCancel()
	}
	return nil
}

// Create makes a directory, device, FIFO, socket, symlink or objectless
// regular file (REINT_CREATE), asking for an intent lock on it, as
// GetattrName.
func (m *MDC) Create(ctx context.Context, req *wire.CreateRequest) (_ *wire.InodeReply, err error) {
	done := m.naming(req.Parent, req.Name)
	defer func() { done(err) }()
	var r wire.InodeReply
	send := func(h wire.LockHandle) (*wire.LockReply, error) {
		q := *req
		q.Lock = h
		err := m.reint(ctx, wire.ReintCreate, &q, "create "+req.Name, &r)
		return r.Lock, err
	}
	if err = m.withIntent(ctx, req.Parent, req.Name, &r, send); err != nil {
		return nil, err
	}
	return &r, nil
}

// Open opens (and with O_CREAT creates) a regular file (REINT_OPEN); the
// reply carries the open handle and the layout. An open of a name asks
// for an intent lock, as GetattrName.
func (m *MDC) Open(ctx context.Context, req *wire.OpenRequest) (_ *wire.InodeReply, err error) {
	var r wire.InodeReply
	what := "open " + req.Name
	if req.Name == "" {
		what = "open " + req.FID.String()
	} else if req.Flags&syscall.O_CREAT != 0 {
		done := m.naming(req.Parent, req.Name)
		defer func() { done(err) }()
	}
	var kept *ptlrpc.Kept
	send := func(h wire.LockHandle) (*wire.LockReply, error) {
		q := *req
		q.Lock = h
		var err error
		kept, err = m.callKeep(ctx, &ptlrpc.Req{Opcode: wire.MDSReint, Body: wire.AppendReint(nil, wire.ReintOpen, &q),
			ReplayBody: func(rep *ptlrpc.Reply) []byte { return replayOpenBody(req, rep) }}, true, what, &r)
		return r.Lock, err
	}
	if err := m.withIntent(ctx, req.Parent, req.Name, &r, send); err != nil {
		kept.Drop()
		return nil, err
	}
	m.keepOpen(req, &r, kept)
	return &r, nil
}

// replayOpenBody is how an open is replayed after an MDT restart
// (Lustre's mdc_replay_open): as an open of the FID its reply gave —
// whatever became of the name, never creating, excluding or truncating
// again, with the same access mode — that restores the reply's handle,
// so the file stays open (an unlinked one is not destroyed) and the close
// finds its handle. An open that created its file is replayed as a
// create replay (createReplay) instead, which recreates the file if the
// MDT lost its create. Nil if the reply does not decode (the open fails).
func replayOpenBody(req *wire.OpenRequest, rep *ptlrpc.Reply) []byte {
	var r wire.InodeReply
	if rep.Decode(&r) != nil { // r aliases rep: used only before this returns
		return nil
	}
	if r.Created {
		return wire.AppendReint(nil, wire.ReintOpen, createReplay(req, &r, r.Handle))
	}
	return wire.AppendReint(nil, wire.ReintOpen, &wire.OpenRequest{Parent: req.Parent, FID: r.FID,
		Flags: req.Flags &^ uint32(syscall.O_CREAT|syscall.O_EXCL|syscall.O_TRUNC), Handle: r.Handle})
}

// createReplay is the replay of an open that created its file (the reply
// said Created): an O_CREAT open of the same name, asking for the FID the
// reply gave and carrying the layout it gave (with the file's objects,
// into which this client may have written), with handle (the reply's
// while the file is open, 0 once closed: recreate, open nothing). The
// MDT recreates the file so if it lost the create in a crash, and
// otherwise reopens it (a handle) or does nothing (0). It never excludes
// or truncates. The layout aliases r's.
func createReplay(req *wire.OpenRequest, r *wire.InodeReply, handle uint64) *wire.OpenRequest {
	return &wire.OpenRequest{Parent: req.Parent, Name: req.Name, FID: r.FID,
		Flags: (req.Flags | uint32(syscall.O_CREAT)) &^ uint32(syscall.O_EXCL|syscall.O_TRUNC),
		Mode:  req.Mode, Layout: r.Layout, Handle: handle}
}

// keptOpen is an open kept for replay until its CloseFile.
type keptOpen struct {
	kept *ptlrpc.Kept
	// create is, for an open that created its file, its create replay
	// with handle 0: the body the request is replayed with after the
	// close, until the create commits.
	create []byte
}

// keepOpen records the kept request of an open (req, answered r) until
// its CloseFile.
func (m *MDC) keepOpen(req *wire.OpenRequest, r *wire.InodeReply, kept *ptlrpc.Kept) {
	if kept == nil {
		return
	}
	o := keptOpen{kept: kept}
	if r.Created {
		o.create = wire.AppendReint(nil, wire.ReintOpen, createReplay(req, r, 0))
	}
	m.openMu.Lock()
	old := m.opens[openKey{r.FID, r.Handle}]
	m.opens[openKey{r.FID, r.Handle}] = o
	m.openMu.Unlock()
	old.kept.Drop() // a handle the MDT gave twice: the older open is gone
}

// CloseFile closes an open handle (MDS_CLOSE), telling the MDT the size
// and times this client knows (attr.Valid says which). The open is not
// replayed as an open any more, whatever the close's outcome: a client
// that gives up on a close does not own the handle any more either. An
// open that created its file is still replayed, as a create that opens
// nothing, until the MDT commits the create (ptlrpc.Kept.Release): an
// MDT that lost it recreates the file, with the objects this client may
// have written.
func (m *MDC) CloseFile(ctx context.Context, fid wire.FID, handle uint64, attr wire.Attr) error {
	err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSClose, Replayable: true,
		Encode: &wire.CloseRequest{FID: fid, Handle: handle, Attr: attr}}, "close "+fid.String(), nil)
	m.openMu.Lock()
	o := m.opens[openKey{fid, handle}]
	delete(m.opens, openKey{fid, handle})
	m.openMu.Unlock()
	if o.create != nil {
		o.kept.Release(o.create)
	} else {
		o.kept.Drop()
	}
	return err
}

// Setattr changes what attr.Valid names (REINT_SETATTR).
func (m *MDC) Setattr(ctx context.Context, fid wire.FID, attr wire.Attr) (*wire.InodeReply, error) {
	var r wire.InodeReply
	if err := m.reint(ctx, wire.ReintSetattr, &wire.SetattrRequest{FID: fid, Attr: attr}, "setattr "+fid.String(), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Link gives fid the new name parent/name (REINT_LINK).
func (m *MDC) Link(ctx context.Context, fid, parent wire.FID, name string) (_ *wire.InodeReply, err error) {
	done := m.naming(parent, name)
	defer func() { done(err) }()
	var r wire.InodeReply
	if err = m.reint(ctx, wire.ReintLink, &wire.LinkRequest{FID: fid, Parent: parent, Name: name}, "link "+name, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Unlink removes parent/name (REINT_UNLINK); dir makes it rmdir. child,
// if not zero, is the inode the name is known to bind to: this client's
// unused locks on it are given up with the request (early lock cancel)
// rather than called back by the MDT.
func (m *MDC) Unlink(ctx context.Context, parent wire.FID, name string, dir bool, child wire.FID) error {
	req := &wire.UnlinkRequest{Parent: parent, Name: name, Dir: dir}
	if m.locks != nil && !child.IsZero() {
		req.Cancels.Handles = m.locks.EarlyCancel(wire.LockDesc{Res: wire.ResIDOfFID(child), Type: wire.LockIBits,
			Mode: wire.LockEX, Policy: wire.Policy{Bits: wire.InodeLockLookup | wire.InodeLockUpdate | wire.InodeLockPerm}})
	}
	return m.reint(ctx, wire.ReintUnlink, req, "unlink "+name, nil)
}

// Rename is REINT_RENAME (flags: wire.RenameNoReplace, wire.RenameExchange).
func (m *MDC) Rename(ctx context.Context, req *wire.RenameRequest) (err error) {
	done := m.naming(req.DstParent, req.DstName)
	defer func() { done(err) }()
	return m.reint(ctx, wire.ReintRename, req, "rename "+req.SrcName, nil)
}

// Setxattr sets (or with wire.XattrRemove removes) one extended attribute
// (REINT_SETXATTR); the layout xattrs go through here too.
func (m *MDC) Setxattr(ctx context.Context, fid wire.FID, name string, value []byte, flags uint32) error {
	return m.reint(ctx, wire.ReintSetxattr, &wire.SetxattrRequest{FID: fid, Name: name, Value: value, Flags: flags},
		"setxattr "+name, nil)
}

// Getxattr returns one extended attribute's value (MDS_GETXATTR).
func (m *MDC) Getxattr(ctx context.Context, fid wire.FID, name string) ([]byte, error) {
	var r wire.GetxattrReply
	err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetxattr, ReplySize: wire.MaxXattrLen + 1024,
		Encode: &wire.GetxattrRequest{FID: fid, Name: name, Size: wire.MaxXattrLen}}, "getxattr "+name, &r)
	if err != nil {
		return nil, err
	}
	return append([]byte{}, r.Value...), nil
}

// Listxattr returns the names of an inode's extended attributes
// (MDS_GETXATTR with no name).
func (m *MDC) Listxattr(ctx context.Context, fid wire.FID) ([]string, error) {
	var r wire.GetxattrReply
	err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetxattr, ReplySize: wire.MaxXattrLen + 1024,
		Encode: &wire.GetxattrRequest{FID: fid, Size: wire.MaxXattrLen}}, "listxattr", &r)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range bytes.Split(r.Value, []byte{0}) {
		if len(n) > 0 {
			names = append(names, string(n))
		}
	}
	return names, nil
}

// Readpage lists up to count entries of dir after cookie (MDS_READPAGE),
// with their attributes when plus is set.
func (m *MDC) Readpage(ctx context.Context, dir wire.FID, cookie uint64, count int, plus bool) (*wire.ReadpageReply, error) {
	count = min(max(count, 1), wire.MaxDirents)
	var r wire.ReadpageReply
	err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSReadpage, ReplySize: readpageReplySize(count),
		Encode: &wire.ReadpageRequest{FID: dir, Cookie: cookie, Count: uint32(count), Plus: plus}},
		"readpage "+dir.String(), &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Statfs returns the MDT's usage (MDS_STATFS).
func (m *MDC) Statfs(ctx context.Context) (wire.StatFS, error) {
	var s wire.StatFS
	if err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSStatfs, Encode: &wire.Empty{}}, "statfs", &s); err != nil {
		return wire.StatFS{}, err
	}
	return s, nil
}

// Fid2path returns the linkNo'th path of fid relative to the root, and
// the number of the next link (MDS_GET_INFO).
func (m *MDC) Fid2path(ctx context.Context, fid wire.FID, linkNo uint32) (*wire.Fid2pathReply, error) {
	var r wire.Fid2pathReply
	err := m.call(ctx, &ptlrpc.Req{Opcode: wire.MDSGetInfo, ReplySize: wire.MaxPathLen + 1024,
		Encode: &wire.Fid2pathRequest{FID: fid, LinkNo: linkNo}}, fmt.Sprintf("fid2path %v", fid), &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}
