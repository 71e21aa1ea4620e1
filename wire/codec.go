package wire

import (
	"encoding/binary"
	"fmt"
)

// Encoder appends little-endian fields to a byte slice. The zero value is
// ready to use; Reset makes it append to a caller's (pooled) buffer. It never
// fails: the buffer grows as needed.
type Encoder struct {
	buf []byte
}

// Reset makes e append to b (pass b[:0] to overwrite a pooled buffer, or a
// slice holding a reserved envelope to write a body after it).
func (e *Encoder) Reset(b []byte) { e.buf = b }

// Bytes returns everything encoded so far, including what Reset was given.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is len(e.Bytes()).
func (e *Encoder) Len() int { return len(e.buf) }

// U8 appends one byte.
func (e *Encoder) U8(v uint8) { e.buf = append(e.buf, v) }

// Bool appends 1 for true, 0 for false.
func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// U16 appends v little-endian.
func (e *Encoder) U16(v uint16) { e.buf = binary.LittleEndian.AppendUint16(e.buf, v) }

// U32 appends v little-endian.
func (e *Encoder) U32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }

// U64 appends v little-endian.
func (e *Encoder) U64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }

// I64 appends v as its two's complement uint64.
func (e *Encoder) I64(v int64) { e.U64(uint64(v)) }

// Raw appends b as is, without a length (for fixed-size fields).
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

// Bytes32 appends a u32 length followed by b.
func (e *Encoder) Bytes32(b []byte) {
	e.U32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

// String appends a u32 length followed by the bytes of s (no terminator).
func (e *Encoder) String(s string) {
	e.U32(uint32(len(s)))
	e.buf = append(e.buf, s...)
}

// FID appends f's 16-byte wire form.
func (e *Encoder) FID(f FID) { e.buf = f.Append(e.buf) }

// Decoder reads what an Encoder wrote. Errors are sticky: after the first
// failure every read returns the zero value and Err reports the failure, so a
// body decoder reads all its fields and checks once at the end. A Decoder
// never panics and never reads outside its input, whatever the input.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder returns a Decoder over b. Slices it returns (Raw, Bytes32) alias b.
func NewDecoder(b []byte) Decoder { return Decoder{b: b} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining is the number of bytes not yet read.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Fail records err (wrapping ErrBadBody) unless an earlier error is recorded;
// body decoders use it to reject a field value.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadBody}, args...)...)
	}
}

// Finish returns the sticky error, or an error if input is left over: a body
// must be consumed exactly.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if r := d.Remaining(); r != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadBody, r)
	}
	return nil
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.err = fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrShort, n, d.off, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

// U8 reads one byte.
func (d *Decoder) U8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

// Bool reads a byte that must be 0 or 1.
func (d *Decoder) Bool() bool {
	v := d.U8()
	if v > 1 {
		d.Fail("bool byte %d", v)
		return false
	}
	return v == 1
}

// U16 reads a little-endian uint16.
func (d *Decoder) U16() uint16 {
	p := d.take(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

// U32 reads a little-endian uint32.
func (d *Decoder) U32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

// U64 reads a little-endian uint64.
func (d *Decoder) U64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// I64 reads what Encoder.I64 wrote.
func (d *Decoder) I64() int64 { return int64(d.U64()) }

// Raw reads n bytes; the result aliases the input.
func (d *Decoder) Raw(n int) []byte { return d.take(n) }

// Bytes32 reads a u32 length and that many bytes, at most max (max < 0: no
// limit beyond the input). The result aliases the input.
func (d *Decoder) Bytes32(max int) []byte {
	n := d.U32()
	if d.err != nil {
		return nil
	}
	if max >= 0 && uint64(n) > uint64(max) {
		d.Fail("field of %d bytes, limit %d", n, max)
		return nil
	}
	if uint64(n) > uint64(d.Remaining()) {
		d.err = fmt.Errorf("%w: field of %d bytes, %d left", ErrShort, n, d.Remaining())
		return nil
	}
	return d.take(int(n))
}

// String reads what Encoder.String wrote, at most max bytes long (max < 0:
// no limit beyond the input). It allocates the string.
func (d *Decoder) String(max int) string {
	return string(d.Bytes32(max))
}

// FID reads a 16-byte FID.
func (d *Decoder) FID() FID {
	p := d.take(FIDSize)
	if p == nil {
		return FID{}
	}
	f, _ := DecodeFID(p)
	return f
}

// Count reads a u32 element count for an array whose elements take at least
// minSize bytes each, and rejects counts the remaining input cannot hold, so
// a decoder never allocates for elements that are not there.
func (d *Decoder) Count(minSize int) int {
	n := d.U32()
	if d.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if uint64(n)*uint64(minSize) > uint64(d.Remaining()) {
		d.err = fmt.Errorf("%w: %d elements of >= %d bytes, %d bytes left", ErrShort, n, minSize, d.Remaining())
		return 0
	}
	return int(n)
}

// Body is a typed request or reply body: its fields in a fixed order,
// little-endian, through Encoder and Decoder.
type Body interface {
	// Encode appends the body's fields.
	Encode(e *Encoder)
	// Decode reads the fields Encode wrote; errors stay in d.
	Decode(d *Decoder)
}

// AppendBody appends body's encoding to b.
func AppendBody(b []byte, body Body) []byte {
	e := Encoder{buf: b}
	body.Encode(&e)
	return e.buf
}

// DecodeBody decodes b into body; b must hold exactly one body.
func DecodeBody(b []byte, body Body) error {
	d := NewDecoder(b)
	body.Decode(&d)
	return d.Finish()
}
