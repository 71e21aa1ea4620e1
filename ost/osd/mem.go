package osd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/stria-fs/stria/wire"
)

// Mem is the in-memory engine: objects are maps of 4 KiB pages, so holes,
// punch and block counts behave as on a real file system. It is the
// reference the conformance suite holds the dir engine to, and the store
// of fast tests.
type Mem struct {
	opts  Options
	label Label
	used  atomic.Int64 // bytes of allocated pages, over all live objects

	mu     sync.Mutex // guards the fields below; taken before memObj.mu
	objs   map[wire.FID]*memObj
	lastID map[uint64]uint32
	closed bool
}

// memObj is one object. Its fields are guarded by mu; dead is set once the
// object is destroyed, and an operation that finds it set fails ErrNotFound.
type memObj struct {
	mu    sync.RWMutex
	dead  bool
	size  int64
	pages map[int64][]byte // page index → memPage bytes
	attr  Attr             // stored fields only
}

const (
	memPage         = 4096
	memDefaultTotal = 1 << 40 // reported size of an uncapped Mem store
	memDefaultFiles = 1 << 32
)

// MaxObjectSize is the largest object either engine stores: ldiskfs's limit
// for a file of 4 KiB blocks (16 TiB less one block).
const MaxObjectSize int64 = 16<<40 - 4096

var _ Store = (*Mem)(nil)

