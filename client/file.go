package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/lov"
	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// File is an open regular file, as client/fusefs.File (whose methods it
// has, with the same contract): fusefs cannot be imported from here, so
// fusefs.Backend's Create and Open need fusefs.File to be an alias of this
// type for *FS to implement Backend.
type File interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	WriteAt(ctx context.Context, p []byte, off int64) (int, error)
	Flush(ctx context.Context) error
	Fsync(ctx context.Context, datasync bool) error
	Allocate(ctx context.Context, off, length int64, mode uint32) error
	Release(ctx context.Context) error
}

// file is an open regular file: an MDT open handle and the shared inode.
// It implements fusefs.File.
type file struct {
	fs     *FS
	in     *inode
	handle uint64
	flags  uint32

	mu       sync.Mutex // guards the fields below
	errSeen  uint64     // errseq cursor into the cache's write errors
	released bool
}

// Create creates and opens a regular file: REINT_OPEN with O_CREAT, the
// given flags and mode; the MDT instantiates its layout (inherited from the
// directory) and answers with it and an open handle. With O_TRUNC, an
// existing file opened for writing is truncated.
func (fs *FS) Create(ctx context.Context, parent wire.FID, name string, flags, mode uint32) (File, wire.FID, wire.Attr, error) {
	fs.stats.count(opCreate)
	ctx, m, err := fs.mdcFor(ctx, parent)
	if err != nil {
		return nil, wire.FID{}, wire.Attr{}, err
	}
	r, err := m.Open(ctx, &wire.OpenRequest{Parent: parent, Name: name, Flags: flags | syscall.O_CREAT,
		Mode: syscall.S_IFREG | mode&07777})
	if err != nil {
		return nil, wire.FID{}, wire.Attr{}, err
	}
	f, err := fs.newFile(ctx, r, flags)
	if err != nil {
		return nil, wire.FID{}, wire.Attr{}, err
	}
	if !r.Created && flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if err := fs.setSize(ctx, m, r.FID, 0); err != nil {
			_ = f.release(ctx)
			return nil, wire.FID{}, wire.Attr{}, err
		}
	}
	a := r.Attr
	if r.Created {
		// Fresh objects hold nothing: no glimpse needed.
		a.Size, a.Blocks = 0, 0
		a.Valid |= wire.AttrSize | wire.AttrBlocks
	} else if a, err = fs.inodeAttr(ctx, r); err != nil {
		_ = f.release(ctx)
		return nil, wire.FID{}, wire.Attr{}, err
	}
	return f, r.FID, a, nil
}

// Open opens a regular file by FID (REINT_OPEN); the MDT checks the access
// mode against the caller's credentials.
func (fs *FS) Open(ctx context.Context, fid wire.FID, flags uint32) (File, error) {
	fs.stats.count(opOpen)
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return nil, err
	}
	r, err := m.Open(ctx, &wire.OpenRequest{FID: fid, Flags: flags &^ (syscall.O_CREAT | syscall.O_EXCL)})
	if err != nil {
		return nil, err
	}
	f, err := fs.newFile(ctx, r, flags)
	if err != nil {
		return nil, err
	}
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if err := fs.setSize(ctx, m, r.FID, 0); err != nil {
			_ = f.release(ctx)
			return nil, err
		}
	}
	return f, nil
}

// newFile makes the handle of an MDT open reply; if that fails the MDT
// handle is closed again.
func (fs *FS) newFile(ctx context.Context, r *wire.InodeReply, flags uint32) (*file, error) {
	m, err := fs.lmv.Route(r.FID)
	if err != nil {
		return nil, err
	}
	var lay *layout.Layout
	if r.Attr.Mode&syscall.S_IFMT == syscall.S_IFREG {
		lay, err = decodeLayout(r.Layout)
	}
	if err == nil {
		// The kernel may keep pages across this open (KeepCache): none
		// of a lock cancelled before it may be left.
		err = fs.waitInvalidatedFile(ctx, r.FID)
	}
	var in *inode
	if err == nil {
		in, err = fs.openInode(ctx, r.FID, lay)
	}
	if err != nil {
		if cerr := m.CloseFile(ctx, r.FID, r.Handle, wire.Attr{}); cerr != nil {
			fs.log.Warn("close after a failed open", zap.Stringer("fid", r.FID), zap.Error(cerr))
		}
		return nil, err
	}
	f := &file{fs: fs, in: in, handle: r.Handle, flags: flags, errSeen: in.cache.ErrSeq()}
	fs.mu.Lock()
	fs.files[f] = struct{}{}
	fs.mu.Unlock()
	return f, nil
}

