package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/obd"
)

// umount unmounts dir and waits, at most timeout, until the client process
// that served it has written back what it held and exited (its control
// socket is gone). lazy detaches a busy mount (umount -l).
func umount(ctx context.Context, dir, ctlDir string, lazy bool, timeout time.Duration) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sock := findClient(ctx, ctlDir, abs)
	if err := unmount(abs, lazy); err != nil {
		return err
	}
	if sock == "" {
		return nil
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if !serves(ctx, sock, abs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is unmounted, but its client process (%s) has not exited after %v",
				abs, sock, timeout)
		case <-tick.C:
		}
	}
}

// findClient returns the control socket of the client serving dir, or "".
func findClient(ctx context.Context, ctlDir, dir string) string {
	replies, err := obd.CallAll(ctx, ctlDir, client.CmdMount)
	if err != nil {
		return ""
	}
	for _, r := range replies {
		if r.Err == nil && strings.TrimSpace(r.Out) == dir {
			return filepath.Join(ctlDir, r.Socket+".ctl")
		}
	}
	return ""
}

// serves reports whether the client process at sock still runs: its
// control socket answers. The client closes it last, after writing back
// and removing its PID file.
func serves(ctx context.Context, sock, _ string) bool {
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := obd.Call(c, sock, "dl")
	return err == nil
}

// unmount unmounts dir: umount(2) as root, fusermount3 otherwise.
func unmount(dir string, lazy bool) error {
	if os.Geteuid() == 0 {
		flags := 0
		if lazy {
			flags = unix.MNT_DETACH
		}
		if err := unix.Unmount(dir, flags); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("umount %s: target is busy (files open or a working directory in it; -l detaches it)", dir)
			}
			if errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("umount %s: not mounted", dir)
			}
			return fmt.Errorf("umount %s: %w", dir, err)
		}
		return nil
	}
	args := []string{"-u"}
	if lazy {
		args = append(args, "-z")
	}
	out, err := exec.Command("fusermount3", append(args, dir)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("umount %s: fusermount3: %w: %s", dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}
