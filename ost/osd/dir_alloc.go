package osd

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/stria-fs/stria/wire"
	"golang.org/x/sys/unix"
)

// Allocate implements Store: fallocate(2) of the object file, mode 0 or
// FALLOC_FL_KEEP_SIZE. With a capacity cap the unallocated part of the
// range is reserved first, as for a write.
func (d *Dir) Allocate(ctx context.Context, fid wire.FID, off, length int64, keepSize bool) error {
	if err := checkAllocate(off, length); err != nil {
		return err
	}
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	e, err := d.openMade(fid)
	if err != nil {
		return err
	}
	defer d.fds.release(e)
	mode := uint32(0)
	if keepSize {
		mode = unix.FALLOC_FL_KEEP_SIZE
	}
	return d.accounted(fid, e.fd, off, length, func() error {
		err := unix.Fallocate(e.fd, mode, off, length)
		if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
			return fmt.Errorf("%w: %v: fallocate: %w", ErrNotSupported, fid, err)
		}
		return pathErr("fallocate", fid, err)
	})
}

// Unallocated implements Store.
func (d *Dir) Unallocated(ctx context.Context, fid wire.FID, off, length int64) (int64, error) {
	if err := checkRange(off, length); err != nil {
		return 0, err
	}
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	defer d.end()
	e, unmade, err := d.openRead(fid)
	if err != nil {
		return 0, err
	}
	length = min(length, MaxObjectSize-min(off, MaxObjectSize))
	if unmade {
		// No file, no block (dir_lazy.go): all of the range, in blocks.
		if length == 0 {
			return 0, nil
		}
		var fs unix.Statfs_t
		if err := unix.Fstatfs(d.root, &fs); err != nil {
			return 0, pathErr("statfs", fid, err)
		}
		bs := max(int64(fs.Bsize), 512)
		return (off+length+bs-1)/bs*bs - off/bs*bs, nil
	}
	defer d.fds.release(e)
	if length == 0 {
		return 0, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(e.fd, &st); err != nil {
		return 0, pathErr("stat", fid, err)
	}
	return unallocated(e.fd, off, length, max(int64(st.Blksize), 512)), nil
}

// checkAllocate validates an Allocate range.
func checkAllocate(off, length int64) error {
	if off < 0 || length <= 0 {
		return fmt.Errorf("%w: allocate %d bytes at %d", ErrInvalid, length, off)
	}
	if off > MaxObjectSize-length {
		return fmt.Errorf("%w: allocate to %d", ErrTooBig, off+length)
	}
	return nil
}

// FIEMAP (linux/fiemap.h), which golang.org/x/sys/unix does not define.
const (
	fsIocFiemap     = 0xc020660b // _IOWR('f', 11, struct fiemap)
	fiemapHeader    = 32         // sizeof(struct fiemap)
	fiemapExtent    = 56         // sizeof(struct fiemap_extent)
	fiemapExtents   = 64         // extents asked for per call
	fiemapExtentEnd = 0x1        // FIEMAP_EXTENT_LAST
)

// allocatedIn returns the bytes of [start, end) that the file system has
// blocks for: written data, delayed allocations and unwritten (fallocated)
// extents alike, which SEEK_DATA does not see (ext4 reports unwritten
// extents as holes). ok is false where FIEMAP is not supported.
func allocatedIn(fd int, start, end int64) (n int64, ok bool) {
	var buf [(fiemapHeader + fiemapExtents*fiemapExtent) / 8]uint64
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
	u64 := func(at int) int64 { return int64(*(*uint64)(unsafe.Pointer(&b[at]))) }
	u32 := func(at int) uint32 { return *(*uint32)(unsafe.Pointer(&b[at])) }
	for pos := start; pos < end; {
		clear(buf[:])
		*(*uint64)(unsafe.Pointer(&b[0])) = uint64(pos)
		*(*uint64)(unsafe.Pointer(&b[8])) = uint64(end - pos)
		*(*uint32)(unsafe.Pointer(&b[24])) = fiemapExtents
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
			return 0, false
		}
		mapped := int(u32(20))
		if mapped == 0 {
			return n, true
		}
		for i := range min(mapped, fiemapExtents) {
			x := fiemapHeader + i*fiemapExtent
			lo, hi := u64(x), u64(x)+u64(x+16)
			if lo < end && hi > pos {
				n += min(hi, end) - max(lo, pos)
			}
			pos = max(pos, hi)
			if u32(x+40)&fiemapExtentEnd != 0 {
				return n, true
			}
		}
	}
	return n, true
}
