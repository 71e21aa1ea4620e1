package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stria-fs/stria/obd"
)

// Bounds of the harness's waits. They are generous: a loaded 2-core
// machine running the race-enabled unit tests beside these is slow, and a
// bound only decides how long a broken run takes to fail.
const (
	readyTimeout = 60 * time.Second // a daemon or client to serve
	stopTimeout  = 30 * time.Second // a process to exit after SIGTERM
	pollInterval = 20 * time.Millisecond
)

// proc is one process the harness started: a daemon or a client.
type proc struct {
	name string   // "mgs", "mds", "oss0", "client0"
	bin  string   // path of the binary
	args []string // its arguments
	log  string   // file receiving its stdout and stderr

	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and was reaped
	waitErr error         // its exit status, once done
	killed  bool          // the harness SIGKILLed it (exit status not checked)
}

// start starts p; a goroutine owned by p reaps it. Any earlier run must
// have exited.
func (p *proc) start(env []string) error {
	f, err := os.OpenFile(p.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), filepath.Base(p.bin), strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = env
	// Its own process group, so a ^C to the test does not reach it before
	// the harness stops it in order; and it dies with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	f.Close()
	p.cmd, p.done, p.waitErr, p.killed = cmd, make(chan struct{}), nil, false
	go func() {
		err := cmd.Wait()
		p.waitErr = err
		close(p.done)
	}()
	return nil
}

// running reports whether p was started and has not exited.
func (p *proc) running() bool {
	if p == nil || p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// errRunning: the process has not exited yet.
var errRunning = errors.New("still running")

// stop sends SIGTERM and waits for a clean exit; after timeout it kills
// the process and says so.
func (p *proc) stop(timeout time.Duration) error {
	if !p.running() {
		return p.exitErr()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(timeout):
	}
	p.kill()
	return fmt.Errorf("%s (pid %d) did not exit within %v of SIGTERM; killed", p.name, p.cmd.Process.Pid, timeout)
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	p.killed = true
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// exitErr is nil for a clean exit (status 0) or a kill the harness meant.
func (p *proc) exitErr() error {
	if p == nil || p.done == nil || p.killed {
		return nil
	}
	select {
	case <-p.done:
	default:
		return errRunning
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s exited: %w (log %s)", p.name, p.waitErr, p.log)
	}
	return nil
}

// waitSocket waits until p serves its control socket sock (answering cmd),
// failing at once if p exits.
func (p *proc) waitSocket(ctx context.Context, sock, cmd string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		c, cc := context.WithTimeout(ctx, 2*time.Second)
		_, err := obd.Call(c, sock, cmd)
		cc()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before serving (%v):\n%s", p.name, p.waitErr, tail(p.log, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not serve %s within %v: %v:\n%s", p.name, sock, readyTimeout, last, tail(p.log, 20))
		case <-time.After(pollInterval):
		}
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
