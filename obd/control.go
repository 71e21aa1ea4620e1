package obd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultControlDir is where processes put their control sockets unless
// STRIA_CTL_DIR or a flag says otherwise.
const DefaultControlDir = "/run/stria"

// ControlDir returns the control directory: STRIA_CTL_DIR if set, else
// DefaultControlDir.
func ControlDir() string {
	if d := os.Getenv("STRIA_CTL_DIR"); d != "" {
		return d
	}
	return DefaultControlDir
}

// maxControlMsg bounds a request or response on the control socket.
const maxControlMsg = 16 << 20

// request is one control request.
type request struct {
	Cmd  string   `json:"cmd"`
	Args []string `json:"args,omitempty"`
}

// response answers a request: Out on success, Err otherwise.
type response struct {
	Out string `json:"out,omitempty"`
	Err string `json:"err,omitempty"`
}

// CommandFunc runs one control command.
type CommandFunc func(ctx context.Context, args []string) (string, error)

// Control serves a process's control socket.
type Control struct {
	log *zap.Logger

	mu   sync.Mutex
	cmds map[string]CommandFunc // guarded by mu
	ln   net.Listener           // guarded by mu
	path string                 // guarded by mu

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewControl returns a control server with no commands and no socket.
func NewControl(log *zap.Logger) *Control {
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Control{log: log, cmds: map[string]CommandFunc{}, ctx: ctx, cancel: cancel}
}

// Handle registers f as the command cmd.
func (c *Control) Handle(cmd string, f CommandFunc) {
	c.mu.Lock()
	c.cmds[cmd] = f
	c.mu.Unlock()
}

// Listen creates the socket dir/name.ctl (replacing a stale one) and serves it
// until Close.
func (c *Control) Listen(dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrControl, err)
	}
	p := filepath.Join(dir, name+".ctl")
	if conn, err := net.DialTimeout("unix", p, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("%w: %s is in use by a running process", ErrControl, p)
	}
	_ = os.Remove(p)
	ln, err := net.Listen("unix", p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrControl, err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("%w: %w", ErrControl, err)
	}
	c.mu.Lock()
	c.ln, c.path = ln, p
	c.mu.Unlock()
	c.wg.Add(1)
	go c.accept(ln)
	return nil
}

// Path is the socket's path, once listening.
func (c *Control) Path() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.path
}

func (c *Control) accept(ln net.Listener) {
	defer c.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.serve(conn)
		}()
	}
}

func (c *Control) serve(conn net.Conn) {
	defer conn.Close()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Minute)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var req request
	if err := json.NewDecoder(io.LimitReader(conn, maxControlMsg)).Decode(&req); err != nil {
		// A connection closed before sending anything is a liveness probe
		// (Sockets), not a bad request.
		if !errors.Is(err, io.EOF) {
			c.log.Info("control: bad request", zap.String("reason", err.Error()))
		}
		return
	}
	c.mu.Lock()
	f := c.cmds[req.Cmd]
	c.mu.Unlock()
	var resp response
	if f == nil {
		resp.Err = fmt.Sprintf("%v: %q", ErrNoCommand, req.Cmd)
	} else if out, err := f(ctx, req.Args); err != nil {
		resp.Err = err.Error()
	} else {
		resp.Out = out
	}
	_ = json.NewEncoder(conn).Encode(resp)
}

// Close stops serving, removes the socket and waits for requests in progress.
func (c *Control) Close() error {
	c.cancel()
	c.mu.Lock()
	ln, p := c.ln, c.path
	c.ln = nil
	c.mu.Unlock()
	if ln != nil {
		ln.Close()
		_ = os.Remove(p)
	}
	c.wg.Wait()
	return nil
}

// Call sends one command to the control socket at path.
func Call(ctx context.Context, path, cmd string, args ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrControl, path, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := json.NewEncoder(conn).Encode(request{Cmd: cmd, Args: args}); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrControl, path, err)
	}
	var resp response
	if err := json.NewDecoder(io.LimitReader(conn, maxControlMsg)).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: %s: %w", ErrControl, path, ctx.Err())
		}
		return "", fmt.Errorf("%w: %s: %w", ErrControl, path, err)
	}
	if resp.Err != "" {
		return resp.Out, errors.New(resp.Err)
	}
	return resp.Out, nil
}

// Sockets lists the live control sockets in dir, sorted. Sockets nobody
// answers on (left by a killed process) are skipped.
func Sockets(dir string) ([]string, error) {
	ents, err := filepath.Glob(filepath.Join(dir, "*.ctl"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrControl, err)
	}
	var out []string
	for _, p := range ents {
		conn, err := net.DialTimeout("unix", p, time.Second)
		if err != nil {
			continue
		}
		conn.Close()
		out = append(out, p)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%w (no control socket in %s)", ErrNoDaemon, dir)
	}
	return out, nil
}

// Reply is one process's answer in CallAll.
type Reply struct {
	Socket string
	Out    string
	Err    error
}

// CallAll sends cmd to every live control socket in dir.
func CallAll(ctx context.Context, dir, cmd string, args ...string) ([]Reply, error) {
	socks, err := Sockets(dir)
	if err != nil {
		return nil, err
	}
	out := make([]Reply, len(socks))
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := Call(ctx, s, cmd, args...)
			out[i] = Reply{Socket: strings.TrimSuffix(filepath.Base(s), ".ctl"), Out: o, Err: err}
		}()
	}
	wg.Wait()
	return out, nil
}
