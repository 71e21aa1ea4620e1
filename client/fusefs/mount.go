package fusefs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

// fileSystem is what every node of one mount shares.
type fileSystem struct {
	b    Backend
	opts Options
	log  *zap.Logger

	mu   sync.Mutex           // guards open
	open map[*handle]struct{} // files opened and not yet released

	locks *lockState // record locks, when the backend is a Locker (lock.go)
	meta  *metaCache // kernel caching of names and attributes (cache.go)
}

// Server is a mounted Stria file system, served by goroutines of its own
// until it is unmounted.
type Server struct {
	fsys *fileSystem
	srv  *fuse.Server
	mnt  string
	done chan struct{} // closed when serving has ended and handles are released

	unmountMu sync.Mutex // serialises Unmount
}

// Mount mounts b on mountpoint and serves it until Unmount, or until
// someone unmounts it (umount, fusermount3 -u). ctx bounds the mount
// itself. As root the mount is made with mount(2); otherwise through
// fusermount3 (package fuse3).
func Mount(ctx context.Context, mountpoint string, b Backend, opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if st, err := os.Stat(mountpoint); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s: not a directory (%v)", ErrMount, mountpoint, err)
	}
	fsys := &fileSystem{
		b:    b,
		opts: opts,
		log:  opts.Logger.With(zap.String("mountpoint", mountpoint)),
		open: map[*handle]struct{}{},
	}
	if fsys.locker() != nil {
		fsys.locks = &lockState{flushes: map[uint32]uint64{}}
	}
	fsys.meta = newMetaCache(b, fsys.log)
	root := &node{fsys: fsys, fid: b.Root()}

	mo := fuse.MountOptions{
		AllowOther:    opts.AllowOther,
		FsName:        opts.FsName,
		Name:          opts.Subtype,
		MaxWrite:      opts.MaxWrite,
		MaxBackground: opts.MaxBackground,
		// Kernel passthrough would let the kernel do reads and writes on
		// a backing file without us; a handle that has no PassthroughFd
		// already prevents it, and so does not offering it.
		DisabledCapabilities: fuse.CAP_PASSTHROUGH,
		// mmap(MAP_SHARED) of an O_APPEND descriptor (direct I/O).
		ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
		DirectMount:       os.Geteuid() == 0,
		// The page cache is kept coherent by the backend, which drops a
		// file's pages when the locks covering them go (Invalidatable,
		// CacheKeeper). The kernel's own heuristic (FUSE_AUTO_INVAL_DATA:
		// drop the pages when a new mtime arrives) compares our mtime
		// with the one it set itself at the last write (its clock, its
		// granularity), and dropped valid pages after every write.
		ExplicitDataCacheControl: true,
		// Splicing helps only replies read from a file descriptor; ours
		// are in memory, and a 1 MiB reply does not fit the default pipe.
		DisableSplice: true,
		// flock(2) and fcntl(2) locks reach the backend, which keeps
		// them coherent across clients (lock.go).
		EnableLocks: fsys.locker() != nil,
		Debug:       opts.Debug,
		PanicHandler: func(v any) fuse.Status {
			fsys.log.Error("fusefs: panic serving a request", zap.Any("panic", v),
				zap.ByteString("stack", debug.Stack()))
			return fuse.EIO
		},
	}
	if opts.DefaultPermissions {
		mo.Options = append(mo.Options, "default_permissions")
	}
	// go-fuse's own messages: its protocol trace (Debug) at debug level,
	// its complaints at warn level.
	warn, err := zap.NewStdLogAt(fsys.log.Named("fuse"), zapcore.WarnLevel)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	mo.Logger = warn
	if opts.Debug {
		if mo.Logger, err = zap.NewStdLogAt(fsys.log.Named("fuse"), zapcore.DebugLevel); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
	}
	fo := &fs.Options{
		MountOptions:    mo,
		EntryTimeout:    &opts.EntryTimeout,
		AttrTimeout:     &opts.AttrTimeout,
		NullPermissions: true, // mode 0 is mode 0, not 0644
		RootStableAttr:  &fs.StableAttr{Ino: root.fid.Ino()},
		// The kernel's node IDs are the inode numbers, so that a FID
		// names its kernel inode for notifications (cache.go).
		ExternalNodeID: true,
		Logger:         warn,
	}
	if opts.NegativeTimeout > 0 {
		fo.NegativeTimeout = &opts.NegativeTimeout
	}

	srv, err := fuse.NewServer(fsys.wrapRaw(fs.NewNodeFS(root, fo)), mountpoint, &fo.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMount, mountpoint, err)
	}
	s := &Server{fsys: fsys, srv: srv, mnt: mountpoint, done: make(chan struct{})}
	fsys.meta.start(srv)
	go s.serve()
	if err := srv.WaitMount(); err != nil {
		_ = s.Unmount()
		return nil, fmt.Errorf("%w: %s: %w", ErrMount, mountpoint, err)
	}
	s.checkKernel()
	if opts.ReadAhead >= 0 {
		if err := setReadAhead(mountpoint, opts.ReadAhead); err != nil {
			fsys.log.Warn("fusefs: cannot set the readahead window; reads arrive in 128 KiB requests",
				zap.Int("read_ahead", opts.ReadAhead), zap.Error(err))
		}
	}
	return s, nil
}

