package osd

import (
	"errors"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/wire"
)

// Direct writes. A write of whole aligned blocks — offset, length and the
// caller's buffer on directAlign boundaries, at least minDirect bytes —
// goes through a second descriptor of the object opened O_DIRECT: the
// device takes the data from the caller's buffer, with no copy into the
// page cache and no dirty pages to write back at the fsync that follows.
// Lustre's OSTs likewise write bulk pages straight to disk. The kernel
// keeps direct and buffered I/O of one file coherent (a direct write
// flushes and drops the cached pages of its range), so the rest of the
// store reads and writes through the page cache as before; durability is
// unchanged, SyncObject still fsyncs. A file system that refuses
// O_DIRECT, or a direct write, gets buffered writes from then on.
const (
	directAlign = 4096
	minDirect   = 64 << 10
)

// directOK reports whether a write of p at off can go direct.
func directOK(p []byte, off int64) bool {
	return len(p) >= minDirect && off%directAlign == 0 && len(p)%directAlign == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(p)))%directAlign == 0
}

// pwrite writes p at off of the object open as e: direct when it can.
func (d *Dir) pwrite(e *fdEntry, fid wire.FID, p []byte, off int64) (int, error) {
	if d.opts.BufferedWrites || d.noDirect.Load() || !directOK(p, off) {
		return pwriteFull(e.fd, fid, p, off)
	}
	dfd := d.directFD(e)
	if dfd < 0 {
		return pwriteFull(e.fd, fid, p, off)
	}
	n, err := pwriteFull(dfd, fid, p, off)
	if err == nil {
		d.directWrites.Add(1)
	}
	if err == nil || !errors.Is(err, unix.EINVAL) {
		return n, err
	}
	// The file system wants a larger alignment, or no direct I/O here.
	d.stopDirect(fid, err)
	m, err := pwriteFull(e.fd, fid, p[n:], off+int64(n))
	return n + m, err
}

// directFD returns e's O_DIRECT descriptor, opening it on first use; -1
// where the file system refuses O_DIRECT.
func (d *Dir) directFD(e *fdEntry) int {
	e.dmu.Lock()
	defer e.dmu.Unlock()
	if e.dfd != 0 {
		return e.dfd
	}
	name := objectName(e.fid)
	fd, err := unix.Openat(d.root, name, unix.O_RDWR|unix.O_CLOEXEC|unix.O_DIRECT|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) { // O_NOATIME on a file we do not own
		fd, err = unix.Openat(d.root, name, unix.O_RDWR|unix.O_CLOEXEC|unix.O_DIRECT, 0)
	}
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			d.stopDirect(e.fid, err)
		}
		e.dfd = -1
		return -1
	}
	e.dfd = fd
	return fd
}

// stopDirect turns direct writes off for the store.
func (d *Dir) stopDirect(fid wire.FID, err error) {
	if !d.noDirect.Swap(true) {
		d.log.Info("direct writes refused by the file system; writing through the page cache",
			zap.Stringer("fid", fid), zap.Error(err))
	}
}
