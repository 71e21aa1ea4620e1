package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestFID(t *testing.T) {
	f := FID{Seq: 0x200000401, Oid: 0x1, Ver: 0}
	if f.String() != "[0x200000401:0x1:0x0]" {
		t.Fatal(f.String())
	}
	for _, s := range []string{"[0x200000401:0x1:0x0]", "0x200000401:0x1:0x0", " [0x200000401:0x1:0x0] "} {
		g, err := ParseFID(s)
		if err != nil || g != f {
			t.Fatalf("%q: %v %v", s, g, err)
		}
	}
	for _, s := range []string{"", "[1:2]", "[x:1:0]", "[0x1:0x100000000:0]"} {
		if _, err := ParseFID(s); !errors.Is(err, ErrBadFID) {
			t.Errorf("%q accepted", s)
		}
	}
	g, err := DecodeFID(f.Append(nil))
	if err != nil || g != f {
		t.Fatal("wire round trip")
	}
	if _, err := DecodeFID(make([]byte, 15)); !errors.Is(err, ErrBadFID) {
		t.Fatal("short FID")
	}
	// Store keys sort in FID order.
	a, b := FID{Seq: 1, Oid: 0xffffffff}, FID{Seq: 2, Oid: 0}
	ka, kb := a.KeyBytes(), b.KeyBytes()
	if bytes.Compare(ka[:], kb[:]) >= 0 {
		t.Fatal("key order")
	}
	if g, err := FIDFromKey(ka[:]); err != nil || g != a {
		t.Fatal("key round trip")
	}
	if RootFID.Ino() == 0 || (FID{}).Ino() == 0 || !(FID{}).IsZero() {
		t.Fatal("Ino")
	}
	if IDIF(1, 5) != (FID{Seq: SeqIDIFBase | 1<<16, Oid: 5}) {
		t.Fatal("IDIF")
	}
}
