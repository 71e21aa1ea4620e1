package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/mdt"
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

func format(t *testing.T, dir, fsname string, extra ...string) (string, error) {
	t.Helper()
	return run(t, append([]string{"format", "--dir", dir, "--fsname", fsname, "--index", "0",
		"--mgsnode", "127.0.0.1@tcp"}, extra...)...)
}

func TestFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mdt0")
	out, err := format(t, dir, "stria", "--param", "lov.stripecount=2", "--param", "lov.stripesize=1M")
	if err != nil {
		t.Fatalf("format: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Formatted stria-MDT0000 in "+dir) || !strings.Contains(out, "lov.stripecount=2") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := format(t, dir, "stria"); !errors.Is(err, mdt.ErrFormatted) {
		t.Errorf("second format: %v, want ErrFormatted", err)
	}
	if _, err := format(t, dir, "stria", "--reformat"); err != nil {
		t.Errorf("--reformat: %v", err)
	}
	if _, err := format(t, filepath.Join(t.TempDir(), "x"), "stria", "--param", "lov.stripesize=banana"); err == nil {
		t.Error("a bad default stripe size was accepted")
	}
	if _, err := run(t, "format", "--dir", dir, "--fsname", "stria", "--index", "4096", "--mgsnode", "127.0.0.1@tcp"); err == nil {
		t.Error("index 4096 accepted")
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
	if err := start(t, "--dir", t.TempDir()); !errors.Is(err, mdt.ErrNotFormatted) {
		t.Errorf("unformatted: %v, want ErrNotFormatted", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if _, err := format(t, other, "other"); err != nil {
		t.Fatal(err)
	}
	if err := start(t, "--dir", other, "--fsname", "stria"); !errors.Is(err, mdt.ErrWrongFS) {
		t.Errorf("--fsname stria on an MDT of other: %v, want ErrWrongFS", err)
	}
}
