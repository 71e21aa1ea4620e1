package lov

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// Target is one OST as lov sees it; *osc.OSC implements it, tests fake it.
type Target interface {
	// Read is one OST_READ into p: n short at the object's end; size is
	// the object's size.
	Read(ctx context.Context, fid wire.FID, off uint64, p []byte) (n int, size uint64, err error)
	// Write is one OST_WRITE of p, whose crc32c (Castagnoli) is sum,
	// written by the application at mtime (ns; 0: none), to which the
	// object's mtime moves forward; size is the object's size after it.
	Write(ctx context.Context, fid wire.FID, off uint64, p []byte, sum uint32, mtime int64) (size uint64, err error)
	GetAttr(ctx context.Context, fid wire.FID) (wire.Attr, error)
	// Punch truncates an object to size; SetSize sets its size (grows it).
	Punch(ctx context.Context, fid wire.FID, size uint64) error
	SetSize(ctx context.Context, fid wire.FID, size uint64) error
	// SetMtime sets an object's mtime (utimes).
	SetMtime(ctx context.Context, fid wire.FID, mtime int64) error
	// Fallocate is one OST_FALLOCATE of [off, off+n) of the object with
	// fallocate(2) mode (0, KEEP_SIZE or PUNCH_HOLE|KEEP_SIZE).
	Fallocate(ctx context.Context, fid wire.FID, off, n uint64, mode uint32) error
	// EnterCache and ExitCache account the bytes cached towards the OST
	// (see osc).
	EnterCache(ctx context.Context, n int64, kick func()) (granted bool, err error)
	ExitCache(n int64)
	// RPCSize is the largest read or write RPC.
	RPCSize() int
}

// Targets finds the Target of an OST index.
type Targets interface {
	Target(ctx context.Context, ost uint32) (Target, error)
}

// mirrorEnd is the end of mirror m's last component (EOF for an open one).
func mirrorEnd(l *layout.Layout, m uint16) uint64 {
	var end uint64
	for i := range l.Components {
		if c := &l.Components[i]; c.MirrorID == m {
			end = max(end, c.Extent.End)
		}
	}
	return end
}

// piece is one RPC's worth of a chunk.
type piece struct {
	t      Target
	fid    wire.FID
	objOff uint64
	buf    []byte // a sub-slice of the caller's buffer
}

// appendPieces cuts chunk ch of the caller's buffer p (which starts at file
// offset base) into RPCs of at most the target's RPC size, aligned to it in
// the object.
func appendPieces(dst []piece, t Target, fid wire.FID, ch layout.Chunk, p []byte, base uint64) []piece {
	rpc := uint64(max(t.RPCSize(), 4096))
	buf := p[ch.FileOff-base : ch.FileOff-base+ch.Len]
	for obj := ch.ObjOff; len(buf) > 0; {
		n := min(uint64(len(buf)), (obj/rpc+1)*rpc-obj)
		dst = append(dst, piece{t: t, fid: fid, objOff: obj, buf: buf[:n]})
		buf, obj = buf[n:], obj+n
	}
	return dst
}

// Read reads [off, off+len(p)) of mirror m of a file with layout l into p:
// one RPC per piece of at most the RPC size, each into its own sub-slice
// of p (the OST's data lands in p: no copy), all in parallel, each OST
// bounding its RPCs in flight. Holes of uninstantiated components, ranges
// past the layout's end and the tail of a short object read as zeros.
// short says that some object ended inside the range (or a hole or the
// layout's end is in it), so that the bytes there are zeros only if the
// file is larger: the caller clamps to the file size.
func Read(ctx context.Context, ts Targets, l *layout.Layout, m uint16, p []byte, off uint64) (short bool, err error) {
	n := uint64(len(p))
	if end := mirrorEnd(l, m); off+n > end {
		keep := uint64(0)
		if end > off {
			keep = end - off
		}
		clear(p[keep:])
		p, n, short = p[:keep], keep, true
	}
	if n == 0 {
		return short, nil
	}
	chunks, err := l.Split(m, off, n)
	if err != nil {
		return false, fmt.Errorf("lov: read [%d, +%d): %w (%w)", off, n, err, syscall.EIO)
	}
	var pieces []piece
	for _, ch := range chunks {
		obj, ok := l.Object(ch)
		if !ok {
			// An uninstantiated component holds nothing: zeros up to the
			// file size, which the caller must learn.
			clear(p[ch.FileOff-off : ch.FileOff-off+ch.Len])
			short = true
			continue
		}
		t, err := ts.Target(ctx, obj.OSTIndex)
		if err != nil {
			return false, err
		}
		pieces = appendPieces(pieces, t, obj.FID, ch, p, off)
	}
	var mu sync.Mutex
	err = parallel(ctx, len(pieces), func(ctx context.Context, i int) error {
		pc := &pieces[i]
		got, _, err := pc.t.Read(ctx, pc.fid, pc.objOff, pc.buf)
		if err != nil {
			return err
		}
		if got < len(pc.buf) {
			clear(pc.buf[got:])
			mu.Lock()
			short = true
			mu.Unlock()
		}
		return nil
	})
	return short, err
}

