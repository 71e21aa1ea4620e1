package layout

import (
	"fmt"
	"strings"
)

// Flags are a component's lcme_flags, with Lustre's bit values.
type Flags uint32

// Component flags.
const (
	Stale     Flags = 0x001 // FLR: the mirror's copy of this extent is out of date
	PrefRead  Flags = 0x002 // FLR: prefer this mirror for reads
	PrefWrite Flags = 0x004 // FLR: prefer this mirror as write primary
	Prefer          = PrefRead | PrefWrite
	Offline   Flags = 0x008 // an OST of the component is offline
	Init      Flags = 0x010 // instantiated: objects allocated
	NoSync    Flags = 0x020 // FLR: resync skips this mirror
	Extension Flags = 0x040 // SEL extension space, never instantiated
	Parity    Flags = 0x080 // EC parity component
	Compress  Flags = 0x100
	Partial   Flags = 0x200
	NoCompr   Flags = 0x400

	knownFlags = 0x7ff
	// UserFlags are the flags a user may set at create time or with
	// `--comp-set` (LCME_USER_COMP_FLAGS plus stale, which only resync clears).
	UserFlags = Prefer | NoSync | Extension | Stale
	// CreateFlags are the flags setstripe options may carry at create.
	CreateFlags = Prefer | NoSync
)

// flagNames is Lustre's comp_flags_table, in its printing order; "prefer"
// takes both preference bits before prefrd and prefwr are looked at.
var flagNames = [...]struct {
	f    Flags
	name string
}{
	{Init, "init"},
	{Stale, "stale"},
	{Prefer, "prefer"},
	{PrefRead, "prefrd"},
	{PrefWrite, "prefwr"},
	{Offline, "offline"},
	{NoSync, "nosync"},
	{Extension, "extension"},
	{Parity, "parity"},
	{Compress, "compress"},
	{Partial, "partial"},
	{NoCompr, "nocompr"},
}

// String prints the flags as `lfs getstripe` prints lcme_flags:
// comma-joined names ("init,stale,prefer"), "0" when none, and any unknown
// bits in hex.
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var b strings.Builder
	for _, n := range flagNames {
		if f&n.f == n.f {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%#x", uint32(f))
	}
	return b.String()
}

// ParseFlags parses a --comp-flags argument: comma-separated flag names,
// each optionally prefixed with ^ to clear it ("^prefer,stale").
func ParseFlags(s string) (set, clear Flags, err error) {
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		neg := strings.HasPrefix(tok, "^")
		tok = strings.TrimPrefix(tok, "^")
		var f Flags
		for _, n := range flagNames {
			if n.name == tok {
				f = n.f
				break
			}
		}
		if f == 0 {
			return 0, 0, fmt.Errorf("%w: unknown component flag %q", ErrSyntax, tok)
		}
		if neg {
			clear |= f
		} else {
			set |= f
		}
	}
	if set&clear != 0 {
		return 0, 0, fmt.Errorf("%w: flags %v both set and cleared", ErrSyntax, set&clear)
	}
	return set, clear, nil
}

// Pattern is lmm_pattern: the layout type of a stripe set plus flag bits.
type Pattern uint32

// Patterns, with Lustre's values.
const (
	PatternRAID0 Pattern = 0x001 // striped over OST objects
	PatternMDT   Pattern = 0x100 // Data-on-MDT: the data lives in the MDT inode
	// PatternReleased flags a RAID0 component whose data was released by
	// HSM: the stripe count is kept, the objects are gone.
	PatternReleased Pattern = 0x80000000

	knownPatterns = PatternRAID0 | PatternMDT | PatternReleased
)

// String prints the pattern as getstripe does: raid0, mdt, released.
func (p Pattern) String() string {
	switch {
	case p == PatternRAID0:
		return "raid0"
	case p == PatternMDT:
		return "mdt"
	case p&PatternReleased != 0 && p&^PatternReleased == PatternRAID0:
		return "released"
	default:
		return fmt.Sprintf("%#x", uint32(p))
	}
}

// ParsePattern parses a setstripe -L argument: raid0 (or "default") or mdt.
func ParsePattern(s string) (Pattern, error) {
	switch strings.ToLower(s) {
	case "raid0", "default", "":
		return PatternRAID0, nil
	case "mdt", "dom":
		return PatternMDT, nil
	}
	return 0, fmt.Errorf("%w: unknown layout pattern %q", ErrSyntax, s)
}

// State is the FLR state of a mirrored file (the low bits of lcm_flags).
type State uint16

// FLR states, with Lustre's values.
const (
	StateNone State = 0
	// StateRO (ro): every non-stale mirror holds the same data.
	StateRO State = 1
	// StateWP (wp): a primary mirror takes writes; the others are stale.
	StateWP State = 2
	// StateSP (sp): a resync holds the file.
	StateSP State = 3
)

// String prints the state as getstripe -v prints lcm_flags (ro, wp, sp;
// "0" for none).
func (s State) String() string {
	switch s {
	case StateNone:
		return "0"
	case StateRO:
		return "ro"
	case StateWP:
		return "wp"
	case StateSP:
		return "sp"
	}
	return fmt.Sprintf("%#x", uint16(s))
}

// ParseState parses an `lfs find --mirror-state` value: ro, wp or sp.
func ParseState(s string) (State, error) {
	switch s {
	case "ro":
		return StateRO, nil
	case "wp":
		return StateWP, nil
	case "sp":
		return StateSP, nil
	}
	return 0, fmt.Errorf("%w: unknown mirror state %q", ErrSyntax, s)
}
