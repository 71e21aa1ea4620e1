package lov

import (
	"context"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// CacheConfig configures a Cache.
type CacheConfig struct {
	Targets Targets
	Layout  *layout.Layout
	// Pressure is called when a writer waits for cache space towards OST
	// ost: whoever caches data for it should start writing some back.
	// Nil: this cache writes back what it holds for that OST.
	Pressure func(ost uint32)
	// Buffers recycles extent buffers among the caches sharing it (nil:
	// this cache's own).
	Buffers *Buffers
	Logger  *zap.Logger
}

// Buffers recycles the buffers of extents that fill a whole RPC slot, so
// that steady streaming allocates (and zeroes) nothing per RPC. Safe for
// concurrent use; share one among the caches of a mount.
type Buffers struct {
	pools sync.Map // RPC size (int) -> *sync.Pool of *[]byte
}

// get returns a buffer of length n and capacity size, from the pool of
// that size when there is one.
func (b *Buffers) get(n, size uint64) []byte {
	if p, ok := b.pools.Load(size); ok {
		if x, ok := p.(*sync.Pool).Get().(*[]byte); ok {
			return (*x)[:n]
		}
	}
	return make([]byte, n, size)
}

// put recycles buf if its capacity is an RPC size.
func (b *Buffers) put(buf []byte, rpc uint64) {
	if uint64(cap(buf)) != rpc {
		return
	}
	p, _ := b.pools.LoadOrStore(rpc, &sync.Pool{})
	buf = buf[:0]
	p.(*sync.Pool).Put(&buf)
}

// Cache is the write-back cache of one file (Lustre keeps dirty pages per
// object in osc extents): written data is copied into extents of object
// space, grouped per object; an extent never crosses a multiple of the
// OST's RPC size (its slot), and one that reaches the end of its slot is
// sent at once, asynchronously — a full slot is exactly one aligned RPC.
// Everything else is sent by Flush, by FlushRange, or when a writer waits
// for cache space.
//
// Order: an extent is sent only after every earlier extent of its object
// that overlaps it has been written, so overlapping writes reach the OST in
// the order they were made. Errors of asynchronous writes are kept: Err
// reports each one once per reader of it (as Linux's errseq).
//
// Goroutines: one per extent in flight, started under mu and tracked by
// wg; Close waits for them. Lock order: Cache.mu, then the osc's (ExitCache
// and EnterCache are never called with mu held, except ExitCache of
// writeback, which is a leaf).
type Cache struct {
	ts       Targets
	pressure func(uint32)
	bufs     *Buffers
	log      *zap.Logger
	ctx      context.Context // async writes run under it; Abort cancels it
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex // guards everything below
	l      *layout.Layout
	objs   map[layout.Object]*object
	end    uint64 // file offset after the last byte written through the cache
	err    error  // last async write error
	errSeq uint64 // bumped at every async write error
	closed bool
}

// object is the cached data of one OST object.
type object struct {
	obj    layout.Object
	t      Target
	rpc    uint64    // the target's RPC size when the object entered the cache
	dirty  []*extent // sorted by offset, disjoint, not yet sent
	flying []*extent // being written, oldest first
}

// extent is contiguous data of one object: dirty, then in flight.
type extent struct {
	off   uint64
	data  []byte
	mtime int64         // the latest time any of its data was written (0: none)
	done  chan struct{} // closed when written (or failed); err set before
	err   error
	// sum is the crc32c of data[:summed], computed as the data came in,
	// while it was in the CPU's cache: a sequential writer's extent is
	// summed whole by the time it is sent, with no pass over it then.
	sum    uint32
	summed int
}

func (e *extent) end() uint64 { return e.off + uint64(len(e.data)) }

// checksum returns the crc32c of e's data, summing what insert did not.
func (e *extent) checksum() uint32 {
	if e.summed == len(e.data) {
		return e.sum
	}
	return crc32.Update(e.sum, castagnoli, e.data[e.summed:])
}

// castagnoli is the crc32c table (the OSTs check writes against it).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewCache returns an empty cache for a file of layout cfg.Layout whose
// asynchronous writes run under ctx.
func NewCache(ctx context.Context, cfg CacheConfig) *Cache {
	c := &Cache{ts: cfg.Targets, pressure: cfg.Pressure, bufs: cfg.Buffers, log: cfg.Logger, l: cfg.Layout,
		objs: map[layout.Object]*object{}}
	if c.bufs == nil {
		c.bufs = &Buffers{}
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	if c.pressure == nil {
		c.pressure = c.WritebackOST
	}
	return c
}

// Layout returns the layout the cache writes over.
func (c *Cache) Layout() *layout.Layout {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.l
}

// SetLayout replaces the layout (after the MDT changed it). The cache
// must be empty: Flush first.
func (c *Cache) SetLayout(l *layout.Layout) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.objs) > 0 {
		return fmt.Errorf("lov: layout change with cached data (%w)", syscall.EBUSY)
	}
	c.l = l
	return nil
}

