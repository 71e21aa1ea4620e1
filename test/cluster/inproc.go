package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/client/fusefs"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
	"github.com/stria-fs/stria/mdt"
	"github.com/stria-fs/stria/mgs"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ost"
	"github.com/stria-fs/stria/wire"
)

// inproc is the InProcess runner: the same topology as the binaries', each
// server and client on an LNet node of its own (host number N is N@lo)
// over one lolnd fabric, each with its obd node and control socket in the
// cluster's control directory, so lfs and lctl reach them as they reach
// the daemons. Every component logs to its file in the cluster's log
// directory, as the binaries do.
type inproc struct {
	c        *Cluster
	fabric   *lolnd.Fabric
	mgsNodes [][]lnet.NID
	mgs      *ipNode
	mds      *ipNode
	oss      []*ipNode
	clients  []*ipNode
}

// ipNode is one in-process server or client.
type ipNode struct {
	name    string
	ln      *lnet.LNet
	node    *obd.Node
	srv     io.Closer // the server; for a client, its unmount
	closeLg func()
	up      bool
	killed  bool // a client whose network KillClient cut; reap closes the rest
}

func newInproc(c *Cluster) *inproc {
	ip := &inproc{c: c, fabric: lolnd.NewFabric(), mgsNodes: [][]lnet.NID{{lnet.LoNID(hostMGS)}}}
	ip.mgs, ip.mds = &ipNode{name: "mgs"}, &ipNode{name: "mds"}
	for i := range c.o.OSSs {
		ip.oss = append(ip.oss, &ipNode{name: "oss" + strconv.Itoa(i)})
	}
	for i := range c.o.Clients {
		ip.clients = append(ip.clients, &ipNode{name: "client" + strconv.Itoa(i)})
	}
	return ip
}

// format formats every target with the libraries.
func (ip *inproc) format() error {
	c := ip.c
	if err := mgs.Format(filepath.Join(c.dir, "mgs"), mgs.FormatOptions{}); err != nil {
		return err
	}
	var params []string
	if c.o.StripeCount != 0 {
		params = append(params, "lov.stripecount="+strconv.Itoa(c.o.StripeCount))
	}
	if c.o.StripeSize != 0 {
		params = append(params, "lov.stripesize="+strconv.FormatInt(c.o.StripeSize, 10))
	}
	if _, err := mdt.Format(filepath.Join(c.dir, "mdt0"), mdt.FormatOptions{FSName: c.o.FSName, MGSNodes: ip.mgsNodes,
		Params: params}); err != nil {
		return err
	}
	for idx := range c.OSTs() {
		if _, err := ost.Format(c.OSTDir(idx), ost.FormatOptions{FSName: c.o.FSName, Index: uint32(idx),
			MGSNodes: ip.mgsNodes, Capacity: c.o.OSTCapacity}); err != nil {
			return err
		}
	}
	return nil
}

// start brings n up on host: logger, LNet, obd node, the server start
// returns, then the control socket ctlName.
func (ip *inproc) start(n *ipNode, host int, ctlName string,
	start func(ctx context.Context, ln *lnet.LNet, node *obd.Node, log *zap.Logger) (io.Closer, error)) error {
	if n.up {
		return fmt.Errorf("%s is running", n.name)
	}
	log, closeLg, err := fileLogger(ip.c.logFile(n.name), ip.c.o.LogLevel)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	nets, err := lnet.ParseNetworks("lo(" + strconv.Itoa(host) + ")")
	if err != nil {
		closeLg()
		return err
	}
	ln, err := lnet.New(ctx, lnet.Config{Networks: nets, LNDs: []lnet.LND{lolnd.New(ip.fabric)}, Logger: log})
	if err != nil {
		closeLg()
		return fmt.Errorf("%s: %w", n.name, err)
	}
	node := obd.NewNode(log)
	node.AttachLNet(ln)
	srv, err := start(ctx, ln, node, log)
	if err == nil {
		if err = node.Control.Listen(ip.c.ctl, ctlName); err != nil {
			_ = srv.Close()
		}
	}
	if err != nil {
		_ = node.Close()
		_ = ln.Close()
		closeLg()
		return fmt.Errorf("%s: %w", n.name, err)
	}
	n.ln, n.node, n.srv, n.closeLg, n.up = ln, node, srv, closeLg, true
	return nil
}

// stop takes n down: its control socket, then its server, then its LNet;
// kill cuts the network first, as a crash would.
func (ip *inproc) stop(n *ipNode, kill bool) error {
	if n.killed {
		ip.reap(n)
		return nil
	}
	if !n.up {
		return nil
	}
	n.up = false
	var errs []error
	errs = append(errs, n.node.Close())
	if kill {
		errs = append(errs, n.ln.Close(), n.srv.Close())
	} else {
		errs = append(errs, n.srv.Close(), n.ln.Close())
	}
	n.closeLg()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	return nil
}

func (ip *inproc) startServers() error {
	c := ip.c
	if _, err := os.Stat(filepath.Join(c.dir, "mgs")); errors.Is(err, os.ErrNotExist) {
		if err := ip.format(); err != nil {
			return err
		}
	}
	if err := ip.start(ip.mgs, hostMGS, "mgs", func(ctx context.Context, ln *lnet.LNet, node *obd.Node, log *zap.Logger) (io.Closer, error) {
		return mgs.Start(ctx, mgs.Config{Dir: filepath.Join(c.dir, "mgs"), LNet: ln, Node: node, Logger: log})
	}); err != nil {
		return err
	}
	if err := ip.startMDS(); err != nil {
		return err
	}
	for i := range ip.oss {
		if err := ip.startOSS(i); err != nil {
			return err
		}
	}
	return c.waitMDSOSTs(context.Background())
}

