package lnet_test

import (
	"errors"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

func FuzzHeaderDecode(f *testing.F) {
	seed := lnet.Header{
		Dest: lnet.MustParseNID("192.168.1.2@tcp"), Src: lnet.MustParseNID("fe80::1@o2ib3"),
		DestPID: lnet.PIDLustre, SrcPID: 7, Type: lnet.MsgPut, PayloadLen: 4096,
		WMD: lnet.WireHandle{Interface: 1, Object: 2}, MatchBits: 3, HdrData: 4, Portal: 5, Offset: 6, Length: 7,
	}
	b := make([]byte, lnet.HeaderSize)
	seed.Encode(b)
	f.Add(b)
	seed.Type, seed.PayloadLen, seed.Dest = lnet.MsgGet, 0, lnet.LoNID(3)
	seed.Encode(b)
	f.Add(append([]byte(nil), b...))
	f.Add(make([]byte, lnet.HeaderSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		var h lnet.Header
		if err := h.Decode(in); err != nil {
			if !errors.Is(err, lnet.ErrBadHeader) {
				t.Fatalf("error %v does not wrap ErrBadHeader", err)
			}
			return
		}
		out := make([]byte, lnet.HeaderSize)
		h.Encode(out)
		var h2 lnet.Header
		if err := h2.Decode(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if h2 != h {
			t.Fatalf("round trip\n got %+v\nwant %+v", h2, h)
		}
	})
}

func FuzzDecodePingInfo(f *testing.F) {
	f.Add(pingInfo(7, lnet.MustParseNID("10.0.0.1@tcp"), lnet.LoNID(4)))
	f.Add(pingInfo(lnet.PIDLustre))
	f.Add([]byte("ping"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ids, err := lnet.DecodePingInfo(in)
		if err != nil {
			if !errors.Is(err, lnet.ErrBadPingInfo) {
				t.Fatalf("error %v does not wrap ErrBadPingInfo", err)
			}
			return
		}
		var nids []lnet.NID
		for _, id := range ids {
			if id.NID.IsZero() {
				t.Fatal("zero NID accepted")
			}
			nids = append(nids, id.NID)
		}
		pid := uint32(0)
		if len(ids) > 0 {
			pid = ids[0].PID
		}
		again, err := lnet.DecodePingInfo(pingInfo(pid, nids...))
		if err != nil || len(again) != len(ids) {
			t.Fatalf("re-decode: %v %v", again, err)
		}
		for i := range ids {
			if again[i] != ids[i] {
				t.Fatalf("NID %d: %v, want %v", i, again[i], ids[i])
			}
		}
	})
}

// pingInfo builds a ping reply as an instance serves it (see ping.go).
func pingInfo(pid uint32, nids ...lnet.NID) []byte {
	b := []byte{0x67, 0x6e, 0x69, 0x70, 1, 0, 0, 0}
	b = append(b, byte(pid), byte(pid>>8), byte(pid>>16), byte(pid>>24))
	n := len(nids)
	b = append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	for _, nid := range nids {
		b = lnet.AppendNID(b, nid)
	}
	return b
}
