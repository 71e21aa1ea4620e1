package layout

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// ParseSize parses a size as Lustre's tools do: a decimal number with an
// optional fraction and an optional binary suffix K, M, G, T, P or E (any
// case): "4M", "64k", "1.5G", "1048576". suffixed reports whether a suffix
// was given.
func ParseSize(s string) (size uint64, suffixed bool, err error) {
	num := strings.TrimSpace(s)
	shift := 0
	if n := len(num); n > 0 {
		if i := strings.IndexByte("kmgtpe", lower(num[n-1])); i >= 0 {
			shift, suffixed, num = 10*(i+1), true, num[:n-1]
		}
	}
	intPart, frac, hasFrac := strings.Cut(num, ".")
	if intPart == "" || !digits(intPart) || hasFrac && (frac == "" || !digits(frac)) {
		return 0, false, fmt.Errorf("%w: size %q", ErrSyntax, s)
	}
	v, err := strconv.ParseUint(intPart, 10, 64)
	if err != nil || shift > 0 && v>>(64-shift) != 0 {
		return 0, false, fmt.Errorf("%w: size %q is too large", ErrSyntax, s)
	}
	v <<= shift
	if hasFrac {
		if len(frac) > 18 {
			frac = frac[:18]
		}
		f, _ := strconv.ParseUint(frac, 10, 64) // digits only, at most 18: cannot fail
		den := uint64(1)
		for range len(frac) {
			den *= 10
		}
		hi, lo := bits.Mul64(f, 1<<shift)
		q, _ := bits.Div64(hi, lo, den) // f < den, so hi < den: no overflow
		var carry uint64
		if v, carry = bits.Add64(v, q, 0); carry != 0 {
			return 0, false, fmt.Errorf("%w: size %q is too large", ErrSyntax, s)
		}
	}
	return v, suffixed, nil
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseStripeSize parses a setstripe -S value: a size as ParseSize, where a
// bare number below 4096 is read as KiB (as lfs does). 0 means "default"
// and is returned as is; anything else must be a valid stripe size.
func ParseStripeSize(s string) (uint32, error) {
	v, suffixed, err := ParseSize(s)
	if err != nil {
		return 0, err
	}
	if !suffixed && v < 4096 {
		v <<= 10
	}
	if v == 0 {
		return 0, nil
	}
	if err := ValidStripeSize(v); err != nil {
		return 0, err
	}
	return uint32(v), nil
}

// ParseExtentEnd parses a setstripe -E value: "-1", "eof" or "EOF" for the
// end of file, or a size as ParseSize (not 0).
func ParseExtentEnd(s string) (uint64, error) {
	switch strings.TrimSpace(s) {
	case "-1", "eof", "EOF":
		return EOF, nil
	}
	v, _, err := ParseSize(s)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, fmt.Errorf("%w: component end 0", ErrExtent)
	}
	return v, nil
}

// ParseOSTList parses a setstripe -o list: comma-separated OST indexes and
// ranges, "1,2-4,7" -> [1 2 3 4 7], in the order given. Indexes may be
// decimal or 0x-prefixed hex. Repeats are refused.
func ParseOSTList(s string) ([]uint32, error) {
	var out []uint32
	for _, tok := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(tok), "-")
		a, err := parseIndex(lo)
		if err != nil {
			return nil, fmt.Errorf("%w: OST list %q: %q", ErrSyntax, s, tok)
		}
		b := a
		if isRange {
			if b, err = parseIndex(hi); err != nil || b < a {
				return nil, fmt.Errorf("%w: OST list %q: bad range %q", ErrSyntax, s, tok)
			}
		}
		if uint64(len(out))+uint64(b-a) >= MaxStripeCount {
			return nil, fmt.Errorf("%w: OST list %q: more than %d OSTs", ErrStripeCount, s, MaxStripeCount)
		}
		for i := uint64(a); i <= uint64(b); i++ {
			if slices.Contains(out, uint32(i)) {
				return nil, fmt.Errorf("%w: OST list %q: OST %d twice", ErrSyntax, s, i)
			}
			out = append(out, uint32(i))
		}
	}
	return out, nil
}

func parseIndex(s string) (uint32, error) {
	s, base := strings.TrimSpace(s), 10
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = h, 16
	}
	if s == "" || strings.ContainsAny(s, "+-_") {
		return 0, ErrSyntax
	}
	v, err := strconv.ParseUint(s, base, 32)
	return uint32(v), err
}
