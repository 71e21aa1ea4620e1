package layout

import (
	"fmt"
)

// mode selects which rules validate applies on top of the structural ones.
type mode int

const (
	// modeDecode: structure only; unset values and objects both allowed.
	modeDecode mode = iota
	// modeFile: a file's layout, every value concrete.
	modeFile
	// modeTemplate: a directory default, no objects, unset values allowed.
	modeTemplate
)

// Validate checks l as a file's layout: the structural rules (extents,
// mirrors, ids, flags, geometry) with every value concrete (stripe size set,
// ids assigned). It does not know the OSTs; see CheckOSTCount.
func (l *Layout) Validate() error { return l.validate(modeFile) }

// ValidateTemplate checks l as a directory default: the structural rules,
// unset values allowed (count 0, size 0, offset -1), no objects, no FLR
// state.
func (l *Layout) ValidateTemplate() error { return l.validate(modeTemplate) }

// CheckOSTCount checks, before instantiation, that no component asks for
// more stripes than the file system has OSTs (numOSTs) or offsets beyond
// them. A count of -1 (all) always fits.
func (l *Layout) CheckOSTCount(numOSTs int) error {
	for i := range l.Components {
		c := &l.Components[i]
		if c.IsInit() {
			continue
		}
		if err := c.Stripe.CheckOSTCount(numOSTs); err != nil {
			return fmt.Errorf("component %d: %w", c.ID, err)
		}
	}
	return nil
}

// CheckOSTCount checks the stripe against a file system of numOSTs OSTs.
func (s *Stripe) CheckOSTCount(numOSTs int) error {
	if s.Pattern != PatternRAID0 {
		return nil
	}
	if s.Count > 0 && int(s.Count) > numOSTs {
		return fmt.Errorf("%w: stripe count %d, %d OSTs", ErrTooManyOSTs, s.Count, numOSTs)
	}
	if s.Offset >= 0 && int(s.Offset) >= numOSTs {
		return fmt.Errorf("%w: stripe offset %d, %d OSTs", ErrStripeOffset, s.Offset, numOSTs)
	}
	for _, o := range s.OSTs {
		if int(o) >= numOSTs {
			return fmt.Errorf("%w: OST %d in the list, %d OSTs", ErrStripeOffset, o, numOSTs)
		}
	}
	return nil
}

// ValidStripeSize checks a stripe size: positive, a multiple of 64 KiB,
// below 4 GiB.
func ValidStripeSize(size uint64) error {
	if size == 0 || size%MinStripeSize != 0 || size > MaxStripeSize {
		return fmt.Errorf("%w: %d: must be a multiple of 64 KiB, from 64 KiB to 4 GiB - 64 KiB", ErrStripeSize, size)
	}
	return nil
}

// ValidPoolName checks a pool name as stored in a layout: at most 15
// characters of [A-Za-z0-9_-], not one of the reserved words. "" is no pool.
func ValidPoolName(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > MaxPoolName {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrPool, name, MaxPoolName)
	}
	switch name {
	case "none", "ignore", "inherit":
		return fmt.Errorf("%w: %q is reserved", ErrPool, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%w: %q: only letters, digits, _ and -", ErrPool, name)
		}
	}
	return nil
}

func (l *Layout) validate(m mode) error {
	if l == nil || len(l.Components) == 0 {
		return ErrEmpty
	}
	if len(l.Components) > MaxComponents {
		return fmt.Errorf("%w: %d components, at most %d", ErrExtent, len(l.Components), MaxComponents)
	}
	if !l.Composite {
		c := &l.Components[0]
		if len(l.Components) != 1 || c.Extent != (Extent{0, EOF}) || c.ID != 0 || c.MirrorID != 0 ||
			c.Flags&^Init != 0 || l.State != StateNone {
			return fmt.Errorf("%w: want one component [0, EOF), id 0, no mirror, no flags but init", ErrPlain)
		}
	}
	if err := l.validateMirrors(m); err != nil {
		return err
	}
	for i := range l.Components {
		if err := l.Components[i].validate(m, l.Composite); err != nil {
			return err
		}
	}
	switch {
	case l.State > StateSP:
		return fmt.Errorf("%w: %d", ErrState, l.State)
	case m == modeTemplate && l.State != StateNone:
		return fmt.Errorf("%w: a template has no FLR state", ErrState)
	case m == modeFile && l.IsFLR() && l.State == StateNone:
		return fmt.Errorf("%w: a mirrored file needs a state", ErrState)
	case !l.IsFLR() && l.State != StateNone:
		return fmt.Errorf("%w: %v on a file without mirrors", ErrState, l.State)
	}
	if m == modeFile && l.IsFLR() {
		return l.checkInSync()
	}
	return nil
}

