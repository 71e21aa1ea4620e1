package fusefs

import (
	"context"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"go.uber.org/zap"

	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// Locker is what a Backend implements to serve flock(2) and fcntl(2)
// record locks itself, coherently across clients (*client.FS runs them as
// FLOCK locks on the MDT). With it the mount asks the kernel to forward
// lock requests (EnableLocks); without it the kernel keeps them locally,
// per mount.
//
// Flock follows ldlm.Client.Flock: FlockSet fails with an error matching
// EAGAIN on a conflict; FlockWait waits until granted or ctx ends (then an
// error matching EINTR, the wait cancelled); FlockTest returns the
// conflicting lock, mode NL if none. Owner is the kernel's lock owner
// (the process's file table for fcntl, the open file for flock).
type Locker interface {
	Flock(ctx context.Context, fid wire.FID, cmd ldlm.FlockCmd, fl ldlm.Flock) (ldlm.Flock, error)
}

// unlockTimeout bounds the unlock the adapter sends when a descriptor is
// closed; the kernel is not waiting on a signal then.
const unlockTimeout = 30 * time.Second

// offsetMax is the kernel's OFFSET_MAX: a lock "to the end of the file".
const offsetMax = math.MaxInt64

var (
	_ fs.NodeGetlker  = (*node)(nil)
	_ fs.NodeSetlker  = (*node)(nil)
	_ fs.NodeSetlkwer = (*node)(nil)
	_ fs.NodeFlusher  = (*node)(nil)
	_ fs.NodeReleaser = (*node)(nil)

	_ fs.FileReleasedirer = (*dirHandle)(nil)
)

// lockState is the mount's record-lock bookkeeping. The kernel leaves
// lock release to the file system when locks are forwarded: POSIX locks
// of an owner go at any close(2) of the file by that owner (FUSE_FLUSH
// names the owner), flocks when their open file is released. go-fuse does
// not pass FLUSH's lock owner to the node, so the raw layer (lockRaw)
// notes it by caller thread for the node's Flush to find.
type lockState struct {
	mu      sync.Mutex
	flushes map[uint32]uint64 // thread id → lock owner of its FLUSH in progress
}

// lockRaw wraps go-fuse's raw file system to catch FLUSH's lock owner.
type lockRaw struct {
	fuse.RawFileSystem
	st *lockState
}

// Flush notes in's lock owner for the node's Flush, then serves it.
func (r *lockRaw) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	pid := in.Caller.Pid
	r.st.mu.Lock()
	r.st.flushes[pid] = in.LockOwner
	r.st.mu.Unlock()
	defer func() {
		r.st.mu.Lock()
		delete(r.st.flushes, pid)
		r.st.mu.Unlock()
	}()
	return r.RawFileSystem.Flush(cancel, in)
}

// wrapRaw returns raw wrapped to keep the negative entries a MetaCacher
// backend allows (negRaw) and to forward lock owners when the backend
// serves locks.
func (fsys *fileSystem) wrapRaw(raw fuse.RawFileSystem) fuse.RawFileSystem {
	if fsys.meta.b != nil {
		raw = negRaw{RawFileSystem: raw}
	}
	if fsys.locker() == nil {
		return raw
	}
	return &lockRaw{RawFileSystem: raw, st: fsys.locks}
}

// locker returns the backend's Locker, nil if it has none.
func (fsys *fileSystem) locker() Locker {
	l, _ := fsys.b.(Locker)
	return l
}

// flushOwner returns the lock owner of the FLUSH ctx serves.
func (fsys *fileSystem) flushOwner(ctx context.Context) (uint64, bool) {
	caller, ok := fuse.FromContext(ctx)
	if !ok || fsys.locks == nil {
		return 0, false
	}
	fsys.locks.mu.Lock()
	defer fsys.locks.mu.Unlock()
	owner, ok := fsys.locks.flushes[caller.Pid]
	return owner, ok
}

