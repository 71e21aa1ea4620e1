package layout

import (
	"fmt"
	"math"
	"slices"
)

// Options are the stripe options of one component as given to `lfs
// setstripe` (or `lfs mirror create`): the whole command line for a plain
// layout, one -E group of a PFL layout, one -N group (or an -E group in
// it) of a mirrored one. -N COUNT is COUNT identical groups.
//
// Unset values: 0 for Count, Size, End and Pattern; OffsetAny (-1) for
// Offset (0 is OST 0, so start from NewOptions); "" or "inherit" for Pool.
type Options struct {
	End     uint64   // -E: component end, EOF for -1/eof; 0 = no -E (plain, or the rest of a mirror)
	Count   int32    // -c: 0 = inherit, -1 = every available OST
	Size    uint32   // -S: 0 = inherit
	Offset  int32    // -i: -1 = any; not inherited by later components
	Pool    string   // -p: ""/"inherit" = inherit; "none"/"ignore" = no pool
	Pattern Pattern  // -L: 0 = raid0; PatternMDT for Data-on-MDT
	OSTs    []uint32 // -o: exact OSTs in stripe order
	Flags   Flags    // --comp-flags / --flags (prefer, nosync, ...)
	Mirror  bool     // -N: this group starts a new mirror
}

// NewOptions returns Options with nothing set.
func NewOptions() Options { return Options{Offset: OffsetAny} }

// Template builds a directory default from setstripe options (`lfs
// setstripe [opts] DIR`). Values not given stay unset, so the template
// follows later changes of the root default; within the template each
// component takes unset count, size and pool from the previous one.
func Template(opts []Options) (*Layout, error) {
	if len(opts) == 0 {
		return nil, ErrEmpty
	}
	l, err := build(opts, nil, false)
	if err != nil {
		return nil, err
	}
	if err := l.ValidateTemplate(); err != nil {
		return nil, err
	}
	return l, nil
}