// End returns the file offset after the last byte written through the
// cache (0 if none): the file is at least that long.
func (c *Cache) End() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

// ObjectEnd returns the object offset after the last byte cached (dirty
// or in flight) for object fid, 0 if none: what the object's size will be
// at least once written back (the answer to an OST's glimpse).
func (c *Cache) ObjectEnd(fid wire.FID) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var end uint64
	for obj, o := range c.objs {
		if obj.FID != fid {
			continue
		}
		for _, e := range o.dirty {
			end = max(end, e.end())
		}
		for _, e := range o.flying {
			end = max(end, e.end())
		}
	}
	return end
}

// Truncated tells the cache the file was truncated to size (after a
// Flush): what it wrote beyond is gone.
func (c *Cache) Truncated(size uint64) {
	c.mu.Lock()
	c.end = min(c.end, size)
	c.mu.Unlock()
}

// Dirty reports whether the cache holds data not yet written (dirty or in
// flight).
func (c *Cache) Dirty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.objs) > 0
}

// Err returns the last asynchronous write error if one happened since
// *seen (a reader's errseq cursor, 0 at open), and moves *seen past it.
func (c *Cache) Err(seen *uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errSeq == *seen {
		return nil
	}
	*seen = c.errSeq
	return c.err
}

// ErrSeq returns the current error sequence, the cursor of a new reader.
func (c *Cache) ErrSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errSeq
}

// Write copies p, at file offset off, into the cache; mtime is when the
// application wrote it (ns, the client's clock; 0: none), which the data
// carries to the OST (the object's mtime moves forward to it there), so
// that writing back later never makes the file newer than the client
// said. Each piece enters
// its OST's cache accounting first, waiting for space (bounded by ctx).
// Full slots are sent at once; a piece the OST's grant does not cover is
// written back before Write returns (with everything dirty of its
// object), so that such a write's error, ENOSPC first of all, reaches the
// writer.
func (c *Cache) Write(ctx context.Context, p []byte, off uint64, mtime int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	l := c.Layout()
	if l == nil {
		return 0, fmt.Errorf("%w (%w)", ErrNoLayout, syscall.EIO)
	}
	ext := layout.Extent{Start: off, End: off + uint64(len(p))}
	m, intent := l.WriteMirror(ext)
	if intent {
		return 0, fmt.Errorf("%w: write %v (%w)", ErrNeedIntent, ext, syscall.EOPNOTSUPP)
	}
	chunks, err := l.Split(m, off, uint64(len(p)))
	if err != nil {
		return 0, fmt.Errorf("lov: write %v: %w (%w)", ext, err, syscall.EFBIG)
	}
	written := 0
	for _, ch := range chunks {
		obj, ok := l.Object(ch)
		if !ok {
			return written, fmt.Errorf("%w: write [%d, +%d) (%w)", ErrNeedIntent, ch.FileOff, ch.Len, syscall.EOPNOTSUPP)
		}
		t, err := c.ts.Target(ctx, obj.OSTIndex)
		if err != nil {
			return written, err
		}
		rpc := uint64(max(t.RPCSize(), 4096))
		data := p[ch.FileOff-off : ch.FileOff-off+ch.Len]
		for objOff := ch.ObjOff; len(data) > 0; {
			n := min(uint64(len(data)), (objOff/rpc+1)*rpc-objOff)
			if err := c.writePiece(ctx, t, obj, objOff, data[:n], ch.FileOff+(objOff-ch.ObjOff), mtime); err != nil {
				return written, err
			}
			written += int(n)
			data, objOff = data[n:], objOff+n
		}
	}
	return written, nil
}

