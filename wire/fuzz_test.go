package wire

import (
	"bytes"
	"testing"
)

// The fuzz targets check that no input makes a decoder panic, and that
// whatever decodes re-encodes to the same bytes.

func FuzzMsgDecode(f *testing.F) {
	m := sampleMsg()
	f.Add(m.Append(nil, []byte("body")))
	f.Add(m.Append(nil, nil))
	f.Add([]byte{})
	f.Add(make([]byte, MsgSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Msg
		body, err := m.Decode(b)
		if err != nil {
			return
		}
		again := m.Append(nil, body)
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encode differs")
		}
	})
}

func FuzzDecoder(f *testing.F) {
	var e Encoder
	e.U32(3)
	e.String("abc")
	e.FID(RootFID)
	f.Add(e.Bytes(), uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, ops uint8) {
		d := NewDecoder(b)
		for i := 0; i < 16; i++ {
			switch (int(ops) + i) % 9 {
			case 0:
				d.U8()
			case 1:
				d.U16()
			case 2:
				d.U32()
			case 3:
				d.U64()
			case 4:
				d.String(64)
			case 5:
				d.Bytes32(-1)
			case 6:
				d.FID()
			case 7:
				d.Count(8)
			case 8:
				d.Bool()
			}
		}
		if d.Remaining() < 0 || d.Remaining() > len(b) {
			t.Fatalf("remaining %d of %d", d.Remaining(), len(b))
		}
		_ = d.Finish()
	})
}

func fuzzBody[T any, P interface {
	*T
	Body
}](f *testing.F, seeds ...P) {
	for _, s := range seeds {
		f.Add(AppendBody(nil, s))
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v T
		if err := DecodeBody(b, P(&v)); err != nil {
			return
		}
		if again := AppendBody(nil, P(&v)); !bytes.Equal(again, b) {
			t.Fatalf("re-encode differs: %x vs %x", again, b)
		}
	})
}

func FuzzConnectRequest(f *testing.F) {
	fuzzBody(f, &ConnectRequest{Target: "lustre-MDT0000", ClientUUID: "u", Flags: ConnectFID, Handle: 1})
}

func FuzzConnectReply(f *testing.F) {
	fuzzBody(f, &ConnectReply{Handle: 1, ConnCnt: 2, Incarnation: 3, LastCommitted: 4, TargetUUID: "t"})
}

func FuzzPingRequest(f *testing.F) { fuzzBody(f, &PingRequest{}) }

func FuzzDecodeFID(f *testing.F) {
	f.Add(RootFID.Append(nil))
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		fid, err := DecodeFID(b)
		if err != nil {
			return
		}
		if !bytes.Equal(fid.Append(nil), b[:FIDSize]) {
			t.Fatal("re-encode differs")
		}
		k := fid.KeyBytes()
		if g, err := FIDFromKey(k[:]); err != nil || g != fid {
			t.Fatal("key round trip")
		}
	})
}

func FuzzParseFID(f *testing.F) {
	f.Add("[0x200000401:0x1:0x0]")
	f.Add("1:2:3")
	f.Add("[::]")
	f.Fuzz(func(t *testing.T, s string) {
		fid, err := ParseFID(s)
		if err != nil {
			return
		}
		if g, err := ParseFID(fid.String()); err != nil || g != fid {
			t.Fatalf("%q -> %v -> %v %v", s, fid, g, err)
		}
	})
}