// nodeLocks are the owners that took locks on a node through this mount,
// to release at close: POSIX owners, and flock owners by open file.
type nodeLocks struct {
	posix  map[uint64]struct{}
	flocks map[fs.FileHandle]uint64
	// unlocking are the flock owners whose release-time unlock is on its
	// way to the MDT; closed when it is done. A new flock request of
	// the same owner (a reused open-file address) waits for it.
	unlocking map[uint64]chan struct{}
}

// toFlock converts a kernel lock request.
func toFlock(owner uint64, lk *fuse.FileLock, flock bool) (ldlm.Flock, syscall.Errno) {
	fl := ldlm.Flock{Start: lk.Start, End: lk.End, PID: lk.Pid, Owner: owner}
	switch lk.Typ {
	case syscall.F_RDLCK:
		fl.Mode = wire.LockPR
	case syscall.F_WRLCK:
		fl.Mode = wire.LockPW
	case syscall.F_UNLCK:
		fl.Mode = wire.LockNL
	default:
		return fl, syscall.EINVAL
	}
	if flock {
		fl.Start, fl.End = 0, wire.LockEOF
	}
	if fl.End >= offsetMax {
		fl.End = wire.LockEOF
	}
	if fl.Start > fl.End {
		return fl, syscall.EINVAL
	}
	return fl, 0
}

// fromFlock converts a lock for F_GETLK's answer.
func fromFlock(fl ldlm.Flock, out *fuse.FileLock) {
	*out = fuse.FileLock{Start: fl.Start, End: fl.End, Pid: fl.PID, Typ: syscall.F_UNLCK}
	if fl.End == wire.LockEOF {
		out.End = offsetMax
	}
	switch fl.Mode {
	case wire.LockPR:
		out.Typ = syscall.F_RDLCK
	case wire.LockPW:
		out.Typ = syscall.F_WRLCK
	default:
		*out = fuse.FileLock{Typ: syscall.F_UNLCK}
	}
}

// Getlk serves F_GETLK: the first lock in the way, or F_UNLCK.
func (n *node) Getlk(ctx context.Context, _ fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32,
	out *fuse.FileLock) syscall.Errno {
	l := n.fsys.locker()
	if l == nil {
		return syscall.ENOTSUP
	}
	fl, errno := toFlock(owner, lk, flags&fuse.FUSE_LK_FLOCK != 0)
	if errno != 0 {
		return errno
	}
	got, err := l.Flock(ctx, n.fid, ldlm.FlockTest, fl)
	if err != nil {
		return n.fsys.toErrno(err, "getlk", n.fid)
	}
	fromFlock(got, out)
	return 0
}

// Setlk serves F_SETLK and flock(LOCK_NB): EAGAIN on a conflict.
func (n *node) Setlk(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return n.setlk(ctx, f, owner, lk, flags, ldlm.FlockSet)
}

// Setlkw serves F_SETLKW and flock(2): it waits for conflicting locks to
// go, until the caller catches a signal (the kernel interrupts the
// request and go-fuse cancels ctx: EINTR, the wait is cancelled on the
// MDT). Unlike other operations it gets no grace (opContext): a signal
// ends a lock wait at once, as in the kernel.
func (n *node) Setlkw(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return n.setlk(ctx, f, owner, lk, flags, ldlm.FlockWait)
}

func (n *node) setlk(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32,
	cmd ldlm.FlockCmd) syscall.Errno {
	l := n.fsys.locker()
	if l == nil {
		return syscall.ENOTSUP
	}
	isFlock := flags&fuse.FUSE_LK_FLOCK != 0
	fl, errno := toFlock(owner, lk, isFlock)
	if errno != 0 {
		return errno
	}
	if fl.Mode != wire.LockNL {
		// Noted before the request, so that a close racing with the
		// grant still unlocks.
		stale, wait := n.noteLock(f, owner, isFlock)
		if wait != nil {
			<-wait // bounded by unlockTimeout
		}
		if stale {
			n.unlockAll(owner)
		}
	}
	if _, err := l.Flock(ctx, n.fid, cmd, fl); err != nil {
		return n.fsys.toErrno(err, "setlk", n.fid)
	}
	return 0
}

