package main

import (
	"errors"
	"testing"

	"github.com/stria-fs/stria/cmd/internal/daemon"
	"github.com/stria-fs/stria/internal/leaktest"
)

// --pprof (daemon.ServeFlags, as on every daemon) refuses an address
// that is not a loopback one before anything starts.
func TestStartPprofFlag(t *testing.T) {
	leaktest.Check(t)
	if err := start(t, "--dir", t.TempDir(), "--pprof", "0.0.0.0:0"); !errors.Is(err, daemon.ErrPprofAddr) {
		t.Errorf("--pprof 0.0.0.0:0: %v, want daemon.ErrPprofAddr", err)
	}
}
