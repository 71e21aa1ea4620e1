package wire

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

var errDomain = errors.New("domain: out of grant")

func TestErrnoOf(t *testing.T) {
	_, statErr := os.Stat("/nonexistent/for/sure")
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{syscall.ENOENT, syscall.ENOENT},
		{fmt.Errorf("wrapped: %w", syscall.ENOSPC), syscall.ENOSPC},
		{statErr, syscall.ENOENT},
		{fs.ErrExist, syscall.EEXIST},
		{fs.ErrPermission, syscall.EACCES},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), syscall.ETIMEDOUT},
		{context.Canceled, syscall.ECANCELED},
		{fmt.Errorf("%w: junk", ErrBadBody), syscall.EPROTO},
		{errDomain, syscall.EIO},
		{Errno(syscall.ESTALE).Err(), syscall.ESTALE},
		{fmt.Errorf("forwarded: %w", Errno(syscall.EROFS).Err()), syscall.EROFS},
	}
	for _, c := range cases {
		if got := ErrnoOf(c.err); got != Errno(c.want) {
			t.Errorf("ErrnoOf(%v) = %v, want %v", c.err, got, Errno(c.want))
		}
	}
	if ErrnoOf(nil) != 0 {
		t.Fatal("nil error has an errno")
	}
}

func TestErrnoErr(t *testing.T) {
	if Errno(0).Err() != nil {
		t.Fatal("0 is an error")
	}
	err := Errno(syscall.ENOENT).Err()
	if !errors.Is(err, syscall.ENOENT) || !errors.Is(err, ErrRemote) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%v does not match", err)
	}
	if errors.Is(err, syscall.EIO) {
		t.Fatal("matches the wrong errno")
	}
	if s := err.Error(); s != "remote: no such file or directory (ENOENT)" {
		t.Fatalf("message %q", s)
	}
	if Errno(9999).String() != "errno 9999" || Errno(syscall.EOPNOTSUPP).String() != "EOPNOTSUPP" {
		t.Fatal("String")
	}
}

func TestErrnoTable(t *testing.T) {
	tbl := ErrnoTable{{Err: errDomain, Errno: Errno(syscall.EDQUOT)}}
	if got := tbl.ToErrno(fmt.Errorf("op: %w", errDomain)); got != Errno(syscall.EDQUOT) {
		t.Fatalf("table: %v", got)
	}
	if got := tbl.ToErrno(syscall.EBUSY); got != Errno(syscall.EBUSY) {
		t.Fatalf("fallback: %v", got)
	}
	if tbl.ToErrno(nil) != 0 {
		t.Fatal("nil")
	}
}
