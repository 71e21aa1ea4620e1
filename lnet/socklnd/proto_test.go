package socklnd

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

func TestFrameHeaderRoundTrip(t *testing.T) {
	for _, f := range []frameHeader{
		{Type: frameLNet, Length: lnet.HeaderSize},
		{Type: frameLNet, Length: lnet.HeaderSize + MaxPayload, Flags: flagChecksum, Cksum: 0xdeadbeef},
		{Type: frameNoop},
	} {
		var b [FrameHeaderSize]byte
		f.encode(b[:])
		var g frameHeader
		if err := g.decode(b[:]); err != nil {
			t.Fatalf("decode(%+v): %v", f, err)
		}
		if g != f {
			t.Fatalf("round trip: got %+v, want %+v", g, f)
		}
	}
}

func TestFrameHeaderRejects(t *testing.T) {
	good := frameHeader{Type: frameLNet, Length: lnet.HeaderSize + 10}
	le := binary.LittleEndian
	for _, tc := range []struct {
		name   string
		mutate func(b []byte)
		want   error
	}{
		{"short", nil, ErrBadLength},
		{"magic", func(b []byte) { b[0] ^= 1 }, ErrBadMagic},
		{"version", func(b []byte) { le.PutUint16(b[4:], ProtoVersion+1) }, ErrBadVersion},
		{"type", func(b []byte) { b[6] = 9 }, ErrBadFrame},
		{"flags", func(b []byte) { b[7] = 0x80 }, ErrBadFrame},
		{"length below header", func(b []byte) { le.PutUint32(b[8:], lnet.HeaderSize-1) }, ErrBadLength},
		{"length above max", func(b []byte) { le.PutUint32(b[8:], lnet.HeaderSize+MaxPayload+1) }, ErrBadLength},
		{"noop with length", func(b []byte) { b[6] = byte(frameNoop) }, ErrBadLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, FrameHeaderSize)
			good.encode(b)
			if tc.mutate == nil {
				b = b[:FrameHeaderSize-1]
			} else {
				tc.mutate(b)
			}
			var f frameHeader
			if err := f.decode(b); !errors.Is(err, tc.want) {
				t.Fatalf("decode: %v, want %v", err, tc.want)
			}
		})
	}
}

func testHello() hello {
	return hello{
		Type:   connBulkOut,
		Src:    lnet.MustParseNID("192.168.1.2@tcp1"),
		Dst:    lnet.MustParseNID("192.168.1.3@tcp1"),
		SrcPID: lnet.PIDLustre,
		DstPID: lnet.PIDLustre,
		SrcInc: 0x1122334455667788,
		DstInc: 7,
	}
}

func TestHelloRoundTrip(t *testing.T) {
	for _, h := range []hello{
		testHello(),
		{Type: connControl, Flags: helloRace, Src: lnet.MustParseNID("fe80::1@tcp"), Dst: lnet.MustParseNID("10.0.0.1@tcp"), SrcInc: 1},
	} {
		var b [HelloSize]byte
		h.encode(b[:])
		var g hello
		if err := g.decode(b[:]); err != nil {
			t.Fatalf("decode(%+v): %v", h, err)
		}
		if g != h {
			t.Fatalf("round trip: got %+v, want %+v", g, h)
		}
	}
}

func TestHelloRejects(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		name   string
		mutate func(h *hello, b []byte)
		want   error
	}{
		{"short", nil, ErrBadLength},
		{"magic", func(_ *hello, b []byte) { le.PutUint32(b, FrameMagic) }, ErrBadMagic},
		{"version", func(_ *hello, b []byte) { le.PutUint16(b[4:], 0) }, ErrBadVersion},
		{"type any", func(h *hello, _ []byte) { h.Type = 0 }, ErrBadHello},
		{"type 4", func(h *hello, _ []byte) { h.Type = 4 }, ErrBadHello},
		{"flags", func(h *hello, _ []byte) { h.Flags = 0x10 }, ErrBadHello},
		{"no src", func(h *hello, _ []byte) { h.Src = lnet.NID{} }, ErrBadHello},
		{"no dst", func(h *hello, _ []byte) { h.Dst = lnet.NID{} }, ErrBadHello},
		{"other net", func(h *hello, _ []byte) { h.Dst = lnet.MustParseNID("192.168.1.3@tcp") }, ErrBadHello},
		{"not tcp", func(h *hello, _ []byte) {
			h.Src, h.Dst = lnet.MustParseNID("1.2.3.4@o2ib"), lnet.MustParseNID("1.2.3.5@o2ib")
		}, ErrBadHello},
		{"to itself", func(h *hello, _ []byte) { h.Dst = h.Src }, ErrBadHello},
		{"zero incarnation", func(h *hello, _ []byte) { h.SrcInc = 0 }, ErrBadHello},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := testHello()
			b := make([]byte, HelloSize)
			switch tc.mutate {
			case nil:
				h.encode(b)
				b = b[:HelloSize-1]
			default:
				// Field mutations act on h before encoding, byte mutations on b after.
				tc.mutate(&h, make([]byte, HelloSize))
				h.encode(b)
				tc.mutate(&hello{}, b)
			}
			var g hello
			if err := g.decode(b); !errors.Is(err, tc.want) {
				t.Fatalf("decode: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestConnTypeFlip(t *testing.T) {
	for _, tc := range [][2]connType{{connControl, connControl}, {connBulkIn, connBulkOut}, {connBulkOut, connBulkIn}} {
		if got := tc[0].flip(); got != tc[1] {
			t.Errorf("%v.flip() = %v, want %v", tc[0], got, tc[1])
		}
	}
}

// FuzzFrameHeader checks that decoding arbitrary bytes never panics and that
// whatever decodes re-encodes to the same bytes.
func FuzzFrameHeader(f *testing.F) {
	for _, fh := range []frameHeader{
		{Type: frameLNet, Length: lnet.HeaderSize},
		{Type: frameLNet, Length: lnet.HeaderSize + 4096, Flags: flagChecksum, Cksum: 42},
		{Type: frameNoop},
	} {
		b := make([]byte, FrameHeaderSize)
		fh.encode(b)
		f.Add(b)
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fh frameHeader
		if fh.decode(b) != nil {
			return
		}
		out := make([]byte, FrameHeaderSize)
		fh.encode(out)
		if string(out) != string(b[:FrameHeaderSize]) {
			t.Fatalf("re-encode: %x, want %x", out, b[:FrameHeaderSize])
		}
		if fh.Type == frameLNet && fh.Length-lnet.HeaderSize > MaxPayload {
			t.Fatalf("accepted length %d", fh.Length)
		}
	})
}

// FuzzHello checks that decoding arbitrary bytes never panics and that a
// decoded hello re-encodes to bytes that decode to the same hello.
func FuzzHello(f *testing.F) {
	h := testHello()
	b := make([]byte, HelloSize)
	h.encode(b)
	f.Add(b)
	h.Flags, h.Type = helloRace, connControl
	b = make([]byte, HelloSize)
	h.encode(b)
	f.Add(b)
	f.Add(make([]byte, HelloSize))
	f.Add([]byte{0x10, 0xe1, 0xa1, 0x53})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h hello
		if h.decode(b) != nil {
			return
		}
		out := make([]byte, HelloSize)
		h.encode(out)
		var g hello
		if err := g.decode(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if g != h {
			t.Fatalf("re-decode: %+v, want %+v", g, h)
		}
	})
}
