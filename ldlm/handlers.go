package ldlm

import (
	"context"
	"fmt"
	"strconv"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Handlers returns the namespace's request handlers, LDLM_ENQUEUE,
// LDLM_CONVERT and LDLM_CANCEL, for the target's
// ptlrpc.TargetConfig.Handlers.
func (ns *Namespace) Handlers() map[wire.Opcode]ptlrpc.Handler {
	return map[wire.Opcode]ptlrpc.Handler{
		wire.LDLMEnqueue: ns.HandleEnqueue,
		wire.LDLMConvert: ns.HandleConvert,
		wire.LDLMCancel:  ns.HandleCancel,
	}
}

// HandleConvert serves LDLM_CONVERT: a wire.LockCallback naming a granted
// inode-bits lock of the client (ServerHandle) and the bits it keeps
// (Desc.Policy.Bits). See Convert.
func (ns *Namespace) HandleConvert(_ context.Context, r *ptlrpc.Request) error {
	var cb wire.LockCallback
	if err := r.DecodeBody(&cb); err != nil {
		return err
	}
	return ns.Convert(r.Export(), cb.ServerHandle, cb.Desc.Policy.Bits)
}

// HandleEnqueue serves LDLM_ENQUEUE: a wire.LockRequest, answered with a
// wire.LockReply. It never waits for other clients: a lock that cannot be
// granted at once is queued and granted later by a completion callback.
func (ns *Namespace) HandleEnqueue(_ context.Context, r *ptlrpc.Request) error {
	var req wire.LockRequest
	if err := r.DecodeBody(&req); err != nil {
		return err
	}
	rep, err := ns.Enqueue(r.Export(), &req)
	if err != nil {
		return err
	}
	r.ReplyBody(&rep)
	return nil
}

// HandleCancel serves LDLM_CANCEL: a wire.CancelList of server handles.
// Like Lustre it answers ESTALE when it knew none of them, which clients
// take as success.
func (ns *Namespace) HandleCancel(_ context.Context, r *ptlrpc.Request) error {
	var cl wire.CancelList
	if err := r.DecodeBody(&cl); err != nil {
		return err
	}
	if r.Export() == nil {
		return ErrNoExport
	}
	if n := ns.Cancel(r.Export(), cl.Handles); n == 0 && len(cl.Handles) > 0 {
		return fmt.Errorf("%w: %d handles", ErrStale, len(cl.Handles))
	}
	return nil
}

// Stats is a snapshot of a server namespace.
type Stats struct {
	Locks     int // granted and waiting
	Granted   int
	Waiting   int // waiting requests of clients
	Resources int
	Clients   int
	Enqueues  uint64
	Cancels   uint64
	Converts  uint64 // locks that gave up some inode bits and stayed
	BLASTs    uint64 // blocking callbacks sent
	CPASTs    uint64 // completion callbacks sent
	GLASTs    uint64 // glimpse callbacks sent
	Evictions uint64 // clients whose locks were freed
	Timeouts  uint64 // callbacks not answered, cancels not made in time
	Busy      uint64 // requests refused with EBUSY
}

// Stats returns a snapshot of the namespace.
func (ns *Namespace) Stats() Stats {
	ns.mu.Lock()
	s := Stats{Locks: len(ns.locks), Waiting: ns.waiting, Resources: len(ns.resources), Clients: len(ns.clients)}
	for _, r := range ns.resources {
		s.Granted += len(r.granted)
	}
	ns.mu.Unlock()
	c := &ns.stats
	s.Enqueues, s.Cancels, s.BLASTs, s.CPASTs = c.enqueues.Load(), c.cancels.Load(), c.blASTs.Load(), c.cpASTs.Load()
	s.GLASTs, s.Evictions, s.Timeouts, s.Busy = c.glASTs.Load(), c.evictions.Load(), c.timeouts.Load(), c.busy.Load()
	s.Converts = c.converts.Load()
	return s
}

// Param is one tunable or statistic of a namespace, named relative to
// "ldlm.namespaces.<name>." (the caller registers it in its parameter
// tree: obd.Param{Get: p.Get, Set: p.Set}). Set is nil for a read-only
// parameter.
type Param struct {
	Name string
	Get  func() string
	Set  func(v string) error
}

func uintParam(name string, f func() uint64) Param {
	return Param{Name: name, Get: func() string { return strconv.FormatUint(f(), 10) }}
}

// Params returns the server namespace's parameters: lock_count,
// resource_count, lock_timeouts (callbacks and cancels not answered in
// time) and the callback timeouts (ast_timeout and cancel_timeout, in
// seconds, read-only).
func (ns *Namespace) Params() []Param {
	return []Param{
		uintParam("lock_count", func() uint64 { return uint64(ns.Stats().Locks) }),
		uintParam("resource_count", func() uint64 { return uint64(ns.Stats().Resources) }),
		uintParam("lock_timeouts", ns.stats.timeouts.Load),
		{Name: "ast_timeout", Get: func() string { return seconds(ns.cfg.ASTTimeout.Seconds()) }},
		{Name: "cancel_timeout", Get: func() string { return seconds(ns.cfg.CancelTimeout.Seconds()) }},
	}
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

// Check verifies the namespace's invariants and returns an error wrapping
// ErrInvariant for the first broken one: no two granted locks of a
// resource conflict (flocks of one owner never overlap); every waiting
// request waits for something (a granted lock it conflicts with, or an
// earlier waiting one), and every granted lock a request waits for was
// asked to go (blocking callback sent); the counters agree. Tests call it
// after every step.
func (ns *Namespace) Check() error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	waiting, count := 0, 0
	for id, r := range ns.resources {
		if r.empty() {
			return fmt.Errorf("%w: empty resource %v kept", ErrInvariant, id)
		}
		for i, a := range r.granted {
			count++
			if !a.granted || ns.locks[a.handle] != a {
				return fmt.Errorf("%w: granted queue of %v holds lock %#x in another state", ErrInvariant, id, a.handle)
			}
			for _, b := range r.granted[i+1:] {
				bad := conflicts(r.typ, a, b)
				if r.typ == wire.LockFlock && sameFlockOwner(a, b) {
					bad = overlap(a.policy.Start, a.policy.End, b.policy.Start, b.policy.End)
				}
				if bad {
					return fmt.Errorf("%w: granted %v %v and %v %v conflict on %v", ErrInvariant,
						a.mode, a.policy, b.mode, b.policy, id)
				}
			}
		}
		for i, w := range r.waiting {
			count++
			if w.granted || ns.locks[w.handle] != w {
				return fmt.Errorf("%w: waiting queue of %v holds lock %#x in another state", ErrInvariant, id, w.handle)
			}
			if w.cl != nil {
				waiting++
			}
			blockers := r.blockersOf(w, nil)
			if len(blockers) == 0 && (r.typ == wire.LockFlock || !r.waitConflict(w, i)) {
				return fmt.Errorf("%w: %v %v on %v waits for nothing", ErrInvariant, w.req.Mode, w.req.Policy, id)
			}
			for _, g := range blockers {
				if r.typ != wire.LockFlock && !g.blSent {
					return fmt.Errorf("%w: %v %v on %v waits for %v %v, never asked to go", ErrInvariant,
						w.req.Mode, w.req.Policy, id, g.mode, g.policy)
				}
			}
		}
	}
	if count != len(ns.locks) || waiting != ns.waiting {
		return fmt.Errorf("%w: %d locks in queues, %d by handle; %d waiting, counted %d", ErrInvariant,
			count, len(ns.locks), waiting, ns.waiting)
	}
	return nil
}
