package layout

import (
	"fmt"
	"math/bits"
)

// stripes is the number of stripes the RAID0 math runs over: the stripe
// count, or 1 for a DoM component (its data is one "object", the MDT inode,
// and its stripe size is its end, so offsets map to themselves).
func (c *Component) stripes() uint64 {
	if c.IsDoM() {
		return 1
	}
	return uint64(c.Stripe.Count)
}

// geometry returns the stripe size and count of c, panicking when the
// component has no concrete geometry (a template, or count -1 before
// instantiation): calling the stripe math on one is a caller bug.
func (c *Component) geometry() (size, count uint64) {
	size, count = uint64(c.Stripe.Size), c.stripes()
	if size == 0 || count == 0 || count > MaxStripeCount {
		panic(fmt.Sprintf("layout: stripe math on component %d without geometry (size %d, count %d)",
			c.ID, c.Stripe.Size, c.Stripe.Count))
	}
	return size, count
}

// hasGeometry reports whether the stripe math can run on c.
func (c *Component) hasGeometry() bool {
	return c.Stripe.Size != 0 && c.stripes() >= 1 && c.stripes() <= MaxStripeCount
}

// Locate maps the absolute file offset off to the stripe that holds it and
// the offset in that stripe's object (RAID0, lov_offset.c):
//
//	chunk = off / S; stripe = chunk % C; objOff = (chunk / C) * S + off % S
//
// The offset is absolute, not relative to the component start, so objects
// of a later PFL component begin with a hole. The component must have a
// concrete size and count (instantiated, or a count >= 1).
func (c *Component) Locate(off uint64) (stripe int, objOff uint64) {
	size, count := c.geometry()
	chunk := off / size
	return int(chunk % count), chunk/count*size + off%size
}

// FileOffset is the inverse of Locate: the file offset of byte objOff of
// the object of stripe.
func (c *Component) FileOffset(stripe int, objOff uint64) uint64 {
	size, count := c.geometry()
	return objOff/size*size*count + uint64(stripe)*size + objOff%size
}

// FileSize is the file size implied by an object of stripe being objSize
// bytes long (lov_stripe_size): with q = objSize / S and r = objSize % S,
// q*S*C + stripe*S + r when r > 0, else (q-1)*S*C + (stripe+1)*S. An empty
// object implies nothing (0). The file size is the largest value over all
// objects of all components. Sizes past 2^64 saturate at EOF.
func (c *Component) FileSize(stripe int, objSize uint64) uint64 {
	if objSize == 0 {
		return 0
	}
	size, count := c.geometry()
	q, r := objSize/size, objSize%size
	if r == 0 {
		q, r = q-1, size
	}
	hi, lo := bits.Mul64(q, size*count)
	sum, carry := bits.Add64(lo, uint64(stripe)*size+r, 0)
	if hi != 0 || carry != 0 {
		return EOF
	}
	return sum
}

// objectSizeAll is lov_size_to_stripe: the size of the object of stripe
// when every byte of [0, fileSize) is mapped through c.
func (c *Component) objectSizeAll(fileSize uint64, stripe int) uint64 {
	size, count := c.geometry()
	width := size * count
	q, r := fileSize/width, fileSize%width
	this := uint64(stripe) * size
	switch {
	case r <= this:
		return q * size
	case r-this >= size:
		return q*size + size
	default:
		return q*size + r - this
	}
}

// ObjectSize is the size the object of stripe has when the file is exactly
// fileSize bytes long: the highest object offset, plus one, of a byte of
// [Start, min(fileSize, End)) that lands in stripe, or 0 when none does.
// Truncating each object of the components at and after the new size to
// this value gives the file that size (see TruncateSizes).
func (c *Component) ObjectSize(fileSize uint64, stripe int) uint64 {
	end := min(fileSize, c.Extent.End)
	if end <= c.Extent.Start {
		return 0
	}
	s := c.objectSizeAll(end, stripe)
	if s == 0 || c.FileOffset(stripe, s-1) < c.Extent.Start {
		return 0
	}
	return s
}

// ObjectTrunc says what one object must be truncated to.
type ObjectTrunc struct {
	Comp   int // index in Layout.Components
	Stripe int
	Size   uint64
}

