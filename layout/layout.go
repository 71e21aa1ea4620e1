package layout

import (
	"fmt"
	"math"
	"slices"

	"github.com/stria-fs/stria/wire"
)

// Limits and defaults, as Lustre (2.16+).
const (
	// EOF is the end of an extent that runs to the end of the file
	// (LUSTRE_EOF); `lfs getstripe` prints it as "EOF".
	EOF uint64 = math.MaxUint64

	// MinStripeSize is the stripe size granule (LOV_MIN_STRIPE_SIZE): stripe
	// sizes and component boundaries are multiples of it.
	MinStripeSize = 64 << 10
	// MaxStripeSize is the largest stripe size: it must stay below 4 GiB
	// (lmm_stripe_size is 32 bits), so 4 GiB - 64 KiB.
	MaxStripeSize = 1<<32 - MinStripeSize
	// MaxStripeCount is the most stripes a component may have
	// (LOV_MAX_STRIPE_COUNT).
	MaxStripeCount = 2000
	// MaxMirrors is the most mirrors a file may have (LUSTRE_MIRROR_COUNT_MAX).
	MaxMirrors = 16
	// MaxMirrorID is the largest mirror id (MIRROR_ID_MASK >> 16).
	MaxMirrorID = 0x7fff
	// MaxComponents bounds the components of one layout (and so the xattr).
	MaxComponents = 1024
	// MaxPoolName is the longest pool name (LOV_MAXPOOLNAME).
	MaxPoolName = 15

	// DefaultStripeCount, DefaultStripeSize and DefaultStripeOffset are the
	// built-in file system defaults used where neither the parent directory
	// nor the root carries a value.
	DefaultStripeCount  int32  = 1
	DefaultStripeSize   uint32 = 4 << 20
	DefaultStripeOffset int32  = -1

	// StripeCountAll (-c -1) asks for every available OST.
	StripeCountAll int32 = -1
	// OffsetAny (-i -1) lets the MDS choose the first OST.
	OffsetAny int32 = -1
)

// Layout is the layout of a file, or the default template of a directory.
//
// A file layout is what the MDT stores in the layout xattr and what clients
// cache under the layout lock. A directory template has the same shape but
// no objects, and its stripe fields may be unset (0, or -1 for the offset),
// meaning "take it from the file system default".
type Layout struct {
	// Gen is the layout generation (lcm_layout_gen / lmm_layout_gen): it
	// increases on every change of the layout.
	Gen uint32
	// Composite says the layout is a composite one (lov_comp_md): PFL,
	// FLR, or a single component created with -E. A plain layout
	// (lov_mds_md) has Composite false and exactly one component [0, EOF)
	// with ID 0 and mirror 0; getstripe prints it in the plain format.
	Composite bool
	// State is the FLR state of a mirrored file (lcm_flags); StateNone for
	// files without mirrors and for templates.
	State State
	// Components are ordered by mirror, then by extent.
	Components []Component
}

// Component is one entry of a layout: a RAID0 stripe set over one extent of
// the file, in one mirror.
type Component struct {
	// ID is lcme_id: unique in the file and never reused. For a file it is
	// (MirrorID << 16) | seq with seq in 1..0xffff; 0 in a plain layout.
	ID uint32
	// MirrorID is the mirror the component belongs to; 0 when the file is
	// not mirrored.
	MirrorID uint16
	// Flags are the lcme_flags.
	Flags Flags
	// Extent is the byte range [Start, End) of the file the component holds.
	Extent Extent
	// Timestamp is lcme_timestamp (seconds since the epoch) of a nosync
	// mirror's components: when it was last in sync.
	Timestamp uint64
	// Stripe is the RAID0 geometry and, once instantiated, its objects.
	Stripe Stripe
}

// Stripe is a RAID0 stripe set (lov_mds_md).
type Stripe struct {
	Pattern Pattern
	// Count is the stripe count; StripeCountAll (-1) before instantiation
	// asks for every available OST; 0 in a template means "default"; 0 for
	// a DoM component. Once instantiated, Count == len(Objects).
	Count int32
	// Size is the stripe size in bytes; 0 in a template means "default".
	// For a DoM component it equals the component's end.
	Size uint32
	// Offset is the OST index of the first stripe, or OffsetAny (-1).
	Offset int32
	// Pool names the OST pool objects are allocated from; "" for none.
	Pool string
	// OSTs is an explicit list of OSTs asked for with `setstripe -o`, in
	// stripe order; empty when the MDS chooses.
	OSTs []uint32
	// Objects are the OST objects, one per stripe, once instantiated.
	Objects []Object
}

// Object is one OST object of a stripe set.
type Object struct {
	OSTIndex uint32
	FID      wire.FID
}

