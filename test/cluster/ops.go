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
)

// StopOSS stops OSS i with SIGTERM and waits for its clean exit.
func (c *Cluster) StopOSS(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ip != nil {
		return c.ip.stop(c.ip.oss[i], false)
	}
	return c.oss[i].stop(stopTimeout)
}

// KillOSS kills OSS i with SIGKILL, as a crash (InProcess: its network
// goes first, then the server closes).
func (c *Cluster) KillOSS(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ip != nil {
		return c.ip.stop(c.ip.oss[i], true)
	}
	if !c.oss[i].running() {
		return fmt.Errorf("oss%d is not running", i)
	}
	c.oss[i].kill()
	return nil
}

// StartOSS starts OSS i again (after StopOSS or KillOSS) and waits until
// it serves and the MDS can allocate on its OSTs again.
func (c *Cluster) StartOSS(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ip != nil {
		if err := c.ip.startOSS(i); err != nil {
			return err
		}
		return c.waitMDSOSTs(context.Background())
	}
	return c.restart(c.oss[i], fmt.Sprintf("oss%d", i), c.ossSock(i))
}

// restart starts the stopped daemon p (what, serving sock) again and waits
// until it answers on its control socket and the MDS can allocate on every
// OST.
func (c *Cluster) restart(p *proc, what, sock string) error {
	if p.running() {
		return fmt.Errorf("%s is running", what)
	}
	if err := p.exitErr(); err != nil {
		return fmt.Errorf("%s: its last run ended badly: %w", what, err)
	}
	if err := p.start(c.Env()); err != nil {
		return err
	}
	ctx := context.Background()
	if err := p.waitSocket(ctx, sock, "dl"); err != nil {
		return err
	}
	return c.waitMDSOSTs(ctx)
}

// Unmount unmounts client i with stria-client umount and waits for its
// process to exit cleanly.
func (c *Cluster) Unmount(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unmount(i)
}

// Remount mounts client i again after Unmount.
func (c *Cluster) Remount(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mounted(i) {
		return fmt.Errorf("client%d is mounted", i)
	}
	return c.startClient(i)
}

// KillClient kills client i with SIGKILL, as a crash with its locks
// held: it answers no lock callback any more and writes nothing back. The
// servers evict it once their callback timeout passes; until then the
// others wait for its locks. Its mount, which answers ENOTCONN once the
// process is gone, is then detached (fusermount3 -u -z, or a lazy
// unmount where fusermount3 is missing), so that Remount can mount it
// again. Files the test still holds open there keep failing until closed.
//
// InProcess: the client's network is cut and its control socket closed
// (the servers see what they would of a dead process); its FUSE mount
// stays, served from whatever the client cached, until Remount or Close
// unmounts it and closes the client.
func (c *Cluster) KillClient(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ip != nil {
		return c.ip.kill(i)
	}
	p := c.clients[i]
	if !p.running() {
		return fmt.Errorf("client%d is not running", i)
	}
	p.kill()
	return detach(c.Mount(i))
}

// detach lazily unmounts a FUSE mount whose server died, with fusermount3
// -u -z as an unprivileged user would, or umount2(MNT_DETACH).
func detach(mnt string) error {
	if !isMounted(mnt) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	var ferr error
	if out, err := exec.CommandContext(ctx, "fusermount3", "-u", "-z", mnt).CombinedOutput(); err != nil {
		ferr = fmt.Errorf("fusermount3 -u -z %s: %w: %s", mnt, err, bytes.TrimSpace(out))
	}
	if !isMounted(mnt) {
		return nil
	}
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
		return errors.Join(ferr, fmt.Errorf("lazy unmount %s: %w", mnt, err))
	}
	return nil
}

func (c *Cluster) mounted(i int) bool {
	if c.ip != nil {
		return c.ip.clients[i].up
	}
	return c.clients[i].running()
}

