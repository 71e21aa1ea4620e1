package ldlm

import "syscall"

// Error is an ldlm sentinel. It unwraps to the errno it stands for, so
// errors.Is(err, syscall.EINVAL) holds for a wrapped ErrInvalid and
// wire.ErrnoOf puts the right errno on the wire without a table.
type Error struct {
	msg   string
	errno syscall.Errno
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.errno }

// Errno returns the errno the error stands for.
func (e *Error) Errno() syscall.Errno { return e.errno }

func newError(msg string, errno syscall.Errno) *Error {
	return &Error{msg: "ldlm: " + msg, errno: errno}
}

// Sentinel errors; wrapped with %w and the lock or resource concerned.
var (
	// ErrInvalid: an unknown lock type or mode, a policy that does not
	// fit the type (no inode bits, start after end), or a type the
	// namespace does not serve.
	ErrInvalid = newError("invalid lock request", syscall.EINVAL)
	// ErrWouldBlock: a request flagged not to wait (F_SETLK, try-lock)
	// conflicts with a granted lock.
	ErrWouldBlock = newError("lock held by another owner", syscall.EAGAIN)
	// ErrDeadlock: waiting for the flock would deadlock.
	ErrDeadlock = newError("flock deadlock", syscall.EDEADLK)
	// ErrBusy: the namespace's or the client's queue of waiting requests
	// is full; the client retries later.
	ErrBusy = newError("too many waiting lock requests", syscall.EBUSY)
	// ErrClosed: the namespace (server or client) is closed.
	ErrClosed = newError("namespace closed", syscall.ESHUTDOWN)
	// ErrStale: none of the lock handles named is known (LDLM_CANCEL of
	// locks already gone; harmless).
	ErrStale = newError("no such lock", syscall.ESTALE)
	// ErrNoExport: a lock request that came without a connection.
	ErrNoExport = newError("lock request without a connection", syscall.ENOTCONN)
	// ErrNoData: a glimpse found no lock holder with anything to tell.
	ErrNoData = newError("no lock data", syscall.ENODATA)
	// ErrInterrupted: a waiting lock request was given up because its
	// context ended (the process caught a signal); the request was
	// cancelled on the server.
	ErrInterrupted = newError("lock wait interrupted", syscall.EINTR)
	// ErrEvicted: the server evicted this client; its locks are gone.
	ErrEvicted = newError("evicted by the server", syscall.EIO)
	// ErrBadConfig: a Config or ClientConfig failed Validate.
	ErrBadConfig = newError("bad configuration", syscall.EINVAL)
	// ErrInvariant: Check found two conflicting granted locks, or a
	// waiting lock nobody was asked to release.
	ErrInvariant = newError("lock invariant broken", syscall.EIO)
)
