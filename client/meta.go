package client

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/stria-fs/stria/client/lov"
	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/wire"
)

// mdcFor begins an operation on the MDT that owns fid.
func (fs *FS) mdcFor(ctx context.Context, fid wire.FID) (context.Context, *mdc.MDC, error) {
	ctx, err := fs.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, err := fs.lmv.Route(fid)
	if err != nil {
		return nil, nil, err
	}
	return ctx, m, nil
}

// inodeAttr turns an MDT inode reply into full attributes.
func (fs *FS) inodeAttr(ctx context.Context, r *wire.InodeReply) (wire.Attr, error) {
	a := r.Attr
	if err := fs.fileAttr(ctx, r.FID, &a, r.Layout); err != nil {
		return wire.Attr{}, err
	}
	return a, nil
}

// Lookup looks name up in parent (MDS_GETATTR_NAME, or the cache under
// inode-bits locks: mdcache.go); a missing name is an error matching
// syscall.ENOENT.
func (fs *FS) Lookup(ctx context.Context, parent wire.FID, name string) (wire.FID, wire.Attr, error) {
	fs.stats.count(opLookup)
	ctx, m, err := fs.mdcFor(ctx, parent)
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	if fs.knownAbsent(ctx, m, parent, name) {
		fs.stats.count(opLookupLocal)
		return wire.FID{}, wire.Attr{}, fmt.Errorf("client: lookup %q in %v: %w", name, parent, syscall.ENOENT)
	}
	r, ok := fs.cachedLookup(ctx, m, parent, name)
	if ok && r.FID.IsZero() {
		return wire.FID{}, wire.Attr{}, fmt.Errorf("client: lookup %q in %v: %w", name, parent, syscall.ENOENT)
	}
	if !ok {
		t0 := time.Now()
		if r, err = m.GetattrName(ctx, parent, name); err != nil {
			if b, ok := fs.md.lookup(dentry{parent, name}); ok && b.fid.IsZero() || fs.md.dirs.locked(parent) {
				fs.learnParent(ctx, m, parent) // the intent cached the name's absence
			}
			return wire.FID{}, wire.Attr{}, err
		}
		if r.Lock == nil {
			fs.learnName(ctx, m, parent, name, r, t0)
		} else {
			fs.learnParent(ctx, m, parent) // the intent cached the name
		}
	}
	a, err := fs.inodeAttr(ctx, r)
	return r.FID, a, err
}

// GetAttr returns fid's attributes: the MDT's (cached under an inode-bits
// lock for a non-directory: mdcache.go), with a regular file's size,
// blocks and times from its objects and this client's cache.
func (fs *FS) GetAttr(ctx context.Context, fid wire.FID) (wire.Attr, error) {
	fs.stats.count(opGetattr)
	defer fs.answeringAttr(fid)() // datalock.go
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return wire.Attr{}, err
	}
	r, err := fs.getattr(ctx, m, fid)
	if err != nil {
		return wire.Attr{}, err
	}
	return fs.inodeAttr(ctx, r)
}

// SetAttr changes what attr.Valid names. The MDT applies the change
// first (it checks the caller's permissions and keeps the size as its lazy
// size); a new size is then applied to the objects: this client's cached
// data of the file is written back, every object is punched to its share
// of the new size, and the object holding the new last byte is extended to
// it when the file grows. An mtime given (utimes) goes to the objects too
// (setObjectMtime), as Lustre's setattr does.
func (fs *FS) SetAttr(ctx context.Context, fid wire.FID, attr wire.Attr) (wire.Attr, error) {
	fs.stats.count(opSetattr)
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return wire.Attr{}, err
	}
	if attr.Valid&wire.AttrSize != 0 {
		r, err := m.Getattr(ctx, fid)
		if err != nil {
			return wire.Attr{}, err
		}
		switch r.Attr.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
		case syscall.S_IFDIR:
			return wire.Attr{}, syscall.EISDIR
		default:
			return wire.Attr{}, syscall.EINVAL
		}
		if attr.Valid&(wire.AttrMtime|wire.AttrMtimeNow) == 0 {
			attr.Valid |= wire.AttrMtimeNow
		}
	}
	r, err := m.Setattr(ctx, fid, attr)
	if err != nil {
		return wire.Attr{}, err
	}
	if attr.Valid&wire.AttrSize != 0 {
		if err := fs.truncate(ctx, fid, r.Layout, attr.Size); err != nil {
			return wire.Attr{}, err
		}
	}
	if attr.Valid&wire.AttrMtime != 0 && attr.Valid&wire.AttrMtimeNow == 0 && r.Attr.Mode&syscall.S_IFMT == syscall.S_IFREG {
		if err := fs.setObjectMtime(ctx, fid, r.Layout, attr.Mtime); err != nil {
			return wire.Attr{}, err
		}
	}
	return fs.inodeAttr(ctx, r)
}

