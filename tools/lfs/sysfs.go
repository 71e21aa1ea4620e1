package lfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/obd"
)

// SysFS is the real FS: system calls on the FUSE mount and the control
// sockets of the client processes in a control directory.
type SysFS struct {
	// ControlDir holds the client processes' control sockets
	// (obd.ControlDir() by default).
	ControlDir string
}

var _ FS = (*SysFS)(nil)

// NewSysFS returns the real FS over the control sockets in dir.
func NewSysFS(dir string) *SysFS { return &SysFS{ControlDir: dir} }

// Getxattr returns the whole value of an extended attribute.
func (s *SysFS) Getxattr(path, name string) ([]byte, error) {
	for {
		n, err := unix.Getxattr(path, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		m, err := unix.Getxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue // it grew between the calls
		}
		if err != nil {
			return nil, err
		}
		return buf[:m], nil
	}
}

func (s *SysFS) Setxattr(path, name string, value []byte) error {
	return unix.Setxattr(path, name, value, 0)
}

func (s *SysFS) Removexattr(path, name string) error { return unix.Removexattr(path, name) }

func (s *SysFS) Mknod(path string, perm uint32) error {
	return unix.Mknod(path, unix.S_IFREG|perm, 0)
}

func (s *SysFS) Unlink(path string) error { return unix.Unlink(path) }

func (s *SysFS) Stat(path string) (fs.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, errnoOf(err)
	}
	return fi.Mode(), nil
}

func (s *SysFS) ReadDir(path string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return nil, errnoOf(err)
	}
	return ents, nil
}

// errnoOf unwraps an *fs.PathError down to its errno, so callers print
// their own context.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// Clients asks every live control socket for its mount point; processes
// that answer no "mount" (servers) are not clients and are skipped.
func (s *SysFS) Clients(ctx context.Context) ([]Client, error) {
	socks, err := obd.Sockets(s.ControlDir)
	if err != nil {
		return nil, &noClientError{dir: s.ControlDir, err: err}
	}
	var out []Client
	for _, sock := range socks {
		mnt, err := obd.Call(ctx, sock, CmdMount)
		if err != nil {
			continue
		}
		mnt = strings.TrimSpace(mnt)
		if !filepath.IsAbs(mnt) {
			continue
		}
		out = append(out, &sockClient{socket: sock, mount: filepath.Clean(mnt)})
	}
	if len(out) == 0 {
		return nil, &noClientError{dir: s.ControlDir}
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.Mount(), b.Mount()) })
	return out, nil
}

// noClientError: no client process answers in the control directory.
type noClientError struct {
	dir string
	err error
}

func (e *noClientError) Error() string {
	return fmt.Sprintf("no Stria client is running (no client control socket in %s)", e.dir)
}

func (e *noClientError) Unwrap() []error { return []error{ErrNotStria, syscall.ENODEV, e.err} }

// notStriaError: no mounted client holds the path.
type notStriaError struct{ path string }

func (e *notStriaError) Error() string {
	return fmt.Sprintf("'%s' is not on a Stria file system", e.path)
}

func (e *notStriaError) Unwrap() []error { return []error{ErrNotStria, syscall.ENODEV} }

// Control returns the client whose mount point holds path (made absolute
// and symlink-resolved; for a path that does not exist yet, its parent is
// resolved). The deepest mount wins.
func (s *SysFS) Control(ctx context.Context, path string) (Client, error) {
	real, err := resolve(path)
	if err != nil {
		return nil, err
	}
	clients, err := s.Clients(ctx)
	if err != nil {
		return nil, err
	}
	if c := pickClient(clients, real); c != nil {
		return c, nil
	}
	return nil, &notStriaError{path}
}

// pickClient returns the client with the longest mount point holding
// path, or nil.
func pickClient(clients []Client, path string) Client {
	var best Client
	for _, c := range clients {
		m := c.Mount()
		if within(path, m) && (best == nil || len(m) > len(best.Mount())) {
			best = c
		}
	}
	return best
}

// within reports whether path is mnt or below it.
func within(path, mnt string) bool {
	if mnt == "/" {
		return true
	}
	return path == mnt || strings.HasPrefix(path, mnt+"/")
}

// resolve makes path absolute and resolves its symbolic links.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err == nil {
		return real, nil
	}
	dir, err2 := filepath.EvalSymlinks(filepath.Dir(abs))
	if err2 != nil {
		return "", errnoOf(err)
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// sockClient is a client process reached through its control socket.
type sockClient struct {
	socket string
	mount  string
}

func (c *sockClient) Mount() string { return c.mount }

func (c *sockClient) Call(ctx context.Context, cmd string, args ...string) (string, error) {
	out, err := obd.Call(ctx, c.socket, cmd, args...)
	if err != nil {
		return "", &controlError{err}
	}
	return out, nil
}

// controlError is a failed control command: it prints as the process's
// own message and matches ErrControl.
type controlError struct{ err error }

func (e *controlError) Error() string   { return e.err.Error() }
func (e *controlError) Unwrap() []error { return []error{ErrControl, e.err} }
