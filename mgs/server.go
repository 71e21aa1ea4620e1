package mgs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Name is the MGS's target name, which MGCs connect to, and its UUID.
const Name = "MGS"

// Config configures a running MGS.
type Config struct {
	// Dir holds the MGS's store (Dir/mgs.db), made by Format.
	Dir string
	// LNet is the process's LNet; the MGS service listens on its
	// wire.MGSRequestPortal.
	LNet *lnet.LNet
	// Node, if set, gets the MGS's device ("mgs MGS MGS" in `lctl dl`), its
	// parameters (mgs.MGS.*) and the set_param_P control command.
	Node *obd.Node
	// Logger is the MGS's logger (default zap.NewNop()).
	Logger *zap.Logger
	// Threads is the number of request handlers (default 4).
	Threads int
	// AT are the service's adaptive timeout settings (Lustre's if zero).
	AT ptlrpc.ATConfig
	// LockTimeout bounds the wait for the store's file lock (default 1 s);
	// an MGS already running on Dir makes Start fail with ErrLocked.
	LockTimeout time.Duration
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: no directory", ErrBadConfig)
	case c.LNet == nil:
		return fmt.Errorf("%w: no LNet", ErrBadConfig)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Threads <= 0 {
		c.Threads = 4
	}
	if c.LockTimeout <= 0 {
		c.LockTimeout = time.Second
	}
	return nil
}

// Server is a running MGS: its store, its ptlrpc target and service, and
// its parameters. See the package documentation.
type Server struct {
	cfg Config
	log *zap.Logger
	st  *store
	tgt *ptlrpc.Target
	svc *ptlrpc.Service

	mu     sync.Mutex      // guards the fields below
	closed bool            // Close has begun
	added  bool            // the device and the fixed parameters are on Config.Node
	live   map[string]bool // file systems whose mgs.MGS.live.FSNAME is registered
}

// Start opens the MGS in cfg.Dir and serves it until Close.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := openStore(cfg.Dir, cfg.LockTimeout)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With(zap.String("target", Name)), st: st, live: map[string]bool{}}
	fail := func(err error) (*Server, error) {
		if s.svc != nil {
			s.svc.Close()
		}
		_ = st.close()
		return nil, err
	}
	s.tgt, err = ptlrpc.NewTarget(ptlrpc.TargetConfig{
		Name: Name,
		Handlers: map[wire.Opcode]ptlrpc.Handler{
			wire.MGSTargetReg:  s.handleTargetReg,
			wire.MGSConfigRead: s.handleConfigRead,
			wire.MGSSetInfo:    s.handleSetInfo,
		},
		Errnos: errnos,
	})
	if err != nil {
		return fail(err)
	}
	s.svc, err = ptlrpc.NewService(ptlrpc.ServiceConfig{
		Name: "mgs", LNet: cfg.LNet, Portal: wire.MGSRequestPortal, ReplyPortal: wire.MGCReplyPortal,
		BulkPortal: wire.MGSBulkPortal, Threads: cfg.Threads, AT: cfg.AT, Logger: cfg.Logger,
	})
	if err != nil {
		return fail(err)
	}
	if err := s.svc.AddTarget(s.tgt); err != nil {
		return fail(err)
	}
	fss, err := st.filesystems()
	if err != nil {
		return fail(err)
	}
	s.register(fss)
	if err := s.svc.Start(ctx); err != nil {
		s.unregister()
		return fail(err)
	}
	s.log.Info("mgs: started", zap.String("dir", cfg.Dir), zap.Stringers("nid", cfg.LNet.NIDs()),
		zap.Strings("filesystems", fss))
	return s, nil
}

// NIDs returns the NIDs the MGS is reached at (its LNet's).
func (s *Server) NIDs() []lnet.NID { return s.cfg.LNet.NIDs() }

// Close stops serving, waits for every handler, and closes the store.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.svc.Close()
	s.unregister()
	err := s.st.close()
	s.log.Info("mgs: stopped")
	return err
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// FileSystems lists the file systems with at least one registered target.
func (s *Server) FileSystems() ([]string, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	return s.st.filesystems()
}