func (ip *inproc) startOSS(i int) error {
	c := ip.c
	var dirs []string
	for j := range c.o.OSTsPerOSS {
		dirs = append(dirs, c.OSTDir(i*c.o.OSTsPerOSS+j))
	}
	return ip.start(ip.oss[i], hostOSS+i, "oss-"+c.ostName(i*c.o.OSTsPerOSS), func(ctx context.Context, ln *lnet.LNet, node *obd.Node, log *zap.Logger) (io.Closer, error) {
		return ost.Start(ctx, ost.Config{Dirs: dirs, FSName: c.o.FSName, LNet: ln, Node: node, Logger: log})
	})
}

func (ip *inproc) stopServers() []error {
	errs := []error{ip.stop(ip.mds, false)}
	for _, n := range ip.oss {
		errs = append(errs, ip.stop(n, false))
	}
	return append(errs, ip.stop(ip.mgs, false))
}

// mountedFS is an in-process client mount: the FUSE server over the
// client library. Close unmounts (lazily if busy) and writes back.
type mountedFS struct {
	mnt string
	fs  *client.FS
	srv *fusefs.Server
}

func (m *mountedFS) Close() error {
	var errs []error
	if err := m.srv.Unmount(); err != nil {
		errs = append(errs, err)
		if err := syscall.Unmount(m.mnt, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("lazy unmount %s: %w", m.mnt, err))
		} else {
			m.srv.Wait()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return errors.Join(append(errs, m.fs.Close(ctx))...)
}

// abandon unmounts a client whose network is gone (lazily if files are
// still open there) and closes it without waiting for its write-back.
func (m *mountedFS) abandon() {
	if err := m.srv.Unmount(); err != nil {
		_ = syscall.Unmount(m.mnt, syscall.MNT_DETACH)
	}
	ctx, cancel := context.WithTimeout(context.Background(), killedCloseTimeout)
	defer cancel()
	_ = m.fs.Close(ctx)
}

// killedCloseTimeout bounds the close of a client KillClient cut off.
const killedCloseTimeout = 5 * time.Second

// mount mounts client i and returns its control socket.
func (ip *inproc) mount(i int) (string, error) {
	c := ip.c
	ip.reap(ip.clients[i])
	ctlName := "client-inproc" + strconv.Itoa(i)
	err := ip.start(ip.clients[i], hostClient+i, ctlName, func(ctx context.Context, ln *lnet.LNet, node *obd.Node, log *zap.Logger) (io.Closer, error) {
		ctx, cancel := context.WithTimeout(ctx, c.o.MountTimeout)
		defer cancel()
		fs, err := client.Mount(ctx, client.Config{MGSNodes: ip.mgsNodes, FSName: c.o.FSName, LNet: ln, Node: node,
			Logger: log, MountPoint: c.Mount(i)})
		if err != nil {
			return nil, err
		}
		srv, err := fusefs.Mount(ctx, c.Mount(i), backend{fs}, fusefs.Options{FsName: c.Spec(),
			AllowOther: os.Geteuid() == 0, Logger: log})
		if err != nil {
			cctx, ccancel := context.WithTimeout(context.Background(), stopTimeout)
			defer ccancel()
			return nil, errors.Join(err, fs.Close(cctx))
		}
		return &mountedFS{mnt: c.Mount(i), fs: fs, srv: srv}, nil
	})
	return c.sock(ctlName), err
}

func (ip *inproc) unmount(i int) error { return ip.stop(ip.clients[i], false) }

// kill cuts client i's network and closes its control socket: to the
// servers it is a client whose process died. Its FUSE mount and the client
// stay until reap.
func (ip *inproc) kill(i int) error {
	n := ip.clients[i]
	if !n.up {
		return fmt.Errorf("%s is not running", n.name)
	}
	n.up, n.killed = false, true
	if err := errors.Join(n.node.Close(), n.ln.Close()); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	return nil
}

// reap unmounts a killed client and closes it, within killedCloseTimeout:
// with its network gone, what it still held is lost, as in a crash, and
// the errors saying so are expected.
func (ip *inproc) reap(n *ipNode) {
	if !n.killed {
		return
	}
	n.killed = false
	if m, ok := n.srv.(*mountedFS); ok {
		m.abandon()
	}
	n.closeLg()
}

// running reports whether every server and client is up.
func (ip *inproc) running() bool {
	all := append([]*ipNode{ip.mgs, ip.mds}, ip.oss...)
	for _, n := range append(all, ip.clients...) {
		if !n.up {
			return false
		}
	}
	return true
}

// fileLogger logs to path (appended), in the binaries' console format.
func fileLogger(path, level string) (*zap.Logger, func(), error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(f, "=== %s in-process start\n", time.Now().Format(time.RFC3339Nano))
	ec := zap.NewDevelopmentEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(ec), zapcore.Lock(f), lvl))
	return log, func() { _ = log.Sync(); _ = f.Close() }, nil
}

// backend is *client.FS as a fusefs.Backend (client.File and fusefs.File
// have the same methods but are distinct types).
type backend struct{ *client.FS }

var _ fusefs.Backend = backend{}

func (b backend) Create(ctx context.Context, parent wire.FID, name string, flags, mode uint32) (fusefs.File, wire.FID, wire.Attr, error) {
	f, fid, a, err := b.FS.Create(ctx, parent, name, flags, mode)
	if err != nil {
		return nil, fid, a, err
	}
	return f, fid, a, nil
}

func (b backend) Open(ctx context.Context, fid wire.FID, flags uint32) (fusefs.File, error) {
	f, err := b.FS.Open(ctx, fid, flags)
	if err != nil {
		return nil, err
	}
	return f, nil
}
