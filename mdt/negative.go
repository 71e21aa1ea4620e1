package mdt

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/stria-fs/stria/mdt/mdd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// Negative lookups. A client that looks up a name that does not exist may
// cache its absence (the kernel keeps a negative dentry) under a PR plain
// lock on the name's slot (wire.NameSlot): every operation that makes the
// name — create, mkdir, mknod, symlink, link, rename onto it — takes EX on
// the slot first (lockNameSlots), which calls the lock back. Lustre covers
// negative dentries with the directory's UPDATE lock, which every create
// in the directory calls back; a slot covers one name (and the few that
// share its hash), so creates of other names leave it alone.
//
// The kernel looks a name up before it creates it, so in a directory where
// names are being made, most negative lookups are followed at once by the
// create of the name, which would call the new lock back: a callback round
// trip per create for a cache that served nothing. The MDT therefore
// grants negative locks only in quiet directories: those where no name
// slot was locked for Config.NegativeQuiet. The rule decides only what is
// cached, never what is answered.

// busyDirsMax bounds the directories nameActivity remembers. Past it the
// ones quiet again are forgotten, and if that is not enough, all of them:
// a forgotten directory merely looks quiet.
const busyDirsMax = 4096

// nameActivity remembers when names were last made or changed in each
// directory. mu is a leaf.
type nameActivity struct {
	quiet time.Duration // < 0: no directory is ever quiet
	mu    sync.Mutex
	last  map[wire.FID]time.Time
}

// touch records that a name slot of dir is being locked now.
func (a *nameActivity) touch(dir wire.FID) {
	if a.quiet < 0 {
		return
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		a.last = map[wire.FID]time.Time{}
	}
	if _, ok := a.last[dir]; !ok && len(a.last) >= busyDirsMax {
		for d, t := range a.last {
			if now.Sub(t) >= a.quiet {
				delete(a.last, d)
			}
		}
		if len(a.last) >= busyDirsMax {
			clear(a.last)
		}
	}
	a.last[dir] = now
}

// isQuiet reports whether no name slot of dir was locked for a.quiet.
func (a *nameActivity) isQuiet(dir wire.FID) bool {
	if a.quiet < 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.last[dir]
	return !ok || time.Since(t) >= a.quiet
}

// negativeLock grants the client of req, under its intent handle h, a PR
// plain lock on the slot of parent/name, which a lookup found missing:
// at once or not at all, and only in a quiet directory. It looks the name
// up again under the lock: a name made before the grant was made under
// the slot's EX lock, and is seen; one made after it calls the lock back.
// It returns nil when the client gets no lock (the name's ENOENT is then
// answered as such).
func (s *Server) negativeLock(ctx context.Context, req *ptlrpc.Request, h wire.LockHandle, parent wire.FID,
	name string) *wire.LockReply {
	if h == 0 || !s.names.isQuiet(parent) {
		return nil
	}
	lock := s.intentLock(req, h, wire.LockDesc{Res: wire.NameSlot(parent, name), Type: wire.LockPlain,
		Mode: wire.LockPR})
	if lock == nil {
		return nil
	}
	if _, err := s.mdd.Lookup(ctx, mdd.Root(), parent, name); !errors.Is(err, mdd.ErrNotFound) {
		s.ns.Cancel(req.Export(), []wire.LockHandle{lock.Handle})
		return nil
	}
	return lock
}