// TruncateSizes lists, for a truncate of mirror m to fileSize, the size each
// instantiated object must be cut (or extended) to: every object of the
// components that end at or after fileSize. Components wholly below the new
// size keep their objects as they are. After the truncate the largest
// FileSize over all objects is fileSize.
func (l *Layout) TruncateSizes(m uint16, fileSize uint64) []ObjectTrunc {
	var out []ObjectTrunc
	for i := range l.Components {
		c := &l.Components[i]
		if c.MirrorID != m || !c.IsInit() || c.IsDoM() || c.Extent.End < fileSize {
			continue
		}
		for s := range c.Stripe.Objects {
			out = append(out, ObjectTrunc{Comp: i, Stripe: s, Size: c.ObjectSize(fileSize, s)})
		}
	}
	return out
}

// Chunk is a piece of a file range that lives contiguously in one object:
// FileOff..FileOff+Len of the file is ObjOff..ObjOff+Len of the object of
// stripe Stripe of component Comp.
type Chunk struct {
	Comp    int    // index in Layout.Components
	Stripe  int    // index in the component's objects; -1 for a hole
	ObjOff  uint64 // offset in the object
	FileOff uint64 // absolute file offset
	Len     uint64
}

// Hole reports whether the chunk falls in an uninstantiated component: it
// reads as zeros, and writing it needs a layout intent first.
func (ch Chunk) Hole() bool { return ch.Stripe < 0 }

// Split maps the file range [off, off+n) of mirror m to object chunks, in
// file order. A chunk never crosses a stripe unit, except in a
// single-stripe component (and in DoM), where consecutive units are
// contiguous in the object and are merged. Uninstantiated components yield
// hole chunks (one per component). A range beyond the mirror's last
// component fails with ErrBeyondLayout, a released component with
// ErrReleased.
func (l *Layout) Split(m uint16, off, n uint64) ([]Chunk, error) {
	return l.AppendSplit(nil, m, off, n)
}

// AppendSplit is Split appending to dst.
func (l *Layout) AppendSplit(dst []Chunk, m uint16, off, n uint64) ([]Chunk, error) {
	end := off + n
	if end < off {
		return dst, fmt.Errorf("%w: [%d, +%d) wraps", ErrRange, off, n)
	}
	if n == 0 {
		return dst, nil
	}
	found := false
	pos := off
	for i := range l.Components {
		c := &l.Components[i]
		if c.MirrorID != m {
			continue
		}
		found = true
		ext, ok := c.Extent.Intersect(Extent{pos, end})
		if !ok {
			continue
		}
		switch {
		case c.Stripe.Pattern&PatternReleased != 0:
			return dst, fmt.Errorf("%w: component %d", ErrReleased, c.ID)
		case !c.IsInit():
			dst = append(dst, Chunk{Comp: i, Stripe: -1, FileOff: ext.Start, Len: ext.Len()})
		case !c.hasGeometry():
			return dst, fmt.Errorf("%w: component %d has no stripe geometry", ErrObjects, c.ID)
		default:
			dst = c.appendChunks(dst, i, ext)
		}
		pos = ext.End
		if pos == end {
			return dst, nil
		}
	}
	if !found {
		return dst, fmt.Errorf("%w: %d", ErrNoMirror, m)
	}
	return dst, fmt.Errorf("%w: [%d, %d) of mirror %d", ErrBeyondLayout, pos, end, m)
}

// appendChunks splits ext, which lies inside c, at stripe unit boundaries.
func (c *Component) appendChunks(dst []Chunk, comp int, ext Extent) []Chunk {
	size, count := c.geometry()
	for x := ext.Start; x < ext.End; {
		unitEnd := (x/size + 1) * size // may wrap to 0 at the top of the space
		if unitEnd <= x || unitEnd > ext.End {
			unitEnd = ext.End
		}
		stripe, objOff := c.Locate(x)
		n := unitEnd - x
		if last := len(dst) - 1; count == 1 && last >= 0 && dst[last].Comp == comp &&
			dst[last].FileOff+dst[last].Len == x && dst[last].ObjOff+dst[last].Len == objOff {
			dst[last].Len += n
		} else {
			dst = append(dst, Chunk{Comp: comp, Stripe: stripe, ObjOff: objOff, FileOff: x, Len: n})
		}
		x = unitEnd
	}
	return dst
}

// Object returns the object a chunk lives in; ok is false for holes and DoM
// chunks (whose data is on the MDT).
func (l *Layout) Object(ch Chunk) (Object, bool) {
	if ch.Comp < 0 || ch.Comp >= len(l.Components) || ch.Stripe < 0 {
		return Object{}, false
	}
	objs := l.Components[ch.Comp].Stripe.Objects
	if ch.Stripe >= len(objs) {
		return Object{}, false
	}
	return objs[ch.Stripe], true
}
