package fusefs

import (
	"context"
	"io"
	"slices"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/wire"
)

// memFS's extended attributes and open files.

func (m *memFS) xattrInode(ctx context.Context, op string, fid wire.FID, mask uint32) (*memInode, error) {
	c, err := m.begin(ctx, op)
	if err != nil {
		return nil, err
	}
	in, ok := m.inodes[fid]
	switch {
	case !ok:
		return nil, syscall.ENOENT
	case !may(c, in, mask):
		return nil, syscall.EACCES
	}
	return in, nil
}

func (m *memFS) GetXattr(ctx context.Context, fid wire.FID, name string) ([]byte, error) {
	in, err := m.xattrInode(ctx, "getxattr", fid, 4)
	defer m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	v, ok := in.xattrs[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return slices.Clone(v), nil
}

func (m *memFS) ListXattr(ctx context.Context, fid wire.FID) ([]string, error) {
	in, err := m.xattrInode(ctx, "listxattr", fid, 4)
	defer m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var names []string
	for k := range in.xattrs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, nil
}

func (m *memFS) SetXattr(ctx context.Context, fid wire.FID, name string, value []byte, flags uint32) error {
	in, err := m.xattrInode(ctx, "setxattr", fid, 2)
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	_, ok := in.xattrs[name]
	switch {
	case flags&wire.XattrCreate != 0 && ok:
		return syscall.EEXIST
	case flags&wire.XattrReplace != 0 && !ok:
		return syscall.ENODATA
	case len(value) > wire.MaxXattrLen:
		return syscall.E2BIG
	}
	if in.xattrs == nil {
		in.xattrs = map[string][]byte{}
	}
	in.xattrs[name] = slices.Clone(value)
	m.touch(in, false)
	return nil
}

func (m *memFS) RemoveXattr(ctx context.Context, fid wire.FID, name string) error {
	in, err := m.xattrInode(ctx, "removexattr", fid, 2)
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	if _, ok := in.xattrs[name]; !ok {
		return syscall.ENODATA
	}
	delete(in.xattrs, name)
	m.touch(in, false)
	return nil
}

// memFile is an open regular file of a memFS. An unlinked file keeps its
// inode until its last memFile is released.
type memFile struct {
	m        *memFS
	in       *memInode
	flags    uint32
	released bool
}

func (f *memFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	_, err := f.m.begin(ctx, "read")
	defer f.m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	f.m.readSizes[len(p)]++
	if off >= int64(len(f.in.data)) {
		return 0, io.EOF
	}
	return copy(p, f.in.data[off:]), nil
}

func (f *memFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	_, err := f.m.begin(ctx, "write")
	defer f.m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if f.flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return 0, syscall.EBADF
	}
	f.m.writeSizes[len(p)]++
	if end := int(off) + len(p); end > len(f.in.data) {
		f.in.data = resize(f.in.data, end)
	}
	copy(f.in.data[off:], p)
	f.m.touch(f.in, true)
	return len(p), nil
}

func (f *memFile) Flush(ctx context.Context) error {
	_, err := f.m.begin(ctx, "flush")
	f.m.mu.Unlock()
	return err
}

func (f *memFile) Fsync(ctx context.Context, datasync bool) error {
	_, err := f.m.begin(ctx, "fsync")
	f.m.mu.Unlock()
	return err
}

func (f *memFile) Allocate(ctx context.Context, off, length int64, mode uint32) error {
	_, err := f.m.begin(ctx, "allocate")
	defer f.m.mu.Unlock()
	switch {
	case err != nil:
		return err
	case f.m.noAllocate || mode&^unix.FALLOC_FL_KEEP_SIZE != 0:
		return syscall.EOPNOTSUPP
	case mode == 0 && off+length > int64(len(f.in.data)):
		f.in.data = resize(f.in.data, int(off+length))
		f.m.touch(f.in, true)
	}
	return nil
}

func (f *memFile) Release(ctx context.Context) error {
	_, err := f.m.begin(ctx, "release")
	defer f.m.mu.Unlock()
	if f.released {
		panic("memFile released twice")
	}
	f.released = true
	f.m.released++
	f.in.opens--
	if f.in.attr.Nlink == 0 && f.in.opens == 0 {
		delete(f.m.inodes, f.in.fid)
	}
	return err
}
