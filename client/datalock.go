package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/client/lov"
	"github.com/stria-fs/stria/client/osc"
	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/ldlm"
	"github.com/stria-fs/stria/wire"
)

// pageSize is the granularity of extent locks: the kernel caches whole
// pages, so a lock must cover every page it lets a client cache.
const pageSize = 4096

// dataLocks is the FS's state for data coherence under the OSTs' extent
// locks: the kernel page-cache invalidators the FUSE adapter registered,
// and the queue of invalidations the lock cancels asked for, run by one
// goroutine (started at the first, owned by FS.wg).
//
// Invalidation runs after the cancel, not before: the kernel holds the
// pages of a READ or WRITE locked while the request is in our hands, and
// that request may be waiting for a lock that waits for this very cancel,
// so a synchronous invalidation could deadlock. A page cached under a
// cancelled lock may therefore be served by the kernel until the worker
// dropped it (microseconds, unless a request of this client holds the
// page, in which case it is dropped once that request ends).
type dataLocks struct {
	mu       sync.Mutex // guards the fields below; taken before FS.mu
	inval    map[wire.FID]func(off, length int64)
	pending  map[wire.FID]struct{}
	kick     chan struct{}
	started  bool
	inFlight int                    // invalidations taken by the worker and not yet done
	running  map[wire.FID]struct{}  // the files of those
	asking   map[wire.FID]int       // GetAttrs of the file being answered (attrGate)
	answered map[wire.FID]time.Time // when the last of those was answered
	idle     *sync.Cond
}

// SetInvalidator registers how to drop the kernel's cached pages of file
// fid (NotifyContent of its FUSE inode; length 0: to the end). The FUSE
// adapter calls it through the file it opened (file.SetInvalidator); the
// FS keeps it while the file is open or has locks that may cover pages.
func (fs *FS) setInvalidator(fid wire.FID, f func(off, length int64)) {
	d := &fs.data
	d.mu.Lock()
	if d.inval == nil {
		d.inval = map[wire.FID]func(off, length int64){}
	}
	d.inval[fid] = f
	d.mu.Unlock()
}

