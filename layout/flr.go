package layout

import (
	"fmt"
	"slices"
)

// Allocator gives an uninstantiated component its OST objects (the MDT
// picks OSTs with layout/qos and hands out precreated objects). For a DoM
// component it returns no objects.
type Allocator func(c *Component) ([]Object, error)

// IntentWrite applies a layout intent for a write of ext (MDT side, spec
// §3.3 and §4.2). In a mirrored file it picks the primary mirror
// (PickPrimary with avail; nil means every OST is available). In that
// mirror (0 without mirrors) every uninstantiated component starting below
// ext.End gets objects from alloc. In a mirrored file the components of
// the other mirrors that overlap ext become stale and the state becomes wp.
// When anything changed the generation is bumped once. On error l is left
// as it was. It returns the mirror the write goes to.
func (l *Layout) IntentWrite(ext Extent, avail func(ost uint32) bool, alloc Allocator) (mirror uint16, changed bool, err error) {
	if ext.End <= ext.Start {
		return 0, false, fmt.Errorf("%w: write of %v", ErrRange, ext)
	}
	return l.intent(ext.End, ext, avail, alloc)
}

// IntentTrunc is IntentWrite for a truncate to size: components starting
// below size are instantiated in the primary, and the other mirrors' data
// over [size, EOF) becomes stale.
func (l *Layout) IntentTrunc(size uint64, avail func(ost uint32) bool, alloc Allocator) (mirror uint16, changed bool, err error) {
	return l.intent(size, Extent{size, EOF}, avail, alloc)
}

func (l *Layout) intent(instEnd uint64, stale Extent, avail func(uint32) bool, alloc Allocator) (uint16, bool, error) {
	n := l.Clone()
	var primary uint16
	flr := n.IsFLR()
	if flr {
		var err error
		if primary, err = n.PickPrimary(avail); err != nil {
			return 0, false, err
		}
	}
	idx := n.MirrorComponents(primary)
	if len(idx) == 0 {
		return 0, false, fmt.Errorf("%w: %d", ErrNoMirror, primary)
	}
	if last := n.Components[idx[len(idx)-1]].Extent.End; last < instEnd {
		return 0, false, fmt.Errorf("%w: offset %d, mirror %d ends at %d", ErrBeyondLayout, instEnd, primary, last)
	}
	changed := false
	for _, i := range n.Uninit(primary, instEnd) {
		objs, err := alloc(&n.Components[i])
		if err != nil {
			return 0, false, fmt.Errorf("component %d: %w", n.Components[i].ID, err)
		}
		if err := n.Instantiate(i, objs); err != nil {
			return 0, false, err
		}
		changed = true
	}
	if flr {
		for i := range n.Components {
			c := &n.Components[i]
			if c.MirrorID != primary && c.Flags&Stale == 0 && c.Extent.Overlaps(stale) {
				c.Flags |= Stale
				changed = true
			}
		}
		if n.State != StateWP {
			n.State = StateWP
			changed = true
		}
	}
	if changed {
		n.Gen++
	}
	*l = *n
	return primary, changed, nil
}

// mirrorInfo summarises one mirror for primary and read selection.
type mirrorInfo struct {
	id        uint16
	stale     bool // some component is stale
	parity    bool
	prefWrite bool
	prefRead  bool
	healthy   bool // no offline component, every OST available
}

func (l *Layout) mirrorInfos(avail func(uint32) bool) []mirrorInfo {
	var out []mirrorInfo
	for i := range l.Components {
		c := &l.Components[i]
		if len(out) == 0 || out[len(out)-1].id != c.MirrorID {
			out = append(out, mirrorInfo{id: c.MirrorID, healthy: true})
		}
		m := &out[len(out)-1]
		m.stale = m.stale || c.Flags&Stale != 0
		m.parity = m.parity || c.Flags&Parity != 0
		m.prefWrite = m.prefWrite || c.Flags&PrefWrite != 0
		m.prefRead = m.prefRead || c.Flags&PrefRead != 0
		if c.Flags&Offline != 0 {
			m.healthy = false
		}
		for _, o := range c.Stripe.Objects {
			if avail != nil && !avail(o.OSTIndex) {
				m.healthy = false
			}
		}
	}
	return out
}

// PickPrimary chooses the mirror a write goes to, as the MDT does (spec
// §4.2): stale and parity mirrors are skipped; then the first preferred
// (prefer/prefwr) mirror whose OSTs are all available, else the first
// mirror whose OSTs are all available, else the first preferred one, else
// the first one. avail nil means every OST is available.
func (l *Layout) PickPrimary(avail func(ost uint32) bool) (uint16, error) {
	if !l.IsFLR() {
		return 0, ErrNotMirrored
	}
	infos := l.mirrorInfos(avail)
	for _, want := range []func(mirrorInfo) bool{
		func(m mirrorInfo) bool { return m.prefWrite && m.healthy },
		func(m mirrorInfo) bool { return m.healthy },
		func(m mirrorInfo) bool { return m.prefWrite },
		func(m mirrorInfo) bool { return true },
	} {
		for _, m := range infos {
			if !m.stale && !m.parity && want(m) {
				return m.id, nil
			}
		}
	}
	return 0, ErrNoPrimary
}