// Extent is the byte range [Start, End) of a file; End is EOF for "to the
// end of the file".
type Extent struct {
	Start, End uint64
}

// Len is the length of e (EOF - Start for an open-ended extent).
func (e Extent) Len() uint64 { return e.End - e.Start }

// Contains reports whether offset off lies in e.
func (e Extent) Contains(off uint64) bool { return off >= e.Start && off < e.End }

// Overlaps reports whether e and o share at least one byte.
func (e Extent) Overlaps(o Extent) bool { return e.Start < o.End && o.Start < e.End }

// Intersect returns the bytes e and o share; ok is false when none.
func (e Extent) Intersect(o Extent) (Extent, bool) {
	r := Extent{Start: max(e.Start, o.Start), End: min(e.End, o.End)}
	return r, r.Start < r.End
}

// String prints e as [start, end) with EOF spelled out.
func (e Extent) String() string {
	return fmt.Sprintf("[%d, %s)", e.Start, FormatEnd(e.End))
}

// FormatEnd prints an extent end as getstripe does: "EOF" or decimal bytes.
func FormatEnd(end uint64) string {
	if end == EOF {
		return "EOF"
	}
	return fmt.Sprint(end)
}

// IsInit reports whether the component is instantiated (has its objects, or
// is a DoM component whose data lives on the MDT).
func (c *Component) IsInit() bool { return c.Flags&Init != 0 }

// IsDoM reports whether the component keeps its data on the MDT.
func (c *Component) IsDoM() bool { return c.Stripe.Pattern&PatternMDT != 0 }

// MirrorOf returns the mirror id encoded in a component id.
func MirrorOf(id uint32) uint16 { return uint16(id >> 16 & MaxMirrorID) }

// CompID builds a component id from a mirror id and a sequence
// (pflr_id in Lustre).
func CompID(mirror uint16, seq uint16) uint32 { return uint32(mirror)<<16 | uint32(seq) }

// Plain returns a plain (non-composite) layout with the given geometry and
// no objects.
func Plain(count int32, size uint32, offset int32, pool string) *Layout {
	return &Layout{Components: []Component{{
		Extent: Extent{0, EOF},
		Stripe: Stripe{Pattern: PatternRAID0, Count: count, Size: size, Offset: offset, Pool: pool},
	}}}
}

// Clone returns a deep copy of l.
func (l *Layout) Clone() *Layout {
	if l == nil {
		return nil
	}
	n := *l
	n.Components = make([]Component, len(l.Components))
	for i, c := range l.Components {
		c.Stripe.OSTs = slices.Clone(c.Stripe.OSTs)
		c.Stripe.Objects = slices.Clone(c.Stripe.Objects)
		n.Components[i] = c
	}
	return &n
}

// IsFLR reports whether the layout has mirrors (any component has a mirror
// id; a file built with -N has mirror ids from 1).
func (l *Layout) IsFLR() bool {
	for i := range l.Components {
		if l.Components[i].MirrorID != 0 {
			return true
		}
	}
	return false
}

// Mirrors returns the mirror ids in layout order ([0] for a file without
// mirrors).
func (l *Layout) Mirrors() []uint16 {
	var ids []uint16
	for i := range l.Components {
		m := l.Components[i].MirrorID
		if len(ids) == 0 || ids[len(ids)-1] != m {
			ids = append(ids, m)
		}
	}
	return ids
}

// MirrorCount is the number of mirrors (1 for a file without mirrors);
// getstripe prints it as lcm_mirror_count.
func (l *Layout) MirrorCount() int { return len(l.Mirrors()) }

// MirrorComponents returns the indexes of the components of mirror m, in
// extent order.
func (l *Layout) MirrorComponents(m uint16) []int {
	var idx []int
	for i := range l.Components {
		if l.Components[i].MirrorID == m {
			idx = append(idx, i)
		}
	}
	return idx
}

// Find returns the index of the component with id, or -1.
func (l *Layout) Find(id uint32) int {
	for i := range l.Components {
		if l.Components[i].ID == id {
			return i
		}
	}
	return -1
}

// Covering returns the indexes of the components of mirror m that share
// bytes with ext, in file order.
func (l *Layout) Covering(m uint16, ext Extent) []int {
	var idx []int
	for i := range l.Components {
		c := &l.Components[i]
		if c.MirrorID == m && c.Extent.Overlaps(ext) {
			idx = append(idx, i)
		}
	}
	return idx
}

// Uninit returns the indexes of the uninstantiated components of mirror m
// that start below end: the ones a layout intent for a write or truncate
// reaching end must instantiate (PFL lazy instantiation). Extension
// components (SEL) are never instantiated and are skipped.
func (l *Layout) Uninit(m uint16, end uint64) []int {
	var idx []int
	for i := range l.Components {
		c := &l.Components[i]
		if c.MirrorID == m && !c.IsInit() && c.Flags&Extension == 0 && c.Extent.Start < end {
			idx = append(idx, i)
		}
	}
	return idx
}

