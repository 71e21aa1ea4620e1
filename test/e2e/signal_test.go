package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// testSignals: system calls on the mount complete when the calling process
// catches signals meanwhile. A child process does mkdir, lstat and rmdir
// in a loop while this test sends it SIGUSR1 every 50 µs; none may fail
// with EINTR.
func testSignals(t *testing.T, c *cluster.Cluster, helper string) {
	binariesOnly(t, c, "the FUSE adapter is the same in both; in-process under -race it is only slower")
	dir := freshDir(t, c, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper)
	cmd.Env = append(os.Environ(), helperEnv+"=eintr\x1f"+dir+"\x1f600")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	must(t, "pipe", err)
	must(t, "start", cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper did not start: %q %v: %s", line, err, errOut.String())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Microsecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 1 {
				t.Fatalf("system calls interrupted by a caught signal failed: %s", errOut.String())
			}
			if err != nil {
				t.Fatalf("helper: %v: %s", err, errOut.String())
			}
			return
		case <-tick.C:
			_ = cmd.Process.Signal(syscall.SIGUSR1)
		}
	}
}
