package osd

import (
	"errors"
	"io"
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
//
// Direct reads. A read of whole aligned blocks of at least minDirectRead
// bytes goes through the same descriptor: the device puts the data in
// the caller's buffer, with no copy out of the page cache (on a 2-core
// machine that copy was a quarter of the CPU of a streaming read) and no
// page cache filled with data the client caches itself under its locks.
// Lustre's OSTs likewise read bulk pages straight from disk, and keep a
// read cache only for small files. A direct read flushes the dirty pages
// of its range first, so it sees every write before it. Smaller or
// unaligned reads go through the page cache. Options.BufferedReads keeps
// every read there.
const (
	directAlign   = 4096
	minDirect     = 64 << 10
	minDirectRead = 256 << 10
)

// AlignedBuf returns a slice of length n and capacity c (c >= n) that
// starts on a directAlign boundary, as direct I/O wants its buffers: Go's
// allocator does not promise that alignment, even for large slices.
func AlignedBuf(n, c int) []byte {
	b := make([]byte, c+directAlign)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directAlign)
	if off != 0 {
		off = directAlign - off
	}
	return b[off : off+n : off+c]
}

// pread reads p at off of the object open as e, direct when it can, up
// to the end of the object (io.EOF).
func (d *Dir) pread(e *fdEntry, fid wire.FID, p []byte, off int64) (int, error) {
	n := 0
	if !d.opts.BufferedReads && !d.noDirect.Load() && len(p) >= minDirectRead && directOK(p, off) {
		if dfd := d.directFD(e); dfd >= 0 {
			m, err := preadOnce(dfd, p, off)
			switch {
			case err == nil:
				d.directReads.Add(1)
				n = m
				if m == 0 {
					return 0, io.EOF
				}
			case errors.Is(err, unix.EINVAL):
				d.stopDirect(fid, err) // and read it all buffered below
			default:
				return 0, pathErr("read", fid, err)
			}
		}
	}
	// The rest buffered: what a direct read left (the end of the object,
	// where the next read finds nothing), or all of it.
	for n < len(p) {
		m, err := preadOnce(e.fd, p[n:], off+int64(n))
		if err != nil {
			return n, pathErr("read", fid, err)
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// preadOnce is one pread(2), retried on EINTR.
func preadOnce(fd int, p []byte, off int64) (int, error) {
	for {
		m, err := unix.Pread(fd, p, off)
		if err != unix.EINTR {
			return m, err
		}
	}
}

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

// stopDirect turns direct I/O off for the store.
func (d *Dir) stopDirect(fid wire.FID, err error) {
	if !d.noDirect.Swap(true) {
		d.log.Info("direct I/O refused by the file system; reading and writing through the page cache",
			zap.Stringer("fid", fid), zap.Error(err))
	}
}