// invalidate queues the invalidation of fid's cached pages.
func (fs *FS) invalidate(fid wire.FID) {
	d := &fs.data
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inval[fid] == nil {
		return
	}
	if d.pending == nil {
		d.pending, d.kick = map[wire.FID]struct{}{}, make(chan struct{}, 1)
		d.idle = sync.NewCond(&d.mu)
	}
	d.pending[fid] = struct{}{}
	if !d.started {
		fs.mu.Lock()
		if !fs.closed {
			d.started = true
			fs.wg.Add(1)
			go fs.invalidator()
		}
		fs.mu.Unlock()
	}
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// invalidator runs the queued invalidations until the mount ends. A file
// that is not open loses its invalidator once invalidated: it has no
// cached page left, and a new page needs a new open, which registers it
// again.
func (fs *FS) invalidator() {
	defer fs.wg.Done()
	d := &fs.data
	for {
		select {
		case <-fs.ctx.Done():
			return
		case <-d.kick:
		}
		d.mu.Lock()
		todo := make(map[wire.FID]func(off, length int64), len(d.pending))
		for fid := range d.pending {
			todo[fid] = d.inval[fid]
		}
		clear(d.pending)
		d.inFlight += len(todo)
		if d.running == nil {
			d.running = map[wire.FID]struct{}{}
		}
		for fid := range todo {
			d.running[fid] = struct{}{}
		}
		d.mu.Unlock()
		for fid, f := range todo {
			fs.attrGate(fid, attrGateMax)
			f(0, 0)
			open := fs.openedInode(fid) != nil
			d.mu.Lock()
			if _, again := d.pending[fid]; !open && !again {
				delete(d.inval, fid)
			}
			d.inFlight--
			delete(d.running, fid)
			d.idle.Broadcast()
			d.mu.Unlock()
		}
	}
}

// The kernel drops a GETATTR's answer if the inode was invalidated while
// the request was out (its attr_version moved): the size it then keeps
// is the one it had, so lseek(SEEK_END) of a file another client just
// made longer returns the old end. An invalidation of a file's pages
// therefore waits while a GetAttr of the file is being answered and for
// attrSettle after (the kernel takes the answer in the caller's thread,
// after our reply), at most attrGateMax. A GETATTR the kernel had sent
// but we had not read yet can still lose its answer; the next one asks
// again.
const (
	attrSettle  = 2 * time.Millisecond
	attrGateMax = 50 * time.Millisecond
)

// answeringAttr marks a GetAttr of fid as being answered until the
// returned function is called.
func (fs *FS) answeringAttr(fid wire.FID) func() {
	d := &fs.data
	d.mu.Lock()
	if d.asking == nil {
		d.asking, d.answered = map[wire.FID]int{}, map[wire.FID]time.Time{}
	}
	d.asking[fid]++
	d.mu.Unlock()
	return func() {
		now := time.Now()
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.asking[fid]--; d.asking[fid] == 0 {
			delete(d.asking, fid)
		}
		if len(d.answered) >= 1024 {
			for f, t := range d.answered {
				if now.Sub(t) >= attrSettle {
					delete(d.answered, f)
				}
			}
		}
		d.answered[fid] = now
	}
}

// attrGate waits (the invalidation worker) until no GetAttr of fid is
// being answered and attrSettle has passed since the last was, or max
// passed.
func (fs *FS) attrGate(fid wire.FID, max time.Duration) {
	d := &fs.data
	deadline := time.Now().Add(max)
	for {
		d.mu.Lock()
		busy := d.asking[fid] > 0
		wait := time.Until(d.answered[fid].Add(attrSettle))
		if !busy && wait <= 0 {
			delete(d.answered, fid)
		}
		d.mu.Unlock()
		if busy {
			wait = attrSettle
		}
		left := time.Until(deadline)
		if wait <= 0 || left <= 0 {
			return
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-fs.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// waitInvalidated waits until no invalidation is queued or running (for
// tests).
func (fs *FS) waitInvalidated() {
	d := &fs.data
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.idle != nil && (len(d.pending) > 0 || d.inFlight > 0) && fs.ctx.Err() == nil {
		d.idle.Wait()
	}
}

// waitInvalidatedFile waits until no invalidation of fid's pages is
// queued or running, or ctx ends. Invalidations run after their lock's
// cancel (see dataLocks), so a page of a cancelled lock can outlive it
// briefly; an open and a granted flock wait for that, so a program that
// serialises with another client through either never reads a page the
// other's write made stale. Neither holds a page the worker must lock.
func (fs *FS) waitInvalidatedFile(ctx context.Context, fid wire.FID) error {
	d := &fs.data
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.idle == nil {
		return nil
	}
	wake := func() {
		d.mu.Lock()
		d.idle.Broadcast()
		d.mu.Unlock()
	}
	// The worker stops with the mount and would leave the queue as it is.
	defer context.AfterFunc(ctx, wake)()
	defer context.AfterFunc(fs.ctx, wake)()
	for {
		_, queued := d.pending[fid]
		_, running := d.running[fid]
		switch {
		case !queued && !running:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case fs.ctx.Err() != nil:
			return fs.ctx.Err()
		}
		d.idle.Wait()
	}
}

// hasInvalidator reports whether the kernel's pages of fid can be dropped.
func (fs *FS) hasInvalidator(fid wire.FID) bool {
	d := &fs.data
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inval[fid] != nil
}

// lockHooks are the hooks of every OSC's lock namespace.
func (fs *FS) lockHooks() ldlm.Hooks {
	return ldlm.Hooks{Cancel: fs.cancelDataLock, Glimpse: fs.glimpseDataLock}
}

// cancelDataLock runs before an extent lock goes: the file's dirty data
// is written back (it was written under this lock or another of the
// file's; flushing all is simpler and never wrong), then the kernel's
// pages of the file are dropped. After an eviction the dirty data of the
// lock's object is discarded instead (writing it now could overwrite what
// other clients wrote since; the file's writers get EIO at fsync and
// close, as in Lustre).
func (fs *FS) cancelDataLock(ctx context.Context, l *ldlm.Lock, evicted bool) {
	fid, ok := l.Data().(wire.FID)
	if !ok {
		return
	}
	if in := fs.openedInode(fid); in != nil {
		if evicted {
			in.cache.Discard(l.Desc().Res.FID())
		} else if err := in.cache.Flush(ctx); err != nil {
			fs.log.Warn("write-back for a lock cancel failed", zap.Stringer("fid", fid), zap.Error(err))
		}
	}
	fs.invalidate(fid)
}

// glimpseDataLock answers an OST's glimpse: how far this client's cached
// writes extend the object, and when this client last wrote the file.
func (fs *FS) glimpseDataLock(l *ldlm.Lock) (wire.LVB, error) {
	fid, ok := l.Data().(wire.FID)
	if !ok {
		return wire.LVB{}, ldlm.ErrNoData
	}
	in := fs.openedInode(fid)
	if in == nil {
		return wire.LVB{}, ldlm.ErrNoData
	}
	end := in.cache.ObjectEnd(l.Desc().Res.FID())
	if end == 0 {
		return wire.LVB{}, ldlm.ErrNoData
	}
	_, mtime := in.local()
	return wire.LVB{Size: end, MTime: mtime}, nil
}

// objRange is the part of one object an I/O touches, in object bytes.
type objRange struct {
	obj        layout.Object
	start, end uint64 // inclusive
}

// ioRanges returns the object ranges [off, off+n) of mirror m touches,
// widened to pages and sorted by OST index and FID (the order locks are
// taken in, so that two I/Os never wait for each other's locks). n
// wire.LockEOF means every object of the mirror, whole.
func ioRanges(lay *layout.Layout, m uint16, off, n uint64) []objRange {
	var chunks []layout.Chunk
	if n != wire.LockEOF {
		if end := mirrorEnd(lay, m); off+n > end {
			n = max(end, off) - off
		}
		if n == 0 {
			return nil
		}
		var err error
		if chunks, err = lay.Split(m, off, n); err != nil {
			return nil // the I/O reports it
		}
	}
	var out []objRange
	if n == wire.LockEOF { // every object of the mirror, whole
		for i := range lay.Components {
			c := &lay.Components[i]
			if c.MirrorID != m || !c.IsInit() || c.IsDoM() {
				continue
			}
			for _, obj := range c.Stripe.Objects {
				if !slices.ContainsFunc(out, func(r objRange) bool { return r.obj == obj }) {
					out = append(out, objRange{obj, 0, wire.LockEOF})
				}
			}
		}
		sortRanges(out)
		return out
	}
	for _, ch := range chunks {
		obj, ok := lay.Object(ch)
		if !ok {
			continue
		}
		s, e := ch.ObjOff&^(pageSize-1), (ch.ObjOff+ch.Len+pageSize-1)&^(pageSize-1)-1
		if i := slices.IndexFunc(out, func(r objRange) bool { return r.obj == obj }); i >= 0 {
			out[i].start, out[i].end = min(out[i].start, s), max(out[i].end, e)
			continue
		}
		out = append(out, objRange{obj, s, e})
	}
	sortRanges(out)
	return out
}

// sortRanges sorts by OST index and FID.
func sortRanges(out []objRange) {
	slices.SortFunc(out, func(a, b objRange) int {
		switch {
		case a.obj.OSTIndex != b.obj.OSTIndex:
			return int(a.obj.OSTIndex) - int(b.obj.OSTIndex)
		case a.obj.FID.Seq != b.obj.FID.Seq:
			return cmpU64(a.obj.FID.Seq, b.obj.FID.Seq)
		}
		return cmpU64(uint64(a.obj.FID.Oid), uint64(b.obj.FID.Oid))
	})
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

// mirrorEnd is where mirror m's components end.
func mirrorEnd(l *layout.Layout, m uint16) uint64 {
	var end uint64
	for i := range l.Components {
		if c := &l.Components[i]; c.MirrorID == m {
			end = max(end, c.Extent.End)
		}
	}
	return end
}

// heldLocks are the extent locks one I/O holds.
type heldLocks []*ldlm.Lock

func (h heldLocks) release() {
	for _, l := range h {
		if l != nil {
			l.Release()
		}
	}
}

// lockIO takes mode (PR to read, PW to write) on every object range of
// file fid that [off, off+n) of mirror m touches, in a fixed order. The
// caller releases them once its I/O is done (for a write: once the data
// is in the write-back cache, where it stays under the lock until the lock
// is called back).
func (fs *FS) lockIO(ctx context.Context, fid wire.FID, lay *layout.Layout, m uint16, off, n uint64,
	mode wire.LockMode) (heldLocks, error) {
	ranges := ioRanges(lay, m, off, n)
	held := make(heldLocks, 0, len(ranges))
	for _, r := range ranges {
		t, err := fs.Target(ctx, r.obj.OSTIndex)
		if err != nil {
			held.release()
			return nil, err
		}
		l, err := t.(*osc.OSC).Lock(ctx, r.obj.FID, mode, r.start, r.end, fid)
		if err != nil {
			held.release()
			return nil, err
		}
		held = append(held, l)
	}
	return held, nil
}

// covered reports whether this client holds a lock of mode over the whole
// of every object of lay (then its cached pages are valid).
func (fs *FS) covered(lay *layout.Layout, mode wire.LockMode) bool {
	if lay == nil {
		return false
	}
	n := 0
	for i := range lay.Components {
		c := &lay.Components[i]
		if !c.IsInit() || c.IsDoM() {
			continue
		}
		for _, obj := range c.Stripe.Objects {
			fs.mu.Lock()
			o := fs.osts[obj.OSTIndex]
			fs.mu.Unlock()
			if o == nil || !o.Covered(obj.FID, mode, 0, wire.LockEOF) {
				return false
			}
			n++
		}
	}
	return n > 0
}

var _ lov.Targets = (*FS)(nil)