// Config returns a file system's configuration as MGS_CONFIG_READ would.
func (s *Server) Config(fs string) (*wire.ConfigReadReply, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	return s.st.config(fs, 0)
}

// SetParam stores a persistent parameter ("key=value"; with del, "key") of
// file system fs, or a global one when fs is empty, as `lctl set_param -P`
// does, and returns the new generation.
func (s *Server) SetParam(fs, param string, del bool) (uint64, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	gen, err := s.st.setParam(fs, param, del)
	if err != nil {
		return 0, err
	}
	s.log.Info("mgs: persistent parameter", zap.String("fsname", fs), zap.String("param", param),
		zap.Bool("delete", del), zap.Uint64("gen", gen))
	return gen, nil
}

// handleTargetReg serves MGS_TARGET_REG.
func (s *Server) handleTargetReg(_ context.Context, r *ptlrpc.Request) error {
	var req wire.TargetRegRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	peer := r.Peer().NID
	res, err := s.st.register(&req, peer)
	name := fmt.Sprintf("%s-%s%04x", req.FSName, req.Kind, req.Index)
	if err != nil {
		lvl := zap.WarnLevel
		if !errors.Is(err, ErrIndexInUse) && !errors.Is(err, ErrBadTarget) && !errors.Is(err, ErrBadFSName) &&
			!errors.Is(err, ErrTooMany) {
			lvl = zap.ErrorLevel
		}
		s.log.Log(lvl, "mgs: registration refused", zap.String("name", name), zap.String("uuid", req.UUID),
			zap.Stringer("nid", peer), zap.Error(err))
		return err
	}
	if res.NewFS {
		s.register([]string{req.FSName})
	}
	switch {
	case res.First:
		s.log.Info("mgs: target registered", zap.String("name", name), zap.String("uuid", req.UUID),
			zap.Stringer("nid", peer), zap.String("nodes", nodesString(req.Nodes)), zap.Uint64("gen", res.Gen))
	case res.Changed:
		s.log.Info("mgs: target re-registered with new settings", zap.String("name", name),
			zap.Stringer("nid", peer), zap.String("nodes", nodesString(req.Nodes)), zap.Uint64("gen", res.Gen))
	default:
		s.log.Debug("mgs: target re-registered", zap.String("name", name), zap.Stringer("nid", peer))
	}
	r.ReplyBody(&wire.TargetRegReply{Gen: res.Gen})
	return nil
}

// handleConfigRead serves MGS_CONFIG_READ.
func (s *Server) handleConfigRead(_ context.Context, r *ptlrpc.Request) error {
	var req wire.ConfigReadRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	rep, err := s.st.config(req.FSName, req.SinceGen)
	if err != nil {
		s.log.Debug("mgs: config read failed", zap.String("fsname", req.FSName), zap.Stringer("nid", r.Peer().NID),
			zap.Error(err))
		return err
	}
	r.ReplyBody(rep)
	return nil
}

// handleSetInfo serves MGS_SET_INFO: `lctl set_param -P`, root only.
func (s *Server) handleSetInfo(_ context.Context, r *ptlrpc.Request) error {
	var req wire.SetParamRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	if c := r.Creds(); c.UID != 0 {
		s.log.Warn("mgs: set_param -P refused to a non-root caller", zap.Uint32("uid", c.UID),
			zap.Stringer("nid", r.Peer().NID), zap.String("param", req.Param))
		return fmt.Errorf("mgs: set_param -P by uid %d: %w", c.UID, syscall.EPERM)
	}
	gen, err := s.SetParam(req.FSName, req.Param, req.Delete)
	if err != nil {
		s.log.Info("mgs: set_param -P refused", zap.String("fsname", req.FSName), zap.String("param", req.Param),
			zap.Stringer("nid", r.Peer().NID), zap.Error(err))
		return err
	}
	r.ReplyBody(&wire.SetParamReply{Gen: gen})
	return nil
}