// setReadAhead sets the readahead window of the mount's backing device
// info (named MAJOR:MINOR of the mount's st_dev). go-fuse can only lower
// the kernel's 128 KiB at INIT; sysfs can raise it (as root).
func setReadAhead(mountpoint string, bytes int) error {
	var st unix.Stat_t
	if err := unix.Stat(mountpoint, &st); err != nil {
		return err
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(p, []byte(strconv.Itoa(bytes>>10)), 0)
}

// serve runs go-fuse's request loop until the kernel ends the connection,
// then releases what the kernel left open.
func (s *Server) serve() {
	defer close(s.done)
	s.srv.Serve()
	s.fsys.meta.close()
	s.fsys.releaseAll(context.Background())
}

// checkKernel logs what the kernel agreed to: READ and WRITE requests of
// MaxWrite need FUSE_MAX_PAGES (Linux 4.20) and max_pages_limit pages.
func (s *Server) checkKernel() {
	in := s.srv.KernelSettings()
	if in.Flags64()&fuse.CAP_MAX_PAGES == 0 && s.fsys.opts.MaxWrite > 128<<10 {
		s.fsys.log.Warn("fusefs: kernel lacks FUSE_MAX_PAGES; requests are limited to 128 KiB",
			zap.Int("max_write", s.fsys.opts.MaxWrite))
	}
	s.fsys.log.Info("fusefs: mounted", zap.String("fsname", s.fsys.opts.FsName),
		zap.Uint32("protocol_minor", in.Minor), zap.Int("max_write", s.MaxWrite()),
		zap.Uint32("kernel_max_readahead", in.MaxReadAhead))
}

// MaxWrite is the largest READ and WRITE request the kernel sends on this
// mount: Options.MaxWrite, unless the kernel cannot go that far.
func (s *Server) MaxWrite() int {
	if s.srv.KernelSettings().Flags64()&fuse.CAP_MAX_PAGES == 0 {
		return min(s.fsys.opts.MaxWrite, 128<<10)
	}
	return min(s.fsys.opts.MaxWrite, maxPagesLimit()*os.Getpagesize())
}

// Mountpoint returns the directory the file system is mounted on.
func (s *Server) Mountpoint() string { return s.mnt }

// Unmount unmounts the file system and waits until serving has ended and
// every open file is released. It fails with ErrUnmount while the mount is
// busy (open files, a working directory in it). Unmounting an unmounted
// Server does nothing.
func (s *Server) Unmount() error {
	s.unmountMu.Lock()
	defer s.unmountMu.Unlock()
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.srv.Unmount(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnmount, s.mnt, err)
	}
	<-s.done
	return nil
}

// Wait blocks until the file system is unmounted, by Unmount or from
// outside, and serving has ended.
func (s *Server) Wait() { <-s.done }

// Serve is for a command that serves the mount in the foreground: it
// returns when the file system is unmounted from outside, or, when ctx is
// cancelled (SIGTERM), unmounts it, lazily if it is busy, and returns when
// the last user is gone.
func (s *Server) Serve(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	err := s.Unmount()
	if err == nil {
		return nil
	}
	s.fsys.log.Warn("fusefs: mount busy, detaching it", zap.Error(err))
	if derr := detach(s.mnt); derr != nil {
		return fmt.Errorf("%w: %s: detach: %w", ErrUnmount, s.mnt, derr)
	}
	<-s.done
	return nil
}

// detach unmounts mnt lazily: it disappears from the namespace now, and
// the connection ends when its last user is gone.
func detach(mnt string) error {
	if os.Geteuid() == 0 {
		return syscall.Unmount(mnt, syscall.MNT_DETACH)
	}
	out, err := exec.Command("fusermount3", "-u", "-z", mnt).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -u -z: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// maxPagesLimit is the kernel's cap on pages per FUSE request.
func maxPagesLimit() int {
	b, err := os.ReadFile("/proc/sys/fs/fuse/max_pages_limit")
	if err != nil {
		return 256 // FUSE_MAX_MAX_PAGES, the limit before it was tunable
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 256
	}
	return n
}
