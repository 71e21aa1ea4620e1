package mgc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// MGSName is the target name of every MGS.
const MGSName = "MGS"

// DefaultPollInterval is how often Watch asks for a newer configuration.
const DefaultPollInterval = time.Second

// configReplySizes are the reply buffers a configuration read tries in
// turn: most configurations fit the first; a reply that does not is asked
// again with the next.
var configReplySizes = [...]int{64 << 10, 1 << 20, 32 << 20}

// Config configures a Client.
type Config struct {
	// LNet is the process's LNet.
	LNet *lnet.LNet
	// MGSNodes is the MGS failover list (mount's "a@tcp,a@o2ib:b@tcp"):
	// one element per MGS node, each with that node's NIDs. The import
	// tries, per node, the first NID on a network this node has.
	MGSNodes [][]lnet.NID
	// ClientUUID names this client to the MGS (random if empty).
	ClientUUID string
	Logger     *zap.Logger
	// PollInterval is the pause between Watch's polls (default 1 s).
	PollInterval time.Duration
	// ConnectTimeout bounds one connect attempt and ReconnectBackoff is the
	// pause after every MGS node failed once (ptlrpc's defaults if zero).
	ConnectTimeout   time.Duration
	ReconnectBackoff time.Duration
	// AT are the import's adaptive timeout settings (Lustre's if zero).
	AT ptlrpc.ATConfig
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.LNet == nil:
		return fmt.Errorf("%w: no LNet", ErrBadConfig)
	case len(c.MGSNodes) == 0:
		return fmt.Errorf("%w: no MGS node", ErrBadConfig)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	return nil
}

// Client is a connection to the MGS (Lustre's MGC): registration,
// configuration reads and watches, persistent parameters.
type Client struct {
	cfg  Config
	log  *zap.Logger
	imp  *ptlrpc.Import
	nids []lnet.NID // the import's failover list
	mgs  string     // the MGS as error messages name it: "a@tcp:b@tcp"

	ctx    context.Context // cancelled by Close; watches run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // watch loops

	mu     sync.Mutex // guards closed; held around wg.Add so Close cannot miss a watch
	closed bool
}