// WriteMirror tells a client where a write of ext goes and whether it must
// first send a layout intent (IntentWrite): without mirrors, when a
// component starting below ext.End is not instantiated; with mirrors,
// unless the file is in wp and the primary (the mirror with no stale
// component) has everything instantiated and every other mirror's
// overlapping components are already stale.
func (l *Layout) WriteMirror(ext Extent) (mirror uint16, needIntent bool) {
	if !l.IsFLR() {
		return 0, len(l.Uninit(0, ext.End)) > 0
	}
	if l.State != StateWP {
		return 0, true
	}
	primary, found := uint16(0), false
	for _, m := range l.mirrorInfos(nil) {
		if !m.stale && !m.parity {
			primary, found = m.id, true
			break
		}
	}
	if !found || len(l.Uninit(primary, ext.End)) > 0 {
		return primary, true
	}
	for i := range l.Components {
		c := &l.Components[i]
		if c.MirrorID != primary && c.Flags&Stale == 0 && c.Extent.Overlaps(ext) {
			return primary, true
		}
	}
	return primary, false
}

// ReadMirrors lists the mirrors a client may read offset off from, in the
// order to try them: mirrors whose component there is stale, parity,
// offline or released are left out; read-preferred mirrors come first;
// within each group the order is rotated by seed (a hash of the file), so
// different files spread their reads. When an I/O fails the client moves
// to the next mirror.
func (l *Layout) ReadMirrors(off uint64, seed uint64) []uint16 {
	var pref, rest []uint16
	for i := range l.Components {
		c := &l.Components[i]
		if !c.Extent.Contains(off) || c.Flags&(Stale|Parity|Offline) != 0 || c.Stripe.Pattern&PatternReleased != 0 {
			continue
		}
		if c.Flags&PrefRead != 0 {
			pref = append(pref, c.MirrorID)
		} else {
			rest = append(rest, c.MirrorID)
		}
	}
	rotate := func(s []uint16) []uint16 {
		if len(s) < 2 {
			return s
		}
		k := int(seed % uint64(len(s)))
		return slices.Concat(s[k:], s[:k])
	}
	return append(rotate(pref), rotate(rest)...)
}

// StartResync moves a mirrored file to sp when `lfs mirror resync` takes
// its lease, and bumps the generation.
func (l *Layout) StartResync() error {
	if !l.IsFLR() {
		return ErrNotMirrored
	}
	if l.State == StateSP {
		return fmt.Errorf("%w: resync already in progress", ErrState)
	}
	l.State = StateSP
	l.Gen++
	return nil
}

// ResyncDone ends a resync: the components ids are in sync again (stale
// cleared), the file goes back to ro and the generation is bumped. It fails
// with ErrState when a write moved the file out of sp meanwhile. On error l
// is left as it was.
func (l *Layout) ResyncDone(ids []uint32) error {
	if !l.IsFLR() {
		return ErrNotMirrored
	}
	if l.State != StateSP {
		return fmt.Errorf("%w: %v, not sp: the resync was interrupted by a write", ErrState, l.State)
	}
	for _, id := range ids {
		if l.Find(id) < 0 {
			return fmt.Errorf("%w: %d", ErrNotFound, id)
		}
	}
	for _, id := range ids {
		l.Components[l.Find(id)].Flags &^= Stale
	}
	l.State = StateRO
	l.Gen++
	return nil
}

// SetFlags applies `lfs setstripe --comp-set -I id --comp-flags=...` to a
// mirrored file: set and clear may hold prefer, prefrd, prefwr and nosync;
// set may also hold stale, which only a resync clears, and which may not
// leave a range with no in-sync mirror. Setting nosync records now as the
// component's timestamp. The generation is bumped. On error l is left as
// it was.
func (l *Layout) SetFlags(id uint32, set, clear Flags, now uint64) error {
	if !l.IsFLR() {
		return ErrNotMirrored
	}
	i := l.Find(id)
	if i < 0 {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if set&^(Prefer|NoSync|Stale) != 0 || clear&^(Prefer|NoSync) != 0 {
		return fmt.Errorf("%w: cannot set %v / clear %v", ErrFlags, set&^(Prefer|NoSync|Stale), clear&^(Prefer|NoSync))
	}
	n := l.Clone()
	c := &n.Components[i]
	if set&NoSync != 0 && c.Flags&NoSync == 0 {
		c.Timestamp = now
	}
	c.Flags = c.Flags&^clear | set
	if c.Flags&NoSync == 0 {
		c.Timestamp = 0
	}
	if err := n.checkInSync(); err != nil {
		return err
	}
	n.Gen++
	*l = *n
	return nil
}
