package o2iblnd

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

var (
	testSrc = lnet.MustParseNID("10.1.2.3@o2ib")
	testDst = lnet.MustParseNID("10.1.2.4@o2ib")
)

func testHead(typ msgType, nob int) msgHead {
	s, _ := nidToWire(testSrc)
	d, _ := nidToWire(testDst)
	return msgHead{Type: typ, Credits: 3, Nob: uint32(nob), SrcNID: s, SrcStamp: 11, DstNID: d, DstStamp: 22}
}

// encodeTest builds one message of each type, as the send path does.
func encodeTest(typ msgType, checksum bool) []byte {
	b := make([]byte, DefaultMaxMsgSize)
	le := binary.LittleEndian
	hdr := lnet.Header{Dest: testDst, Src: testSrc, Type: lnet.MsgPut, MatchBits: 9, PayloadLen: 5}
	var nob int
	switch typ {
	case msgConnReq, msgConnAck:
		connParams{QueueDepth: 8, MaxFrags: 256, MaxMsgSize: 4096}.put(b[msgHdrSize:])
		nob = connMsgSize
	case msgNoop:
		nob = msgHdrSize
	case msgImmediate:
		hdr.Encode(b[msgHdrSize:])
		nob = immHdrSize + copy(b[immHdrSize:], "hello")
	case msgPutReq:
		hdr.PayloadLen = 1 << 20
		hdr.Encode(b[msgHdrSize:])
		le.PutUint64(b[immHdrSize:], 77)
		nob = putReqSize
	case msgGetReq:
		hdr.Type, hdr.PayloadLen, hdr.Length = lnet.MsgGet, 0, 1<<20
		hdr.Encode(b[msgHdrSize:])
		le.PutUint64(b[immHdrSize:], 78)
		nob = immHdrSize + 8 + putRD1(b[immHdrSize+8:], 0xabc, 1<<20, 0x7f0000001000)
	case msgPutAck:
		le.PutUint64(b[msgHdrSize:], 77)
		le.PutUint64(b[msgHdrSize+8:], 99)
		nob = msgHdrSize + 16 + putRD(b[msgHdrSize+16:], 0xdef, []rdFrag{{Nob: 4096, Addr: 0x1000}, {Nob: 100, Addr: 0x9000}})
	case msgPutNak, msgPutDone, msgGetDone:
		le.PutUint64(b[msgHdrSize:], 77)
		st := int32(statusENODAT)
		le.PutUint32(b[msgHdrSize+8:], uint32(st))
		nob = completionSize
	}
	putHead(b, testHead(typ, nob))
	seal(b, nob, checksum)
	return b[:nob]
}

var allTypes = []msgType{msgConnReq, msgConnAck, msgNoop, msgImmediate, msgPutReq, msgPutNak, msgPutAck, msgPutDone, msgGetReq, msgGetDone}

func TestMsgRoundTrip(t *testing.T) {
	for _, ck := range []bool{false, true} {
		for _, typ := range allTypes {
			b := encodeTest(typ, ck)
			var m msg
			if err := decodeMsg(b, &m, 256); err != nil {
				t.Fatalf("%v (checksum %v): %v", typ, ck, err)
			}
			if m.msgHead != testHead(typ, len(b)) {
				t.Errorf("%v: head %+v", typ, m.msgHead)
			}
			switch typ {
			case msgConnReq:
				if m.CP != (connParams{8, 256, 4096}) {
					t.Errorf("params %+v", m.CP)
				}
			case msgImmediate:
				if string(m.Payload) != "hello" || m.Hdr.MatchBits != 9 {
					t.Errorf("immediate %+v %q", m.Hdr, m.Payload)
				}
			case msgGetReq:
				if m.Cookie != 78 || m.RDKey != 0xabc || len(m.Frags) != 1 || m.Frags[0] != (rdFrag{1 << 20, 0x7f0000001000}) {
					t.Errorf("GET_REQ %+v", m)
				}
			case msgPutAck:
				if m.Cookie != 77 || m.DstCookie != 99 || len(m.Frags) != 2 || m.Frags[1] != (rdFrag{100, 0x9000}) {
					t.Errorf("PUT_ACK %+v", m)
				}
			case msgGetDone:
				if m.Cookie != 77 || m.Status != statusENODAT {
					t.Errorf("GET_DONE %+v", m)
				}
			}
		}
	}
	if nidFromWire(testHead(msgNoop, 0).SrcNID) != testSrc {
		t.Errorf("NID round trip")
	}
	if _, err := nidToWire(lnet.MustParseNID("fe80::1@o2ib")); !errors.Is(err, lnet.ErrBadNID) {
		t.Errorf("IPv6 NID: %v", err)
	}
}

