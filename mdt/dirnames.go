package mdt

import (
	"sync"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Directory-wide negative locks. The kernel looks a name up before it
// creates it, so every create costs a lookup RPC that finds nothing. A
// client that made a directory, and has made every name it holds since,
// knows all of its names. To such a client the MDT grants, as the answer
// to a lookup of a missing name there, a PR plain lock on the directory's
// DirNames resource (wire.DirNames); while the client holds it, it
// answers lookups of names it did not make itself: ENOENT, no RPC.
//
// The MDT remembers which client made each directory (dirMakers), from
// the mkdir on: the maker is recorded under the store's apply token
// (mdd.CreateArgs.OnCreated), before any other client can see the
// directory. An operation on a name of a directory by any other client
// (lockNameSlots: create, link, rename, unlink) ends that: the
// directory is nobody's from then on, and if its maker was granted the
// lock, the operation takes EX on the resource first, which calls the
// lock back. A grant and that end are ordered by dirMakers.mu, held
// across the grant, so a grant never follows a foreign name.
//
// Lustre has no such lock (its client looks up and creates in one RPC,
// an intent); the FUSE protocol sends LOOKUP and CREATE apart.

// dirMakersMax bounds the directories remembered. A directory forgotten
// gets no more grants; one whose lock was granted is not forgotten, as a
// foreign name must call that lock back.
const dirMakersMax = 1 << 16

type dirMaker struct {
	owner   uint64 // the export that made the directory; 0: nobody's any more
	granted bool   // its DirNames lock may be held
}

// dirMakers remembers who made each directory. mu is held across a
// grant (an ldlm enqueue that never waits).
type dirMakers struct {
	mu sync.Mutex
	m  map[wire.FID]dirMaker
}

// made records that owner made dir, which is empty.
func (d *dirMakers) made(dir wire.FID, owner uint64) {
	if owner == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[wire.FID]dirMaker{}
	}
	if len(d.m) >= dirMakersMax {
		for f, e := range d.m {
			if !e.granted {
				delete(d.m, f)
			}
		}
		if len(d.m) >= dirMakersMax {
			return
		}
	}
	d.m[dir] = dirMaker{owner: owner}
}

// foreign is called before owner changes a name of dir. It reports
// whether another client may hold dir's DirNames lock, which the caller
// must then call back (EX on the resource) before it goes on; dir is no
// client's own from now on.
func (d *dirMakers) foreign(dir wire.FID, owner uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[dir]
	switch {
	case !ok, e.owner == owner && owner != 0:
		return false
	case !e.granted:
		delete(d.m, dir)
		return false
	}
	d.m[dir] = dirMaker{granted: true} // until the caller holds EX
	return true
}

// revoked is called with EX held on dir's DirNames: no lock on it is
// granted any more.
func (d *dirMakers) revoked(dir wire.FID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.m[dir]; ok && e.owner == 0 {
		delete(d.m, dir)
	}
}

// grant runs fn, which grants owner dir's DirNames lock without waiting,
// if owner made dir and every name it has had; it reports whether fn did.
func (d *dirMakers) grant(dir wire.FID, owner uint64, fn func() bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[dir]
	if !ok || owner == 0 || e.owner != owner || !fn() {
		return false
	}
	d.m[dir] = dirMaker{owner: owner, granted: true}
	return true
}

// dirNamesLock grants the client of req, under its intent handle h, the
// DirNames lock of parent, where a lookup found no name, if that client
// made parent and all its names; nil otherwise.
func (s *Server) dirNamesLock(req *ptlrpc.Request, h wire.LockHandle, parent wire.FID) *wire.LockReply {
	exp := req.Export()
	if h == 0 || exp == nil {
		return nil
	}
	var lock *wire.LockReply
	s.makers.grant(parent, exp.Handle(), func() bool {
		lock = s.intentLock(req, h, wire.LockDesc{Res: wire.DirNames(parent), Type: wire.LockPlain,
			Mode: wire.LockPR})
		return lock != nil
	})
	return lock
}
