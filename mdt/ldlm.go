package mdt

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// nsName is the name of the MDT's lock namespace, Lustre's
// "mdt-FSNAME-MDT0000_UUID".
func (s *Server) nsName() string { return "mdt-" + s.label.UUID }

// startNamespace makes the MDT's lock namespace: PLAIN, IBITS and FLOCK
// locks (flock(2) and fcntl(2) locks of clients are FLOCK locks on the
// file's resource). A client that misses a callback is evicted: evictLDLM
// drops its export, so it reconnects as a new client.
func (s *Server) startNamespace() error {
	ns, err := ldlm.NewNamespace(ldlm.Config{Name: s.nsName(), LNet: s.cfg.LNet,
		Types:      []wire.LockType{wire.LockPlain, wire.LockIBits, wire.LockFlock},
		ASTTimeout: s.cfg.LockASTTimeout, CancelTimeout: s.cfg.LockCancelTimeout,
		Evict: s.evictLDLM, AT: s.cfg.AT, Logger: s.log.Named("ldlm")})
	if err != nil {
		return fmt.Errorf("mdt: lock namespace: %w", err)
	}
	s.ns = ns
	return nil
}

// evictLDLM is the namespace's Evict hook: the client already lost its
// locks; now it loses its export (and with it, at the next reap, its open
// handles).
func (s *Server) evictLDLM(uuid string) {
	if s.tgt != nil && s.tgt.Evict(uuid) {
		s.log.Warn("client evicted: it did not answer a lock callback in time", zap.String("client", uuid))
	}
}

// Namespace returns the MDT's lock namespace.
func (s *Server) Namespace() *ldlm.Namespace { return s.ns }

// withLockHandlers adds the namespace's LDLM_ENQUEUE and LDLM_CANCEL to h.
func (s *Server) withLockHandlers(h map[wire.Opcode]ptlrpc.Handler) map[wire.Opcode]ptlrpc.Handler {
	for op, fn := range s.ns.Handlers() {
		h[op] = fn
	}
	// An enqueue registers the client's state, so that reapExports
	// drops its locks once its export is gone.
	h[wire.LDLMEnqueue] = func(ctx context.Context, r *ptlrpc.Request) error {
		if _, err := s.exportOf(r); err != nil {
			return err
		}
		return s.ns.HandleEnqueue(ctx, r)
	}
	return h
}

// addLockParamsLocked registers ldlm.namespaces.<ns>.* (lock_count,
// resource_count, lock_timeouts, ast_timeout, cancel_timeout).
func (s *Server) addLockParamsLocked(add func(string, obd.Param)) {
	for _, p := range s.ns.Params() {
		add("ldlm.namespaces."+s.nsName()+"."+p.Name, obd.Param{Get: p.Get, Set: p.Set})
	}
}