func TestMsgErrors(t *testing.T) {
	good := func() []byte { return encodeTest(msgPutAck, false) }
	cases := []struct {
		name string
		mut  func(b []byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:20] }, ErrBadMsg},
		{"magic", func(b []byte) []byte { b[0] ^= 1; return b }, ErrBadMagic},
		{"swapped magic", func(b []byte) []byte { binary.BigEndian.PutUint32(b, ibMagic); return b }, ErrBadMagic},
		{"version", func(b []byte) []byte { b[4] = 0x11; return b }, ErrBadVersion},
		{"nob beyond data", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], uint32(len(b)+1)); return b }, ErrBadMsg},
		{"nob below header", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 10); return b }, ErrBadMsg},
		{"checksum", func(b []byte) []byte { seal(b, len(b), true); b[50] ^= 1; return b }, ErrChecksum},
		{"unknown type", func(b []byte) []byte { b[6] = 0xee; return b }, ErrBadMsg},
		{"too many frags", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[msgHdrSize+20:], 300); return b }, ErrBadMsg},
		{"zero frags", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[msgHdrSize+20:], 0); return b }, ErrBadMsg},
		{"frags beyond nob", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[msgHdrSize+20:], 3); return b }, ErrBadMsg},
	}
	for _, c := range cases {
		var m msg
		if err := decodeMsg(c.mut(good()), &m, 256); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The body's own checks.
	b := encodeTest(msgImmediate, false)
	binary.LittleEndian.PutUint32(b[msgHdrSize+52:], 6) // PayloadLen 6, 5 bytes follow
	var m msg
	if err := decodeMsg(b, &m, 256); !errors.Is(err, ErrBadMsg) {
		t.Errorf("payload length mismatch: %v", err)
	}
	b = encodeTest(msgGetReq, false)
	b[msgHdrSize+48] = byte(lnet.MsgPut)
	if err := decodeMsg(b, &m, 256); !errors.Is(err, ErrBadMsg) {
		t.Errorf("GET_REQ for a PUT: %v", err)
	}
	b = encodeTest(msgNoop, false)
	b[6] = byte(msgPutDone) // a completion needs its body
	if err := decodeMsg(b, &m, 256); !errors.Is(err, ErrBadMsg) {
		t.Errorf("short completion: %v", err)
	}
}

func TestRejection(t *testing.T) {
	r := rejection{Magic: ibMagic, Version: ibVersion, Why: rejectConnStale, Incarnation: 1234, CP: connParams{4, 16, 2048}}
	got, err := decodeRejection(r.encode())
	if err != nil || got != r {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := decodeRejection(r.encode()[:10]); !errors.Is(err, ErrBadMsg) {
		t.Errorf("short reject: %v", err)
	}
	r.Magic = 1
	if _, err := decodeRejection(r.encode()); !errors.Is(err, ErrBadMagic) {
		t.Errorf("bad magic: %v", err)
	}
}

func FuzzDecodeMsg(f *testing.F) {
	for _, typ := range allTypes {
		f.Add(encodeTest(typ, false))
		f.Add(encodeTest(typ, true))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m msg
		if err := decodeMsg(b, &m, 256); err != nil {
			return
		}
		if int(m.Nob) > len(b) || m.Nob < msgHdrSize || len(m.Frags) > 256 {
			t.Fatalf("accepted %+v from %d bytes", m.msgHead, len(b))
		}
		if m.Type == msgImmediate && len(m.Payload) != int(m.Hdr.PayloadLen) {
			t.Fatalf("payload %d, header %d", len(m.Payload), m.Hdr.PayloadLen)
		}
	})
}

func FuzzDecodeRejection(f *testing.F) {
	f.Add(rejection{Magic: ibMagic, Version: ibVersion, Why: rejectConnRace, Incarnation: 5, CP: connParams{8, 256, 4096}}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRejection(b)
		if err == nil && (len(b) < rejectSize || r.Magic != ibMagic) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
