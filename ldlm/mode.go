package ldlm

import (
	"fmt"

	"github.com/stria-fs/stria/wire"
)

// compat[i] is the set of modes compatible with mode 1<<i (Lustre's
// lck_compat_array): EX with NL; PW with NL, CR; PR with NL, CR, PR; CW
// with NL, CR, CW; CR with everything but EX; NL with everything; GROUP
// with NL and GROUP (of the same group id, checked by the caller).
var compat = [...]wire.LockMode{
	wire.LockNL,                             // EX
	wire.LockNL | wire.LockCR,               // PW
	wire.LockNL | wire.LockCR | wire.LockPR, // PR
	wire.LockNL | wire.LockCR | wire.LockCW, // CW
	wire.LockNL | wire.LockCR | wire.LockCW | wire.LockPR | wire.LockPW,                                // CR
	wire.LockNL | wire.LockCR | wire.LockCW | wire.LockPR | wire.LockPW | wire.LockEX | wire.LockGroup, // NL
	wire.LockNL | wire.LockGroup, // GROUP
}

// modeIndex returns i for mode 1<<i, or -1 for anything else.
func modeIndex(m wire.LockMode) int {
	for i := range compat {
		if m == 1<<i {
			return i
		}
	}
	return -1
}

// Compatible reports whether locks of modes a and b can be granted
// together on overlapping parts of one resource (Lustre's compatibility
// matrix; two GROUP locks are compatible only within one group, which
// CompatibleGroup checks).
func Compatible(a, b wire.LockMode) bool {
	i := modeIndex(a)
	return i >= 0 && modeIndex(b) >= 0 && compat[i]&b != 0
}

// CompatibleGroup is Compatible with group ids: two GROUP locks are
// compatible when their group ids are equal.
func CompatibleGroup(a wire.LockMode, agid uint64, b wire.LockMode, bgid uint64) bool {
	if a == wire.LockGroup && b == wire.LockGroup {
		return agid == bgid
	}
	return Compatible(a, b)
}

// covers[i] is the set of requested modes a held lock of mode 1<<i can
// serve (lock matching): a stronger mode serves a weaker one.
var covers = [...]wire.LockMode{
	wire.LockEX | wire.LockPW | wire.LockPR | wire.LockCW | wire.LockCR | wire.LockNL, // EX
	wire.LockPW | wire.LockPR | wire.LockCW | wire.LockCR | wire.LockNL,               // PW
	wire.LockPR | wire.LockCR | wire.LockNL,                                           // PR
	wire.LockCW | wire.LockCR | wire.LockNL,                                           // CW
	wire.LockCR | wire.LockNL,                                                         // CR
	wire.LockNL,                                                                       // NL
	wire.LockGroup,                                                                    // GROUP
}

// Covers reports whether a held lock of mode held can serve a request for
// mode want (a PW lock serves reads and writes, a PR lock only reads).
func Covers(held, want wire.LockMode) bool {
	i := modeIndex(held)
	return i >= 0 && modeIndex(want) >= 0 && covers[i]&want != 0
}

// overlap reports whether the inclusive ranges [as, ae] and [bs, be] meet.
func overlap(as, ae, bs, be uint64) bool { return as <= be && bs <= ae }

// Conflicts reports whether a lock (am, ap) and a lock (bm, bp) on the same
// resource of type typ cannot be granted together: their modes are
// incompatible and their policies meet (IBITS share a bit, EXTENT and
// FLOCK ranges overlap, PLAIN always). It does not know owners: two flocks
// of one owner never conflict, which the caller checks.
func Conflicts(typ wire.LockType, am wire.LockMode, ap *wire.Policy, bm wire.LockMode, bp *wire.Policy) bool {
	if CompatibleGroup(am, ap.GID, bm, bp.GID) {
		return false
	}
	switch typ {
	case wire.LockIBits:
		return ap.Bits&bp.Bits != 0
	case wire.LockExtent, wire.LockFlock:
		return overlap(ap.Start, ap.End, bp.Start, bp.End)
	}
	return true
}

// policyCovers reports whether a held policy serves a wanted one: every
// wanted inode bit held, the wanted range inside the held one, the same
// group.
func policyCovers(typ wire.LockType, mode wire.LockMode, held, want *wire.Policy) bool {
	switch typ {
	case wire.LockIBits:
		return held.Bits&want.Bits == want.Bits
	case wire.LockExtent:
		if mode == wire.LockGroup && held.GID != want.GID {
			return false
		}
		return held.Start <= want.Start && want.End <= held.End
	case wire.LockFlock:
		return false // flocks are never matched
	}
	return true
}

// Validate checks a lock description: a known type and mode, and a
// policy that fits the type. Every error wraps ErrInvalid (EINVAL).
func Validate(d *wire.LockDesc) error {
	switch {
	case !d.Type.Valid():
		return fmt.Errorf("%w: unknown lock type %v", ErrInvalid, d.Type)
	case !d.Mode.Valid():
		return fmt.Errorf("%w: unknown lock mode %v", ErrInvalid, d.Mode)
	case d.Mode == wire.LockGroup && d.Type != wire.LockExtent:
		return fmt.Errorf("%w: group lock on a %v resource", ErrInvalid, d.Type)
	}
	p := &d.Policy
	switch d.Type {
	case wire.LockIBits:
		if p.Bits == 0 || p.Bits&^wire.InodeLockFull != 0 {
			return fmt.Errorf("%w: inode bits %#x", ErrInvalid, p.Bits)
		}
	case wire.LockExtent:
		if p.Start > p.End {
			return fmt.Errorf("%w: extent [%d, %d]", ErrInvalid, p.Start, p.End)
		}
	case wire.LockFlock:
		if p.Start > p.End {
			return fmt.Errorf("%w: flock range [%d, %d]", ErrInvalid, p.Start, p.End)
		}
		if d.Mode != wire.LockPR && d.Mode != wire.LockPW && d.Mode != wire.LockNL {
			return fmt.Errorf("%w: flock mode %v", ErrInvalid, d.Mode)
		}
	}
	return nil
}
