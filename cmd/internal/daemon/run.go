package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd"
	"github.com/stria-fs/stria/lnet/socklnd"
	"github.com/stria-fs/stria/obd"
)

// NetFlags are the network flags of every Stria process.
type NetFlags struct {
	// Networks is Lustre's networks= string, "tcp0(eth0)" or
	// "o2ib0(ib0),tcp0(127.0.0.2)".
	Networks string
	// Port is the TCP port every node listens and is reached on.
	Port int
}

// Register adds --networks and --port to fs; def is --networks' default.
func (f *NetFlags) Register(fs *pflag.FlagSet, def string) {
	fs.StringVar(&f.Networks, "networks", def,
		`LNet networks, as Lustre's networks= ("tcp0(eth0)", "tcp0(127.0.0.2)", "o2ib0(ib0),tcp0(eth0)")`)
	fs.IntVar(&f.Port, "port", socklnd.DefaultPort, "TCP port of every node's acceptor (Lustre's 988)")
}

// StartLNet starts the process's LNet on f.Networks with the LNDs this build
// offers: socklnd for tcp, o2iblnd for o2ib (a network that cannot start
// for want of RDMA is left out, so the node serves on the others).
func StartLNet(ctx context.Context, f NetFlags, log *zap.Logger) (*lnet.LNet, error) {
	nets, err := lnet.ParseNetworks(f.Networks)
	if err != nil {
		return nil, fmt.Errorf("--networks: %w", err)
	}
	if f.Port < 0 || f.Port > 65535 {
		return nil, fmt.Errorf("--port %d: want 0..65535", f.Port)
	}
	ib, err := o2iblnd.New(o2iblnd.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	return lnet.New(ctx, lnet.Config{
		Networks: nets,
		LNDs:     []lnet.LND{socklnd.New(socklnd.Config{Port: f.Port}), ib},
		Logger:   log,
	})
}

// ServeFlags say where a serving process announces itself.
type ServeFlags struct {
	// CtlDir is the directory of the control sockets (lctl, lfs).
	CtlDir string
	// PIDFile, if set, receives the process id once it serves.
	PIDFile string
	// Pprof, if set, is the loopback HOST:PORT Go's profiles are served
	// on (StartPprof).
	Pprof string
}

// Register adds --ctl-dir, --pid-file and --pprof to fs.
func (f *ServeFlags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.CtlDir, "ctl-dir", obd.ControlDir(), "directory of the control sockets (env STRIA_CTL_DIR)")
	fs.StringVar(&f.PIDFile, "pid-file", "", "write the process id to this file once serving")
	fs.StringVar(&f.Pprof, "pprof", "", "serve Go profiles (net/http/pprof) on this loopback HOST:PORT; off when empty")
}

// Process is what a role's server is started with.
type Process struct {
	Log  *zap.Logger
	LNet *lnet.LNet
	Node *obd.Node
}

// StartFunc starts a role's server in p and returns it, with the name of
// its control socket ("mgs", "mds-MDT0000", "oss-stria-OST0000").
type StartFunc func(ctx context.Context, p *Process) (srv io.Closer, ctlName string, err error)

// Run is a daemon's life (see the package comment): LNet, node, server,
// PID file and control socket; then it serves until ctx is done or
// SIGTERM/SIGINT arrives, and shuts down in reverse order. It returns nil
// after a clean shutdown.
func Run(ctx context.Context, nf NetFlags, sf ServeFlags, log *zap.Logger, start StartFunc) error {
	if sf.Pprof != "" {
		_, stopPprof, err := StartPprof(sf.Pprof, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := StartLNet(ctx, nf, log)
	if err != nil {
		return err
	}
	node := obd.NewNode(log)
	node.AttachLNet(ln)
	p := &Process{Log: log, LNet: ln, Node: node}
	srv, name, err := start(ctx, p)
	if err != nil {
		_ = node.Close()
		_ = ln.Close()
		return err
	}
	var errs []error
	if err := WritePIDFile(sf.PIDFile); err == nil {
		if err := node.Control.Listen(sf.CtlDir, name); err != nil {
			errs = append(errs, err)
		} else {
			log.Info("serving", zap.String("control", node.Control.Path()), zap.Stringers("nid", ln.NIDs()),
				zap.Int("pid", os.Getpid()))
			<-ctx.Done()
			log.Info("signalled: shutting down")
		}
	} else {
		errs = append(errs, err)
	}
	errs = append(errs, node.Close(), srv.Close(), ln.Close(), RemovePIDFile(sf.PIDFile))
	if err := errors.Join(errs...); err != nil {
		log.Error("shutdown", zap.Error(err))
		return err
	}
	log.Info("stopped")
	return nil
}

// WritePIDFile writes this process's id to path (nothing if path is "").
func WritePIDFile(path string) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

// RemovePIDFile removes path if it still names this process.
func RemovePIDFile(path string) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if pid, _ := strconv.Atoi(string(trimNL(b))); pid != os.Getpid() {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
