package ldlm

import (
	"slices"
	"time"

	"github.com/stria-fs/stria/wire"
)

// lock is the server's state of one lock. Every field is guarded by the
// namespace's mu.
type lock struct {
	handle wire.LockHandle // the server's cookie
	remote wire.LockHandle // the client's cookie (0 for a local lock)
	res    *resource
	cl     *client    // the owner; nil for a local lock
	local  *LocalLock // set for a local lock
	req    wire.LockDesc
	flags  wire.LockFlags // the request's flags

	granted bool
	mode    wire.LockMode // the granted mode (the requested one, once granted)
	policy  wire.Policy   // the granted policy (an extent may be expanded)

	// blSent: a blocking callback went to the holder (or rides on the
	// completion callback as LockFlagASTSent): someone waits for it.
	blSent bool
	// deadline: once the holder answered the blocking callback, it must
	// cancel by then or be evicted (zero: not armed).
	deadline time.Time
	enqueued time.Time
}

func (lk *lock) desc() wire.LockDesc {
	d := lk.req
	if lk.granted {
		d.Mode, d.Policy = lk.mode, lk.policy
	}
	return d
}

// resource is one lock resource of a namespace with its queues: granted
// locks, and waiting ones in arrival order. Guarded by the namespace's mu.
type resource struct {
	id      wire.ResID
	typ     wire.LockType
	granted []*lock
	waiting []*lock
}

func (r *resource) empty() bool { return len(r.granted) == 0 && len(r.waiting) == 0 }

func removeLock(q []*lock, lk *lock) ([]*lock, bool) {
	i := slices.Index(q, lk)
	if i < 0 {
		return q, false
	}
	return slices.Delete(q, i, i+1), true
}

// conflicts reports whether the request of w conflicts with the lock g as
// it stands (granted policy if granted, requested otherwise).
func conflicts(typ wire.LockType, w, g *lock) bool {
	if typ == wire.LockFlock && sameFlockOwner(w, g) {
		return false
	}
	gm, gp := g.req.Mode, &g.req.Policy
	if g.granted {
		gm, gp = g.mode, &g.policy
	}
	return Conflicts(typ, w.req.Mode, &w.req.Policy, gm, gp)
}

// blockersOf appends the granted locks lk conflicts with.
func (r *resource) blockersOf(lk *lock, out []*lock) []*lock {
	for _, g := range r.granted {
		if g != lk && conflicts(r.typ, lk, g) {
			out = append(out, g)
		}
	}
	return out
}

// waitConflict reports whether lk conflicts with a waiting lock among the
// first n of the queue (n < 0: all of it), which it must then queue behind.
func (r *resource) waitConflict(lk *lock, n int) bool {
	if n < 0 || n > len(r.waiting) {
		n = len(r.waiting)
	}
	for _, w := range r.waiting[:n] {
		if w != lk && conflicts(r.typ, lk, w) {
			return true
		}
	}
	return false
}

// pageSize is the alignment of expanded extents (Lustre aligns to the
// server's page).
const pageSize = 4096

// maxGrownExtent caps the growth of a contended PW or CW extent lock
// (Lustre's LDLM_MAX_GROWN_EXTENT).
const maxGrownExtent = 32<<20 - 1

// expandExtent returns the extent to grant lk, Lustre's ldlm_extent_policy:
// the largest extent containing the request that overlaps no conflicting
// granted lock and no conflicting waiting lock whose own request does not
// overlap ours. It stops growing downwards once more than 4 locks conflict,
// caps a PW/CW lock at 32 MiB past its start once more than 32 conflict,
// and aligns what it grew to the request's alignment (at least a page; an
// unaligned request is not aligned further). Local locks, group locks,
// whole-object requests and LockFlagNoExpansion are granted as asked.
func (r *resource) expandExtent(lk *lock) wire.Policy {
	p := lk.req.Policy
	mode := lk.req.Mode
	if lk.cl == nil || mode == wire.LockGroup || lk.flags&wire.LockFlagNoExpansion != 0 ||
		(p.Start == 0 && p.End == wire.LockEOF) {
		return p
	}
	rs, re := p.Start, p.End
	ns, ne := uint64(0), wire.LockEOF
	conflicting := 0
	for _, g := range r.granted {
		if g == lk || CompatibleGroup(g.mode, g.policy.GID, mode, p.GID) {
			continue
		}
		conflicting++
		if conflicting > 4 {
			ns = rs
		}
		switch {
		case g.policy.End < rs:
			ns = max(ns, g.policy.End+1)
		case g.policy.Start > re:
			ne = min(ne, g.policy.Start-1)
		}
	}
	for _, w := range r.waiting {
		if ns == rs && ne == re {
			break
		}
		if w == lk || (Compatible(w.req.Mode, mode) && w.cl != lk.cl) {
			continue
		}
		conflicting++
		if conflicting > 4 {
			ns = rs
		}
		ws, we := w.req.Policy.Start, w.req.Policy.End
		if !overlap(ws, we, ns, ne) || overlap(ws, we, rs, re) {
			// Outside what we could grow into, or the requests themselves
			// overlap: we ping-pong over that range whatever we grant.
			continue
		}
		if we < rs {
			ns = max(ns, we+1)
		} else {
			ne = min(ne, ws-1)
		}
	}
	if conflicting > 32 && (mode == wire.LockPW || mode == wire.LockCW) && re-rs < maxGrownExtent &&
		rs <= wire.LockEOF-maxGrownExtent {
		ne = min(ne, rs+maxGrownExtent)
	}
	if ns == 0 && ne == wire.LockEOF {
		p.Start, p.End = ns, ne
		return p
	}
	mask := uint64(pageSize)
	align := (re + 1) | rs
	if align&(mask-1) != 0 {
		mask = 1 // an unaligned request: grow without rounding
	} else if align != 0 {
		for align&mask == 0 {
			mask <<= 1
		}
	}
	mask--
	ns = ((ns - 1) | mask) + 1
	ne = ((ne + 1) &^ mask) - 1
	p.Start, p.End = min(ns, rs), max(ne, re)
	return p
}
