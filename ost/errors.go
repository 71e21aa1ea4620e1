package ost

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/stria-fs/stria/ost/grant"
	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Sentinel errors of the ost package. Wrap them with %w; test with
// errors.Is. Those a handler returns carry the errno the client sees
// (errors.Is(err, syscall.EBADMSG) holds for ErrChecksum).
var (
	// ErrConfig: a Config or FormatOptions that cannot work.
	ErrConfig = errors.New("ost: bad configuration")
	// ErrNotFormatted: Start was given a directory that holds no OST.
	// It also matches osd.ErrNotFormatted.
	ErrNotFormatted = fmt.Errorf("ost: %w", osd.ErrNotFormatted)
	// ErrWrongFS: a target of another file system than the others (or than
	// Config.FSName).
	ErrWrongFS = errors.New("ost: target belongs to another file system")
	// ErrDuplicate: two directories hold the same OST index.
	ErrDuplicate = errors.New("ost: OST index served twice")
	// ErrChecksum: a write's data did not match its crc32c; nothing was
	// written. The client sees EBADMSG, resends, and reports EIO if it
	// keeps failing.
	ErrChecksum = &errnoError{"ost: bulk checksum mismatch", syscall.EBADMSG}
	// ErrBadIO: an I/O request that does not fit its bulk buffer.
	ErrBadIO = &errnoError{"ost: I/O request does not fit its bulk buffer", syscall.EINVAL}
	// ErrShortBulk: fewer bytes arrived than the request announced.
	ErrShortBulk = &errnoError{"ost: short bulk transfer", syscall.EIO}
	// ErrFallocMode: an OST_FALLOCATE mode the OST does not serve (it
	// serves 0, KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE).
	ErrFallocMode = &errnoError{"ost: fallocate mode not supported", syscall.EOPNOTSUPP}
	// ErrNoExport: a request that needs a connection came without one.
	ErrNoExport = &errnoError{"ost: request without a connection", syscall.ENOTCONN}
	// ErrBadSequence: an orphan request named a sequence that is not the
	// MDT's on this OST.
	ErrBadSequence = &errnoError{"ost: FID of another sequence", syscall.EINVAL}
	// ErrNoMGS: WaitRegistered on a server that registers nowhere.
	ErrNoMGS = errors.New("ost: no MGS configured")
	// ErrRefused: the MGS refused a target's registration for good (its
	// index belongs to another target); the target serves anyway.
	ErrRefused = errors.New("ost: registration refused by the MGS")
	// ErrClosed: the server was closed.
	ErrClosed = errors.New("ost: server closed")
	// ErrFailPoint: an error injected by a fail point (fail_loc); it wraps
	// the errno the fail point returns.
	ErrFailPoint = errors.New("ost: injected by fail_loc")
)

// errnoError is a sentinel that carries its errno, as osd's do.
type errnoError struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoError) Error() string { return e.msg }

// Is matches the errno too.
func (e *errnoError) Is(target error) bool {
	t, ok := target.(syscall.Errno)
	return ok && t == e.errno
}

// As fills a *syscall.Errno target.
func (e *errnoError) As(target any) bool {
	if p, ok := target.(*syscall.Errno); ok {
		*p = e.errno
		return true
	}
	return false
}

// errnos returns the handlers' translation table; what it misses goes
// through wire.ErrnoOf (osd sentinels and ours carry their errno already,
// decoding errors become EPROTO).
func errnos() wire.ErrnoTable {
	return wire.ErrnoTable{
		{Err: grant.ErrNoSpace, Errno: wire.Errno(syscall.ENOSPC)},
		{Err: ptlrpc.ErrBulkTooBig, Errno: wire.Errno(syscall.EINVAL)},
		{Err: ptlrpc.ErrNoBulk, Errno: wire.Errno(syscall.EINVAL)},
		{Err: ptlrpc.ErrBulk, Errno: wire.Errno(syscall.EIO)},
	}
}
