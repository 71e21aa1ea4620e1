package lnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// NetType is the kind of network an LND drives. The values are Lustre's
// (include/uapi/linux/lnet/nidstr.h), so they read the same in logs.
type NetType uint16

// The network types Stria knows.
const (
	SockLND NetType = 2 // "tcp"
	O2IBLND NetType = 5 // "o2ib"
	LoLND   NetType = 9 // "lo"
)

var netTypeNames = map[NetType]string{SockLND: "tcp", O2IBLND: "o2ib", LoLND: "lo"}

func (t NetType) String() string {
	if s, ok := netTypeNames[t]; ok {
		return s
	}
	return "nettype" + strconv.Itoa(int(t))
}

// Net is one LNet network: a type and a number, e.g. tcp0 or o2ib1.
type Net struct {
	Type NetType
	Num  uint16
}

// String prints the network as Lustre does in NIDs: the number is left out
// when it is 0 ("tcp", "o2ib1").
func (n Net) String() string {
	if n.Num == 0 {
		return n.Type.String()
	}
	return n.Type.String() + strconv.Itoa(int(n.Num))
}

// ParseNet parses "tcp", "tcp0", "o2ib1" or "lo".
func ParseNet(s string) (Net, error) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	name, num := s[:i], s[i:]
	for t, tn := range netTypeNames {
		if tn != name {
			continue
		}
		n := Net{Type: t}
		if num != "" {
			v, err := strconv.ParseUint(num, 10, 16)
			if err != nil {
				return Net{}, fmt.Errorf("%w: network %q: bad number", ErrBadNID, s)
			}
			n.Num = uint16(v)
		}
		if t == LoLND && n.Num != 0 {
			return Net{}, fmt.Errorf("%w: network %q: lo has no number", ErrBadNID, s)
		}
		return n, nil
	}
	return Net{}, fmt.Errorf("%w: unknown network type %q", ErrBadNID, s)
}

// NID names one network interface: ADDRESS@NET. For tcp and o2ib the address
// is an IPv4 or IPv6 address; for lo it is a number (Lustre has only 0@lo; Stria's
// in-process loopback gives each node of a test cluster its own number), kept
// in Addr as the IPv4 address with that value.
//
// NID is comparable and may be used as a map key. The zero NID is invalid.
type NID struct {
	Addr netip.Addr
	Net  Net
}

// LoNID returns the loopback NID n@lo.
func LoNID(n uint32) NID {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return NID{Addr: netip.AddrFrom4(b), Net: Net{Type: LoLND}}
}

// IsZero reports whether n is the zero NID.
func (n NID) IsZero() bool { return n == NID{} }

// LoNum returns the number of an lo NID.
func (n NID) LoNum() uint32 {
	b := n.Addr.As4()
	return binary.BigEndian.Uint32(b[:])
}

// String prints the NID as Lustre does: "192.168.1.2@tcp", "10.0.0.1@o2ib1", "0@lo".
func (n NID) String() string {
	if n.IsZero() {
		return "<none>"
	}
	if n.Net.Type == LoLND {
		return strconv.FormatUint(uint64(n.LoNum()), 10) + "@lo"
	}
	return n.Addr.String() + "@" + n.Net.String()
}

// MarshalText lets NIDs appear as strings in logs, YAML and JSON.
func (n NID) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText parses a NID.
func (n *NID) UnmarshalText(b []byte) error {
	v, err := ParseNID(string(b))
	if err != nil {
		return err
	}
	*n = v
	return nil
}

// ParseNID parses ADDRESS@NET. A missing network number means 0.
func ParseNID(s string) (NID, error) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return NID{}, fmt.Errorf("%w: %q: want ADDRESS@NET", ErrBadNID, s)
	}
	net, err := ParseNet(s[at+1:])
	if err != nil {
		return NID{}, err
	}
	addr := s[:at]
	if net.Type == LoLND {
		v, err := strconv.ParseUint(addr, 10, 32)
		if err != nil {
			return NID{}, fmt.Errorf("%w: %q: lo address must be a number", ErrBadNID, s)
		}
		return LoNID(uint32(v)), nil
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return NID{}, fmt.Errorf("%w: %q: bad address", ErrBadNID, s)
	}
	return NID{Addr: a.Unmap(), Net: net}, nil
}

// MustParseNID is ParseNID for constants in tests and examples; it panics on error.
func MustParseNID(s string) NID {
	n, err := ParseNID(s)
	if err != nil {
		panic(err)
	}
	return n
}

// PIDLustre is the LNet process id every Lustre service uses; tools print it
// as the "12345-" prefix of a NID.
const PIDLustre uint32 = 12345

// PIDAny as a destination PID is accepted by every LNet instance (Lustre's
// LNET_PID_ANY); Ping uses it.
const PIDAny uint32 = 0xffffffff

// ProcessID names an LNet endpoint: a NID and a process id.
type ProcessID struct {
	NID NID
	PID uint32
}

func (p ProcessID) String() string {
	return strconv.FormatUint(uint64(p.PID), 10) + "-" + p.NID.String()
}

// nidWireSize is the encoded size of a NID: 16 bytes of address (IPv4 in its
// IPv4-mapped form), 2 bytes of net type, 2 bytes of net number.
const nidWireSize = 20

// putNID encodes n into b[:nidWireSize].
func putNID(b []byte, n NID) {
	a := [16]byte{}
	if n.Addr.IsValid() {
		a = n.Addr.As16()
	}
	copy(b[:16], a[:])
	binary.LittleEndian.PutUint16(b[16:], uint16(n.Net.Type))
	binary.LittleEndian.PutUint16(b[18:], n.Net.Num)
}

// getNID decodes a NID from b[:nidWireSize].
func getNID(b []byte) NID {
	t := NetType(binary.LittleEndian.Uint16(b[16:]))
	num := binary.LittleEndian.Uint16(b[18:])
	var a [16]byte
	copy(a[:], b[:16])
	if t == 0 && a == [16]byte{} && num == 0 {
		return NID{}
	}
	return NID{Addr: netip.AddrFrom16(a).Unmap(), Net: Net{Type: t, Num: num}}
}

// AppendNID appends the wire form of n (20 bytes) to b.
func AppendNID(b []byte, n NID) []byte {
	var tmp [nidWireSize]byte
	putNID(tmp[:], n)
	return append(b, tmp[:]...)
}

// DecodeNID decodes a NID written by AppendNID; b must hold at least NIDWireSize bytes.
func DecodeNID(b []byte) (NID, error) {
	if len(b) < nidWireSize {
		return NID{}, fmt.Errorf("%w: NID needs %d bytes, have %d", ErrBadNID, nidWireSize, len(b))
	}
	return getNID(b), nil
}

// NIDWireSize is the encoded size of a NID.
const NIDWireSize = nidWireSize
