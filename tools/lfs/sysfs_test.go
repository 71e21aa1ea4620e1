package lfs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/wire"
)

// serve starts a control socket in dir answering the given commands.
func serve(t *testing.T, dir, name string, cmds map[string]obd.CommandFunc) {
	t.Helper()
	c := obd.NewControl(zaptest.NewLogger(t))
	for k, f := range cmds {
		c.Handle(k, f)
	}
	if err := c.Listen(dir, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
}

func answer(s string) obd.CommandFunc {
	return func(context.Context, []string) (string, error) { return s, nil }
}

func TestSysFSControl(t *testing.T) {
	base := t.TempDir()
	ctl := filepath.Join(base, "ctl")
	mnt := filepath.Join(base, "mnt")
	inner := filepath.Join(mnt, "sub", "inner")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(inner, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	df, _ := json.Marshal([]Target{{UUID: "stria-OST0000_UUID", Kind: "OST", Active: true,
		StatFS: wire.StatFS{Blocks: 1000, BFree: 500, BAvail: 400, Files: 10, FFree: 5, BSize: 4096}}})
	serve(t, ctl, "client-a", map[string]obd.CommandFunc{
		CmdMount: answer(mnt + "/\n"),
		CmdDf:    answer(string(df)),
		CmdFid2Path: func(_ context.Context, args []string) (string, error) {
			if len(args) == 1 && args[0] == "[0x200000401:0x1:0x0]" {
				return "dir/a\n", nil
			}
			return "", errors.New("No such file or directory")
		},
	})
	serve(t, ctl, "client-b", map[string]obd.CommandFunc{CmdMount: answer(inner)})
	serve(t, ctl, "mds", map[string]obd.CommandFunc{"dl": answer("")}) // not a client

	s := NewSysFS(ctl)
	ctx := context.Background()
	clients, err := s.Clients(ctx)
	if err != nil || len(clients) != 2 || clients[0].Mount() != mnt || clients[1].Mount() != inner {
		t.Fatalf("clients %v, %v", clients, err)
	}
	for path, want := range map[string]string{
		filepath.Join(inner, "f"):          inner, // the deeper mount
		filepath.Join(base, "link", "new"): inner, // through a symlink, not existing yet
		filepath.Join(mnt, "sub"):          mnt,
		mnt:                                mnt,
	} {
		c, err := s.Control(ctx, path)
		if err != nil || c.Mount() != want {
			t.Errorf("Control(%s) = %v, %v; want %s", path, c, err, want)
		}
	}
	if _, err := s.Control(ctx, base); !errors.Is(err, ErrNotStria) || !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Control outside the mounts: %v", err)
	}
	if _, err := NewSysFS(t.TempDir()).Clients(ctx); !errors.Is(err, ErrNotStria) {
		t.Errorf("no sockets: %v", err)
	}
	_, err = clients[0].Call(ctx, CmdFid2Path, "[0x1:0x2:0x0]")
	if !errors.Is(err, ErrControl) || err.Error() != "No such file or directory" {
		t.Errorf("failed command: %v", err)
	}

	// The commands end to end over the real sockets.
	out, stderr, code := run(t, s, "df", filepath.Join(mnt, "sub"))
	if code != 0 || !strings.Contains(out, "stria-OST0000_UUID") || !strings.Contains(out, mnt+"[OST:0]") {
		t.Errorf("df: %d %q %q", code, out, stderr)
	}
	out, stderr, code = run(t, s, "fid2path", mnt, "[0x200000401:0x1:0x0]")
	if code != 0 || out != mnt+"/dir/a\n" {
		t.Errorf("fid2path: %d %q %q", code, out, stderr)
	}
}

// TestSysFSCalls runs the path methods on a local directory: the
// lustre.* xattrs do not exist there, so only their error shape is
// checked (an errno lfs can print and exit with).
func TestSysFSCalls(t *testing.T) {
	dir := t.TempDir()
	s := NewSysFS(dir)
	p := filepath.Join(dir, "f")
	if err := s.Mknod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := s.Mknod(p, 0o666); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second mknod: %v", err)
	}
	if m, err := s.Stat(p); err != nil || !m.IsRegular() {
		t.Errorf("stat: %v %v", m, err)
	}
	if m, err := s.Stat(dir); err != nil || !m.IsDir() {
		t.Errorf("stat dir: %v %v", m, err)
	}
	if _, err := s.Stat(filepath.Join(dir, "nope")); err != syscall.ENOENT {
		t.Errorf("stat of a missing file: %#v", err)
	}
	ents, err := s.ReadDir(dir)
	if err != nil || len(ents) != 1 || ents[0].Name() != "f" || ents[0].IsDir() {
		t.Errorf("readdir: %v %v", ents, err)
	}
	var errno syscall.Errno
	if _, err := s.Getxattr(p, XattrLOV); !errors.As(err, &errno) {
		t.Errorf("getxattr lustre.lov on a local file: %v", err)
	}
	// user.* xattrs, where the local file system has them.
	if err := s.Setxattr(p, "user.lfs_test", []byte("v")); err == nil {
		if b, err := s.Getxattr(p, "user.lfs_test"); err != nil || string(b) != "v" {
			t.Errorf("getxattr: %q %v", b, err)
		}
		if err := s.Removexattr(p, "user.lfs_test"); err != nil {
			t.Error(err)
		}
		if _, err := s.Getxattr(p, "user.lfs_test"); !errors.Is(err, syscall.ENODATA) {
			t.Errorf("after removexattr: %v", err)
		}
	} else if !errors.As(err, &errno) {
		t.Errorf("setxattr error %v is no errno", err)
	}
	if err := s.Unlink(p); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlink(p); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("second unlink: %v", err)
	}
}