// validateMirrors checks the grouping of components into mirrors, the
// extents within each mirror and the component ids.
func (l *Layout) validateMirrors(m mode) error {
	flr := l.IsFLR()
	seenMirror := map[uint16]bool{}
	seenID := map[uint32]bool{}
	var prev *Component
	for i := range l.Components {
		c := &l.Components[i]
		first := prev == nil || prev.MirrorID != c.MirrorID
		if first {
			if seenMirror[c.MirrorID] {
				return fmt.Errorf("%w: components of mirror %d are not contiguous", ErrMirror, c.MirrorID)
			}
			seenMirror[c.MirrorID] = true
			if flr && c.MirrorID == 0 {
				return fmt.Errorf("%w: mirror id 0 in a mirrored layout", ErrMirror)
			}
			if c.MirrorID > MaxMirrorID {
				return fmt.Errorf("%w: mirror id %d above %d", ErrMirror, c.MirrorID, MaxMirrorID)
			}
			if prev != nil && prev.Extent.End != EOF {
				return fmt.Errorf("%w: mirror %d ends at %d, not EOF", ErrMirror, prev.MirrorID, prev.Extent.End)
			}
			if c.Extent.Start != 0 {
				return fmt.Errorf("%w: first component %d starts at %d, not 0", ErrExtent, c.ID, c.Extent.Start)
			}
		} else if c.Extent.Start != prev.Extent.End {
			return fmt.Errorf("%w: component %d starts at %d, previous ends at %d", ErrExtent, c.ID, c.Extent.Start, prev.Extent.End)
		}
		if c.Extent.End <= c.Extent.Start {
			return fmt.Errorf("%w: component %d: end %s not above start %d", ErrExtent, c.ID, FormatEnd(c.Extent.End), c.Extent.Start)
		}
		if c.Extent.End != EOF && c.Extent.End%MinStripeSize != 0 {
			return fmt.Errorf("%w: component %d: end %d is not a multiple of 64 KiB", ErrExtentAlign, c.ID, c.Extent.End)
		}
		if l.Composite {
			if c.ID != 0 || m == modeFile {
				if c.ID == 0 || c.ID&0xffff == 0 || c.ID>>16 > MaxMirrorID || MirrorOf(c.ID) != c.MirrorID {
					return fmt.Errorf("%w: %d for mirror %d", ErrComponentID, c.ID, c.MirrorID)
				}
				if seenID[c.ID] {
					return fmt.Errorf("%w: %d used twice", ErrComponentID, c.ID)
				}
				seenID[c.ID] = true
			}
		}
		prev = c
	}
	if len(seenMirror) > MaxMirrors {
		return fmt.Errorf("%w: %d mirrors, at most %d", ErrMirror, len(seenMirror), MaxMirrors)
	}
	if len(seenMirror) > 1 && prev.Extent.End != EOF {
		return fmt.Errorf("%w: mirror %d ends at %d, not EOF", ErrMirror, prev.MirrorID, prev.Extent.End)
	}
	return nil
}

