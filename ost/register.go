package ost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/mgc"
	"github.com/stria-fs/stria/wire"
)

// startRegistration decides who registers the targets and starts the
// background loop that does it. With no MGS nodes (neither in Config nor
// in the labels) registration is disabled.
func (s *Server) startRegistration() error {
	mgs := s.cfg.MGSNodes
	if mgs == nil {
		for _, t := range s.targets {
			nodes, err := parseNodes(t.label.MGSNodes)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if len(nodes) > 0 {
				mgs = nodes
				break
			}
		}
	}
	s.register = s.cfg.Register
	if s.register == nil && len(mgs) > 0 {
		var err error
		if s.register, err = s.mgcRegister(mgs); err != nil {
			return err
		}
	}
	if s.register == nil {
		s.log.Info("no MGS configured: targets are not registered")
		return nil
	}
	for _, t := range s.targets {
		if _, err := t.regRequest(s.cfg.LNet.NIDs()); err != nil {
			return err
		}
	}
	s.wg.Add(1)
	go s.registerLoop()
	return nil
}

// mgcRegister returns a RegisterFunc that registers through an MGS client
// (package mgc) of the MGS nodes; the server owns the client and closes it
// at Close.
func (s *Server) mgcRegister(mgs [][]lnet.NID) (RegisterFunc, error) {
	c, err := mgc.New(mgc.Config{LNet: s.cfg.LNet, MGSNodes: mgs, Logger: s.log.Named("mgc"), AT: s.cfg.AT,
		ReconnectBackoff: s.cfg.RegisterRetry, ConnectTimeout: min(5*time.Second, 10*s.cfg.RegisterRetry)})
	if err != nil {
		return nil, fmt.Errorf("ost: MGS client: %w", err)
	}
	s.mgc = c
	return func(ctx context.Context, req wire.TargetRegRequest) error {
		_, err := c.Register(ctx, req)
		return err
	}, nil
}

// registerLoop registers every target, retrying with back-off while the
// MGS cannot be reached; the targets serve meanwhile.
func (s *Server) registerLoop() {
	defer s.wg.Done()
	wait := s.cfg.RegisterRetry
	for {
		pending := 0
		for _, t := range s.targets {
			if t.regDone.Load() {
				continue
			}
			if err := s.registerTarget(t); err != nil {
				if s.ctx.Err() != nil {
					return
				}
				if errors.Is(err, syscall.EADDRINUSE) {
					// The MGS gave the index to another target: no retry
					// mends that. The target keeps serving.
					t.log.Error("the MGS refused the target: its index belongs to another", zap.Error(err))
					s.regMu.Lock()
					s.regErrs = append(s.regErrs, fmt.Errorf("%w: %s: %w", ErrRefused, t.name, err))
					s.regMu.Unlock()
					t.regDone.Store(true)
					continue
				}
				pending++
				t.log.Warn("registration with the MGS failed, will retry", zap.Error(err), zap.Duration("retry", wait))
				continue
			}
			t.registered.Store(true)
			t.regDone.Store(true)
		}
		if pending == 0 {
			close(s.registered)
			return
		}
		timer := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		wait = min(2*wait, 30*s.cfg.RegisterRetry)
	}
}

// registerTarget sends one MGS_TARGET_REG, bounded by ten retry periods.
func (s *Server) registerTarget(t *target) error {
	req, err := t.regRequest(s.cfg.LNet.NIDs())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*s.cfg.RegisterRetry)
	defer cancel()
	if err := s.register(ctx, req); err != nil {
		return err
	}
	t.log.Info("registered with the MGS", zap.Int("service_nodes", len(req.Nodes)))
	return nil
}

// regRequest builds the target's MGS_TARGET_REG: its service nodes with
// the one this process runs on first (local NIDs alone when the label
// names none), and its --param settings.
func (t *target) regRequest(local []lnet.NID) (wire.TargetRegRequest, error) {
	nodes, err := parseNodes(t.label.ServiceNodes)
	if err != nil {
		return wire.TargetRegRequest{}, fmt.Errorf("%s: %w", t.name, err)
	}
	here := slices.IndexFunc(nodes, func(n []lnet.NID) bool {
		return slices.ContainsFunc(n, func(nid lnet.NID) bool { return slices.Contains(local, nid) })
	})
	switch {
	case here > 0:
		nodes[0], nodes[here] = nodes[here], nodes[0]
	case here < 0:
		if len(nodes) > 0 {
			t.log.Warn("this node is not among the target's service nodes; registering it first",
				zap.Stringers("nids", local))
		}
		nodes = append([][]lnet.NID{local}, nodes...)
		if len(nodes) > wire.MaxServiceNodes {
			nodes = nodes[:wire.MaxServiceNodes]
		}
	}
	req := wire.TargetRegRequest{FSName: t.label.FSName, Kind: wire.KindOST, Index: t.label.Index,
		UUID: t.label.UUID, Params: t.params}
	for _, n := range nodes {
		if len(n) > wire.MaxNIDsPerNode {
			n = n[:wire.MaxNIDsPerNode]
		}
		req.Nodes = append(req.Nodes, wire.ServiceNode{NIDs: n})
	}
	return req, nil
}

// WaitRegistered waits until every target has registered with the MGS, or
// was refused by it (ErrRefused, with EADDRINUSE: its index belongs to
// another target). It fails with ErrNoMGS at once when registration is
// disabled, and with ErrClosed once the server is closed.
func (s *Server) WaitRegistered(ctx context.Context) error {
	if s.register == nil {
		return ErrNoMGS
	}
	select {
	case <-s.registered:
		s.regMu.Lock()
		defer s.regMu.Unlock()
		return errors.Join(s.regErrs...)
	case <-s.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Registered reports whether target name has registered with the MGS.
func (s *Server) Registered(name string) bool {
	for _, t := range s.targets {
		if t.name == name {
			return t.registered.Load()
		}
	}
	return false
}