// setSize truncates a regular file: on the MDT, then on its objects.
func (fs *FS) setSize(ctx context.Context, m *mdc.MDC, fid wire.FID, size uint64) error {
	r, err := m.Setattr(ctx, fid, wire.Attr{Valid: wire.AttrSize | wire.AttrMtimeNow, Size: size})
	if err != nil {
		return err
	}
	return fs.truncate(ctx, fid, r.Layout, size)
}

// truncate sets a regular file's size on its objects.
func (fs *FS) truncate(ctx context.Context, fid wire.FID, raw []byte, size uint64) error {
	lay, err := decodeLayout(raw)
	if err != nil {
		return err
	}
	in := fs.openedInode(fid)
	if in != nil {
		in.ioMu.Lock()
		defer in.ioMu.Unlock()
		if err := in.cache.Flush(ctx); err != nil {
			return err
		}
		if l := in.layout(); l != nil && (lay == nil || l.Gen > lay.Gen) {
			lay = l
		}
	}
	if lay == nil {
		if size > 0 {
			return syscall.EFBIG // no object can hold the bytes
		}
		return nil
	}
	sz, err := lov.Glimpse(ctx, fs, lay)
	if err != nil {
		return err
	}
	if err := lov.Truncate(ctx, fs, lay, size, sz.Objects); err != nil {
		return err
	}
	if in != nil {
		in.cache.Truncated(size)
	}
	return nil
}

// create sends REINT_CREATE and returns the new inode.
func (fs *FS) create(ctx context.Context, req *wire.CreateRequest) (wire.FID, wire.Attr, error) {
	ctx, m, err := fs.mdcFor(ctx, req.Parent)
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	mkdir := req.Mode&syscall.S_IFMT == syscall.S_IFDIR
	if mkdir {
		fs.md.dirs.mkdirStart() // dirnames.go
	}
	r, err := m.Create(ctx, req)
	if mkdir {
		var made wire.FID
		if err == nil {
			made = r.FID
		}
		fs.md.dirs.mkdirDone(made)
	}
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	a, err := fs.inodeAttr(ctx, r)
	return r.FID, a, err
}

// Mkdir makes a directory (REINT_CREATE; the MDT picks its MDT).
func (fs *FS) Mkdir(ctx context.Context, parent wire.FID, name string, mode uint32) (wire.FID, wire.Attr, error) {
	fs.stats.count(opMkdir)
	return fs.create(ctx, &wire.CreateRequest{Parent: parent, Name: name,
		Mode: syscall.S_IFDIR | mode&07777, MDTIndex: -1})
}

// Mknod makes a FIFO, socket, device node, or a regular file without
// objects (which a setxattr of lustre.lov then gives a layout).
func (fs *FS) Mknod(ctx context.Context, parent wire.FID, name string, mode, rdev uint32) (wire.FID, wire.Attr, error) {
	fs.stats.count(opMknod)
	if mode&syscall.S_IFMT == 0 {
		mode |= syscall.S_IFREG
	}
	return fs.create(ctx, &wire.CreateRequest{Parent: parent, Name: name, Mode: mode, Rdev: rdev, MDTIndex: -1})
}

// Symlink makes a symbolic link to target.
func (fs *FS) Symlink(ctx context.Context, parent wire.FID, name, target string) (wire.FID, wire.Attr, error) {
	fs.stats.count(opSymlink)
	if len(target) > wire.MaxPathLen {
		return wire.FID{}, wire.Attr{}, syscall.ENAMETOOLONG
	}
	return fs.create(ctx, &wire.CreateRequest{Parent: parent, Name: name, Mode: syscall.S_IFLNK | 0o777,
		Target: target, MDTIndex: -1})
}

