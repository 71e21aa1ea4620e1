package wire

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"syscall"
)

// Errno is a positive Linux errno: the only form in which an error crosses
// the wire (Msg.Status). 0 means success.
//
// Translation happens once on each side: a server turns its handler's error
// into an Errno with ErrnoOf or an ErrnoTable; a client turns the Errno back
// into a Go error with Err, which matches errors.Is(err, syscall.ENOENT) and
// errors.Is(err, ErrRemote).
type Errno uint32

// Err returns nil for 0, otherwise a *RemoteError wrapping syscall.Errno(e).
func (e Errno) Err() error {
	if e == 0 {
		return nil
	}
	return &RemoteError{Errno: e}
}

// String returns the errno's symbolic name ("ENOENT"), or "errno N".
func (e Errno) String() string {
	if n := errnoName(e); n != "" {
		return n
	}
	return "errno " + strconv.FormatUint(uint64(e), 10)
}

// RemoteError is an error a peer reported. It unwraps to the syscall.Errno.
type RemoteError struct {
	Errno Errno
}

func (e *RemoteError) Error() string {
	return "remote: " + syscall.Errno(e.Errno).Error() + " (" + e.Errno.String() + ")"
}

// Unwrap returns the syscall.Errno, so errors.Is(err, syscall.ENOENT) works.
func (e *RemoteError) Unwrap() error { return syscall.Errno(e.Errno) }

// Is makes errors.Is(err, ErrRemote) true.
func (e *RemoteError) Is(target error) bool { return target == ErrRemote }

// ErrnoOf maps err to an Errno with no knowledge of any package's sentinels:
//
//   - nil → 0
//   - a *RemoteError anywhere in the chain → its errno (forwarded as is)
//   - a syscall.Errno anywhere in the chain → that errno
//   - io/fs's ErrNotExist, ErrExist, ErrPermission, ErrInvalid, ErrClosed →
//     ENOENT, EEXIST, EACCES, EINVAL, EBADF
//   - context.DeadlineExceeded → ETIMEDOUT, context.Canceled → ECANCELED
//   - this package's decoding errors → EPROTO
//   - anything else → EIO
//
// Servers wrap their domain errors with a syscall errno at the RPC boundary
// (fmt.Errorf("%w: ...", syscall.ENOSPC)) or map them with an ErrnoTable.
func ErrnoOf(err error) Errno {
	if err == nil {
		return 0
	}
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Errno
	}
	var se syscall.Errno
	if errors.As(err, &se) && se != 0 {
		return Errno(se)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Errno(syscall.ENOENT)
	case errors.Is(err, fs.ErrExist):
		return Errno(syscall.EEXIST)
	case errors.Is(err, fs.ErrPermission):
		return Errno(syscall.EACCES)
	case errors.Is(err, fs.ErrInvalid):
		return Errno(syscall.EINVAL)
	case errors.Is(err, fs.ErrClosed):
		return Errno(syscall.EBADF)
	case errors.Is(err, context.DeadlineExceeded):
		return Errno(syscall.ETIMEDOUT)
	case errors.Is(err, context.Canceled):
		return Errno(syscall.ECANCELED)
	case errors.Is(err, ErrShort), errors.Is(err, ErrBadMsg), errors.Is(err, ErrBadBody), errors.Is(err, ErrBadFID):
		return Errno(syscall.EPROTO)
	}
	return Errno(syscall.EIO)
}

// ErrnoMapping pairs a sentinel error with the errno it travels as.
type ErrnoMapping struct {
	Err   error
	Errno Errno
}

// ErrnoTable is an explicit, caller-built list of sentinel → errno mappings
// (a service builds one from its packages' sentinels and hands it to its
// ptlrpc service; nothing registers itself globally).
type ErrnoTable []ErrnoMapping

// ToErrno returns the errno of the first mapping whose Err matches err
// (errors.Is, in table order), else ErrnoOf(err).
func (t ErrnoTable) ToErrno(err error) Errno {
	if err == nil {
		return 0
	}
	for _, m := range t {
		if errors.Is(err, m.Err) {
			return m.Errno
		}
	}
	return ErrnoOf(err)
}

func errnoName(e Errno) string {
	switch syscall.Errno(e) {
	case syscall.EPERM:
		return "EPERM"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.ESRCH:
		return "ESRCH"
	case syscall.EINTR:
		return "EINTR"
	case syscall.EIO:
		return "EIO"
	case syscall.ENXIO:
		return "ENXIO"
	case syscall.E2BIG:
		return "E2BIG"
	case syscall.EBADF:
		return "EBADF"
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.ENOMEM:
		return "ENOMEM"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EFAULT:
		return "EFAULT"
	case syscall.EBUSY:
		return "EBUSY"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.EXDEV:
		return "EXDEV"
	case syscall.ENODEV:
		return "ENODEV"
	case syscall.ENOTDIR:
		return "ENOTDIR"
	case syscall.EISDIR:
		return "EISDIR"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENFILE:
		return "ENFILE"
	case syscall.EMFILE:
		return "EMFILE"
	case syscall.EFBIG:
		return "EFBIG"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.ESPIPE:
		return "ESPIPE"
	case syscall.EROFS:
		return "EROFS"
	case syscall.EMLINK:
		return "EMLINK"
	case syscall.ERANGE:
		return "ERANGE"
	case syscall.EDEADLK:
		return "EDEADLK"
	case syscall.ENAMETOOLONG:
		return "ENAMETOOLONG"
	case syscall.ENOLCK:
		return "ENOLCK"
	case syscall.ENOSYS:
		return "ENOSYS"
	case syscall.ENOTEMPTY:
		return "ENOTEMPTY"
	case syscall.ELOOP:
		return "ELOOP"
	case syscall.ENODATA:
		return "ENODATA"
	case syscall.ETIME:
		return "ETIME"
	case syscall.ENOLINK:
		return "ENOLINK"
	case syscall.EPROTO:
		return "EPROTO"
	case syscall.EBADMSG:
		return "EBADMSG"
	case syscall.EOVERFLOW:
		return "EOVERFLOW"
	case syscall.EMSGSIZE:
		return "EMSGSIZE"
	case syscall.EOPNOTSUPP:
		return "EOPNOTSUPP"
	case syscall.ENOTCONN:
		return "ENOTCONN"
	case syscall.ESHUTDOWN:
		return "ESHUTDOWN"
	case syscall.ETIMEDOUT:
		return "ETIMEDOUT"
	case syscall.ECONNREFUSED:
		return "ECONNREFUSED"
	case syscall.EHOSTUNREACH:
		return "EHOSTUNREACH"
	case syscall.EALREADY:
		return "EALREADY"
	case syscall.EINPROGRESS:
		return "EINPROGRESS"
	case syscall.ESTALE:
		return "ESTALE"
	case syscall.EDQUOT:
		return "EDQUOT"
	case syscall.ECANCELED:
		return "ECANCELED"
	}
	return ""
}
