package layout_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stria-fs/stria/layout"
)

// samples are valid layouts of every kind, for round trips and fuzz seeds.
func samples() []*layout.Layout {
	dom := &layout.Layout{Gen: 2, Composite: true, Components: []layout.Component{
		{ID: 1, Flags: layout.Init, Extent: layout.Extent{End: MiB},
			Stripe: layout.Stripe{Pattern: layout.PatternMDT, Size: MiB, Offset: -1}},
		uninit(0, 2, MiB, layout.EOF, 4*MiB, 4),
	}}
	tmpl, _ := layout.Template([]layout.Options{{End: 64 * MiB, Count: 1, Offset: -1, Pool: "flash"},
		{End: layout.EOF, Count: -1, Offset: -1, OSTs: nil}})
	listed := plainFile(MiB, 3)
	listed.Components[0].Stripe.OSTs = []uint32{0, 1, 2}
	nosync := mirrored()
	nosync.Components[1].Flags |= layout.NoSync | layout.Stale
	nosync.Components[1].Timestamp = 1700000000
	nosync.State = layout.StateWP
	return []*layout.Layout{
		plainFile(4*MiB, 1),
		plainFile(MiB, 4),
		layout.Plain(0, 0, -1, ""),
		pflFile(),
		mirrored(),
		nosync,
		dom,
		tmpl,
		listed,
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for i, l := range samples() {
		b, err := layout.Encode(l)
		if err != nil {
			t.Fatalf("sample %d: Encode: %v", i, err)
		}
		got, err := layout.Decode(b)
		if err != nil {
			t.Fatalf("sample %d: Decode: %v", i, err)
		}
		if !got.Equal(l) {
			t.Fatalf("sample %d: round trip:\n got %+v\nwant %+v", i, got, l)
		}
	}
}

func TestEncodeFixedBytes(t *testing.T) {
	// The header of a plain 1-stripe layout, field by field.
	b, err := layout.Encode(plainFile(4*MiB, 1))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint32(b) != layout.Magic || le.Uint16(b[4:]) != layout.Version || le.Uint16(b[6:]) != 0 ||
		le.Uint32(b[8:]) != 0 || le.Uint16(b[12:]) != 0 || le.Uint16(b[14:]) != 1 {
		t.Fatalf("header % x", b[:16])
	}
	if string(b[:4]) != "SLYT" {
		t.Fatalf("magic %q", b[:4])
	}
	// Header 16 + component fixed part 55 + one object of 20.
	if len(b) != 16+55+20 {
		t.Fatalf("encoded %d bytes", len(b))
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := layout.Encode(pflFile())
	mut := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	// A layout that encodes but breaks the structural rules.
	gap := pflFile()
	gap.Components[1].Extent.Start += 64 * KiB
	gapBytes, _ := layout.Encode(gap)
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, layout.ErrCorrupt},
		{"short header", good[:10], layout.ErrCorrupt},
		{"bad magic", mut(func(b []byte) []byte { b[0] ^= 1; return b }), layout.ErrCorrupt},
		{"version 2", mut(func(b []byte) []byte { b[4] = 2; return b }), layout.ErrVersion},
		{"unknown flag", mut(func(b []byte) []byte { b[6] |= 0x80; return b }), layout.ErrCorrupt},
		{"no components", mut(func(b []byte) []byte { b[14], b[15] = 0, 0; return b[:16] }), layout.ErrCorrupt},
		{"truncated", good[:len(good)-1], layout.ErrCorrupt},
		{"trailing", append(append([]byte(nil), good...), 0), layout.ErrCorrupt},
		{"huge component count", mut(func(b []byte) []byte { b[14], b[15] = 0xff, 0xff; return b }), layout.ErrCorrupt},
		{"extent gap", gapBytes, layout.ErrExtent},
	}
	for _, tt := range tests {
		if _, err := layout.Decode(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	long := plainFile(MiB, 1)
	long.Components[0].Stripe.Pool = "a-pool-name-too-long"
	tests := []struct {
		name string
		l    *layout.Layout
		want error
	}{
		{"no components", &layout.Layout{}, layout.ErrEmpty},
		{"long pool", long, layout.ErrTooBig},
	}
	for _, tt := range tests {
		if _, err := layout.Encode(tt.l); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes to
// the same bytes and decodes to an equal layout.
func FuzzDecode(f *testing.F) {
	for _, l := range samples() {
		b, err := layout.Encode(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("SLYT"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := layout.Decode(b)
		if err != nil {
			return
		}
		enc, err := layout.Encode(l)
		if err != nil {
			t.Fatalf("decoded layout does not encode: %v", err)
		}
		if string(enc) != string(b) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", b, enc)
		}
		again, err := layout.Decode(enc)
		if err != nil || !again.Equal(l) {
			t.Fatalf("decode(encode(x)) != x: %v", err)
		}
		// The stripe math must not panic on a decoded layout either.
		for _, m := range l.Mirrors() {
			_, _ = l.Split(m, 0, 16*MiB)
		}
		_ = l.Validate()
	})
}
