package wire

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// FID is Lustre's file identifier: a sequence, an object id within it and a
// version. It names every MDT inode and every OST object cluster-wide; the
// FLD maps a sequence to the target that owns it.
type FID struct {
	Seq uint64
	Oid uint32
	Ver uint32
}

// Well-known sequences, as Lustre.
const (
	// SeqIDIFBase is the first IDIF sequence: OST objects of a file system
	// with one MDT use [0x1_0000_0000 | ost_idx<<16 : objid : 0].
	SeqIDIFBase uint64 = 0x100000000
	// SeqNormalStart is the first sequence granted to MDTs for new files.
	SeqNormalStart uint64 = 0x200000400
	// SeqRoot holds the root directory's FID [0x200000007:0x1:0x0].
	SeqRoot uint64 = 0x200000007
)

// RootFID is the FID of the file system's root directory.
var RootFID = FID{Seq: SeqRoot, Oid: 1}

// FIDSize is the encoded size of a FID.
const FIDSize = 16

// IsZero reports whether f is the zero FID.
func (f FID) IsZero() bool { return f == FID{} }

// String prints the FID as Lustre does: [0x200000401:0x1:0x0].
func (f FID) String() string {
	return "[" + f.Short() + "]"
}

// Short prints the FID without brackets: 0x200000401:0x1:0x0.
func (f FID) Short() string {
	return "0x" + strconv.FormatUint(f.Seq, 16) + ":0x" + strconv.FormatUint(uint64(f.Oid), 16) +
		":0x" + strconv.FormatUint(uint64(f.Ver), 16)
}

// ParseFID parses "[0x200000401:0x1:0x0]" with or without brackets.
func ParseFID(s string) (FID, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "[")
	t = strings.TrimSuffix(t, "]")
	parts := strings.Split(t, ":")
	if len(parts) != 3 {
		return FID{}, fmt.Errorf("%w: %q: want [SEQ:OID:VER]", ErrBadFID, s)
	}
	seq, err1 := strconv.ParseUint(parts[0], 0, 64)
	oid, err2 := strconv.ParseUint(parts[1], 0, 32)
	ver, err3 := strconv.ParseUint(parts[2], 0, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return FID{}, fmt.Errorf("%w: %q: bad number", ErrBadFID, s)
	}
	return FID{Seq: seq, Oid: uint32(oid), Ver: uint32(ver)}, nil
}

// Ino is the inode number the FUSE client exposes for f: stable across
// clients and remounts, after Lustre's fid_flatten (sequence shifted over
// the object id, never 0).
func (f FID) Ino() uint64 {
	ino := f.Seq<<24 + (f.Seq>>24)&0xffffff0000 + uint64(f.Oid)
	if ino == 0 {
		ino = uint64(f.Oid) | 1<<63
	}
	return ino
}

// AppendBinary appends the little-endian wire form of f.
func (f FID) AppendBinary(b []byte) ([]byte, error) { return f.Append(b), nil }

// Append appends the little-endian wire form of f (16 bytes).
func (f FID) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, f.Seq)
	b = binary.LittleEndian.AppendUint32(b, f.Oid)
	return binary.LittleEndian.AppendUint32(b, f.Ver)
}

// DecodeFID reads a FID written by Append.
func DecodeFID(b []byte) (FID, error) {
	if len(b) < FIDSize {
		return FID{}, fmt.Errorf("%w: need %d bytes, have %d", ErrBadFID, FIDSize, len(b))
	}
	return FID{
		Seq: binary.LittleEndian.Uint64(b),
		Oid: binary.LittleEndian.Uint32(b[8:]),
		Ver: binary.LittleEndian.Uint32(b[12:]),
	}, nil
}

// KeyBytes returns the big-endian form of f, for store keys whose byte order
// must follow FID order (range scans by sequence).
func (f FID) KeyBytes() [FIDSize]byte {
	var k [FIDSize]byte
	binary.BigEndian.PutUint64(k[:], f.Seq)
	binary.BigEndian.PutUint32(k[8:], f.Oid)
	binary.BigEndian.PutUint32(k[12:], f.Ver)
	return k
}

// FIDFromKey is the inverse of KeyBytes.
func FIDFromKey(k []byte) (FID, error) {
	if len(k) < FIDSize {
		return FID{}, fmt.Errorf("%w: key of %d bytes", ErrBadFID, len(k))
	}
	return FID{
		Seq: binary.BigEndian.Uint64(k),
		Oid: binary.BigEndian.Uint32(k[8:]),
		Ver: binary.BigEndian.Uint32(k[12:]),
	}, nil
}

// IDIF returns the FID of object objid on OST ostIdx in a file system whose
// OST objects use IDIF sequences.
func IDIF(ostIdx uint32, objid uint64) FID {
	return FID{Seq: SeqIDIFBase | uint64(ostIdx)<<16 | (objid>>32)&0xffff, Oid: uint32(objid)}
}
