package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/ost"
	"github.com/stria-fs/stria/ost/osd"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c := newCommand()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

func format(t *testing.T, dir, fsname, index string, extra ...string) (string, error) {
	t.Helper()
	return run(t, append([]string{"format", "--dir", dir, "--fsname", fsname, "--index", index,
		"--mgsnode", "127.0.0.1@tcp"}, extra...)...)
}

func TestFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ost0")
	out, err := format(t, dir, "stria", "0x1", "--capacity", "64M", "--servicenode", "127.0.0.3@tcp")
	if err != nil {
		t.Fatalf("format: %v\n%s", err, out)
	}
	for _, want := range []string{"Formatted stria-OST0001 in " + dir, "127.0.0.1@tcp", "127.0.0.3@tcp",
		"Capacity:   67108864 bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := format(t, dir, "stria", "1"); !errors.Is(err, osd.ErrFormatted) {
		t.Errorf("second format: %v, want ErrFormatted", err)
	}
	if _, err := format(t, dir, "stria", "2", "--reformat"); err != nil {
		t.Errorf("--reformat: %v", err)
	}
	for _, bad := range [][]string{
		{"--capacity", "lots"},
		{"--index", "0x10000"},
		{"--mgsnode", "nonsense"},
		{"--param", "noequals"},
	} {
		args := append([]string{"format", "--dir", filepath.Join(t.TempDir(), "x"), "--fsname", "stria",
			"--index", "0", "--mgsnode", "127.0.0.1@tcp"}, bad...)
		if _, err := run(t, args...); err == nil {
			t.Errorf("format %v: accepted", bad)
		}
	}
}

func start(t *testing.T, args ...string) error {
	t.Helper()
	_, err := run(t, append([]string{"start", "--networks", "tcp0(127.0.0.1)", "--port", "0",
		"--ctl-dir", filepath.Join(t.TempDir(), "ctl"), "--log-level", "error"}, args...)...)
	return err
}

func TestStartRefuses(t *testing.T) {
	leaktest.Check(t)
	empty := t.TempDir()
	if err := start(t, "--dir", empty); !errors.Is(err, ost.ErrNotFormatted) {
		t.Errorf("unformatted: %v, want ErrNotFormatted", err)
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if _, err := format(t, a, "stria", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := format(t, b, "other", "1"); err != nil {
		t.Fatal(err)
	}
	if err := start(t, "--dir", a, "--dir", b); !errors.Is(err, ost.ErrWrongFS) {
		t.Errorf("two file systems: %v, want ErrWrongFS", err)
	}
	if err := start(t, "--dir", b, "--fsname", "stria"); !errors.Is(err, ost.ErrWrongFS) {
		t.Errorf("--fsname stria on a target of other: %v, want ErrWrongFS", err)
	}
	if err := start(t); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("no --dir: %v", err)
	}
}