// Effective computes the layout a new file gets (spec §3.3, §3.4): the
// explicit options if any, else the parent directory's default, else the
// root default (the file system default), else the built-in defaults
// (count 1, size 4 MiB, offset -1). The first component takes what it does
// not set from the parent's default, then the root's, then the built-in
// ones; each later component from the previous component (count, size and
// pool; never the offset, the OST list, the flags or the pattern). parent
// and root may be nil. The result has no objects, fresh component ids (the
// generation counts the components added), state ro when mirrored, and
// passes Validate.
func Effective(parent, root *Layout, opts []Options) (*Layout, error) {
	var defaults []*Component
	for _, d := range []*Layout{parent, root} {
		if c := firstRAID0(d); c != nil {
			defaults = append(defaults, c)
		}
	}
	if len(opts) == 0 {
		switch {
		case parent != nil:
			opts = optionsOf(parent)
		case root != nil:
			opts = optionsOf(root)
		default:
			opts = []Options{NewOptions()}
		}
	}
	l, err := build(opts, defaults, true)
	if err != nil {
		return nil, err
	}
	if l.IsFLR() {
		l.State = StateRO
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// firstRAID0 returns the first RAID0 component of l, or nil.
func firstRAID0(l *Layout) *Component {
	if l == nil {
		return nil
	}
	for i := range l.Components {
		if !l.Components[i].IsDoM() {
			return &l.Components[i]
		}
	}
	return nil
}

// optionsOf turns a template back into the options that describe it.
func optionsOf(t *Layout) []Options {
	opts := make([]Options, len(t.Components))
	for i := range t.Components {
		c := &t.Components[i]
		o := Options{
			Count: c.Stripe.Count, Size: c.Stripe.Size, Offset: c.Stripe.Offset, Pool: c.Stripe.Pool,
			Pattern: c.Stripe.Pattern, OSTs: c.Stripe.OSTs, Flags: c.Flags & CreateFlags,
			Mirror: c.MirrorID != 0 && (i == 0 || t.Components[i-1].MirrorID != c.MirrorID),
		}
		if t.Composite {
			o.End = c.Extent.End
		}
		opts[i] = o
	}
	return opts
}

// build turns options into a layout. With fill, unset values are taken from
// defaults (in order) and then the built-in defaults; without, they stay
// unset unless an earlier component sets them.
func build(opts []Options, defaults []*Component, fill bool) (*Layout, error) {
	composite, flr := false, opts[0].Mirror
	for _, o := range opts {
		composite = composite || o.End != 0 || o.Mirror
		if o.Mirror && !flr {
			return nil, fmt.Errorf("%w: -N must come before the first component", ErrMirror)
		}
	}
	if !composite && len(opts) > 1 {
		return nil, fmt.Errorf("%w: %d components without -E", ErrExtent, len(opts))
	}
	l := &Layout{Composite: composite}
	var prev *Component // previous RAID0 component, resolved
	var mirror uint16
	var start uint64
	for i, o := range opts {
		if o.Mirror {
			mirror++
			start = 0
		}
		if o.Flags&^CreateFlags != 0 {
			return nil, fmt.Errorf("%w: component %d: %v cannot be set at create", ErrFlags, i+1, o.Flags&^CreateFlags)
		}
		end := o.End
		if end == 0 {
			end = EOF
		}
		c := Component{MirrorID: mirror, Flags: o.Flags, Extent: Extent{start, end}}
		if err := resolve(&c.Stripe, o, i == 0, prev, defaults, fill); err != nil {
			return nil, fmt.Errorf("component %d: %w", i+1, err)
		}
		if c.IsDoM() {
			c.Stripe = Stripe{Pattern: PatternMDT, Offset: OffsetAny}
			if end <= math.MaxUint32 {
				c.Stripe.Size = uint32(end)
			}
		}
		if composite {
			l.AddComponent(c)
		} else {
			l.Components = []Component{c}
		}
		prev = lastRAID0(l)
		start = end
	}
	return l, nil
}

// lastRAID0 returns the last RAID0 component added to l, or nil.
func lastRAID0(l *Layout) *Component {
	for i := len(l.Components) - 1; i >= 0; i-- {
		if !l.Components[i].IsDoM() {
			return &l.Components[i]
		}
	}
	return nil
}

// resolve fills s from the options o, inheriting what o leaves unset.
func resolve(s *Stripe, o Options, first bool, prev *Component, defaults []*Component, fill bool) error {
	s.Pattern = o.Pattern
	if s.Pattern == 0 {
		s.Pattern = PatternRAID0
	}
	s.Count, s.Size, s.Offset = o.Count, o.Size, o.Offset
	s.OSTs = slices.Clone(o.OSTs)
	pool, inheritPool := o.Pool, false
	switch o.Pool {
	case "", "inherit":
		pool, inheritPool = "", true
	case "none", "ignore":
		pool = ""
	}
	// Sources, nearest first: the previous component, or for the first
	// one the parent and root defaults.
	var srcs []*Component
	if prev != nil {
		srcs = []*Component{prev}
	} else {
		srcs = defaults
	}
	for _, src := range srcs {
		if s.Count == 0 {
			s.Count = src.Stripe.Count
		}
		if s.Size == 0 {
			s.Size = src.Stripe.Size
		}
		if inheritPool && src.Stripe.Pool != "" {
			pool, inheritPool = src.Stripe.Pool, false
		}
		if first && s.Offset == OffsetAny && len(s.OSTs) == 0 {
			s.Offset = src.Stripe.Offset
		}
	}
	s.Pool = pool
	if len(s.OSTs) > 0 {
		if err := applyOSTList(s, o); err != nil {
			return err
		}
	}
	if fill {
		if s.Count == 0 {
			s.Count = DefaultStripeCount
		}
		if s.Size == 0 {
			s.Size = DefaultStripeSize
		}
	}
	return nil
}

// applyOSTList reconciles -o with -c and -i: the count must match the list
// (or be unset) and the offset, if given, must be in it; the list is
// rotated to start there.
func applyOSTList(s *Stripe, o Options) error {
	if o.Count != 0 && int(o.Count) != len(s.OSTs) {
		return fmt.Errorf("%w: -c %d with %d OSTs in -o", ErrStripeCount, o.Count, len(s.OSTs))
	}
	s.Count = int32(len(s.OSTs))
	if o.Offset != OffsetAny {
		at := slices.Index(s.OSTs, uint32(o.Offset))
		if o.Offset < 0 || at < 0 {
			return fmt.Errorf("%w: -i %d is not in the -o list %v", ErrStripeOffset, o.Offset, s.OSTs)
		}
		s.OSTs = slices.Concat(s.OSTs[at:], s.OSTs[:at])
	}
	s.Offset = int32(s.OSTs[0])
	return nil
}
