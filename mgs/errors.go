package mgs

import (
	"errors"
	"syscall"

	"github.com/stria-fs/stria/wire"
)

// Sentinel errors of the MGS. They are wrapped with %w and the name, index
// or path they concern; test with errors.Is. errnos maps them to what the
// MGS's clients see.
var (
	// ErrBadConfig: a Config failed Validate.
	ErrBadConfig = errors.New("mgs: bad configuration")
	// ErrFormatted: Format was given a formatted MGS without Reformat.
	ErrFormatted = errors.New("mgs: already formatted")
	// ErrNotFormatted: Start was given a directory that holds no MGS.
	ErrNotFormatted = errors.New("mgs: not formatted")
	// ErrLocked: another process (or Server) holds the MGS's store.
	ErrLocked = errors.New("mgs: store in use")
	// ErrNewerVersion: the store was written by newer software.
	ErrNewerVersion = errors.New("mgs: storage version newer than this software")
	// ErrMigration: an older store could not be migrated.
	ErrMigration = errors.New("mgs: migration failed")
	// ErrCorrupt: a stored record or key does not decode.
	ErrCorrupt = errors.New("mgs: corrupt record")
	// ErrClosed: the server is closed.
	ErrClosed = errors.New("mgs: closed")
	// ErrBadFSName: a file system name is not 1-8 of [-_a-zA-Z0-9].
	ErrBadFSName = errors.New("mgs: bad file system name")
	// ErrBadTarget: a registration is malformed (index out of range, a
	// UUID that names another target, a bad parameter).
	ErrBadTarget = errors.New("mgs: bad target registration")
	// ErrIndexInUse: a registration claims an index another target owns.
	ErrIndexInUse = errors.New("mgs: target index already in use")
	// ErrUnknownFS: no target of that file system ever registered.
	ErrUnknownFS = errors.New("mgs: unknown file system")
	// ErrBadParam: a persistent parameter is not "key=value" (or, to delete,
	// "key") with a sane key and value.
	ErrBadParam = errors.New("mgs: bad parameter")
	// ErrNoParam: a parameter to delete is not set.
	ErrNoParam = errors.New("mgs: no such parameter")
	// ErrTooMany: a file system would exceed wire.MaxTargets targets or
	// wire.MaxParams parameters.
	ErrTooMany = errors.New("mgs: too many targets or parameters")
)

// errnos is how the sentinels travel to clients.
var errnos = wire.ErrnoTable{
	{Err: ErrBadFSName, Errno: wire.Errno(syscall.EINVAL)},
	{Err: ErrBadTarget, Errno: wire.Errno(syscall.EINVAL)},
	{Err: ErrBadParam, Errno: wire.Errno(syscall.EINVAL)},
	{Err: ErrIndexInUse, Errno: wire.Errno(syscall.EADDRINUSE)},
	{Err: ErrUnknownFS, Errno: wire.Errno(syscall.ENOENT)},
	{Err: ErrNoParam, Errno: wire.Errno(syscall.ENOENT)},
	{Err: ErrTooMany, Errno: wire.Errno(syscall.ENOSPC)},
	{Err: ErrCorrupt, Errno: wire.Errno(syscall.EIO)},
	{Err: ErrClosed, Errno: wire.Errno(syscall.ESHUTDOWN)},
}
