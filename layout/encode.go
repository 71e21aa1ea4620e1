package layout

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/stria-fs/stria/wire"
)

// The binary form of a Layout, stored by the MDT as the file's layout xattr
// and sent to clients. Little-endian, fixed field order:
//
//	header   magic u32 | version u16 | flags u16 | gen u32 | state u16 | ncomp u16
//	per component:
//	         id u32 | mirror u16 | flags u32 | start u64 | end u64 | timestamp u64 |
//	         pattern u32 | count i32 | size u32 | offset i32 |
//	         poollen u8 | pool [poollen]byte |
//	         nosts u16 | osts [nosts]u32 |
//	         nobjs u16 | objs [nobjs]{ost u32 | fid (seq u64, oid u32, ver u32)}
//
// Header flag bit 0 marks a composite layout. A decoder refuses an unknown
// magic, version or flag bit, short or trailing bytes, and layouts that
// break the structural rules (see Validate).
const (
	// Magic starts every encoded layout ("SLYT" read little-endian).
	Magic uint32 = 0x54594c53
	// Version is the encoding version written by Encode.
	Version uint16 = 1

	flagComposite uint16 = 1 << 0

	headerSize = 4 + 2 + 2 + 4 + 2 + 2
	compFixed  = 4 + 2 + 4 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 1 + 2 + 2
	objectSize = 4 + wire.FIDSize
)

// Encode returns the binary form of l. It refuses what the format cannot
// hold (too many components, objects or OSTs, long pool names); it does not
// otherwise validate.
func Encode(l *Layout) ([]byte, error) {
	if len(l.Components) == 0 {
		return nil, ErrEmpty
	}
	if len(l.Components) > MaxComponents {
		return nil, fmt.Errorf("%w: %d components", ErrTooBig, len(l.Components))
	}
	size := headerSize
	for i := range l.Components {
		s := &l.Components[i].Stripe
		if len(s.Pool) > MaxPoolName || len(s.OSTs) > MaxStripeCount || len(s.Objects) > MaxStripeCount {
			return nil, fmt.Errorf("%w: component %d: pool %q, %d OSTs, %d objects",
				ErrTooBig, l.Components[i].ID, s.Pool, len(s.OSTs), len(s.Objects))
		}
		size += compFixed + len(s.Pool) + 4*len(s.OSTs) + objectSize*len(s.Objects)
	}
	return l.appendBinary(make([]byte, 0, size)), nil
}

func (l *Layout) appendBinary(b []byte) []byte {
	le := binary.LittleEndian
	var flags uint16
	if l.Composite {
		flags |= flagComposite
	}
	b = le.AppendUint32(b, Magic)
	b = le.AppendUint16(b, Version)
	b = le.AppendUint16(b, flags)
	b = le.AppendUint32(b, l.Gen)
	b = le.AppendUint16(b, uint16(l.State))
	b = le.AppendUint16(b, uint16(len(l.Components)))
	for i := range l.Components {
		c := &l.Components[i]
		s := &c.Stripe
		b = le.AppendUint32(b, c.ID)
		b = le.AppendUint16(b, c.MirrorID)
		b = le.AppendUint32(b, uint32(c.Flags))
		b = le.AppendUint64(b, c.Extent.Start)
		b = le.AppendUint64(b, c.Extent.End)
		b = le.AppendUint64(b, c.Timestamp)
		b = le.AppendUint32(b, uint32(s.Pattern))
		b = le.AppendUint32(b, uint32(s.Count))
		b = le.AppendUint32(b, s.Size)
		b = le.AppendUint32(b, uint32(s.Offset))
		b = append(b, byte(len(s.Pool)))
		b = append(b, s.Pool...)
		b = le.AppendUint16(b, uint16(len(s.OSTs)))
		for _, o := range s.OSTs {
			b = le.AppendUint32(b, o)
		}
		b = le.AppendUint16(b, uint16(len(s.Objects)))
		for _, o := range s.Objects {
			b = le.AppendUint32(b, o.OSTIndex)
			b = o.FID.Append(b)
		}
	}
	return b
}

// Decode parses the binary form written by Encode and checks the
// structural rules. It never panics on bad input; errors wrap ErrCorrupt or
// ErrVersion, or the validation sentinel that failed.
func Decode(b []byte) (*Layout, error) {
	d := decoder{b: b}
	if d.u32() != Magic {
		return nil, d.fail("bad magic")
	}
	if v := d.u16(); d.err == nil && v != Version {
		return nil, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	flags := d.u16()
	l := &Layout{Composite: flags&flagComposite != 0}
	l.Gen = d.u32()
	l.State = State(d.u16())
	n := int(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	if flags&^flagComposite != 0 {
		return nil, d.fail(fmt.Sprintf("unknown header flags %#x", flags))
	}
	if n == 0 || n > MaxComponents || n*compFixed > d.left() {
		return nil, d.fail(fmt.Sprintf("%d components in %d bytes", n, d.left()))
	}
	l.Components = make([]Component, n)
	for i := range l.Components {
		d.component(&l.Components[i])
		if d.err != nil {
			return nil, d.err
		}
	}
	if d.left() != 0 {
		return nil, d.fail(fmt.Sprintf("%d trailing bytes", d.left()))
	}
	if err := l.validate(modeDecode); err != nil {
		return nil, err
	}
	return l, nil
}

func (d *decoder) component(c *Component) {
	s := &c.Stripe
	c.ID = d.u32()
	c.MirrorID = d.u16()
	c.Flags = Flags(d.u32())
	c.Extent.Start = d.u64()
	c.Extent.End = d.u64()
	c.Timestamp = d.u64()
	s.Pattern = Pattern(d.u32())
	s.Count = int32(d.u32())
	s.Size = d.u32()
	s.Offset = int32(d.u32())
	if pl := int(d.u8()); pl > 0 {
		s.Pool = string(d.bytes(pl))
	}
	if n := int(d.u16()); n > 0 && d.room(n, 4) {
		s.OSTs = make([]uint32, n)
		for i := range s.OSTs {
			s.OSTs[i] = d.u32()
		}
	}
	if n := int(d.u16()); n > 0 && d.room(n, objectSize) {
		s.Objects = make([]Object, n)
		for i := range s.Objects {
			s.Objects[i].OSTIndex = d.u32()
			fid, err := wire.DecodeFID(d.bytes(wire.FIDSize))
			if err != nil && d.err == nil {
				d.err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			s.Objects[i].FID = fid
		}
	}
}

// decoder reads little-endian fields with bounds checks; after the first
// short read every read returns zero and err stays set.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) fail(why string) error {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrCorrupt, why, d.off)
	}
	return d.err
}

// bytes returns the next n bytes, or nil (and sets err) when short.
func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.left() {
		d.fail(fmt.Sprintf("need %d bytes, have %d", n, d.left()))
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

// room checks that n items of size bytes each can still be read, before
// anything is allocated for them.
func (d *decoder) room(n, size int) bool {
	if d.err != nil {
		return false
	}
	if n > math.MaxInt32/size || n*size > d.left() {
		d.fail(fmt.Sprintf("%d items of %d bytes in %d", n, size, d.left()))
		return false
	}
	return true
}

func (d *decoder) u8() uint8 {
	if p := d.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.bytes(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.bytes(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.bytes(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}