// writePiece caches data at objOff of obj (within one RPC slot of the
// target's RPC size).
func (c *Cache) writePiece(ctx context.Context, t Target, obj layout.Object, objOff uint64, data []byte, fileOff uint64, mtime int64) error {
	n := int64(len(data))
	granted, err := t.EnterCache(ctx, n, func() { c.pressure(obj.OSTIndex) })
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		t.ExitCache(n)
		return ErrClosed
	}
	o := c.objs[obj]
	if o == nil {
		o = &object{obj: obj, t: t, rpc: uint64(max(t.RPCSize(), 4096))}
		c.objs[obj] = o
	}
	e, added := o.insert(objOff, data, mtime, c.bufs)
	c.end = max(c.end, fileOff+uint64(n))
	var wait []*extent
	if e.end()%o.rpc == 0 {
		// The extent reaches the end of its slot: a sequential writer has
		// moved on, and a full slot is a whole aligned RPC.
		c.sendLocked(o, e)
	}
	if !granted {
		wait = c.sendAllLocked(o)
	}
	c.mu.Unlock()
	if added < n {
		t.ExitCache(n - added) // overwrote cached bytes: they were counted already
	}
	for _, e := range wait {
		select {
		case <-e.done:
			if e.err != nil {
				return e.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// insert copies data, written at mtime, at off into the object's dirty
// extents, merging it with those it overlaps or touches within its RPC
// slot, and returns the extent that holds it and how many dirty bytes it
// added.
func (o *object) insert(off uint64, data []byte, mtime int64, bufs *Buffers) (*extent, int64) {
	end := off + uint64(len(data))
	slot := off / o.rpc * o.rpc
	slotEnd := slot + o.rpc
	// Extents of the same slot that overlap or touch [off, end).
	i := 0
	for i < len(o.dirty) && o.dirty[i].end() < off {
		i++
	}
	j := i
	for j < len(o.dirty) && o.dirty[j].off <= end {
		j++
	}
	for i < j && o.dirty[i].off < slot {
		i++
	}
	for j > i && o.dirty[j-1].end() > slotEnd {
		j--
	}
	merge := o.dirty[i:j]
	var first *extent // the extent the merge starts with, if it starts at lo
	lo, hi, old := off, end, int64(0)
	for _, e := range merge {
		lo, hi = min(lo, e.off), max(hi, e.end())
		old += int64(len(e.data))
		mtime = max(mtime, e.mtime)
	}
	if len(merge) > 0 && merge[0].off == lo {
		first = merge[0]
	}
	var buf []byte
	if len(merge) > 0 && merge[0].off == lo && uint64(cap(merge[0].data)) >= hi-lo {
		buf = merge[0].data[:hi-lo] // grows in place
		merge = merge[1:]
	} else {
		// Every byte of buf[:hi-lo] is written below: the merged extents
		// and data cover [lo, hi), so a recycled buffer is fine.
		if room := extentCap(lo, hi, slotEnd); room == o.rpc {
			buf = bufs.get(hi-lo, room)
		} else {
			buf = make([]byte, hi-lo, room)
		}
		if len(merge) > 0 && merge[0].off == lo {
			copy(buf, merge[0].data)
			bufs.put(merge[0].data, o.rpc)
			merge = merge[1:]
		}
	}
	for _, e := range merge {
		copy(buf[e.off-lo:], e.data)
		bufs.put(e.data, o.rpc)
	}
	copy(buf[off-lo:], data)
	e := &extent{off: lo, data: buf, mtime: mtime, done: make(chan struct{})}
	switch {
	case off == lo: // data starts the extent
		e.sum, e.summed = crc32.Checksum(data, castagnoli), len(data)
	case first != nil && off-lo >= uint64(first.summed):
		// first's summed prefix is untouched (the other merged extents
		// lie past first); data extends it if it starts where it ends.
		e.sum, e.summed = first.sum, first.summed
		if off-lo == uint64(first.summed) {
			e.sum, e.summed = crc32.Update(e.sum, castagnoli, data), e.summed+len(data)
		}
	}
	o.dirty = slices.Replace(o.dirty, i, j, e)
	return e, int64(hi-lo) - old
}

// extentCap sizes a new extent's buffer: large extents get room up to
// their slot's end, so sequential writes fill an RPC without copying
// again; small ones double.
func extentCap(lo, hi, slotEnd uint64) uint64 {
	n := hi - lo
	if room := slotEnd - lo; n >= room/4 {
		return room
	}
	return min(2*n, slotEnd-lo)
}

// sendLocked starts writing back extent e of o: it leaves the dirty list,
// and its write waits for the earlier extents in flight it overlaps.
func (c *Cache) sendLocked(o *object, e *extent) {
	if i := slices.Index(o.dirty, e); i >= 0 {
		o.dirty = slices.Delete(o.dirty, i, i+1)
	}
	var before []*extent
	for _, f := range o.flying {
		if f.off < e.end() && e.off < f.end() {
			before = append(before, f)
		}
	}
	o.flying = append(o.flying, e)
	c.wg.Add(1)
	go c.writeback(o, e, before)
}

// sendAllLocked sends every dirty extent of o and returns them.
func (c *Cache) sendAllLocked(o *object) []*extent {
	sent := slices.Clone(o.dirty)
	for _, e := range sent {
		c.sendLocked(o, e)
	}
	return sent
}

// writeback writes extent e of o after the extents before it.
func (c *Cache) writeback(o *object, e *extent, before []*extent) {
	defer c.wg.Done()
	for _, b := range before {
		<-b.done // every write ends, at the latest when ctx is cancelled
	}
	_, err := o.t.Write(c.ctx, o.obj.FID, e.off, e.data, e.checksum(), e.mtime)
	o.t.ExitCache(int64(len(e.data)))
	c.mu.Lock()
	if i := slices.Index(o.flying, e); i >= 0 {
		o.flying = slices.Delete(o.flying, i, i+1)
	}
	if len(o.flying) == 0 && len(o.dirty) == 0 && c.objs[o.obj] == o {
		delete(c.objs, o.obj)
	}
	if err != nil {
		c.err = err
		c.errSeq++
		c.log.Warn("lov: write-back failed; the data is lost", zap.Stringer("fid", o.obj.FID),
			zap.Uint32("ost", o.obj.OSTIndex), zap.Uint64("offset", e.off), zap.Int("length", len(e.data)),
			zap.Error(err))
	}
	e.err = err
	data := e.data
	e.data = nil // the extent is in no list any more: nobody reads it
	c.mu.Unlock()
	c.bufs.put(data, o.rpc)
	close(e.done)
}

// Discard drops the dirty data of object fid without writing it (what is
// already in flight goes on): the client lost the lock it was cached
// under (an eviction), and writing it now could overwrite what others
// wrote since. The loss is reported to the cache's readers of errors as
// ErrDiscarded (EIO), as Lustre's -EIO after an eviction. It returns the
// bytes dropped.
func (c *Cache) Discard(fid wire.FID) int64 {
	exits := map[Target]int64{}
	var bufs [][]byte
	var rpcs []uint64
	var n int64
	c.mu.Lock()
	for obj, o := range c.objs {
		if obj.FID != fid || len(o.dirty) == 0 {
			continue
		}
		for _, e := range o.dirty {
			exits[o.t] += int64(len(e.data))
			n += int64(len(e.data))
			bufs, rpcs = append(bufs, e.data), append(rpcs, o.rpc)
			e.data, e.err = nil, fmt.Errorf("%w (%w)", ErrDiscarded, syscall.EIO)
			close(e.done)
		}
		o.dirty = nil
		if len(o.flying) == 0 {
			delete(c.objs, obj)
		}
	}
	if n > 0 {
		c.err = fmt.Errorf("%w: %d bytes of %v (%w)", ErrDiscarded, n, fid, syscall.EIO)
		c.errSeq++
	}
	c.mu.Unlock()
	for t, k := range exits {
		t.ExitCache(k)
	}
	for i, b := range bufs {
		c.bufs.put(b, rpcs[i])
	}
	if n > 0 {
		c.log.Warn("lov: cached writes discarded: the lock was lost", zap.Stringer("fid", fid), zap.Int64("bytes", n))
	}
	return n
}

// WritebackOST starts writing back everything dirty towards OST ost.
func (c *Cache) WritebackOST(ost uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.objs {
		if o.obj.OSTIndex == ost {
			c.sendAllLocked(o)
		}
	}
}

// Flush writes back everything dirty and waits until nothing is in
// flight. It returns only ctx's error: write errors are for Err.
func (c *Cache) Flush(ctx context.Context) error {
	c.mu.Lock()
	var wait []*extent
	for _, o := range c.objs {
		c.sendAllLocked(o)
		wait = append(wait, o.flying...)
	}
	c.mu.Unlock()
	return waitAll(ctx, wait)
}

// FlushRange writes back what is cached of file range [off, off+n) and
// waits for it, so that a read of the range from the OSTs sees it.
func (c *Cache) FlushRange(ctx context.Context, off, n uint64) error {
	c.mu.Lock()
	if len(c.objs) == 0 || n == 0 {
		c.mu.Unlock()
		return nil
	}
	var wait []*extent
	l := c.l
	for _, m := range mirrors(l) {
		end := min(off+n, mirrorEnd(l, m))
		if end <= off {
			continue
		}
		chunks, err := l.Split(m, off, end-off)
		if err != nil {
			continue
		}
		for _, ch := range chunks {
			obj, ok := l.Object(ch)
			if !ok {
				continue
			}
			o := c.objs[obj]
			if o == nil {
				continue
			}
			lo, hi := ch.ObjOff, ch.ObjOff+ch.Len
			for _, e := range slices.Clone(o.dirty) {
				if e.off < hi && lo < e.end() {
					c.sendLocked(o, e)
				}
			}
			for _, e := range o.flying {
				if e.off < hi && lo < e.end() {
					wait = append(wait, e)
				}
			}
		}
	}
	c.mu.Unlock()
	return waitAll(ctx, wait)
}

func waitAll(ctx context.Context, es []*extent) error {
	for _, e := range es {
		select {
		case <-e.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close flushes (bounded by ctx); if that does not finish, it cancels the
// writes in flight (their data is lost). It waits for every goroutine the
// cache started and returns the flush's error or the last write error not
// yet reported to seen.
func (c *Cache) Close(ctx context.Context) error {
	err := c.Flush(ctx)
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if err != nil {
		c.cancel()
	}
	c.wg.Wait()
	c.cancel()
	return err
}
