package wire

import (
	"errors"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	var e Encoder
	e.U8(7)
	e.Bool(true)
	e.U16(0xbeef)
	e.U32(0xdeadbeef)
	e.U64(1 << 60)
	e.I64(-5)
	e.Raw([]byte{1, 2, 3})
	e.Bytes32([]byte("bytes"))
	e.String("string")
	f := FID{Seq: 0x200000401, Oid: 7, Ver: 1}
	e.FID(f)
	d := NewDecoder(e.Bytes())
	if d.U8() != 7 || !d.Bool() || d.U16() != 0xbeef || d.U32() != 0xdeadbeef || d.U64() != 1<<60 || d.I64() != -5 {
		t.Fatal("scalars")
	}
	if string(d.Raw(3)) != "\x01\x02\x03" || string(d.Bytes32(10)) != "bytes" || d.String(-1) != "string" || d.FID() != f {
		t.Fatal("slices")
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if e.Len() != len(e.Bytes()) {
		t.Fatal("Len")
	}
}

func TestDecoderSticky(t *testing.T) {
	d := NewDecoder([]byte{1, 2, 3})
	if d.U32() != 0 || !errors.Is(d.Err(), ErrShort) {
		t.Fatalf("short read: %v", d.Err())
	}
	// Later reads return zero and keep the first error.
	if d.U8() != 0 || d.FID() != (FID{}) || d.String(-1) != "" || !errors.Is(d.Finish(), ErrShort) {
		t.Fatal("not sticky")
	}
}

func TestDecoderLimits(t *testing.T) {
	var e Encoder
	e.String("toolong")
	d := NewDecoder(e.Bytes())
	if d.String(3) != "" || !errors.Is(d.Err(), ErrBadBody) {
		t.Fatalf("limit: %v", d.Err())
	}
	// A length prefix beyond the input.
	e = Encoder{}
	e.U32(1 << 30)
	d = NewDecoder(e.Bytes())
	if d.Bytes32(-1) != nil || !errors.Is(d.Err(), ErrShort) {
		t.Fatalf("huge length: %v", d.Err())
	}
	// A count that cannot fit.
	e = Encoder{}
	e.U32(1000)
	e.U64(0)
	d = NewDecoder(e.Bytes())
	if d.Count(8) != 0 || !errors.Is(d.Err(), ErrShort) {
		t.Fatalf("count: %v", d.Err())
	}
	d = NewDecoder(e.Bytes()[:4])
	e = Encoder{}
	e.U32(2)
	e.U64(1)
	e.U64(2)
	d = NewDecoder(e.Bytes())
	if n := d.Count(8); n != 2 || d.Err() != nil {
		t.Fatalf("count %d %v", n, d.Err())
	}
	// Bool must be 0 or 1.
	d = NewDecoder([]byte{2})
	if d.Bool() || !errors.Is(d.Err(), ErrBadBody) {
		t.Fatal("bool 2 accepted")
	}
	// Trailing bytes.
	d = NewDecoder([]byte{1, 2})
	d.U8()
	if !errors.Is(d.Finish(), ErrBadBody) {
		t.Fatal("trailing bytes accepted")
	}
	// Negative raw length.
	d = NewDecoder([]byte{1})
	if d.Raw(-1) != nil || d.Err() == nil {
		t.Fatal("negative length accepted")
	}
}

type testBody struct {
	A uint32
	S string
}

func (b *testBody) Encode(e *Encoder) { e.U32(b.A); e.String(b.S) }
func (b *testBody) Decode(d *Decoder) { b.A = d.U32(); b.S = d.String(16) }

func TestBodyHelpers(t *testing.T) {
	in := testBody{A: 3, S: "x"}
	b := AppendBody([]byte("pre"), &in)
	var out testBody
	if err := DecodeBody(b[3:], &out); err != nil || out != in {
		t.Fatalf("%v %+v", err, out)
	}
	if err := DecodeBody(b[3:len(b)-1], &out); !errors.Is(err, ErrShort) {
		t.Fatalf("short body: %v", err)
	}
}