// Readlink returns a symbolic link's target: the MDT answers MDS_GETATTR
// of a symlink with its target in InodeReply.Layout.
func (fs *FS) Readlink(ctx context.Context, fid wire.FID) (string, error) {
	fs.stats.count(opReadlink)
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return "", err
	}
	r, err := m.Getattr(ctx, fid)
	switch {
	case err != nil:
		return "", err
	case r.Attr.Mode&syscall.S_IFMT != syscall.S_IFLNK:
		return "", syscall.EINVAL
	case len(r.Layout) == 0:
		return "", fmt.Errorf("client: the MDT sent no target for symlink %v (%w)", fid, syscall.EIO)
	}
	return string(r.Layout), nil
}

// Link gives fid another name, parent/name.
func (fs *FS) Link(ctx context.Context, fid, parent wire.FID, name string) (wire.Attr, error) {
	fs.stats.count(opLink)
	ctx, m, err := fs.mdcFor(ctx, parent)
	if err != nil {
		return wire.Attr{}, err
	}
	r, err := m.Link(ctx, fid, parent, name)
	if err != nil {
		return wire.Attr{}, err
	}
	return fs.inodeAttr(ctx, r)
}

// Unlink removes a name that is not a directory.
func (fs *FS) Unlink(ctx context.Context, parent wire.FID, name string) error {
	fs.stats.count(opUnlink)
	ctx, m, err := fs.mdcFor(ctx, parent)
	if err != nil {
		return err
	}
	return m.Unlink(ctx, parent, name, false, fs.md.boundFID(parent, name))
}

// Rmdir removes an empty directory.
func (fs *FS) Rmdir(ctx context.Context, parent wire.FID, name string) error {
	fs.stats.count(opRmdir)
	ctx, m, err := fs.mdcFor(ctx, parent)
	if err != nil {
		return err
	}
	return m.Unlink(ctx, parent, name, true, fs.md.boundFID(parent, name))
}

// Rename renames srcParent/srcName to dstParent/dstName; flags
// (wire.RenameNoReplace, wire.RenameExchange) go to the MDT as they are.
func (fs *FS) Rename(ctx context.Context, srcParent wire.FID, srcName string, dstParent wire.FID, dstName string, flags uint32) error {
	fs.stats.count(opRename)
	ctx, m, err := fs.mdcFor(ctx, srcParent)
	if err != nil {
		return err
	}
	return m.Rename(ctx, &wire.RenameRequest{SrcParent: srcParent, SrcName: srcName, DstParent: dstParent,
		DstName: dstName, Flags: flags})
}

// ReadDir lists dir after cookie (MDS_READPAGE, Config.ReaddirCount
// entries at a time), without "." and "..". With plus each entry has its
// attributes; a regular file's size and blocks come from its objects, as
// GetAttr's.
func (fs *FS) ReadDir(ctx context.Context, dir wire.FID, cookie uint64, plus bool) ([]wire.Dirent, bool, error) {
	fs.stats.count(opReaddir)
	ctx, m, err := fs.mdcFor(ctx, dir)
	if err != nil {
		return nil, false, err
	}
	for {
		r, err := m.Readpage(ctx, dir, cookie, fs.cfg.ReaddirCount, plus)
		if err != nil {
			return nil, false, err
		}
		ents := r.Entries[:0]
		for _, e := range r.Entries {
			cookie = max(cookie, e.Cookie)
			if e.Name != "." && e.Name != ".." {
				ents = append(ents, e)
			}
		}
		if len(ents) == 0 && !r.End && len(r.Entries) > 0 {
			continue // only "." and ".." came: ask for what follows
		}
		if plus {
			fs.fileAttrs(ctx, ents)
		}
		return ents, r.End, nil
	}
}

// readdirGlimpses bounds the regular files of one listing whose attributes
// are completed at once.
const readdirGlimpses = 16

// fileAttrs completes the attributes of the regular files among ents
// (MDS_GETATTR for the layout, then a glimpse), a few at a time. An entry
// that fails (unlinked meanwhile) keeps the MDT's attributes.
func (fs *FS) fileAttrs(ctx context.Context, ents []wire.Dirent) {
	sem := make(chan struct{}, readdirGlimpses)
	var wg sync.WaitGroup
	for i := range ents {
		e := &ents[i]
		if e.Type&syscall.S_IFMT != syscall.S_IFREG {
			continue
		}
		m, err := fs.lmv.Route(e.FID)
		if err != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := m.Getattr(ctx, e.FID)
			if err != nil {
				return
			}
			if a, err := fs.inodeAttr(ctx, r); err == nil {
				e.Attr = a
			}
		}()
	}
	wg.Wait()
}