// NewMem returns an empty in-memory store. opts.Label names it; a zero
// label becomes "mem-OST0000".
func NewMem(opts Options) (*Mem, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	l := opts.Label
	if l.FSName == "" {
		l.FSName = "mem"
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if l.UUID == "" {
		l.UUID = l.Name() + "_UUID"
	}
	l.Format, l.Attrs = FormatVersion, ""
	return &Mem{opts: opts, label: l, objs: map[wire.FID]*memObj{}, lastID: map[uint64]uint32{}}, nil
}

// Label implements Store.
func (m *Mem) Label() Label { return m.label }

func (m *Mem) get(ctx context.Context, fid wire.FID) (*memObj, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckFID(fid); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	o := m.objs[fid]
	if o == nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	return o, nil
}

func (m *Mem) checkOpen(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}

// reserve takes n bytes of capacity, failing if the cap would be passed.
func (m *Mem) reserve(n int64) bool {
	for {
		u := m.used.Load()
		if m.opts.Capacity > 0 && u+n > m.opts.Capacity {
			return false
		}
		if m.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// insertLocked adds an object; m.mu is held.
func (m *Mem) insertLocked(fid wire.FID, a Attr) {
	m.objs[fid] = &memObj{pages: map[int64][]byte{}, attr: storedAttr(a)}
	if fid.Oid > m.lastID[fid.Seq] {
		m.lastID[fid.Seq] = fid.Oid
	}
}

// Create implements Store.
func (m *Mem) Create(ctx context.Context, fid wire.FID, a Attr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckFID(fid); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.objs[fid] != nil:
		return fmt.Errorf("%w: %v", ErrExists, fid)
	case m.opts.MaxObjects > 0 && int64(len(m.objs)) >= m.opts.MaxObjects:
		return fmt.Errorf("%w: %d objects", ErrNoSpace, len(m.objs))
	}
	m.insertLocked(fid, a)
	return nil
}

// Precreate implements Store.
func (m *Mem) Precreate(ctx context.Context, seq uint64, count int) (wire.FID, wire.FID, error) {
	if err := ctx.Err(); err != nil {
		return wire.FID{}, wire.FID{}, err
	}
	if count <= 0 {
		return wire.FID{}, wire.FID{}, fmt.Errorf("%w: precreate count %d", ErrInvalid, count)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return wire.FID{}, wire.FID{}, ErrClosed
	}
	last := m.lastID[seq]
	n := int64(min(uint64(count), uint64(m.opts.SeqWidth-min(last, m.opts.SeqWidth))))
	if n == 0 {
		return wire.FID{}, wire.FID{}, fmt.Errorf("%w: sequence %#x at %#x", ErrSeqExhausted, seq, last)
	}
	if m.opts.MaxObjects > 0 {
		n = min(n, m.opts.MaxObjects-int64(len(m.objs)))
		if n <= 0 {
			return wire.FID{}, wire.FID{}, fmt.Errorf("%w: %d objects", ErrNoSpace, len(m.objs))
		}
	}
	for i := int64(1); i <= n; i++ {
		m.insertLocked(wire.FID{Seq: seq, Oid: last + uint32(i)}, Attr{})
	}
	return wire.FID{Seq: seq, Oid: last + 1}, wire.FID{Seq: seq, Oid: last + uint32(n)}, nil
}

// LastID implements Store.
func (m *Mem) LastID(ctx context.Context, seq uint64) (uint32, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.lastID[seq], nil
}

// Destroy implements Store.
func (m *Mem) Destroy(ctx context.Context, fid wire.FID) error {
	o, err := m.get(ctx, fid)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.objs[fid] != o {
		m.mu.Unlock()
		return fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	delete(m.objs, fid)
	m.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dead = true
	m.used.Add(-int64(len(o.pages)) * memPage)
	o.pages = nil
	return nil
}

// DestroyOrphans implements Store.
func (m *Mem) DestroyOrphans(ctx context.Context, seq uint64, lastUsed uint32) (int, error) {
	var orphans []wire.FID
	err := m.List(ctx, seq, func(f wire.FID) error {
		if f.Oid > lastUsed {
			orphans = append(orphans, f)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range orphans {
		if err := m.Destroy(ctx, f); err == nil {
			n++
		} else if !isNotFound(err) {
			return n, err
		}
	}
	return n, nil
}

// ReadAt implements Store.
func (m *Mem) ReadAt(ctx context.Context, fid wire.FID, p []byte, off int64) (int, error) {
	if err := checkRange(off, int64(len(p))); err != nil {
		return 0, err
	}
	o, err := m.get(ctx, fid)
	if err != nil {
		return 0, err
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.dead {
		return 0, fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= o.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), o.size-off))
	for done := 0; done < n; {
		pos := off + int64(done)
		idx, in := pos/memPage, int(pos%memPage)
		k := min(n-done, memPage-in)
		if pg := o.pages[idx]; pg != nil {
			copy(p[done:done+k], pg[in:])
		} else {
			clear(p[done : done+k])
		}
		done += k
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements Store.
func (m *Mem) WriteAt(ctx context.Context, fid wire.FID, p []byte, off int64) (int, error) {
	if err := checkRange(off, int64(len(p))); err != nil {
		return 0, err
	}
	if off > MaxObjectSize-int64(len(p)) {
		return 0, fmt.Errorf("%w: write to %d", ErrTooBig, off+int64(len(p)))
	}
	o, err := m.get(ctx, fid)
	if err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead {
		return 0, fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	first, last := off/memPage, (off+int64(len(p))-1)/memPage
	var need int64
	for i := first; i <= last; i++ {
		if o.pages[i] == nil {
			need += memPage
		}
	}
	if !m.reserve(need) {
		return 0, fmt.Errorf("%w: %v: %d bytes at %d", ErrNoSpace, fid, len(p), off)
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		idx, in := pos/memPage, int(pos%memPage)
		pg := o.pages[idx]
		if pg == nil {
			pg = make([]byte, memPage)
			o.pages[idx] = pg
		}
		done += copy(pg[in:], p[done:])
	}
	o.size = max(o.size, off+int64(len(p)))
	return len(p), nil
}

// Punch implements Store.
func (m *Mem) Punch(ctx context.Context, fid wire.FID, off, length int64) error {
	if length == PunchToEOF {
		return m.Truncate(ctx, fid, off)
	}
	if err := checkRange(off, length); err != nil {
		return err
	}
	o, err := m.get(ctx, fid)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead {
		return fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	// Below EOF only, as ext4 punches: pages allocated past it (Allocate
	// with keepSize) stay until a truncate.
	end := o.size
	if length < o.size-off {
		end = off + length
	}
	m.zeroRange(o, off, end)
	return nil
}

// zeroRange deallocates the whole pages of [off, end) and zeroes the rest;
// o.mu is held. A range larger than the object's pages visits the pages.
func (m *Mem) zeroRange(o *memObj, off, end int64) {
	if (end-off)/memPage > int64(len(o.pages)) {
		for idx, pg := range o.pages {
			ps := idx * memPage
			lo, hi := max(ps, off), min(ps+memPage, end)
			switch {
			case lo >= hi:
			case hi-lo == memPage:
				delete(o.pages, idx)
				m.used.Add(-memPage)
			default:
				clear(pg[lo-ps : hi-ps])
			}
		}
		return
	}
	for pos := off; pos < end; {
		idx, in := pos/memPage, pos%memPage
		k := min(end-pos, memPage-in)
		if pg := o.pages[idx]; pg != nil {
			if k == memPage {
				delete(o.pages, idx)
				m.used.Add(-memPage)
			} else {
				clear(pg[in : in+k])
			}
		}
		pos += k
	}
}

// Truncate implements Store.
func (m *Mem) Truncate(ctx context.Context, fid wire.FID, size int64) error {
	if size < 0 || size > MaxObjectSize {
		return fmt.Errorf("%w: size %d", ErrInvalid, size)
	}
	o, err := m.get(ctx, fid)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead {
		return fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	m.truncateLocked(o, size)
	return nil
}

func (m *Mem) truncateLocked(o *memObj, size int64) {
	if size < o.size {
		// Every page past the new end goes, those allocated beyond the old
		// end (Allocate with keepSize) too.
		m.zeroRange(o, size, MaxObjectSize+memPage)
	}
	o.size = size
}

// GetAttr implements Store.
func (m *Mem) GetAttr(ctx context.Context, fid wire.FID) (Attr, error) {
	o, err := m.get(ctx, fid)
	if err != nil {
		return Attr{}, err
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.dead {
		return Attr{}, fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	a := o.attr
	a.Size, a.Blocks = o.size, int64(len(o.pages))*memPage/BlockSize
	return a, nil
}

// SetAttr implements Store.
func (m *Mem) SetAttr(ctx context.Context, fid wire.FID, a Attr, mask AttrMask) error {
	if err := checkMask(a, mask); err != nil {
		return err
	}
	o, err := m.get(ctx, fid)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead {
		return fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	if mask&AttrSize != 0 {
		m.truncateLocked(o, a.Size)
	}
	applyAttr(&o.attr, a, mask)
	return nil
}

// checkMask validates SetAttr's arguments.
func checkMask(a Attr, mask AttrMask) error {
	if mask&^(SetMask|AttrSize|AttrTimesIfNewer) != 0 {
		return fmt.Errorf("%w: attribute mask %#x", ErrInvalid, uint32(mask))
	}
	if mask&AttrSize != 0 && (a.Size < 0 || a.Size > MaxObjectSize) {
		return fmt.Errorf("%w: size %d", ErrInvalid, a.Size)
	}
	return nil
}

// SyncObject implements Store; memory is as durable as it gets.
func (m *Mem) SyncObject(ctx context.Context, fid wire.FID) error {
	_, err := m.get(ctx, fid)
	return err
}

// Sync implements Store.
func (m *Mem) Sync(ctx context.Context) error { return m.checkOpen(ctx) }

// StatFS implements Store.
func (m *Mem) StatFS(ctx context.Context) (StatFS, error) {
	if err := m.checkOpen(ctx); err != nil {
		return StatFS{}, err
	}
	total := int64(memDefaultTotal)
	if m.opts.Capacity > 0 {
		total = m.opts.Capacity
	}
	files := int64(memDefaultFiles)
	if m.opts.MaxObjects > 0 {
		files = m.opts.MaxObjects
	}
	m.mu.Lock()
	nobj := int64(len(m.objs))
	m.mu.Unlock()
	free := max(0, total-m.used.Load())
	return StatFS{Total: total, Free: free, Avail: free, Files: files, FilesFree: max(0, files-nobj),
		BlockSize: memPage}, nil
}

// Sequences implements Store.
func (m *Mem) Sequences(ctx context.Context) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	seqs := make([]uint64, 0, len(m.lastID))
	for s := range m.lastID {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// List implements Store. fn runs without the store's locks held.
func (m *Mem) List(ctx context.Context, seq uint64, fn func(wire.FID) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	var fids []wire.FID
	for f := range m.objs {
		if f.Seq == seq {
			fids = append(fids, f)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(fids, func(a, b wire.FID) int { return int(int64(a.Oid) - int64(b.Oid)) })
	for _, f := range fids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Store.
func (m *Mem) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
