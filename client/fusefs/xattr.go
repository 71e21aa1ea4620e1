package fusefs

import (
	"context"
	"syscall"
)

// Getxattr copies the value into dest. A dest too small is ERANGE with the
// size needed; go-fuse turns that into the size answer of getxattr(2) with
// a 0-length buffer.
func (n *node) Getxattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno) {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	v, err := n.fsys.b.GetXattr(ctx, n.fid, name)
	if err != nil {
		return 0, n.fsys.toErrno(err, "getxattr", n.fid)
	}
	if len(v) > len(dest) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

// Setxattr passes setxattr(2)'s XATTR_CREATE and XATTR_REPLACE, which
// equal wire.XattrCreate and wire.XattrReplace.
func (n *node) Setxattr(ctx context.Context, name string, value []byte, flags uint32) syscall.Errno {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	err := n.fsys.b.SetXattr(ctx, n.fid, name, value, flags)
	return n.fsys.toErrno(err, "setxattr", n.fid)
}

// Listxattr writes the names, each followed by a NUL, or answers ERANGE
// with the size needed.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	names, err := n.fsys.b.ListXattr(ctx, n.fid)
	if err != nil {
		return 0, n.fsys.toErrno(err, "listxattr", n.fid)
	}
	size := 0
	for _, name := range names {
		size += len(name) + 1
	}
	if size > len(dest) {
		return uint32(size), syscall.ERANGE
	}
	off := 0
	for _, name := range names {
		off += copy(dest[off:], name)
		dest[off] = 0
		off++
	}
	return uint32(size), 0
}

func (n *node) Removexattr(ctx context.Context, name string) syscall.Errno {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	err := n.fsys.b.RemoveXattr(ctx, n.fid, name)
	return n.fsys.toErrno(err, "removexattr", n.fid)
}
