package mdt

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// errnoError is a sentinel that stands for an errno: a handler returning
// it answers with that errno.
type errnoError struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoError) Error() string { return e.msg }

func (e *errnoError) Is(target error) bool {
	t, ok := target.(syscall.Errno)
	return ok && t == e.errno
}

// Sentinel errors of package mdt. Wrap them with %w; test with errors.Is.
var (
	// ErrConfig: a Config or FormatOptions that cannot work.
	ErrConfig = errors.New("mdt: bad configuration")
	// ErrNotFormatted: Start was given a directory that holds no MDT. It
	// also matches store.ErrNotFormatted.
	ErrNotFormatted = fmt.Errorf("mdt: %w", store.ErrNotFormatted)
	// ErrFormatted: Format was given a formatted MDT without Reformat. It
	// also matches store.ErrFormatted.
	ErrFormatted = fmt.Errorf("mdt: %w", store.ErrFormatted)
	// ErrWrongFS: the MDT belongs to another file system than Config.FSName.
	ErrWrongFS = errors.New("mdt: target belongs to another file system")
	// ErrClosed: the server was closed.
	ErrClosed = errors.New("mdt: server closed")
	// ErrBadHandle: a close named an open handle this client does not hold.
	ErrBadHandle = &errnoError{"mdt: no such open handle", syscall.EBADF}
	// ErrBadLayout: a layout or template in a request does not decode or
	// is not acceptable there.
	ErrBadLayout = &errnoError{"mdt: bad layout", syscall.EINVAL}
	// ErrHasLayout: setting the layout of a file that already has one.
	ErrHasLayout = &errnoError{"mdt: file already has a layout", syscall.EEXIST}
	// ErrNoExport: a request that needs a connection came without one.
	ErrNoExport = &errnoError{"mdt: request without a connection", syscall.ENOTCONN}
	// ErrNamesChanging: the names an operation changes kept naming other
	// objects each time their locks were granted; the client may retry.
	ErrNamesChanging = &errnoError{"mdt: names keep changing under their locks", syscall.EAGAIN}
)

// errnoTable lists the errno values handler errors may stand for. The
// mdd, lod and osp sentinels satisfy errors.Is against their errno; the
// table turns them into the reply status (wire.ErrnoOf knows only a few).
func errnoTable() wire.ErrnoTable {
	var t wire.ErrnoTable
	for _, e := range []syscall.Errno{syscall.ENOENT, syscall.EEXIST, syscall.ENOTDIR, syscall.EISDIR,
		syscall.ENOTEMPTY, syscall.EINVAL, syscall.ENAMETOOLONG, syscall.ENODATA, syscall.ERANGE, syscall.E2BIG,
		syscall.EXDEV, syscall.EREMOTE, syscall.EPERM, syscall.EACCES, syscall.EMLINK, syscall.EOPNOTSUPP,
		syscall.EBUSY, syscall.ENOSPC, syscall.EBADF, syscall.ELOOP, syscall.ENOTCONN, syscall.EAGAIN,
		syscall.EPROTO, syscall.ESHUTDOWN, syscall.EIO} {
		t = append(t, wire.ErrnoMapping{Err: e, Errno: wire.Errno(e)})
	}
	t = append(t, wire.ErrnoMapping{Err: store.ErrClosed, Errno: wire.Errno(syscall.ESHUTDOWN)},
		wire.ErrnoMapping{Err: ErrClosed, Errno: wire.Errno(syscall.ESHUTDOWN)})
	return t
}
