package osd

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/stria-fs/stria/wire"
)

// The attribute record kept beside each object's data (the user.stria.attr
// xattr, or the sidecar file): fixed little-endian fields, then a crc32c of
// everything before it.
//
//	0  u8  version (attrVersion)
//	1  u8  reserved, 0
//	2  u16 valid (AttrMask of the stored fields)
//	4  u32 uid, u32 gid, u32 projid
//	16 3 × (s64 seconds, u32 nanoseconds): atime, mtime, ctime
//	52 16-byte FID: filter_fid parent
//	68 u32 stripe index, stripe count, stripe size, component id
//	84 u64 component start, component end
//	100 u32 layout version
//	104 u32 crc32c
const (
	attrVersion    = 1
	attrRecordSize = 108
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeAttr appends the stored fields of a (those in a.Valid) to b.
func encodeAttr(b []byte, a Attr) []byte {
	a = storedAttr(a)
	valid := a.Valid
	start := len(b)
	b = append(b, attrVersion, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(valid))
	b = binary.LittleEndian.AppendUint32(b, a.UID)
	b = binary.LittleEndian.AppendUint32(b, a.GID)
	b = binary.LittleEndian.AppendUint32(b, a.ProjID)
	for _, t := range []struct {
		bit AttrMask
		t   time.Time
	}{{AttrAtime, a.Atime}, {AttrMtime, a.Mtime}, {AttrCtime, a.Ctime}} {
		var sec int64
		var nsec uint32
		if valid&t.bit != 0 {
			sec, nsec = t.t.Unix(), uint32(t.t.Nanosecond())
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(sec))
		b = binary.LittleEndian.AppendUint32(b, nsec)
	}
	f := a.FilterFID
	b = f.Parent.Append(b)
	b = binary.LittleEndian.AppendUint32(b, f.StripeIndex)
	b = binary.LittleEndian.AppendUint32(b, f.StripeCount)
	b = binary.LittleEndian.AppendUint32(b, f.StripeSize)
	b = binary.LittleEndian.AppendUint32(b, f.CompID)
	b = binary.LittleEndian.AppendUint64(b, f.CompStart)
	b = binary.LittleEndian.AppendUint64(b, f.CompEnd)
	b = binary.LittleEndian.AppendUint32(b, a.LayoutVersion)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// decodeAttr reads a record written by encodeAttr. Size and Blocks are left
// zero; fields not in the record's valid mask are zero.
func decodeAttr(b []byte) (Attr, error) {
	var a Attr
	if len(b) != attrRecordSize {
		return a, fmt.Errorf("%w: attribute record of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != attrVersion || b[1] != 0 {
		return a, fmt.Errorf("%w: attribute record version %d", ErrCorrupt, b[0])
	}
	body, sum := b[:attrRecordSize-4], binary.LittleEndian.Uint32(b[attrRecordSize-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return a, fmt.Errorf("%w: attribute record checksum", ErrCorrupt)
	}
	valid := AttrMask(binary.LittleEndian.Uint16(b[2:]))
	if valid&^SetMask != 0 {
		return a, fmt.Errorf("%w: attribute record mask %#x", ErrCorrupt, uint16(valid))
	}
	a.Valid = valid
	le := binary.LittleEndian
	a.UID, a.GID, a.ProjID = le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])
	for i, p := range []*time.Time{&a.Atime, &a.Mtime, &a.Ctime} {
		bit := AttrAtime << i
		o := 16 + 12*i
		sec, nsec := int64(le.Uint64(b[o:])), le.Uint32(b[o+8:])
		if valid&bit == 0 {
			if sec != 0 || nsec != 0 {
				return Attr{}, fmt.Errorf("%w: attribute record: unset time not zero", ErrCorrupt)
			}
			continue
		}
		if nsec >= 1e9 {
			return Attr{}, fmt.Errorf("%w: attribute record: %d ns", ErrCorrupt, nsec)
		}
		*p = time.Unix(sec, int64(nsec))
	}
	parent, err := wire.DecodeFID(b[52:])
	if err != nil {
		return Attr{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	a.FilterFID = FilterFID{
		Parent:      parent,
		StripeIndex: le.Uint32(b[68:]),
		StripeCount: le.Uint32(b[72:]),
		StripeSize:  le.Uint32(b[76:]),
		CompID:      le.Uint32(b[80:]),
		CompStart:   le.Uint64(b[84:]),
		CompEnd:     le.Uint64(b[92:]),
	}
	a.LayoutVersion = le.Uint32(b[100:])
	return a, nil
}

// storedAttr keeps only the stored fields a.Valid names, zeroing the rest.
func storedAttr(a Attr) Attr {
	var s Attr
	applyAttr(&s, a, a.Valid&SetMask)
	return s
}
