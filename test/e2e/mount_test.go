package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/test/cluster"
)

// Spare host numbers on a cluster's subnet for the mounts these tests make
// by hand.
const (
	hostSpareClient = 150
	hostSpareServer = 160
)

// mountBound bounds a mount that must fail: its mount_timeout plus the
// client's start and the message's way back.
const mountBound = 90 * time.Second

// testMountErrors: a wrong fsname, an unreachable MGS and a bad spec fail
// within a bounded time, with a clear message and a non-zero status, and
// leave nothing mounted.
func testMountErrors(t *testing.T, c *cluster.Cluster) {
	dir := filepath.Join(c.Dir(), "badmount")
	must(t, "mkdir", os.MkdirAll(dir, 0o755))
	net := "tcp0(" + c.Addr(hostSpareClient) + ")"
	for _, tc := range []struct {
		name, spec, says string
	}{
		{"WrongFSName", c.MGSNID() + ":/nosuchfs", "not known to the MGS"},
		{"UnreachableMGS", c.Addr(cluster.HostUnused) + "@tcp:/" + c.FSName(), "unreachable"},
		{"BadSpec", "no-nid-here", "MGSNID"},
		{"BadFSName", c.MGSNID() + ":/much-too-long", "file system name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), mountBound)
			defer cancel()
			out, errOut, code := c.Run(ctx, cluster.Client, "mount", "--networks", net, "--port", strconv.Itoa(c.Port()),
				"--ctl-dir", c.CtlDir(), "-o", "mount_timeout=5s", tc.spec, dir)
			switch {
			case code == -1:
				t.Fatalf("mount %s did not fail within %v: %s", tc.spec, mountBound, errOut)
			case code == 0:
				t.Fatalf("mount %s succeeded: %s", tc.spec, out)
			}
			if !strings.Contains(errOut, tc.says) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("mount %s: message %q should be one line saying %q", tc.spec, errOut, tc.says)
			}
			if mountedAt(t, dir) {
				t.Errorf("%s is mounted after a failed mount", dir)
				_ = syscall.Unmount(dir, syscall.MNT_DETACH)
			}
		})
	}
}

// testMountHelper mounts through mount.stria (as mount(8) runs it), with a
// PID file, and unmounts with stria-client umount; then through
// `mount -t stria` itself, in a mount namespace of its own whose /sbin
// holds mount.stria.
func testMountHelper(t *testing.T, c *cluster.Cluster) {
	src := freshDir(t, c, 0)
	must(t, "write", os.WriteFile(filepath.Join(src, "hello"), []byte("hello from client 0"), 0o644))
	rel, _ := filepath.Rel(c.Mount(0), src)
	dir := filepath.Join(c.Dir(), "helpermnt")
	must(t, "mkdir", os.MkdirAll(dir, 0o755))
	pidFile := filepath.Join(c.Dir(), "helper.pid")
	opts := strings.Join([]string{
		"rw", "_netdev",
		"networks=tcp0(" + c.Addr(hostSpareClient) + ")",
		"port=" + strconv.Itoa(c.Port()),
		"ctl_dir=" + c.CtlDir(),
		"log_file=" + filepath.Join(c.Dir(), "log", "helper-client.log"),
		"log_format=console",
		"pid_file=" + pidFile,
		"mount_timeout=30s",
	}, ",")
	ctx, cancel := context.WithTimeout(context.Background(), mountBound)
	defer cancel()
	out, errOut, code := c.Run(ctx, cluster.MountHelper, c.Spec(), dir, "-o", opts)
	if code != 0 {
		t.Fatalf("mount.stria: exit %d: %s%s", code, out, errOut)
	}
	if !mountedAt(t, dir) {
		t.Fatalf("mount.stria returned 0 but %s is not mounted", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, rel, "hello"))
	if err != nil || string(b) != "hello from client 0" {
		t.Errorf("read through the helper's mount: %q %v", b, err)
	}
	pb, err := os.ReadFile(pidFile)
	must(t, "pid file", err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(pb)))
	must(t, "pid", err)
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if !strings.Contains(string(cmdline), "stria-client") {
		t.Errorf("pid file names %d: %q", pid, cmdline)
	}
	out, errOut, code = c.Run(ctx, cluster.Client, "umount", "--ctl-dir", c.CtlDir(), dir)
	if code != 0 {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		t.Fatalf("stria-client umount: exit %d: %s%s", code, out, errOut)
	}
	if mountedAt(t, dir) {
		t.Errorf("%s still mounted after umount", dir)
	}
	// umount returns once the client has written back and closed its
	// control socket, its last act: its PID file is gone, and the process
	// ends at once.
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("the pid file outlives the client: %v", err)
	}
	if !waitGone(pid, 30*time.Second) {
		t.Errorf("the client process %d still runs after umount", pid)
	}

	t.Run("MountTStria", func(t *testing.T) { testMountT(t, c, dir, rel, opts) })
}

// testMountT runs `mount -t stria` in a private mount namespace whose
// /usr/sbin (/sbin) is a directory holding only mount.stria: mount(8) finds
// its helper there without the test installing anything on the machine.
func testMountT(t *testing.T, c *cluster.Cluster, dir, rel, opts string) {
	needRoot(t)
	for _, tool := range []string{"unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (util-linux)", tool, err)
		}
	}
	sbin := filepath.Join(c.Dir(), "sbin")
	must(t, "mkdir", os.MkdirAll(sbin, 0o755))
	must(t, "link", os.Symlink(c.Bin(cluster.Client), filepath.Join(sbin, "mount.stria")))
	unmount := c.Bin(cluster.Client) + " umount --ctl-dir " + c.CtlDir() + " " + dir
	script := strings.Join([]string{
		"set -e",
		"mount --bind " + sbin + " /usr/sbin",
		"mount -t stria -o '" + opts + "' " + c.Spec() + " " + dir,
		"grep -q ' " + dir + " fuse.stria ' /proc/self/mounts",
		"cat " + filepath.Join(dir, rel, "hello"),
		unmount,
	}, "\n")
	ctx, cancel := context.WithTimeout(context.Background(), mountBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mount -t stria in a private namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "hello from client 0") {
		t.Errorf("read through mount -t stria: %q", out)
	}
}

// testLockedTargets: a second daemon on a target that a running one serves
// refuses to start, saying so.
func testLockedTargets(t *testing.T, c *cluster.Cluster) {
	ctl := t.TempDir()
	for _, tc := range []struct {
		bin, dir string
	}{
		{cluster.MDS, filepath.Join(c.Dir(), "mdt0")},
		{cluster.MGS, filepath.Join(c.Dir(), "mgs")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, errOut, code := c.Run(ctx, tc.bin, "start", "--dir", tc.dir, "--networks", "tcp0("+c.Addr(hostSpareServer)+")",
			"--port", strconv.Itoa(c.Port()), "--ctl-dir", ctl, "--log-level", "error")
		cancel()
		if code == 0 || code == -1 {
			t.Errorf("a second %s on %s: exit %d: %s%s", tc.bin, tc.dir, code, out, errOut)
			continue
		}
		if !strings.Contains(errOut, "in use") {
			t.Errorf("a second %s on %s says %q; want it to say the target is in use", tc.bin, tc.dir, errOut)
		}
	}
}

// waitGone polls until process pid no longer runs stria-client (it exited,
// or is a zombie waiting for init), within bound.
func waitGone(pid int, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil || !strings.Contains(string(b), "stria-client") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