// InitialComponents returns the indexes of the components a new file gets
// objects for at create: the first component of each mirror (a DoM
// component is instantiated without objects). The rest are instantiated
// lazily by layout intents.
func (l *Layout) InitialComponents() []int {
	var idx []int
	for i := range l.Components {
		c := &l.Components[i]
		if (i == 0 || l.Components[i-1].MirrorID != c.MirrorID) && !c.IsInit() && c.Flags&Extension == 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// AddComponent appends c to the layout as the next component of its mirror
// and gives it a fresh id, as Lustre does: the generation is bumped and its
// low 16 bits, if free, become the sequence. It returns the new id. The
// caller validates the result.
func (l *Layout) AddComponent(c Component) uint32 {
	l.Gen++
	c.ID = l.freeID(c.MirrorID, l.Gen)
	l.Composite = true
	// Insert after the last component of the same mirror, or at the end.
	at := len(l.Components)
	for i := len(l.Components) - 1; i >= 0; i-- {
		if l.Components[i].MirrorID == c.MirrorID {
			at = i + 1
			break
		}
	}
	l.Components = slices.Insert(l.Components, at, c)
	return c.ID
}

// freeID returns an id for mirror m not used by any component, starting the
// search at sequence gen (skipping 0).
func (l *Layout) freeID(m uint16, gen uint32) uint32 {
	seq := uint16(gen)
	for range 1 << 16 {
		if seq != 0 {
			id := CompID(m, seq)
			if l.Find(id) < 0 {
				return id
			}
		}
		seq++
	}
	// 65535 components in one mirror: impossible under MaxComponents.
	panic("layout: component ids exhausted")
}

// Instantiate gives component i its objects (or, for a DoM component, no
// objects) and marks it init. For RAID0 the count becomes len(objs) (at
// most the count asked for) and the offset the first object's OST. It does not bump the generation: a layout
// intent that instantiates components bumps it once.
func (l *Layout) Instantiate(i int, objs []Object) error {
	if i < 0 || i >= len(l.Components) {
		return fmt.Errorf("%w: index %d", ErrNotFound, i)
	}
	c := &l.Components[i]
	switch {
	case c.IsInit():
		return fmt.Errorf("%w: component %d", ErrInstantiated, c.ID)
	case c.Flags&Extension != 0:
		return fmt.Errorf("%w: component %d is extension space", ErrNotInstantiate, c.ID)
	case c.Stripe.Pattern&PatternReleased != 0:
		return fmt.Errorf("%w: component %d is released", ErrNotInstantiate, c.ID)
	case c.IsDoM():
		if len(objs) != 0 {
			return fmt.Errorf("%w: DoM component %d takes no OST objects", ErrObjects, c.ID)
		}
	default:
		// Fewer objects than asked is allowed: the MDS may stripe a file
		// over fewer OSTs when some are unavailable.
		want := c.Stripe.Count
		if len(objs) == 0 || len(objs) > MaxStripeCount || (want > 0 && len(objs) > int(want)) {
			return fmt.Errorf("%w: component %d wants %d stripes, got %d objects", ErrObjects, c.ID, want, len(objs))
		}
		c.Stripe.Objects = slices.Clone(objs)
		c.Stripe.Count = int32(len(objs))
		c.Stripe.Offset = int32(objs[0].OSTIndex)
	}
	c.Flags |= Init
	return nil
}

// Equal reports whether l and o describe the same layout; nil and empty
// slices are alike.
func (l *Layout) Equal(o *Layout) bool {
	if l == nil || o == nil {
		return l == o
	}
	if l.Gen != o.Gen || l.Composite != o.Composite || l.State != o.State || len(l.Components) != len(o.Components) {
		return false
	}
	for i := range l.Components {
		a, b := &l.Components[i], &o.Components[i]
		if a.ID != b.ID || a.MirrorID != b.MirrorID || a.Flags != b.Flags || a.Extent != b.Extent ||
			a.Timestamp != b.Timestamp || a.Stripe.Pattern != b.Stripe.Pattern || a.Stripe.Count != b.Stripe.Count ||
			a.Stripe.Size != b.Stripe.Size || a.Stripe.Offset != b.Stripe.Offset || a.Stripe.Pool != b.Stripe.Pool ||
			!slices.Equal(a.Stripe.OSTs, b.Stripe.OSTs) || !slices.Equal(a.Stripe.Objects, b.Stripe.Objects) {
			return false
		}
	}
	return true
}
