package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/mgs"
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

func TestFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mgs")
	out, err := run(t, "format", "--dir", dir, "--param", "sys.timeout=40")
	if err != nil || !strings.Contains(out, "Formatted MGS in "+dir) {
		t.Fatalf("format: %v\n%s", err, out)
	}
	if _, err := run(t, "format", "--dir", dir); !errors.Is(err, mgs.ErrFormatted) {
		t.Errorf("second format: %v, want ErrFormatted", err)
	}
	if _, err := run(t, "format", "--dir", dir, "--reformat"); err != nil {
		t.Errorf("--reformat: %v", err)
	}
	if _, err := run(t, "format"); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("format without --dir: %v", err)
	}
}

func TestStartUnformatted(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	_, err := run(t, "start", "--dir", dir, "--networks", "tcp0(127.0.0.1)", "--port", "0",
		"--ctl-dir", filepath.Join(dir, "ctl"), "--log-level", "error")
	if !errors.Is(err, mgs.ErrNotFormatted) {
		t.Fatalf("start on an empty directory: %v, want ErrNotFormatted", err)
	}
}