// noteLock records that owner may hold locks on n. For a flock it reports
// whether another open file of n was noted with the same owner: the
// kernel names a flock's owner by the address of its open file, which a
// new open reuses once the old one is closed, and the old one's RELEASE
// (which unlocks its flock) reaches us asynchronously, possibly after
// this request was granted — it would then unlock the new holder's lock.
// So the old file's flock goes now, before the request (the caller
// unlocks owner), and its RELEASE finds nothing to unlock.
// A release-time unlock of owner already under way must end first: wait,
// when not nil, is closed when it has.
func (n *node) noteLock(f fs.FileHandle, owner uint64, isFlock bool) (stale bool, wait <-chan struct{}) {
	n.lockMu.Lock()
	defer n.lockMu.Unlock()
	if isFlock {
		wait = n.locks.unlocking[owner]
		if n.locks.flocks == nil {
			n.locks.flocks = map[fs.FileHandle]uint64{}
		}
		for g, o := range n.locks.flocks {
			if o == owner && g != f {
				delete(n.locks.flocks, g)
				stale = true
			}
		}
		n.locks.flocks[f] = owner
		return stale, wait
	}
	if n.locks.posix == nil {
		n.locks.posix = map[uint64]struct{}{}
	}
	n.locks.posix[owner] = struct{}{}
	return false, nil
}

// unlockAll releases every lock of owner on n.
func (n *node) unlockAll(owner uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	fl := ldlm.Flock{Mode: wire.LockNL, Start: 0, End: wire.LockEOF, Owner: owner}
	if _, err := n.fsys.locker().Flock(ctx, n.fid, ldlm.FlockSet, fl); err != nil {
		n.fsys.log.Warn("fusefs: unlock at close failed", zap.Stringer("fid", n.fid), zap.Error(err))
	}
}

// Flush serves every close(2) of a descriptor: the file's own flush, then
// the release of the closing owner's POSIX locks on the file.
func (n *node) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno {
	var errno syscall.Errno
	if fl, ok := f.(fs.FileFlusher); ok {
		errno = fl.Flush(ctx)
	}
	if owner, ok := n.fsys.flushOwner(ctx); ok {
		n.lockMu.Lock()
		_, held := n.locks.posix[owner]
		delete(n.locks.posix, owner)
		n.lockMu.Unlock()
		if held {
			n.unlockAll(owner)
		}
	}
	return errno
}

// Release runs after the last descriptor of an open file is closed: the
// file's flock goes, then the file's own release.
func (n *node) Release(ctx context.Context, f fs.FileHandle) syscall.Errno {
	n.dropFlock(f)
	if r, ok := f.(fs.FileReleaser); ok {
		return r.Release(ctx)
	}
	return 0
}

// Releasedir runs after the last descriptor of an open directory is
// closed: the directory's flock goes.
func (d *dirHandle) Releasedir(_ context.Context, _ uint32) { d.n.dropFlock(d) }

// dropFlock releases the flock taken through open file f, if any.
func (n *node) dropFlock(f fs.FileHandle) {
	n.lockMu.Lock()
	owner, held := n.locks.flocks[f]
	delete(n.locks.flocks, f)
	if !held {
		n.lockMu.Unlock()
		return
	}
	prev := n.locks.unlocking[owner]
	done := make(chan struct{})
	if n.locks.unlocking == nil {
		n.locks.unlocking = map[uint64]chan struct{}{}
	}
	n.locks.unlocking[owner] = done
	n.lockMu.Unlock()
	if prev != nil {
		<-prev
	}
	n.unlockAll(owner)
	n.lockMu.Lock()
	if n.locks.unlocking[owner] == done {
		delete(n.locks.unlocking, owner)
	}
	n.lockMu.Unlock()
	close(done)
}
