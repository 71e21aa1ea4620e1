package lfs

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestRoot(t *testing.T) {
	f := newFakeFS(t)
	out, _, code := run(t, f, "--version")
	if code != 0 || out != "lfs version "+Version+"\n" {
		t.Errorf("--version: %d %q", code, out)
	}
	out, _, code = run(t, f, "--help")
	for _, sub := range []string{"setstripe", "getstripe", "df", "path2fid", "fid2path"} {
		if code != 0 || !strings.Contains(out, sub) {
			t.Errorf("--help lacks %s: %q", sub, out)
		}
	}
	// df's -h is --human-readable; --help still helps.
	out, _, code = run(t, f, "df", "--help")
	if code != 0 || !strings.Contains(out, "--human-readable") {
		t.Errorf("df --help: %d %q", code, out)
	}
	_, stderr, code := run(t, f, "frobnicate")
	if code != int(syscall.EINVAL) || !strings.HasPrefix(stderr, "lfs: unknown command \"frobnicate\"") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{nil, 0},
		{fail("x", syscall.EEXIST), 17},
		{usagef("bad"), 22},
		{fail("x", ErrUsage), 22},
		{fail("x", ErrControl), 1},
		{reported(fail("x", syscall.ENOENT)), 2},
		{errors.New("plain"), 1},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.code {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
	// Report prints what was not printed yet, once.
	var b bytes.Buffer
	if Report(&b, reported(fail("already said", syscall.EIO))) != int(syscall.EIO) || b.Len() != 0 {
		t.Errorf("reported error printed again: %q", b.String())
	}
	if Report(&b, fail("lfs x: broken", syscall.EIO)) != int(syscall.EIO) || b.String() != "lfs x: broken\n" {
		t.Errorf("Report printed %q", b.String())
	}
	if strerror(syscall.ENODATA) != "No data available" || strerror(errors.New("as is")) != "as is" {
		t.Error("strerror")
	}
}
