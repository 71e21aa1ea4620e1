package lfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestPath2fid(t *testing.T) {
	f := fixture(t)
	out, stderr, code := run(t, f, "path2fid", "/mnt/fs/f")
	if code != 0 || stderr != "" || out != "[0x200000401:0x1:0x0]\n" {
		t.Errorf("one path: %d %q %q", code, out, stderr)
	}
	// Several paths are prefixed "PATH: "; a failing one is reported and
	// the rest still done; the status is the first failure's errno.
	out, stderr, code = run(t, f, "path2fid", "/mnt/fs/f", "/mnt/fs/nope", "/mnt/fs/g")
	if out != "/mnt/fs/f: [0x200000401:0x1:0x0]\n/mnt/fs/g: [0x200000401:0x2:0x0]\n" ||
		stderr != "lfs path2fid: cannot get fid for '/mnt/fs/nope': No such file or directory\n" || code != int(syscall.ENOENT) {
		t.Errorf("several: %d %q %q", code, out, stderr)
	}

	f.nodes["/mnt/fs/f"].xattrs[XattrLink] = []byte("[0x200000007:0x1:0x0]/f\n[0x200000401:0x9:0x0]/hardlink\n")
	f.nodes["/mnt/fs/g"].xattrs[XattrLink] = []byte("[0x200000007:0x1:0x0]/g")
	out, stderr, code = run(t, f, "path2fid", "--parents", "/mnt/fs/f")
	if code != 0 || out != "[0x200000007:0x1:0x0]/f\t[0x200000401:0x9:0x0]/hardlink\n" {
		t.Errorf("--parents: %d %q %q", code, out, stderr)
	}
	out, _, code = run(t, f, "path2fid", "-p", "/mnt/fs/f", "/mnt/fs/g")
	if code != 0 || out != "/mnt/fs/f: [0x200000007:0x1:0x0]/f\t[0x200000401:0x9:0x0]/hardlink\n/mnt/fs/g: [0x200000007:0x1:0x0]/g\n" {
		t.Errorf("--parents, two paths: %d %q", code, out)
	}
	_, stderr, code = run(t, f, "path2fid", "--parents", "/mnt/fs/pool")
	if code != int(syscall.ENODATA) || stderr != "lfs path2fid: cannot get parent fid for '/mnt/fs/pool': No data available\n" {
		t.Errorf("no links: %d %q", code, stderr)
	}
	f.nodes["/mnt/fs/pool"].xattrs[XattrLink] = []byte("garbage\n")
	f.nodes["/mnt/fs/dom"].xattrs[XattrFID] = []byte("[0x1:nope]")
	for _, args := range [][]string{{"-p", "/mnt/fs/pool"}, {"/mnt/fs/dom"}} {
		_, stderr, code = run(t, f, append([]string{"path2fid"}, args...)...)
		if code != 1 || !strings.Contains(stderr, "malformed reply") {
			t.Errorf("%q: %d %q", args, code, stderr)
		}
	}
	_, stderr, code = run(t, f, "path2fid")
	if code != int(syscall.EINVAL) || stderr != "lfs path2fid: FILE... must be specified\n" {
		t.Errorf("no path: %d %q", code, stderr)
	}
}

// fid2pathFS answers fid2path for two FIDs: one with two links, the root.
func fid2pathFS(t *testing.T) *fakeFS {
	f := newFakeFS(t)
	f.control = func(cmd string, args []string) (string, error) {
		switch {
		case cmd == CmdDf:
			b, _ := json.Marshal(dfTargets())
			return string(b), nil
		case cmd != CmdFid2Path || len(args) == 0:
			return "", errors.New("bad command")
		}
		var paths []string
		switch args[0] {
		case "[0x200000401:0x1:0x0]":
			paths = []string{"dir/a", "other/link"}
		case "[0x200000007:0x1:0x0]":
			paths = []string{""}
		default:
			return "", errors.New("No such file or directory")
		}
		if len(args) == 2 {
			var n int
			fmt.Sscan(args[1], &n)
			if n >= len(paths) {
				return "", errors.New("No such file or directory")
			}
			paths = paths[n : n+1]
		}
		return strings.Join(paths, "\n") + "\n", nil
	}
	return f
}

