package ldlm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// CallbackConfig configures a client process's callback service.
type CallbackConfig struct {
	// LNet is the client's LNet instance; the service listens on its
	// LDLM_CB_REQUEST portal, so there is one CallbackServer per LNet.
	LNet *lnet.LNet
	// Threads handle callbacks (default 4). Blocking callbacks are
	// answered at once and the cancel runs later on the client's cancel
	// workers, so few are needed.
	Threads int
	AT      ptlrpc.ATConfig
	Logger  *zap.Logger
}

// CallbackServer is the small ptlrpc service through which servers reach a
// client (Lustre's ldlm_cbd): blocking, completion and glimpse callbacks,
// routed to the lock they name by the client's handle. Every client
// namespace of the process shares it.
type CallbackServer struct {
	svc *ptlrpc.Service
	log *zap.Logger

	mu    sync.Mutex // a leaf: taken after Client.mu, never before it
	next  uint64
	locks map[wire.LockHandle]*Lock
	// flocks are the client handles of flock requests granted and handed
	// to their caller, with when: a client keeps no flock locks, but a
	// server resends a completion callback that was slow to answer, and
	// EINVAL for the resend would make it cancel the granted lock. Kept
	// for flockKeep.
	flocks map[wire.LockHandle]time.Time
}

// flockKeep is how long a granted flock's handle answers resent
// completion callbacks: longer than a server tries one (its AST timeout).
const flockKeep = 5 * time.Minute

// flockKeepMax bounds the handles kept; the oldest go first past it.
const flockKeepMax = 4096

// StartCallbackServer starts the callback service on cfg.LNet.
func StartCallbackServer(ctx context.Context, cfg CallbackConfig) (*CallbackServer, error) {
	if cfg.LNet == nil {
		return nil, fmt.Errorf("%w: callback server without LNet", ErrBadConfig)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	cs := &CallbackServer{log: cfg.Logger, next: rand.Uint64() >> 8, locks: map[wire.LockHandle]*Lock{}}
	svc, err := ptlrpc.NewService(ptlrpc.ServiceConfig{
		Name: "ldlm_cbd", LNet: cfg.LNet, Portal: wire.LDLMCBRequestPortal, ReplyPortal: wire.LDLMCBReplyPortal,
		Threads: cfg.Threads, QueueDepth: 4096, MaxRequestSize: 4 << 10, RequestBufferSize: 256 << 10,
		AT: cfg.AT, Logger: cfg.Logger,
		Handlers: map[wire.Opcode]ptlrpc.Handler{
			wire.LDLMBLCallback: cs.handleBL,
			wire.LDLMCPCallback: cs.handleCP,
			wire.LDLMGLCallback: cs.handleGL,
		},
	})
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	cs.svc = svc
	return cs, nil
}

// Close stops the service and waits for its handlers.
func (cs *CallbackServer) Close() error {
	cs.svc.Close()
	return nil
}

// register gives l a fresh client handle, under which callbacks find it.
func (cs *CallbackServer) register(l *Lock) {
	cs.mu.Lock()
	cs.next++
	l.cookie = wire.LockHandle(cs.next)
	cs.locks[l.cookie] = l
	cs.mu.Unlock()
}

func (cs *CallbackServer) unregister(l *Lock) {
	cs.mu.Lock()
	if cs.locks[l.cookie] == l {
		delete(cs.locks, l.cookie)
	}
	cs.mu.Unlock()
}

// grantedFlock notes that the flock request of handle h was granted and
// handed to its caller.
func (cs *CallbackServer) grantedFlock(h wire.LockHandle) {
	now := time.Now()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.flocks == nil {
		cs.flocks = map[wire.LockHandle]time.Time{}
	}
	if len(cs.flocks) >= flockKeepMax {
		oldest, at := wire.LockHandle(0), now
		for k, t := range cs.flocks {
			if now.Sub(t) > flockKeep {
				delete(cs.flocks, k)
			} else if t.Before(at) {
				oldest, at = k, t
			}
		}
		if len(cs.flocks) >= flockKeepMax {
			delete(cs.flocks, oldest)
		}
	}
	cs.flocks[h] = now
}

// wasGrantedFlock reports whether h is a flock request granted lately.
func (cs *CallbackServer) wasGrantedFlock(h wire.LockHandle) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	t, ok := cs.flocks[h]
	return ok && time.Since(t) <= flockKeep
}

func (cs *CallbackServer) lookup(h wire.LockHandle) *Lock {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.locks[h]
}

// Locks returns the number of locks registered (of every namespace).
func (cs *CallbackServer) Locks() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.locks)
}

func decodeCallback(r *ptlrpc.Request) (*wire.LockCallback, error) {
	var cb wire.LockCallback
	if err := r.DecodeBody(&cb); err != nil {
		return nil, err
	}
	return &cb, nil
}

// handleBL answers a blocking callback at once; the lock is cancelled
// when unused. A lock this client does not have (any more) is answered
// EINVAL, which the server takes as "already gone" (Lustre's normal race).
func (cs *CallbackServer) handleBL(_ context.Context, r *ptlrpc.Request) error {
	cb, err := decodeCallback(r)
	if err != nil {
		return err
	}
	l := cs.lookup(cb.Handle)
	if l == nil {
		cs.log.Debug("ldlm: blocking callback for an unknown lock", zap.Uint64("handle", uint64(cb.Handle)),
			zap.Stringer("nid", r.Peer().NID))
		return syscall.EINVAL
	}
	return l.c.blocking(l, cb)
}

// handleCP grants a waiting lock.
func (cs *CallbackServer) handleCP(_ context.Context, r *ptlrpc.Request) error {
	cb, err := decodeCallback(r)
	if err != nil {
		return err
	}
	l := cs.lookup(cb.Handle)
	if l == nil && cs.wasGrantedFlock(cb.Handle) {
		return nil // a resend of the callback that granted it
	}
	if l == nil {
		cs.log.Debug("ldlm: completion callback for an unknown lock", zap.Uint64("handle", uint64(cb.Handle)),
			zap.Stringer("nid", r.Peer().NID))
		return syscall.EINVAL
	}
	return l.c.completion(l, cb)
}

// handleGL answers a glimpse with the LVB the client's Glimpse hook gives.
func (cs *CallbackServer) handleGL(_ context.Context, r *ptlrpc.Request) error {
	cb, err := decodeCallback(r)
	if err != nil {
		return err
	}
	l := cs.lookup(cb.Handle)
	if l == nil {
		return syscall.ENODATA
	}
	lvb, err := l.c.glimpse(l)
	if err != nil {
		return err
	}
	r.ReplyBody(&lvb)
	return nil
}
