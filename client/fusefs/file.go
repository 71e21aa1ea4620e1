package fusefs

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"go.uber.org/zap"
)

// handle is one open file description: what open(2) or creat(2) returned,
// shared by dup'ed descriptors and forks, until the kernel's RELEASE.
type handle struct {
	n      *node
	f      File
	append bool
}

var (
	_ fs.FileReader    = (*handle)(nil)
	_ fs.FileWriter    = (*handle)(nil)
	_ fs.FileFlusher   = (*handle)(nil)
	_ fs.FileFsyncer   = (*handle)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
	_ fs.FileAllocater = (*handle)(nil)
)

// newHandle wraps an open backend file and registers it, so that Close
// can release it if the kernel never does. It returns the FOPEN_* flags
// for the kernel:
//
//   - FOPEN_KEEP_CACHE when the file says its cached pages are valid
//     (CacheKeeper: the client holds extent locks over all of it, and
//     drops the pages through the invalidator it was given when a lock
//     goes); otherwise the kernel drops the file's page cache at open, so
//     a reader sees what other clients wrote before it opened.
//   - FOPEN_DIRECT_IO for O_APPEND only: an append goes where the file
//     ends now (see Write), which may not be where the kernel's cached
//     size says, so it must bypass the page cache.
//
// The handle implements no PassthroughFd: the kernel never reads or
// writes a backing file itself, every READ and WRITE reaches Stria.
func (fsys *fileSystem) newHandle(n *node, f File, flags uint32) (*handle, uint32) {
	h := &handle{n: n, f: f, append: flags&syscall.O_APPEND != 0}
	fsys.mu.Lock()
	fsys.open[h] = struct{}{}
	fsys.mu.Unlock()
	var fuseFlags uint32
	if h.append {
		fuseFlags |= fuse.FOPEN_DIRECT_IO
	}
	if inv, ok := f.(Invalidatable); ok {
		inv.SetInvalidator(func(off, length int64) {
			if errno := n.NotifyContent(off, length); errno != 0 && errno != syscall.ENOENT {
				fsys.log.Debug("fusefs: page cache invalidation failed", zap.Stringer("fid", n.fid),
					zap.Error(errno))
			}
		})
	}
	if k, ok := f.(CacheKeeper); ok && !h.append && k.KeepCache() {
		fuseFlags |= fuse.FOPEN_KEEP_CACHE
	}
	return h, fuseFlags
}

// Invalidatable is a File whose backend drops the kernel's cached pages
// of it when they may have gone stale (a lock covering them was called
// back): the adapter gives it the inode's NotifyContent (length 0: to the
// end), which the backend calls from a goroutine of its own, never from
// inside a request of the file.
type Invalidatable interface {
	SetInvalidator(inval func(off, length int64))
}

// Appender is a File that appends atomically with respect to other
// clients (O_APPEND): it finds the end and writes there under one lock.
type Appender interface {
	Append(ctx context.Context, p []byte) (off int64, n int, err error)
}

// CacheKeeper is a File that can tell at open whether the kernel's cached
// pages of it are still valid (FOPEN_KEEP_CACHE).
type CacheKeeper interface {
	KeepCache() bool
}

// Read answers a READ of up to MaxWrite bytes; a short count is end of
// file.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	fsys := h.n.fsys
	ctx, release := fsys.opContext(ctx)
	defer release()
	n, err := h.f.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fsys.toErrno(err, "read", h.n.fid)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write writes a WRITE request of up to MaxWrite bytes at off, or, for a
// file opened O_APPEND, at the file's current size. go-fuse reuses data
// after Write returns.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	fsys := h.n.fsys
	ctx, release := fsys.opContext(ctx)
	defer release()
	if h.append {
		h.n.appendMu.Lock()
		defer h.n.appendMu.Unlock()
		if ap, ok := h.f.(Appender); ok {
			_, n, err := ap.Append(ctx, data)
			if err != nil {
				return 0, fsys.toErrno(err, "write", h.n.fid)
			}
			return uint32(n), 0
		}
		a, err := fsys.b.GetAttr(ctx, h.n.fid)
		if err != nil {
			return 0, fsys.toErrno(err, "write", h.n.fid)
		}
		off = int64(a.Size)
	}
	n, err := h.f.WriteAt(ctx, data, off)
	if err != nil {
		return 0, fsys.toErrno(err, "write", h.n.fid)
	}
	return uint32(n), 0
}

// Flush runs at every close(2); its error is close's.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	fsys := h.n.fsys
	ctx, release := fsys.opContext(ctx)
	defer release()
	return fsys.toErrno(h.f.Flush(ctx), "flush", h.n.fid)
}

// Fsync serves fsync(2) and fdatasync(2) (FUSE_FSYNC_FDATASYNC, bit 0).
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	fsys := h.n.fsys
	ctx, release := fsys.opContext(ctx)
	defer release()
	return fsys.toErrno(h.f.Fsync(ctx, flags&1 != 0), "fsync", h.n.fid)
}

// Allocate serves fallocate(2); a backend without it answers EOPNOTSUPP.
func (h *handle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	fsys := h.n.fsys
	ctx, release := fsys.opContext(ctx)
	defer release()
	err := h.f.Allocate(ctx, int64(off), int64(size), mode)
	return fsys.toErrno(err, "fallocate", h.n.fid)
}

// Release runs once, after the last descriptor of the open file is closed
// (the kernel ignores its answer).
func (h *handle) Release(ctx context.Context) syscall.Errno {
	fsys := h.n.fsys
	if !fsys.forget(h) {
		return 0
	}
	ctx, release := fsys.opContext(ctx)
	defer release()
	return fsys.toErrno(h.f.Release(ctx), "release", h.n.fid)
}

// forget unregisters h; false if it was already (by releaseAll).
func (fsys *fileSystem) forget(h *handle) bool {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	_, ok := fsys.open[h]
	delete(fsys.open, h)
	return ok
}

// releaseAll releases the files the kernel left open when the connection
// ended without RELEASEs (an aborted connection, a killed mount).
func (fsys *fileSystem) releaseAll(ctx context.Context) {
	fsys.mu.Lock()
	open := fsys.open
	fsys.open = map[*handle]struct{}{}
	fsys.mu.Unlock()
	for h := range open {
		if err := h.f.Release(ctx); err != nil {
			fsys.log.Warn("fusefs: release at unmount", zap.Stringer("fid", h.n.fid), zap.Error(err))
		}
	}
}