func TestFid2path(t *testing.T) {
	f := fid2pathFS(t)
	cases := []struct {
		args []string
		out  string
	}{
		{[]string{"/mnt/fs", "[0x200000401:0x1:0x0]"}, "/mnt/fs/dir/a\n/mnt/fs/other/link\n"},
		{[]string{"/mnt/fs/", "0x200000401:0x1:0x0"}, "/mnt/fs/dir/a\n/mnt/fs/other/link\n"},
		{[]string{"-l", "1", "/mnt/fs", "[0x200000401:0x1:0x0]"}, "/mnt/fs/other/link\n"},
		{[]string{"-c", "-f", "/mnt/fs", "[0x200000401:0x1:0x0]"},
			"[0x200000401:0x1:0x0] 0 /mnt/fs/dir/a\n[0x200000401:0x1:0x0] 1 /mnt/fs/other/link\n"},
		{[]string{"-n", "/mnt/fs", "[0x200000401:0x1:0x0]"}, "a\nlink\n"},
		{[]string{"-0", "/mnt/fs", "[0x200000401:0x1:0x0]"}, "/mnt/fs/dir/a\x00/mnt/fs/other/link\x00"},
		{[]string{"/mnt/fs", "[0x200000007:0x1:0x0]"}, "/mnt/fs/\n"},
		// By fsname: relative to the root.
		{[]string{"stria", "[0x200000401:0x1:0x0]"}, "dir/a\nother/link\n"},
		{[]string{"stria", "[0x200000007:0x1:0x0]"}, "/\n"},
	}
	for _, c := range cases {
		out, stderr, code := run(t, f, append([]string{"fid2path"}, c.args...)...)
		if code != 0 || stderr != "" || out != c.out {
			t.Errorf("fid2path %q: %d %q %q; want %q", c.args, code, out, stderr, c.out)
		}
	}
	if !slices.Contains(f.calls, "fid2path [0x200000401:0x1:0x0] 1") {
		t.Errorf("-l was not passed on: %q", f.calls)
	}

	// A bad FID and an unknown one are reported; the good one is printed.
	out, stderr, code := run(t, f, "fid2path", "/mnt/fs", "junk", "[0x200000401:0x5:0x0]", "[0x200000007:0x1:0x0]")
	if out != "/mnt/fs/\n" || code != int(syscall.EINVAL) ||
		stderr != "lfs fid2path: invalid FID 'junk'\nlfs fid2path: cannot find /mnt/fs [0x200000401:0x5:0x0]: No such file or directory\n" {
		t.Errorf("errors: %d %q %q", code, out, stderr)
	}
	_, stderr, code = run(t, f, "fid2path", "/mnt/fs", "[0x200000401:0x5:0x0]")
	if code != 1 || !strings.Contains(stderr, "cannot find") {
		t.Errorf("unknown FID: %d %q", code, stderr)
	}
	for _, args := range [][]string{{"/mnt/fs"}, {}} {
		_, stderr, code = run(t, f, append([]string{"fid2path"}, args...)...)
		if code != int(syscall.EINVAL) || !strings.Contains(stderr, "Usage: lfs fid2path") {
			t.Errorf("%q: %d %q", args, code, stderr)
		}
	}
	_, stderr, code = run(t, f, "fid2path", "nosuchfs", "[0x200000007:0x1:0x0]")
	if code != int(syscall.ENODEV) || stderr != "lfs fid2path: cannot resolve mount point for 'nosuchfs': No such device\n" {
		t.Errorf("unknown fsname: %d %q", code, stderr)
	}
	_, stderr, code = run(t, f, "fid2path", "/elsewhere", "[0x200000007:0x1:0x0]")
	if code != int(syscall.ENODEV) || stderr != "lfs fid2path: '/elsewhere' is not on a Stria file system\n" {
		t.Errorf("foreign path: %d %q", code, stderr)
	}
}
