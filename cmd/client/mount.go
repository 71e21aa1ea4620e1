package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/client/fusefs"
	"github.com/stria-fs/stria/cmd/internal/daemon"
	"github.com/stria-fs/stria/obd"
)

// notifyEnv names the descriptor through which a background mount's child
// tells its parent how the mount went: one line, "ok" or "err: MESSAGE".
const notifyEnv = "STRIA_MOUNT_NOTIFY_FD"

// closeTimeout bounds writing back what an unmounted client still holds.
const closeTimeout = 60 * time.Second

// mountRequest is one mount to make.
type mountRequest struct {
	spec string // MGSNID[:MGSNID...]:/FSNAME[/SUBDIR]
	dir  string // absolute mount point
	opts mountOptions
}

// check parses what can be checked before anything starts.
func (r *mountRequest) check() error {
	if _, _, _, err := client.ParseMGSSpec(r.spec); err != nil {
		return err
	}
	abs, err := filepath.Abs(r.dir)
	if err != nil {
		return err
	}
	r.dir = abs
	st, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", abs, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", abs)
	}
	return nil
}

// background runs the mount in a child process of its own session, as
// mount(8) helpers do, and waits until the child reports the mount made or
// failed. On success the child keeps serving and background returns nil.
func background(ctx context.Context, r mountRequest) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.Command(exe, "mount", "--foreground", "-o", r.opts.String(), r.spec, r.dir)
	cmd.Env = append(os.Environ(), notifyEnv+"=3")
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if r.opts.LogFile != "" {
		// The child's own stderr (a panic, a message before its logger
		// exists) goes to the log too; never to a terminal it outlives.
		f, err := os.OpenFile(r.opts.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			pw.Close()
			return fmt.Errorf("log_file: %w", err)
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return err
	}
	pw.Close()
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(pr).ReadString('\n')
		ch <- answer{strings.TrimSpace(line), err}
	}()
	// The child bounds the mount by the mount timeout; leave it room to
	// say so before giving up on it.
	timer := time.NewTimer(r.opts.Timeout + 15*time.Second)
	defer timer.Stop()
	select {
	case a := <-ch:
		switch {
		case a.line == "ok":
			return cmd.Process.Release()
		case strings.HasPrefix(a.line, "err: "):
			_ = cmd.Wait()
			return errors.New(strings.TrimPrefix(a.line, "err: "))
		default:
			werr := cmd.Wait()
			return fmt.Errorf("the client process ended before mounting (%v)%s", werr, logHint(r.opts))
		}
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	pr.Close()
	return fmt.Errorf("mount did not complete within %v%s", r.opts.Timeout, logHint(r.opts))
}

func logHint(o mountOptions) string {
	if o.LogFile == "" {
		return "; run with --foreground or -o log_file=PATH to see why"
	}
	return "; see " + o.LogFile
}

// notifier reports the outcome of a foreground mount to a waiting parent,
// if there is one.
type notifier struct{ f *os.File }

func newNotifier() notifier {
	fd, err := strconv.Atoi(os.Getenv(notifyEnv))
	if err != nil || fd < 3 {
		return notifier{}
	}
	os.Unsetenv(notifyEnv)
	return notifier{os.NewFile(uintptr(fd), "notify")}
}

func (n notifier) done(err error) {
	if n.f == nil {
		return
	}
	msg := "ok\n"
	if err != nil {
		msg = "err: " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
	}
	_, _ = io.WriteString(n.f, msg)
	_ = n.f.Close()
}

// serveMount mounts and serves in this process until the file system is
// unmounted or a signal arrives.
func serveMount(ctx context.Context, r mountRequest, stderr io.Writer) (err error) {
	note := newNotifier()
	mounted := false
	defer func() {
		if !mounted {
			note.done(err)
		}
	}()
	lf := daemon.LogFlags{Level: r.opts.LogLevel, Format: r.opts.LogFormat, File: r.opts.LogFile}
	log, flush, err := lf.Logger(stderr)
	if err != nil {
		return err
	}
	defer flush()
	log = log.Named("client")
	if r.opts.Pprof != "" {
		_, stopPprof, err := daemon.StartPprof(r.opts.Pprof, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	nodes, fsname, subdir, err := client.ParseMGSSpec(r.spec)
	if err != nil {
		return err
	}
	ln, err := daemon.StartLNet(ctx, daemon.NetFlags{Networks: r.opts.Networks, Port: r.opts.Port}, log)
	if err != nil {
		return err
	}
	node := obd.NewNode(log)
	node.AttachLNet(ln)
	// The control socket goes last: `stria-client umount` waits for it to
	// disappear, so it must outlive the write-back, LNet and the PID file.
	defer node.Close()
	defer ln.Close()

	mctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	fs, err := client.Mount(mctx, client.Config{MGSNodes: nodes, FSName: fsname, SubDir: subdir, LNet: ln,
		Node: node, Logger: log, MountPoint: r.dir})
	if err != nil {
		if mctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("mount %s on %s: no answer within %v (mount_timeout): %w", r.spec, r.dir, r.opts.Timeout, err)
		}
		return fmt.Errorf("mount %s on %s: %w", r.spec, r.dir, err)
	}
	closeFS := func() error {
		c, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		return fs.Close(c)
	}
	srv, err := fusefs.Mount(mctx, r.dir, backend{fs}, fusefs.Options{FsName: r.spec, AllowOther: os.Geteuid() == 0,
		Debug: r.opts.Debug, Logger: log})
	if err != nil {
		_ = closeFS()
		return fmt.Errorf("mount %s on %s: %w", r.spec, r.dir, err)
	}
	sf := daemon.ServeFlags{CtlDir: r.opts.CtlDir, PIDFile: r.opts.PIDFile}
	if err := daemon.WritePIDFile(sf.PIDFile); err != nil {
		_ = srv.Unmount()
		_ = closeFS()
		return err
	}
	defer func() { _ = daemon.RemovePIDFile(sf.PIDFile) }()
	if err := node.Control.Listen(sf.CtlDir, "client-"+strconv.Itoa(os.Getpid())); err != nil {
		_ = srv.Unmount()
		_ = closeFS()
		return err
	}
	mounted = true
	note.done(nil)
	log.Info("serving", zap.String("mount", r.dir), zap.String("spec", r.spec),
		zap.String("control", node.Control.Path()), zap.Stringers("nid", ln.NIDs()))

	serr := srv.Serve(ctx)
	log.Info("unmounted; writing back and disconnecting", zap.String("mount", r.dir))
	cerr := closeFS()
	if err := errors.Join(serr, cerr); err != nil {
		log.Error("shutdown", zap.Error(err))
		return err
	}
	log.Info("stopped")
	return nil
}