// ReadAt reads len(p) bytes at off: what this client cached of the range
// is written back first, then the range is read from the objects straight
// into p, in parallel over the stripes. A short count is end of file.
func (f *file) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	fs := f.fs
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if f.flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return 0, syscall.EBADF
	}
	ctx, err := fs.begin(ctx)
	if err != nil {
		return 0, err
	}
	in := f.in
	in.ioMu.RLock()
	defer in.ioMu.RUnlock()
	if len(p) == 0 {
		return 0, nil
	}
	lay := in.layout()
	short := true
	if lay != nil {
		short, err = readMirrors(ctx, fs, in, lay, p, uint64(off))
		if err != nil {
			return 0, err
		}
	} else {
		clear(p)
	}
	n := len(p)
	if short {
		sz, err := in.size(ctx, lay)
		if err != nil {
			return 0, err
		}
		if uint64(off) >= sz.Size {
			n = 0
		} else {
			n = int(min(uint64(len(p)), sz.Size-uint64(off)))
		}
	}
	fs.stats.read.Add(uint64(n))
	return n, nil
}

// readMirrors reads from the first mirror that can serve the range, and
// moves on to the next one when an OST fails (FLR).
func readMirrors(ctx context.Context, fs *FS, in *inode, lay *layout.Layout, p []byte, off uint64) (bool, error) {
	fid := in.fid
	ms := lay.ReadMirrors(off, fid.Ino())
	if len(ms) == 0 {
		ms = []uint16{0}
		if all := lay.Mirrors(); len(all) > 0 {
			ms = all[:1]
		}
	}
	var err error
	for _, m := range ms {
		var short bool
		short, err = readLocked(ctx, fs, in, lay, m, p, off)
		if err == nil || ctx.Err() != nil {
			return short, err
		}
		fs.log.Warn("read failed; trying another mirror", zap.Stringer("fid", fid), zap.Uint16("mirror", m), zap.Error(err))
	}
	return false, err
}

// WriteAt copies p into the write-back cache: data goes out in RPCs of
// the OST's RPC size as they fill, at most MaxRPCsInFlight per OST; the
// writer waits when an OST's cache share is full, and a write the OST's
// grant does not cover is written through. Errors of data written back
// later come from Flush, Fsync or Release.
func (f *file) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	fs := f.fs
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if f.flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return 0, syscall.EBADF
	}
	ctx, err := fs.begin(ctx)
	if err != nil {
		return 0, err
	}
	if uint64(off)+uint64(len(p)) < uint64(off) {
		return 0, syscall.EFBIG
	}
	in := f.in
	in.ioMu.RLock()
	defer in.ioMu.RUnlock()
	if lay := in.layout(); lay != nil {
		m, _ := lay.WriteMirror(layout.Extent{Start: uint64(off), End: uint64(off) + uint64(len(p))})
		held, err := fs.lockIO(ctx, in.fid, lay, m, uint64(off), uint64(len(p)), wire.LockPW)
		if err != nil {
			return 0, err
		}
		defer held.release() // the data stays cached under the lock until it is called back
	}
	t := now()
	n, err := in.cache.Write(ctx, p, uint64(off), t)
	if n > 0 {
		in.wrote(t)
		fs.stats.write.Add(uint64(n))
	}
	if err != nil && errors.Is(err, lov.ErrNoLayout) {
		err = fmt.Errorf("client: write to %v, a file without objects: %w", in.fid, err)
	}
	return n, err
}

