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
//
// Permissions: the kernel checks nothing (no default_permissions); every
// method checks the caller's credentials as the MDT does, Lookup included
// (search permission on the parent).
//
// Names reach the backend at most wire.MaxFileNameLen bytes long (the
// adapter answers ENAMETOOLONG itself). Modes carry the file type and the
// permission bits, the caller's umask already applied.
type Backend interface {
	Root() wire.FID
	// Lookup fails with an error wrapping ENOENT when parent has no such
	// name (the adapter caches no negative entry).
	Lookup(ctx context.Context, parent wire.FID, name string) (wire.FID, wire.Attr, error)
	GetAttr(ctx context.Context, fid wire.FID) (wire.Attr, error)
	// SetAttr changes what attr.Valid names: mode, uid, gid, size
	// (truncate, also for open(O_TRUNC), which the kernel sends as a
	// SetAttr before the Open), atime, mtime. AttrAtime|AttrAtimeNow and
	// AttrMtime|AttrMtimeNow ask for the server's clock (UTIME_NOW).
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
	// are the open flags). The name may have appeared since the kernel
	// looked it up: then O_EXCL fails with EEXIST, and without it the
	// existing file is opened (and truncated for O_TRUNC).
	Create(ctx context.Context, parent wire.FID, name string, flags, mode uint32) (File, wire.FID, wire.Attr, error)
	// Open opens a regular file; flags never hold O_CREAT, O_EXCL or
	// O_TRUNC. The file stays usable through the File after its last name
	// is unlinked, until Release.
	Open(ctx context.Context, fid wire.FID, flags uint32) (File, error)
	// ReadDir returns entries after cookie (0: from the start), with their
	// attributes when plus is set; end says there are no more. "." and ".."
	// are not included. Every entry's cookie is greater than 2 (0, 1 and 2
	// are the start and the positions after "." and "..", as the MDT's
	// store reserves them), and a cookie once handed out resumes the
	// listing after its entry (telldir/seekdir) even when entries come and
	// go. The adapter asks with plus set.
	ReadDir(ctx context.Context, dir wire.FID, cookie uint64, plus bool) (ents []wire.Dirent, end bool, err error)
	StatFS(ctx context.Context) (wire.StatFS, error)
	// SyncMeta makes the metadata changes of dir (and everything else the
	// server answered before committing) durable: fsync(2) of a directory.
	SyncMeta(ctx context.Context, dir wire.FID) error
	// GetXattr returns the whole value (ENODATA if absent). Besides user.*
	// it serves the virtual lustre.lov, lustre.fid and lustre.link. The
	// kernel asks for security.capability before every write(2) to a file:
	// answer that from a cache, or each write costs an MDT round trip.
	GetXattr(ctx context.Context, fid wire.FID, name string) ([]byte, error)
	ListXattr(ctx context.Context, fid wire.FID) ([]string, error)
	SetXattr(ctx context.Context, fid wire.FID, name string, value []byte, flags uint32) error
	RemoveXattr(ctx context.Context, fid wire.FID, name string) error
}

// File is an open regular file.
type File interface {
	// ReadAt returns fewer than len(p) bytes only at the end of the file
	// (with a nil error or io.EOF).
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	// WriteAt may keep data in the client's write-back cache (bounded by its
	// grant); errors writing it back are returned by a later Flush or Fsync.
	// p is reused once WriteAt returns: copy what is kept. Requests are up
	// to 1 MiB.
	WriteAt(ctx context.Context, p []byte, off int64) (int, error)
	// Flush runs at every close(2) of a descriptor: it writes back dirty
	// data and returns any deferred write error.
	Flush(ctx context.Context) error
	Fsync(ctx context.Context, datasync bool) error
	// Allocate is fallocate(2); a backend without it returns EOPNOTSUPP.
	Allocate(ctx context.Context, off, length int64, mode uint32) error
	// Release runs once when the last descriptor is closed, or when the
	// mount ends with the file still open (then with a background context).
	Release(ctx context.Context) error
}