// New returns a Client of the MGS in cfg.MGSNodes. It does not wait for
// the MGS: the first call connects, within that call's deadline.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nids := FailoverNIDs(cfg.LNet, cfg.MGSNodes)
	if len(nids) == 0 {
		return nil, fmt.Errorf("%w: MGS %s: no NID on a network of this node: %w", ErrBadConfig,
			nodesString(cfg.MGSNodes), lnet.ErrNoRoute)
	}
	imp, err := ptlrpc.NewImport(ptlrpc.ImportConfig{
		Target: MGSName, NIDs: nids, LNet: cfg.LNet,
		RequestPortal: wire.MGSRequestPortal, ReplyPortal: wire.MGCReplyPortal, BulkPortal: wire.MGSBulkPortal,
		ConnectOpcode: wire.MGSConnect, ClientUUID: cfg.ClientUUID, MaxReplySize: configReplySizes[0],
		ConnectTimeout: cfg.ConnectTimeout, ReconnectBackoff: cfg.ReconnectBackoff, AT: cfg.AT,
		Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	c := &Client{cfg: cfg, imp: imp, nids: nids, mgs: nidsString(nids)}
	c.log = cfg.Logger.With(zap.String("target", MGSName))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// FailoverNIDs flattens an MGS failover list into one NID per node: the
// first NID of the node that ln can reach. Nodes it cannot reach are left
// out.
func FailoverNIDs(ln *lnet.LNet, nodes [][]lnet.NID) []lnet.NID {
	var out []lnet.NID
	for _, n := range nodes {
		if nid, _, ok := ln.PickNID(n); ok {
			out = append(out, nid)
		}
	}
	return out
}

// Name is the client's device name, as Lustre's: "MGC" + the MGS's first NID.
func (c *Client) Name() string { return "MGC" + c.nids[0].String() }

// NIDs returns the MGS NIDs the client tries, in order.
func (c *Client) NIDs() []lnet.NID { return append([]lnet.NID(nil), c.nids...) }

// Info returns the import's state, for `lctl get_param mgc.*.import`.
func (c *Client) Info() ptlrpc.ImportInfo { return c.imp.Info() }

// Close stops every watch, waits for them, and disconnects from the MGS.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return c.imp.Close()
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// call connects if need be and sends one request, decoding the reply into
// reply. Failing to reach the MGS before ctx ends is an unreachableError.
func (c *Client) call(ctx context.Context, opc wire.Opcode, body, reply wire.Body, replySize int) error {
	if c.isClosed() {
		return ErrClosed
	}
	if err := c.imp.Connect(ctx); err != nil {
		if errors.Is(err, ptlrpc.ErrClosed) {
			return ErrClosed
		}
		return &unreachableError{mgs: c.mgs, err: err}
	}
	rep, err := c.imp.Call(ctx, &ptlrpc.Req{Opcode: opc, Encode: body, ReplySize: replySize})
	defer rep.Release()
	switch {
	case err == nil:
	case errors.Is(err, ptlrpc.ErrClosed):
		return ErrClosed
	case ctx.Err() != nil && !errors.Is(err, wire.ErrRemote):
		if last := c.imp.Info().LastError; last != nil {
			err = fmt.Errorf("%w (no answer; last error: %w)", err, last)
		}
		return &unreachableError{mgs: c.mgs, err: err}
	default:
		return err
	}
	if err := rep.Decode(reply); err != nil {
		return badReply(opc.String(), err)
	}
	return nil
}

// Register registers a starting target (MGS_TARGET_REG) and returns the
// configuration generation that includes it. A target whose index another
// target owns is refused with ErrIndexInUse (and syscall.EADDRINUSE).
func (c *Client) Register(ctx context.Context, req wire.TargetRegRequest) (uint64, error) {
	var rep wire.TargetRegReply
	err := c.call(ctx, wire.MGSTargetReg, &req, &rep, 0)
	if err != nil {
		name := fmt.Sprintf("%s-%s%04x", req.FSName, req.Kind, req.Index)
		if errors.Is(err, syscall.EADDRINUSE) {
			return 0, fmt.Errorf("mgc: MGS %s refused %s (UUID %s): %w: %w", c.mgs, name, req.UUID, ErrIndexInUse, err)
		}
		return 0, fmt.Errorf("mgc: register %s with MGS %s: %w", name, c.mgs, err)
	}
	return rep.Gen, nil
}

// Config reads a file system's whole configuration (MGS_CONFIG_READ). An
// fsname the MGS does not know is ErrUnknownFS (and syscall.ENOENT); no
// MGS answering before ctx's deadline is ErrUnreachable.
func (c *Client) Config(ctx context.Context, fsname string) (*wire.ConfigReadReply, error) {
	return c.ConfigSince(ctx, fsname, 0)
}

// ConfigSince reads a file system's configuration if its generation is
// above since; otherwise the reply has Unchanged set and only Gen.
func (c *Client) ConfigSince(ctx context.Context, fsname string, since uint64) (*wire.ConfigReadReply, error) {
	req := wire.ConfigReadRequest{FSName: fsname, SinceGen: since}
	var err error
	for _, size := range configReplySizes {
		rep := &wire.ConfigReadReply{}
		err = c.call(ctx, wire.MGSConfigRead, &req, rep, size)
		if err == nil {
			return rep, nil
		}
		if !errors.Is(err, ptlrpc.ErrReplyTooBig) {
			break
		}
	}
	if errors.Is(err, syscall.ENOENT) {
		return nil, &unknownFSError{fs: fsname, mgs: c.mgs, err: err}
	}
	return nil, fmt.Errorf("mgc: configuration of %q: %w", fsname, err)
}

// SetParamP stores a persistent parameter on the MGS (`lctl set_param -P
// key=value`; with del, `-P -d key`). fsname scopes it to one file system;
// empty makes it global. It returns the generation that carries the change.
func (c *Client) SetParamP(ctx context.Context, fsname, param string, del bool) (uint64, error) {
	var rep wire.SetParamReply
	if err := c.call(ctx, wire.MGSSetInfo, &wire.SetParamRequest{FSName: fsname, Param: param, Delete: del}, &rep, 0); err != nil {
		return 0, fmt.Errorf("mgc: set_param -P %s: %w", param, err)
	}
	return rep.Gen, nil
}

// Watch polls fsname's configuration every PollInterval and calls fn with
// each configuration whose generation is above gen (the last one fn saw),
// from one goroutine owned by the Client, in generation order. Pass the
// generation of a configuration already applied, or 0 to get the current
// one at once. The watch ends when ctx ends or the Client is closed; an
// unchanged configuration costs one small RPC per poll, and an unreachable
// MGS makes the watch wait for it.
func (c *Client) Watch(ctx context.Context, fsname string, gen uint64, fn func(*wire.ConfigReadReply)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.wg.Add(1)
	go c.watch(ctx, fsname, gen, fn)
	return nil
}

func (c *Client) watch(ctx context.Context, fsname string, gen uint64, fn func(*wire.ConfigReadReply)) {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	log := c.log.With(zap.String("fsname", fsname))
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	var lastErr string
	for {
		rep, err := c.ConfigSince(ctx, fsname, gen)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if err.Error() != lastErr {
				log.Warn("mgc: configuration poll failed", zap.Error(err))
				lastErr = err.Error()
			}
		default:
			if lastErr != "" {
				log.Info("mgc: configuration poll works again", zap.Uint64("gen", rep.Gen))
				lastErr = ""
			}
			if !rep.Unchanged && rep.Gen > gen {
				gen = rep.Gen
				fn(rep)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func nidsString(nids []lnet.NID) string {
	parts := make([]string, len(nids))
	for i, n := range nids {
		parts[i] = n.String()
	}
	return strings.Join(parts, ":")
}

func nodesString(nodes [][]lnet.NID) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		s := make([]string, len(n))
		for j, nid := range n {
			s[j] = nid.String()
		}
		parts[i] = strings.Join(s, ",")
	}
	return strings.Join(parts, ":")
}