// Flush writes back everything this client caches of the file and returns
// the first write-back error this handle has not been told of.
func (f *file) Flush(ctx context.Context) error {
	f.fs.stats.count(opFlush)
	if err := f.in.cache.Flush(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.in.cache.Err(&f.errSeen)
}

// Fsync is Flush, then a sync of the MDT if it answered this client
// something it has not committed (the file's create, say): the OSTs make
// every write durable before they answer it (the ost package fsyncs each
// object before its reply).
func (f *file) Fsync(ctx context.Context, datasync bool) error {
	f.fs.stats.count(opFsync)
	if err := f.Flush(ctx); err != nil {
		return err
	}
	return f.fs.syncMDT(ctx, f.in.fid)
}

// Allocate is fallocate(2) (Lustre's OST_FALLOCATE): mode 0 preallocates
// [off, off+length) and grows the file to its end, KEEP_SIZE preallocates
// without growing it, PUNCH_HOLE|KEEP_SIZE deallocates the range (it
// reads as zeros after). Other modes are EOPNOTSUPP, which makes glibc's
// posix_fallocate fall back to writing zeros. Under PW locks on the
// range, as a write, the range is split over the stripes and each object
// gets one RPC; the OSTs make it durable before they answer and refuse a
// preallocation that does not fit with ENOSPC. A punch writes back what
// this client caches of the range first, so the hole comes after it. The
// new size (mode 0) is the objects' from then on, as after a write back.
func (f *file) Allocate(ctx context.Context, off, length int64, mode uint32) error {
	fs := f.fs
	switch {
	case off < 0 || length <= 0:
		return syscall.EINVAL
	case f.flags&syscall.O_ACCMODE == syscall.O_RDONLY:
		return syscall.EBADF
	case mode != 0 && mode != wire.FallocKeepSize && mode != wire.FallocPunchHole|wire.FallocKeepSize:
		return syscall.EOPNOTSUPP
	case off > math.MaxInt64-length:
		return syscall.EFBIG
	}
	ctx, err := fs.begin(ctx)
	if err != nil {
		return err
	}
	in := f.in
	in.ioMu.RLock()
	defer in.ioMu.RUnlock()
	lay := in.layout()
	if lay == nil {
		return fmt.Errorf("client: fallocate of %v, a file without objects: %w (%w)", in.fid, lov.ErrNoLayout, syscall.EIO)
	}
	start, n := uint64(off), uint64(length)
	m, _ := lay.WriteMirror(layout.Extent{Start: start, End: start + n})
	held, err := fs.lockIO(ctx, in.fid, lay, m, start, n, wire.LockPW)
	if err != nil {
		return err
	}
	defer held.release()
	if mode&wire.FallocPunchHole != 0 {
		if err := in.cache.FlushRange(ctx, start, n); err != nil {
			return err
		}
	}
	if err := lov.Allocate(ctx, fs, lay, m, start, n, mode); err != nil {
		return err
	}
	if mode != wire.FallocKeepSize {
		in.wrote(now()) // the size or the data changed: close tells the MDT
	}
	return nil
}

// setObjectMtime gives the objects of regular file fid (layout raw) the
// mtime a utimes set on the MDT: the file's mtime is the latest of the
// MDT's and its objects' (which writes set, to the time of the write), so
// an object left newer would hide it. What this client caches of the file
// is written back first (its data carries older times), and the time of
// its last write becomes the one set, so that close, which tells the MDT
// that time, does not bring the older write's back.
func (fs *FS) setObjectMtime(ctx context.Context, fid wire.FID, raw []byte, mtime int64) error {
	lay, err := decodeLayout(raw)
	if err != nil || lay == nil {
		return err
	}
	if in := fs.openedInode(fid); in != nil {
		in.ioMu.Lock()
		defer in.ioMu.Unlock()
		if err := in.cache.Flush(ctx); err != nil {
			return err
		}
		in.mu.Lock()
		in.mtime = mtime
		in.mu.Unlock()
		if l := in.layout(); l != nil && l.Gen > lay.Gen {
			lay = l
		}
	}
	return lov.SetMtime(ctx, fs, lay, mtime)
}

// Release writes back, closes the MDT handle telling the MDT the size and
// mtime this client knows (when it wrote), and drops the inode with its
// last handle. It returns an unreported write-back error.
func (f *file) Release(ctx context.Context) error {
	f.fs.stats.count(opRelease)
	return f.release(ctx)
}

func (f *file) release(ctx context.Context) error {
	f.mu.Lock()
	if f.released {
		f.mu.Unlock()
		return nil
	}
	f.released = true
	f.mu.Unlock()
	fs, in := f.fs, f.in
	ctx = fs.rpcCtx(ctx)
	err := in.cache.Flush(ctx)
	if err == nil {
		f.mu.Lock()
		err = in.cache.Err(&f.errSeen)
		f.mu.Unlock()
	}
	var attr wire.Attr
	in.mu.Lock()
	written, mtime := in.written, in.mtime
	in.mu.Unlock()
	if written && err == nil {
		if sz, serr := in.size(ctx, in.layout()); serr == nil {
			attr = wire.Attr{Valid: wire.AttrSize | wire.AttrBlocks | wire.AttrMtime, Size: sz.Size,
				Blocks: sz.Blocks, Mtime: mtime}
		}
	}
	if m, rerr := fs.lmv.Route(in.fid); rerr == nil && (written || err != nil || !fs.parkClose(m, in.fid, f.handle)) {
		if cerr := m.CloseFile(ctx, in.fid, f.handle, attr); cerr != nil {
			fs.log.Warn("close failed", zap.Stringer("fid", in.fid), zap.Error(cerr))
			if err == nil {
				err = cerr
			}
		}
	}
	fs.mu.Lock()
	delete(fs.files, f)
	fs.mu.Unlock()
	if cerr := fs.closeInode(ctx, in); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Append writes p at the end of the file, atomically with respect to the
// appends and writes of other clients: under PW locks on the whole of
// every object, it learns the size (the OSTs glimpse no one else: this
// client holds every write lock) and writes there. It returns the offset
// written at.
func (f *file) Append(ctx context.Context, p []byte) (int64, int, error) {
	fs := f.fs
	if f.flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return 0, 0, syscall.EBADF
	}
	ctx, err := fs.begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	in := f.in
	in.ioMu.RLock()
	defer in.ioMu.RUnlock()
	lay := in.layout()
	if lay == nil {
		return 0, 0, fmt.Errorf("client: append to %v, a file without objects: %w (%w)", in.fid, lov.ErrNoLayout, syscall.EIO)
	}
	m, _ := lay.WriteMirror(layout.Extent{Start: 0, End: 1})
	held, err := fs.lockIO(ctx, in.fid, lay, m, 0, wire.LockEOF, wire.LockPW)
	if err != nil {
		return 0, 0, err
	}
	defer held.release()
	sz, err := in.size(ctx, lay)
	if err != nil {
		return 0, 0, err
	}
	if sz.Size+uint64(len(p)) < sz.Size {
		return 0, 0, syscall.EFBIG
	}
	t := now()
	n, err := in.cache.Write(ctx, p, sz.Size, t)
	if n > 0 {
		in.wrote(t)
		fs.stats.write.Add(uint64(n))
	}
	return int64(sz.Size), n, err
}

// readLocked reads [off, off+len(p)) of mirror m under PR locks on the
// objects it touches, after writing back what this client has cached
// there.
func readLocked(ctx context.Context, fs *FS, in *inode, lay *layout.Layout, m uint16, p []byte, off uint64) (bool, error) {
	held, err := fs.lockIO(ctx, in.fid, lay, m, off, uint64(len(p)), wire.LockPR)
	if err != nil {
		return false, err
	}
	defer held.release()
	if err := in.cache.FlushRange(ctx, off, uint64(len(p))); err != nil {
		return false, err
	}
	return lov.Read(ctx, fs, lay, m, p, off)
}

// SetInvalidator registers how the kernel's cached pages of the file are
// dropped (the FUSE adapter's NotifyContent of the inode; length 0: to
// the end of the file); the FS calls it when a lock covering them goes.
func (f *file) SetInvalidator(inval func(off, length int64)) {
	f.fs.setInvalidator(f.in.fid, inval)
}

// KeepCache reports whether the kernel may keep the file's cached pages
// at this open (FOPEN_KEEP_CACHE): this client holds a PR (or PW) lock on
// the whole of every object of the file, and the pages are dropped when
// it goes. Otherwise the kernel drops them at open, as it always did.
func (f *file) KeepCache() bool {
	fs := f.fs
	return fs.hasInvalidator(f.in.fid) && fs.covered(f.in.layout(), wire.LockPR)
}

var _ File = (*file)(nil)
