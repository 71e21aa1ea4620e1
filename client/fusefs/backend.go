package fusefs

import (
	"context"

	"github.com/stria-fs/stria/wire"
)

// Backend is what the adapter needs from the client library. It works on
// FIDs and returns Go errors; an error that wraps a syscall.Errno reaches the
// application as that errno (anything else as EIO). The caller's
// credentials travel in the context (client.WithCreds).
//
// Attributes: every method that returns a wire.Attr returns the inode's
// full, current attributes (for a regular file the size is the file's size
// as the OSTs know it, merged with what this client has written).
type Backend interface {
	Root() wire.FID
	Lookup(ctx context.Context, parent wire.FID, name string) (wire.FID, wire.Attr, error)
	GetAttr(ctx context.Context, fid wire.FID) (wire.Attr, error)
	// SetAttr changes what attr.Valid names: mode, uid, gid, size
	// (truncate), atime, mtime (AttrAtimeNow/AttrMtimeNow for the server's
	// clock).
	SetAttr(ctx context.Context, fid wire.FID, attr wire.Attr) (wire.Attr, error)
	Mkdir(ctx context.Context, parent wire.FID, name string, mode uint32) (wire.FID, wire.Attr, error)
	// Mknod makes FIFOs, sockets, device nodes, and regular files without
	// objects (lfs setstripe then gives them a layout).
	Mknod(ctx context.Context, parent wire.FID, name string, mode, rdev uint32) (wire.FID, wire.Attr, error)
	Symlink(ctx context.Context, parent wire.FID, name, target string) (wire.FID, wire.Attr, error)
	Readlink(ctx context.Context, fid wire.FID) (string, error)
	Link(ctx context.Context, fid, parent wire.FID, name string) (wire.Attr, error)
	Unlink(ctx context.Context, parent wire.FID, name string) error
	Rmdir(ctx context.Context, parent wire.FID, name string) error
	// Rename takes wire.RenameNoReplace / wire.RenameExchange flags.
	Rename(ctx context.Context, srcParent wire.FID, srcName string, dstParent wire.FID, dstName string, flags uint32) error
	// Create creates and opens a regular file (open(2) with O_CREAT; flags
	// are the open flags).
	Create(ctx context.Context, parent wire.FID, name string, flags, mode uint32) (File, wire.FID, wire.Attr, error)
	Open(ctx context.Context, fid wire.FID, flags uint32) (File, error)
	// ReadDir returns entries after cookie (0: from the start), with their
	// attributes when plus is set; end says there are no more. "." and ".."
	// are not included.
	ReadDir(ctx context.Context, dir wire.FID, cookie uint64, plus bool) (ents []wire.Dirent, end bool, err error)
	StatFS(ctx context.Context) (wire.StatFS, error)
	// GetXattr returns the whole value (ENODATA if absent). Besides user.*
	// it serves the virtual lustre.lov, lustre.fid and lustre.link.
	GetXattr(ctx context.Context, fid wire.FID, name string) ([]byte, error)
	ListXattr(ctx context.Context, fid wire.FID) ([]string, error)
	SetXattr(ctx context.Context, fid wire.FID, name string, value []byte, flags uint32) error
	RemoveXattr(ctx context.Context, fid wire.FID, name string) error
}

// File is an open regular file.
type File interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	// WriteAt may keep data in the client's write-back cache (bounded by its
	// grant); errors writing it back are returned by a later Flush or Fsync.
	WriteAt(ctx context.Context, p []byte, off int64) (int, error)
	// Flush runs at every close(2) of a descriptor: it writes back dirty
	// data and returns any deferred write error.
	Flush(ctx context.Context) error
	Fsync(ctx context.Context, datasync bool) error
	// Allocate is fallocate(2); a backend without it returns EOPNOTSUPP.
	Allocate(ctx context.Context, off, length int64, mode uint32) error
	// Release runs once when the last descriptor is closed.
	Release(ctx context.Context) error
}