// SyncMeta is fsync(2) of directory dir (Lustre's md_fsync): the MDT of
// dir commits what it answered this client before committing.
func (fs *FS) SyncMeta(ctx context.Context, dir wire.FID) error {
	fs.stats.count(opFsync)
	ctx, err := fs.begin(ctx)
	if err != nil {
		return err
	}
	return fs.syncMDT(ctx, dir)
}

// syncMDT has the MDT of fid commit what it answered this client and has
// not committed (mdc.Sync: nothing to send when all is committed).
func (fs *FS) syncMDT(ctx context.Context, fid wire.FID) error {
	m, err := fs.lmv.Route(fid)
	if err != nil {
		return err
	}
	return m.Sync(fs.rpcCtx(ctx), fid)
}

// StatFS sums the OSTs' space and the MDTs' inodes (Lustre's rule): free
// inodes are bounded by the objects the OSTs can still create. A target
// that does not answer within Config.StatFSTimeout is left out (lazy
// statfs).
func (fs *FS) StatFS(ctx context.Context) (wire.StatFS, error) {
	fs.stats.count(opStatfs)
	ctx, err := fs.begin(ctx)
	if err != nil {
		return wire.StatFS{}, err
	}
	ts := fs.statfsAll(ctx)
	const bsize = 4096
	out := wire.StatFS{BSize: bsize, NameLen: wire.MaxFileNameLen}
	var mdts, osts int
	var ostFFree uint64
	for _, t := range ts {
		if !t.Active {
			continue
		}
		s := t.StatFS
		if t.Kind == "MDT" {
			mdts++
			out.Files += s.Files
			out.FFree += s.FFree
			continue
		}
		osts++
		bs := uint64(max(s.BSize, 1))
		out.Blocks += s.Blocks * bs / bsize
		out.BFree += s.BFree * bs / bsize
		out.BAvail += s.BAvail * bs / bsize
		ostFFree += s.FFree
	}
	if mdts == 0 {
		return wire.StatFS{}, syscall.EIO
	}
	if osts > 0 {
		out.FFree = min(out.FFree, ostFFree)
	}
	return out, nil
}

// now is the client's clock, in ns since the epoch.
func now() int64 { return time.Now().UnixNano() }

// registerLDLM adds a client lock namespace's parameters,
// ldlm.namespaces.<name>.{lock_count,lock_unused_count,resource_count,
// lru_size,lru_max_age,early_lock_cancel}; nil registers nothing.
func (fs *FS) registerLDLM(c *ldlm.Client) {
	if c == nil {
		return
	}
	for _, p := range c.Params() {
		fs.node.Params.Add("ldlm.namespaces."+c.Name()+"."+p.Name, obd.Param{Get: p.Get, Set: p.Set})
	}
}

// unregisterLDLM removes what registerLDLM added.
func (fs *FS) unregisterLDLM(c *ldlm.Client) {
	if c != nil {
		fs.node.Params.Remove("ldlm.namespaces." + c.Name())
	}
}

// Flock runs one flock(2)/fcntl(2) lock request on fid (ldlm.Client.Flock
// on the MDT's FLOCK resource of fid): FlockSet fails with an error
// matching EAGAIN on a conflict, FlockWait waits until granted or ctx ends
// (then an error matching EINTR, ldlm.ErrInterrupted), FlockTest returns
// the conflicting lock (mode NL: none). Owners are the caller's lock
// owner cookies; the MDT scopes them to this client.
func (fs *FS) Flock(ctx context.Context, fid wire.FID, cmd ldlm.FlockCmd, fl ldlm.Flock) (ldlm.Flock, error) {
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return ldlm.Flock{}, err
	}
	got, err := m.Flock(ctx, fid, cmd, fl)
	if err == nil && cmd != ldlm.FlockTest && fl.Mode != wire.LockNL {
		err = fs.waitInvalidatedFile(ctx, fid)
	}
	return got, err
}