// parallel runs f(0..n-1) concurrently (inline when n is 1) and returns
// the first error; the others' context is cancelled when one fails. It
// returns only when every call has.
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	switch n {
	case 0:
		return nil
	case 1:
		return f(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// Size is what the objects of a file say about it.
type Size struct {
	// Size is the file size: the largest over all objects of
	// Component.FileSize (lov_stripe_size); Blocks the sum of their blocks.
	Size, Blocks uint64
	// Mtime and Ctime are the latest the objects report (0 if none).
	Mtime, Ctime int64
	// Objects maps each object to its size.
	Objects map[layout.Object]uint64
}

// Glimpse asks every instantiated object of l for its attributes
// (OST_GETATTR, in parallel) and derives the file's size and blocks.
func Glimpse(ctx context.Context, ts Targets, l *layout.Layout) (Size, error) {
	type ref struct {
		comp, stripe int
		obj          layout.Object
	}
	var refs []ref
	for i := range l.Components {
		c := &l.Components[i]
		if !c.IsInit() || c.IsDoM() {
			continue
		}
		for s, obj := range c.Stripe.Objects {
			refs = append(refs, ref{i, s, obj})
		}
	}
	attrs := make([]wire.Attr, len(refs))
	err := parallel(ctx, len(refs), func(ctx context.Context, i int) error {
		t, err := ts.Target(ctx, refs[i].obj.OSTIndex)
		if err != nil {
			return err
		}
		a, err := t.GetAttr(ctx, refs[i].obj.FID)
		if errors.Is(err, syscall.ENOENT) {
			// An object not created yet on the OST holds nothing.
			return nil
		}
		attrs[i] = a
		return err
	})
	if err != nil {
		return Size{}, err
	}
	sz := Size{Objects: make(map[layout.Object]uint64, len(refs))}
	for i, r := range refs {
		a := &attrs[i]
		sz.Objects[r.obj] = a.Size
		sz.Size = max(sz.Size, l.Components[r.comp].FileSize(r.stripe, a.Size))
		sz.Blocks += a.Blocks
		if a.Valid&wire.AttrMtime != 0 {
			sz.Mtime = max(sz.Mtime, a.Mtime)
		}
		if a.Valid&wire.AttrCtime != 0 {
			sz.Ctime = max(sz.Ctime, a.Ctime)
		}
	}
	return sz, nil
}

// Truncate makes the file size: every object of every mirror is punched to
// what layout.TruncateSizes says, and the object holding the new last byte
// is extended to it when shorter, so that the size the objects imply is
// exactly size (a truncate that grows the file leaves a hole). cur are the
// objects' current sizes (Glimpse); an object it lacks is punched
// regardless. The RPCs go out in parallel.
func Truncate(ctx context.Context, ts Targets, l *layout.Layout, size uint64, cur map[layout.Object]uint64) error {
	type op struct {
		obj   layout.Object
		size  uint64
		grow  bool
		punch bool
	}
	var ops []op
	for _, m := range mirrors(l) {
		eofComp, eofStripe := -1, -1
		if size > 0 {
			for i := range l.Components {
				c := &l.Components[i]
				if c.MirrorID == m && c.Extent.Contains(size-1) && c.IsInit() && !c.IsDoM() {
					eofComp = i
					eofStripe, _ = c.Locate(size - 1)
				}
			}
		}
		for _, tr := range l.TruncateSizes(m, size) {
			obj := l.Components[tr.Comp].Stripe.Objects[tr.Stripe]
			have, known := cur[obj]
			o := op{obj: obj, size: tr.Size}
			o.punch = !known || have > tr.Size
			o.grow = tr.Comp == eofComp && tr.Stripe == eofStripe && (!known || have < tr.Size)
			if o.punch || o.grow {
				ops = append(ops, o)
			}
		}
	}
	return parallel(ctx, len(ops), func(ctx context.Context, i int) error {
		o := ops[i]
		t, err := ts.Target(ctx, o.obj.OSTIndex)
		if err != nil {
			return err
		}
		if o.punch {
			if err := t.Punch(ctx, o.obj.FID, o.size); err != nil {
				return err
			}
		}
		if o.grow {
			return t.SetSize(ctx, o.obj.FID, o.size)
		}
		return nil
	})
}

// mirrors lists l's mirror ids (0 for a file without mirrors).
func mirrors(l *layout.Layout) []uint16 {
	if ms := l.Mirrors(); len(ms) > 0 {
		return ms
	}
	return []uint16{0}
}

// Allocate is fallocate(2) of [off, off+n) of mirror m of a file with
// layout l: the range is split over the stripes as a write would be, and
// each object gets one OST_FALLOCATE covering its part (the pieces of one
// object in a range are contiguous in it), all in parallel. With mode 0
// each object grows to the end of its part, so the file size the objects
// imply grows to off+n, as after a write there; KEEP_SIZE and
// PUNCH_HOLE|KEEP_SIZE leave the sizes alone. A range that falls in an
// uninstantiated component is ErrNeedIntent (EOPNOTSUPP), as for writes.
func Allocate(ctx context.Context, ts Targets, l *layout.Layout, m uint16, off, n uint64, mode uint32) error {
	if n == 0 {
		return nil
	}
	chunks, err := l.Split(m, off, n)
	if err != nil {
		return fmt.Errorf("lov: fallocate [%d, +%d): %w (%w)", off, n, err, syscall.EFBIG)
	}
	type part struct {
		obj      layout.Object
		off, end uint64 // object bytes
	}
	var parts []part
	for _, ch := range chunks {
		obj, ok := l.Object(ch)
		if !ok {
			return fmt.Errorf("%w: fallocate [%d, +%d) (%w)", ErrNeedIntent, ch.FileOff, ch.Len, syscall.EOPNOTSUPP)
		}
		if i := slices.IndexFunc(parts, func(p part) bool { return p.obj == obj }); i >= 0 {
			parts[i].off, parts[i].end = min(parts[i].off, ch.ObjOff), max(parts[i].end, ch.ObjOff+ch.Len)
			continue
		}
		parts = append(parts, part{obj, ch.ObjOff, ch.ObjOff + ch.Len})
	}
	return parallel(ctx, len(parts), func(ctx context.Context, i int) error {
		p := parts[i]
		t, err := ts.Target(ctx, p.obj.OSTIndex)
		if err != nil {
			return err
		}
		return t.Fallocate(ctx, p.obj.FID, p.off, p.end-p.off, mode)
	})
}

// SetMtime gives every instantiated object of l (every mirror) the mtime
// a utimes set on the file, in parallel: the file's mtime is the latest of
// the MDT's and its objects' (Glimpse), so an object that a write left
// newer would hide it.
func SetMtime(ctx context.Context, ts Targets, l *layout.Layout, mtime int64) error {
	var objs []layout.Object
	for i := range l.Components {
		c := &l.Components[i]
		if c.IsInit() && !c.IsDoM() {
			objs = append(objs, c.Stripe.Objects...)
		}
	}
	return parallel(ctx, len(objs), func(ctx context.Context, i int) error {
		t, err := ts.Target(ctx, objs[i].OSTIndex)
		if err != nil {
			return err
		}
		err = t.SetMtime(ctx, objs[i].FID, mtime)
		if errors.Is(err, syscall.ENOENT) {
			return nil // not created on the OST yet: it holds nothing
		}
		return err
	})
}
