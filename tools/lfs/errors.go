package lfs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

// Sentinel errors of the lfs package.
var (
	// ErrUsage: bad options or arguments; nothing was changed.
	ErrUsage = errors.New("lfs: bad usage")
	// ErrNotStria: the path is on no mounted Stria file system (no client
	// process serves it).
	ErrNotStria = errors.New("lfs: not on a Stria file system")
	// ErrBadReply: a client process answered something lfs cannot parse.
	ErrBadReply = errors.New("lfs: malformed reply from the client")
	// ErrControl: a control command failed in the client process.
	ErrControl = errors.New("lfs: client command failed")
)

// failure is a command's error: msg is what lfs prints (already printed
// when printed is set), errs are the causes errors.Is and ExitCode see.
type failure struct {
	msg     string
	printed bool
	errs    []error
}

func (f *failure) Error() string   { return f.msg }
func (f *failure) Unwrap() []error { return f.errs }

// fail returns an error printed as msg, wrapping causes.
func fail(msg string, causes ...error) error {
	return &failure{msg: msg, errs: causes}
}

// usagef reports bad usage: EINVAL, nothing changed.
func usagef(format string, args ...any) error {
	return &failure{msg: fmt.Sprintf(format, args...), errs: []error{ErrUsage, syscall.EINVAL}}
}

// reported returns an error whose messages the command already printed;
// first is the failure that decides the exit status.
func reported(first error) error {
	return &failure{msg: first.Error(), printed: true, errs: []error{first}}
}

// ExitCode is the exit status lfs returns for err, as Lustre's lfs does:
// 0 on success, the errno of the failure when it has one (17 EEXIST for
// a setstripe on an existing file, 22 EINVAL for bad usage), 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return int(errno)
	}
	if errors.Is(err, ErrUsage) {
		return int(syscall.EINVAL)
	}
	return 1
}

// Report prints err to stderr unless the command already did, and returns
// the exit status (see ExitCode). Errors from cobra itself (unknown
// command or flag) are printed with the "lfs: " prefix.
func Report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var f *failure
	switch {
	case errors.As(err, &f):
		if !f.printed {
			fmt.Fprintln(stderr, f.msg)
		}
	default:
		fmt.Fprintln(stderr, "lfs:", err)
		return int(syscall.EINVAL)
	}
	return ExitCode(err)
}

// strerror prints an error as C's strerror does for errno values
// ("No such file or directory"), and as itself otherwise.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
