package mgs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stria-fs/stria/wire"
)

// Index limits, as Lustre's: MDT indexes 0..4095; OST indexes print as four
// hex digits and 0xffff means "not yet assigned".
const (
	MaxMDTIndex = 4095
	MaxOSTIndex = 0xfffe
)

// ValidFSName checks a file system name: 1-8 characters of [-_a-zA-Z0-9].
func ValidFSName(fs string) error {
	if len(fs) < 1 || len(fs) > 8 {
		return fmt.Errorf("%w: %q: want 1-8 characters", ErrBadFSName, fs)
	}
	for i := 0; i < len(fs); i++ {
		c := fs[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q: character %q is not one of [-_a-zA-Z0-9]", ErrBadFSName, fs, c)
		}
	}
	return nil
}

// TargetName is a target's name: "testfs-MDT0000", "testfs-OST000a".
func TargetName(fs string, kind wire.TargetKind, index uint32) string {
	return fmt.Sprintf("%s-%s%04x", fs, kind, index)
}

// TargetUUID is Lustre's UUID of a target: its name + "_UUID".
func TargetUUID(fs string, kind wire.TargetKind, index uint32) string {
	return TargetName(fs, kind, index) + "_UUID"
}

// ParseTargetName splits "testfs-OST000a" into its file system, kind and
// index.
func ParseTargetName(name string) (fs string, kind wire.TargetKind, index uint32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 1 || len(name)-i != 8 {
		return "", 0, 0, false
	}
	switch name[i+1 : i+4] {
	case "MDT":
		kind = wire.KindMDT
	case "OST":
		kind = wire.KindOST
	default:
		return "", 0, 0, false
	}
	hex := name[i+4:]
	if strings.ToLower(hex) != hex {
		return "", 0, 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 16)
	if err != nil || ValidFSName(name[:i]) != nil {
		return "", 0, 0, false
	}
	return name[:i], kind, uint32(v), true
}

// checkIndex checks that index is in range for kind.
func checkIndex(kind wire.TargetKind, index uint32) error {
	switch kind {
	case wire.KindMDT:
		if index > MaxMDTIndex {
			return fmt.Errorf("%w: MDT index %d: at most %d", ErrBadTarget, index, MaxMDTIndex)
		}
	case wire.KindOST:
		if index > MaxOSTIndex {
			return fmt.Errorf("%w: OST index %d: at most %d", ErrBadTarget, index, MaxOSTIndex)
		}
	default:
		return fmt.Errorf("%w: target kind %d", ErrBadTarget, kind)
	}
	return nil
}

// checkUUID checks a registering target's UUID: printable, no blanks, and
// if it has the form of a target UUID ("x-OST0001_UUID") it must be this
// target's.
func checkUUID(uuid, fs string, kind wire.TargetKind, index uint32) error {
	if uuid == "" || len(uuid) > wire.MaxNameLen {
		return fmt.Errorf("%w: UUID of %d bytes", ErrBadTarget, len(uuid))
	}
	for i := 0; i < len(uuid); i++ {
		if uuid[i] <= ' ' || uuid[i] >= 0x7f {
			return fmt.Errorf("%w: UUID %q: unprintable or blank byte", ErrBadTarget, uuid)
		}
	}
	if base, found := strings.CutSuffix(uuid, "_UUID"); found {
		if f, k, i, ok := ParseTargetName(base); ok && (f != fs || k != kind || i != index) {
			return fmt.Errorf("%w: UUID %q names another target than %s", ErrBadTarget, uuid,
				TargetName(fs, kind, index))
		}
	}
	return nil
}

// splitParam splits "key=value" and checks both halves: the key is
// non-empty, without blanks or control bytes; the value holds no newline or
// control byte other than tab. With del the value part may be absent.
func splitParam(p string, del bool) (key, value string, err error) {
	if len(p) > wire.MaxParamLen {
		return "", "", fmt.Errorf("%w: %d bytes", ErrBadParam, len(p))
	}
	key, value, hasValue := strings.Cut(p, "=")
	if !hasValue && !del {
		return "", "", fmt.Errorf("%w: %q is not key=value", ErrBadParam, p)
	}
	if key == "" {
		return "", "", fmt.Errorf("%w: %q has no key", ErrBadParam, p)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return "", "", fmt.Errorf("%w: key %q: unprintable or blank byte", ErrBadParam, key)
		}
	}
	for i := 0; i < len(value); i++ {
		if (value[i] < ' ' && value[i] != '\t') || value[i] == 0x7f {
			return "", "", fmt.Errorf("%w: value of %q: control byte %#x", ErrBadParam, key, value[i])
		}
	}
	return key, value, nil
}
