package mdt

import (
	"context"
	"fmt"
	"slices"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// Inode bits the MDT takes before changing an object: clients cache
// attributes under UPDATE and PERM, the name → FID binding under LOOKUP,
// the layout (with the attributes) under UPDATE, and all of it goes when
// their PR lock is called back.
const (
	bitsAttr  = wire.InodeLockUpdate | wire.InodeLockPerm
	bitsName  = wire.InodeLockLookup | wire.InodeLockUpdate | wire.InodeLockPerm
	bitsXattr = wire.InodeLockUpdate | wire.InodeLockXattr
	bitsLOV   = wire.InodeLockUpdate | wire.InodeLockLayout | wire.InodeLockXattr
)

// lockRetries bounds how often lockNames looks names up again when they
// changed while it waited for their locks.
const lockRetries = 8

// objLock is an object to lock, and the bits.
type objLock struct {
	fid  wire.FID
	bits uint64
}

// lockObjects takes EX inode-bits locks on the objects for the server
// (Namespace.Lock): every client caching one of them under a conflicting
// PR lock gets a blocking callback and drops its cache before the change
// is made. Locks are taken in FID order, so two operations never wait for
// each other. The returned function releases them.
func (s *Server) lockObjects(ctx context.Context, objs ...objLock) (func(), error) {
	merged := map[wire.FID]uint64{}
	for _, o := range objs {
		if o.fid.IsZero() || o.bits == 0 {
			continue
		}
		merged[o.fid] |= o.bits
	}
	fids := make([]wire.FID, 0, len(merged))
	for f := range merged {
		fids = append(fids, f)
	}
	slices.SortFunc(fids, func(a, b wire.FID) int {
		switch {
		case a.Seq != b.Seq:
			return cmpU64(a.Seq, b.Seq)
		case a.Oid != b.Oid:
			return cmpU64(uint64(a.Oid), uint64(b.Oid))
		}
		return cmpU64(uint64(a.Ver), uint64(b.Ver))
	})
	var held []*ldlm.LocalLock
	release := func() {
		for _, l := range held {
			l.Release()
		}
	}
	for _, f := range fids {
		l, err := s.ns.Lock(ctx, wire.LockDesc{Res: wire.ResIDOfFID(f), Type: wire.LockIBits, Mode: wire.LockEX,
			Policy: wire.Policy{Bits: merged[f]}}, 0)
		if err != nil {
			release()
			return nil, fmt.Errorf("mdt: locking %v: %w", f, err)
		}
		held = append(held, l)
	}
	return release, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// nameRef is a name in a directory.
type nameRef struct {
	parent wire.FID
	name   string
}

// lockNames locks, with bits, the objects the names name (a missing name
// locks nothing) and the extra objects, and checks once it holds the
// locks that the names still name the same objects, looking them up and
// locking again if not: the caller then changes bindings no client caches
// any more. A lookup error other than ENOENT locks what it can; the
// operation itself will report it.
func (s *Server) lockNames(ctx context.Context, bits uint64, names []nameRef, extra ...objLock) (func(), error) {
	unlockNames, err := s.lockNameSlots(ctx, names...)
	if err != nil {
		return nil, err
	}
	release, err := s.lockNamedObjects(ctx, bits, names, extra)
	if err != nil {
		unlockNames()
		return nil, err
	}
	return func() { release(); unlockNames() }, nil
}

func (s *Server) lockNamedObjects(ctx context.Context, bits uint64, names []nameRef, extra []objLock) (func(), error) {
	resolve := func() []wire.FID {
		out := make([]wire.FID, len(names))
		for i, n := range names {
			if a, err := s.mdd.Lookup(ctx, mdd.Root(), n.parent, n.name); err == nil {
				out[i] = a.FID
			}
		}
		return out
	}
	fids := resolve()
	for try := 0; ; try++ {
		objs := append([]objLock(nil), extra...)
		for _, f := range fids {
			objs = append(objs, objLock{fid: f, bits: bits})
		}
		release, err := s.lockObjects(ctx, objs...)
		if err != nil {
			return nil, err
		}
		now := resolve()
		if slices.Equal(now, fids) {
			return release, nil
		}
		release()
		if try == lockRetries {
			return nil, fmt.Errorf("%w: %d tries", ErrNamesChanging, try+1)
		}
		fids = now
	}
}

// lockNameSlots takes EX locks on the slots of names (wire.NameSlot), in
// resource order. They serialise the operations that make or change a
// name — a create, a link, and the rename or unlink that looked the name
// up and locked what it named — so that a name made meanwhile is never
// replaced by an operation that did not lock (and so call back) what it
// names; and they call back the clients that cache the name's absence
// (negative.go). Taking them marks the directories busy. In a directory
// another client made, and may know whole under its DirNames lock, EX on
// that resource is taken too, which calls the lock back (dirnames.go).
func (s *Server) lockNameSlots(ctx context.Context, names ...nameRef) (func(), error) {
	res := make([]wire.ResID, 0, len(names))
	owner := store.OwnerOf(ctx)
	for _, n := range names {
		s.names.touch(n.parent)
		if r := wire.NameSlot(n.parent, n.name); !slices.Contains(res, r) {
			res = append(res, r)
		}
		// Another client's directory-wide negative lock (dirnames.go).
		if r := wire.DirNames(n.parent); !slices.Contains(res, r) && s.makers.foreign(n.parent, owner) {
			res = append(res, r)
		}
	}
	slices.SortFunc(res, func(a, b wire.ResID) int {
		for i := range a {
			if c := cmpU64(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	var held []*ldlm.LocalLock
	release := func() {
		for _, l := range held {
			l.Release()
		}
	}
	for _, r := range res {
		l, err := s.ns.Lock(ctx, wire.LockDesc{Res: r, Type: wire.LockPlain, Mode: wire.LockEX}, 0)
		if err != nil {
			release()
			return nil, fmt.Errorf("mdt: locking a name slot: %w", err)
		}
		held = append(held, l)
		if r.IsDirNames() {
			s.makers.revoked(r.FID())
		}
	}
	return release, nil
}