// RestartAll unmounts every client, stops every daemon (MDS, OSSs, MGS),
// starts them all again and mounts the clients again.
func (c *Cluster) RestartAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for i := range c.o.Clients {
		if c.mounted(i) {
			errs = append(errs, c.unmount(i))
		}
	}
	errs = append(errs, c.stopServers()...)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.startServers(); err != nil {
		return err
	}
	for i := range c.o.Clients {
		if err := c.startClient(i); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) unmount(i int) error {
	if c.ip != nil {
		return c.ip.unmount(i)
	}
	p := c.clients[i]
	if !p.running() {
		return p.exitErr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout+10*time.Second)
	defer cancel()
	out, errOut, code := c.Run(ctx, Client, "umount", "--ctl-dir", c.ctl, "--timeout", stopTimeout.String(), c.Mount(i))
	var errs []error
	if code != 0 {
		errs = append(errs, fmt.Errorf("stria-client umount %s: exit %d: %s%s", c.Mount(i), code, out, errOut))
		// Detach it, so the client process sees the end of its mount.
		if err := syscall.Unmount(c.Mount(i), syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("lazy unmount %s: %w", c.Mount(i), err))
		}
	}
	select {
	case <-p.done:
		errs = append(errs, p.exitErr())
	case <-time.After(stopTimeout):
		errs = append(errs, p.stop(stopTimeout))
	}
	return errors.Join(errs...)
}

// stopServers stops the MDS, the OSSs and the MGS, in that order.
func (c *Cluster) stopServers() []error {
	if c.ip != nil {
		return c.ip.stopServers()
	}
	var errs []error
	errs = append(errs, c.mds.stop(stopTimeout))
	for _, p := range c.oss {
		errs = append(errs, p.stop(stopTimeout))
	}
	return append(errs, c.mgs.stop(stopTimeout))
}

// Close checks the cluster's invariants, unmounts the clients and stops
// the daemons; see the package comment. New registers it with t.Cleanup;
// calling it again does nothing.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	t := c.t
	if !t.Failed() {
		for _, err := range c.check() {
			t.Errorf("cluster invariant: %v", err)
		}
	}
	var errs []error
	if c.ip != nil || c.mds != nil {
		for i := range c.o.Clients {
			errs = append(errs, c.unmount(i))
		}
		errs = append(errs, c.stopServers()...)
	}
	// A mount whose client died stays behind, answering ENOTCONN; detach
	// it so that the temporary directory can be removed.
	for i := range c.o.Clients {
		if isMounted(c.Mount(i)) {
			if err := syscall.Unmount(c.Mount(i), syscall.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("%s left mounted: lazy unmount: %w", c.Mount(i), err))
			} else {
				errs = append(errs, fmt.Errorf("%s was left mounted; detached", c.Mount(i)))
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Errorf("cluster teardown: %v", err)
		}
	}
	if t.Failed() {
		c.dumpLogs()
	}
	_ = os.RemoveAll(c.ctl)
}

// check verifies what must hold of a cluster that is up: lfs df works
// through every mount and lctl dl lists every target UP. It checks only
// when every process runs (a test may leave an OSS down).
func (c *Cluster) check() []error {
	if c.ip != nil && !c.ip.running() {
		return nil
	}
	if c.ip == nil {
		procs := append([]*proc{c.mgs, c.mds}, c.oss...)
		for _, p := range append(procs, c.clients...) {
			if p == nil || !p.running() {
				return nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for i := range c.clients {
		if out, errOut, code := c.Lfs(ctx, "df", c.Mount(i)); code != 0 {
			errs = append(errs, fmt.Errorf("lfs df %s: exit %d: %s%s", c.Mount(i), code, out, errOut))
		}
	}
	out, errOut, code := c.Lctl(ctx, "dl")
	if code != 0 {
		return append(errs, fmt.Errorf("lctl dl: exit %d: %s", code, errOut))
	}
	for idx := range c.OSTs() {
		if !strings.Contains(out, " UP obdfilter "+c.ostName(idx)+" ") {
			errs = append(errs, fmt.Errorf("lctl dl does not list %s UP:\n%s", c.ostName(idx), out))
		}
	}
	return errs
}

// dumpLogs prints the tail of every process's log.
func (c *Cluster) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(c.dir, "log", "*.log"))
	for _, l := range logs {
		c.t.Logf("--- %s (last 40 lines) ---\n%s", filepath.Base(l), tail(l, 40))
	}
}

// isMounted reports whether dir is a mount point (in /proc/self/mounts).
func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}
