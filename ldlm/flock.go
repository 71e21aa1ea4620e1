package ldlm

import (
	"fmt"
	"slices"

	"github.com/stria-fs/stria/wire"
)

// flockOwner identifies the owner of POSIX record locks: the client and
// its owner cookie (Lustre's ldlm_same_flock_owner: owner and export).
type flockOwner struct {
	cl    *client
	owner uint64
}

func ownerOf(lk *lock) flockOwner { return flockOwner{lk.cl, lk.req.Policy.Owner} }

func sameFlockOwner(a, b *lock) bool { return ownerOf(a) == ownerOf(b) }

// flockEnqueueLocked serves a FLOCK request, Lustre's
// ldlm_process_flock_lock: F_GETLK (LockFlagTestLock) reports a
// conflicting lock of another owner (mode NL: none) and grants nothing; an
// unlock (mode NL) or a request without conflicts is applied at once to
// the owner's locks, merging and splitting ranges; a conflicting request
// fails with EAGAIN if it must not wait, with EDEADLK if waiting would
// close a cycle of owners waiting for each other, and is queued otherwise.
func (ns *Namespace) flockEnqueueLocked(lk *lock, work *[]ast) (wire.LockReply, error) {
	res := lk.res
	var blocker *lock
	if lk.req.Mode != wire.LockNL {
		for _, g := range res.granted {
			if conflicts(res.typ, lk, g) {
				blocker = g
				break
			}
		}
	}
	if lk.flags&wire.LockFlagTestLock != 0 {
		rep := wire.LockReply{Desc: lk.req, Flags: wire.LockFlagChanged}
		if blocker != nil {
			rep.Desc.Mode, rep.Desc.Policy = blocker.mode, blocker.policy
		} else {
			rep.Desc.Mode = wire.LockNL
		}
		return rep, nil
	}
	if blocker != nil {
		switch {
		case lk.flags&wire.LockFlagBlockNoWait != 0:
			return wire.LockReply{}, fmt.Errorf("%w: [%d, %d] of %v held by pid %d", ErrWouldBlock,
				blocker.policy.Start, blocker.policy.End, res.id, blocker.policy.PID)
		case ns.flockDeadlockLocked(lk):
			return wire.LockReply{}, fmt.Errorf("%w: [%d, %d] of %v", ErrDeadlock, lk.req.Policy.Start,
				lk.req.Policy.End, res.id)
		}
		if err := ns.admitLocked(lk.cl); err != nil {
			return wire.LockReply{}, err
		}
		ns.queueLocked(lk)
		o := ownerOf(lk)
		ns.flockWaiters[o] = append(ns.flockWaiters[o], lk)
		return wire.LockReply{Desc: lk.req, Handle: lk.handle, Flags: wire.LockFlagBlockGranted}, nil
	}
	ns.flockApplyLocked(lk)
	rep := wire.LockReply{Desc: lk.desc(), Handle: lk.handle}
	if lk.req.Mode == wire.LockNL {
		rep.Handle = 0
	}
	if rep.Desc.Policy != lk.req.Policy {
		rep.Flags |= wire.LockFlagChanged
	}
	// An unlock, a downgrade or a split may let waiters in.
	ns.flockReprocessLocked(res, work)
	return rep, nil
}

// flockApplyLocked applies lk (not conflicting with other owners) to its
// owner's granted locks on the resource: same-mode locks that overlap or
// touch it merge into it, other locks of the owner lose the range it
// covers (split in two if it falls inside). Unless lk is an unlock, it is
// then granted with the merged range.
func (ns *Namespace) flockApplyLocked(lk *lock) {
	res := lk.res
	s, e := lk.req.Policy.Start, lk.req.Policy.End
	var add []*lock
	for _, g := range slices.Clone(res.granted) {
		if !sameFlockOwner(g, lk) {
			continue
		}
		gs, ge := g.policy.Start, g.policy.End
		if g.mode == lk.req.Mode {
			touches := overlap(gs, ge, s, e) || (ge != wire.LockEOF && ge+1 == s) || (e != wire.LockEOF && e+1 == gs)
			if touches {
				s, e = min(s, gs), max(e, ge)
				ns.removeLocked(g)
			}
			continue
		}
		if !overlap(gs, ge, s, e) {
			continue
		}
		left, right := gs < s, ge > e
		switch {
		case left && right:
			ns.nextHandle++
			tail := &lock{handle: wire.LockHandle(ns.nextHandle), res: res, cl: g.cl, req: g.req, flags: g.flags,
				granted: true, mode: g.mode, policy: g.policy, enqueued: g.enqueued}
			tail.policy.Start = e + 1
			g.policy.End = s - 1
			add = append(add, tail)
		case left:
			g.policy.End = s - 1
		case right:
			g.policy.Start = e + 1
		default:
			ns.removeLocked(g)
		}
	}
	for _, t := range add {
		res.granted = append(res.granted, t)
		ns.locks[t.handle] = t
		t.cl.locks[t] = struct{}{}
	}
	if lk.req.Mode == wire.LockNL {
		return
	}
	lk.granted, lk.mode = true, lk.req.Mode
	lk.policy = lk.req.Policy
	lk.policy.Start, lk.policy.End = s, e
	res.granted = append(res.granted, lk)
	ns.locks[lk.handle] = lk
	lk.cl.locks[lk] = struct{}{}
}

// flockReprocessLocked grants the waiting flock requests of res that no
// longer conflict, and refuses with EDEADLK those whose wait became a
// cycle (an owner with several waiting threads can close one later).
func (ns *Namespace) flockReprocessLocked(res *resource, work *[]ast) {
	for i := 0; i < len(res.waiting); {
		w := res.waiting[i]
		blocked := false
		for _, g := range res.granted {
			if conflicts(res.typ, w, g) {
				blocked = true
				break
			}
		}
		if blocked {
			if ns.flockDeadlockLocked(w) {
				ns.removeLocked(w)
				ns.completeLocked(w, wire.LockFlagFlockDeadlock, work)
				continue
			}
			i++
			continue
		}
		ns.removeLocked(w)
		ns.flockApplyLocked(w)
		ns.completeLocked(w, 0, work)
		i = 0 // a grant may have merged or split locks ahead
	}
}

func (ns *Namespace) unlinkFlockWaiterLocked(lk *lock) {
	o := ownerOf(lk)
	q := ns.flockWaiters[o]
	if i := slices.Index(q, lk); i >= 0 {
		q = slices.Delete(q, i, i+1)
	}
	if len(q) == 0 {
		delete(ns.flockWaiters, o)
	} else {
		ns.flockWaiters[o] = q
	}
}

// flockDeadlockLocked reports whether lk waiting would close a cycle: an
// owner holding a lock lk conflicts with waits, directly or through other
// owners, for a lock lk's owner holds. Owners wait across every resource
// of the namespace.
func (ns *Namespace) flockDeadlockLocked(lk *lock) bool {
	me := ownerOf(lk)
	seen := map[flockOwner]bool{}
	var stack []flockOwner
	push := func(w *lock) {
		for _, g := range w.res.granted {
			if conflicts(wire.LockFlock, w, g) {
				stack = append(stack, ownerOf(g))
			}
		}
	}
	push(lk)
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if o == me {
			return true
		}
		if seen[o] {
			continue
		}
		seen[o] = true
		for _, w := range ns.flockWaiters[o] {
			if w != lk {
				push(w)
			}
		}
	}
	return false
}