func (c *Component) validate(m mode, composite bool) error {
	s := &c.Stripe
	id := c.ID
	if c.Flags&^knownFlags != 0 {
		return fmt.Errorf("%w: component %d: unknown bits %#x", ErrFlags, id, uint32(c.Flags&^knownFlags))
	}
	if c.Flags&Extension != 0 && c.Flags&Init != 0 {
		return fmt.Errorf("%w: component %d: extension space cannot be init", ErrFlags, id)
	}
	if m == modeTemplate && c.Flags&(Init|Stale|Offline) != 0 {
		return fmt.Errorf("%w: component %d: %v in a template", ErrFlags, id, c.Flags&(Init|Stale|Offline))
	}
	if s.Pattern&^knownPatterns != 0 || s.Pattern&^PatternReleased == 0 ||
		s.Pattern&PatternMDT != 0 && s.Pattern != PatternMDT {
		return fmt.Errorf("%w: component %d: %#x", ErrPattern, id, uint32(s.Pattern))
	}
	if err := ValidPoolName(s.Pool); err != nil {
		return fmt.Errorf("component %d: %w", id, err)
	}
	if s.Offset < -1 {
		return fmt.Errorf("%w: component %d: %d", ErrStripeOffset, id, s.Offset)
	}
	if s.Size != 0 || m == modeFile {
		if err := ValidStripeSize(uint64(s.Size)); err != nil {
			return fmt.Errorf("component %d: %w", id, err)
		}
	}
	if c.IsDoM() {
		return c.validateDoM(m)
	}
	if s.Count < -1 || s.Count > MaxStripeCount || s.Count == 0 && m == modeFile {
		return fmt.Errorf("%w: component %d: %d: want -1 or 1 to %d", ErrStripeCount, id, s.Count, MaxStripeCount)
	}
	if s.Size != 0 && c.Extent.End != EOF && c.Extent.End%uint64(s.Size) != 0 {
		return fmt.Errorf("%w: component %d: end %d is not a multiple of the stripe size %d", ErrExtentAlign, id, c.Extent.End, s.Size)
	}
	if err := s.validateOSTList(id); err != nil {
		return err
	}
	switch {
	case len(s.Objects) > 0 && m == modeTemplate:
		return fmt.Errorf("%w: component %d: a template has no objects", ErrObjects, id)
	case len(s.Objects) > 0 && (s.Pattern != PatternRAID0 || !c.IsInit() || int(s.Count) != len(s.Objects)):
		return fmt.Errorf("%w: component %d: %d objects, count %d, flags %v, pattern %v",
			ErrObjects, id, len(s.Objects), s.Count, c.Flags, s.Pattern)
	case len(s.Objects) == 0 && c.IsInit() && s.Pattern == PatternRAID0:
		return fmt.Errorf("%w: component %d is init without objects", ErrObjects, id)
	}
	return nil
}

func (c *Component) validateDoM(m mode) error {
	s := &c.Stripe
	if c.Extent.Start != 0 || c.Extent.End == EOF {
		return fmt.Errorf("%w: DoM component %d must be first in its mirror and end before EOF", ErrPattern, c.ID)
	}
	if s.Count != 0 || len(s.Objects) != 0 || len(s.OSTs) != 0 {
		return fmt.Errorf("%w: DoM component %d has stripe count %d and %d objects", ErrObjects, c.ID, s.Count, len(s.Objects))
	}
	if (s.Size != 0 || m == modeFile) && uint64(s.Size) != c.Extent.End {
		return fmt.Errorf("%w: DoM component %d: stripe size %d, end %d", ErrStripeSize, c.ID, s.Size, c.Extent.End)
	}
	return nil
}

func (s *Stripe) validateOSTList(id uint32) error {
	if len(s.OSTs) == 0 {
		return nil
	}
	if s.Count > 0 && int(s.Count) != len(s.OSTs) || s.Count < 0 {
		return fmt.Errorf("%w: component %d: count %d with %d OSTs listed", ErrStripeCount, id, s.Count, len(s.OSTs))
	}
	seen := map[uint32]bool{}
	for _, o := range s.OSTs {
		if seen[o] {
			return fmt.Errorf("%w: component %d: OST %d listed twice", ErrStripeOffset, id, o)
		}
		seen[o] = true
	}
	return nil
}

// checkInSync checks that every byte of the file is held by at least one
// non-stale component: stale cannot be set on the last in-sync mirror.
func (l *Layout) checkInSync() error {
	// Collect boundaries of all extents; within each slice between two
	// boundaries the set of covering components is constant.
	var cuts []uint64
	for i := range l.Components {
		cuts = append(cuts, l.Components[i].Extent.Start)
	}
	for _, at := range cuts {
		ok := false
		for i := range l.Components {
			c := &l.Components[i]
			if c.Extent.Contains(at) && c.Flags&(Stale|Parity) == 0 {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: every mirror is stale at offset %d", ErrAllStale, at)
		}
	}
	return nil
}
