package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func sampleMsg() Msg {
	return Msg{
		Type: MsgRequest, Opcode: OSTWrite, Status: 0, Flags: FlagResent, OpFlags: 7,
		Handle: 0x1122334455667788, XID: 42, Transno: 9, LastCommitted: 8, LastXID: 41,
		ConnCnt: 3, Timeout: 1500, ServiceTime: 12, BulkLen: 1 << 20, MatchBits: 42,
		UID: 1000, GID: 100, FSUID: 1001, FSGID: 101, JobID: MakeJobID("dd.1000"),
	}
}

func TestMsgRoundTrip(t *testing.T) {
	m := sampleMsg()
	body := []byte("hello body")
	b := m.Append(nil, body)
	if len(b) != MsgSize+len(body) {
		t.Fatalf("len %d", len(b))
	}
	var got Msg
	gb, err := got.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != m {
		t.Fatalf("got %+v\nwant %+v", got, m)
	}
	if !bytes.Equal(gb, body) {
		t.Fatalf("body %q", gb)
	}
	if got.JobID.String() != "dd.1000" {
		t.Fatalf("jobid %q", got.JobID.String())
	}
}

// TestMsgLayout pins the documented offsets: changing them is a protocol change.
func TestMsgLayout(t *testing.T) {
	m := sampleMsg()
	b := m.Append(nil, nil)
	le := binary.LittleEndian
	checks := []struct {
		off  int
		size int
		want uint64
	}{
		{0, 4, uint64(MsgMagic)}, {4, 2, uint64(MsgVersion)}, {6, 2, 4711}, {8, 4, 4},
		{16, 4, 2}, {24, 8, m.Handle}, {32, 8, 42}, {40, 8, 9}, {48, 8, 8}, {56, 8, 41},
		{64, 4, 3}, {68, 4, 1500}, {76, 4, 1 << 20}, {80, 8, 42}, {88, 4, 1000}, {100, 4, 101},
		{136, 4, 0},
	}
	for _, c := range checks {
		var v uint64
		switch c.size {
		case 2:
			v = uint64(le.Uint16(b[c.off:]))
		case 4:
			v = uint64(le.Uint32(b[c.off:]))
		case 8:
			v = le.Uint64(b[c.off:])
		}
		if v != c.want {
			t.Errorf("offset %d: %#x, want %#x", c.off, v, c.want)
		}
	}
	if string(b[104:111]) != "dd.1000" {
		t.Errorf("jobid bytes %q", b[104:136])
	}
}

func TestMsgSeal(t *testing.T) {
	var e Encoder
	e.Reset(make([]byte, MsgSize, 256))
	e.U64(77)
	e.String("x")
	m := Msg{Type: MsgReply, Opcode: OBDPing, XID: 5}
	buf := e.Bytes()
	m.Seal(buf)
	var got Msg
	body, err := got.Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.BodyLen != 13 || len(body) != 13 || got.XID != 5 {
		t.Fatalf("got %+v body %d", got, len(body))
	}
}

func TestMsgDecodeRejects(t *testing.T) {
	good := func() []byte { m := sampleMsg(); return m.Append(nil, []byte("abc")) }
	cases := map[string]struct {
		mut  func([]byte) []byte
		want error
	}{
		"short":     {func(b []byte) []byte { return b[:MsgSize-1] }, ErrShort},
		"magic":     {func(b []byte) []byte { b[0] ^= 1; return b }, ErrBadMsg},
		"version":   {func(b []byte) []byte { b[4] = 9; return b }, ErrBadMsg},
		"type":      {func(b []byte) []byte { b[6] = 1; return b }, ErrBadMsg},
		"reserved":  {func(b []byte) []byte { b[141] = 1; return b }, ErrBadMsg},
		"body long": {func(b []byte) []byte { return b[:len(b)-1] }, ErrBadMsg},
		"trailing":  {func(b []byte) []byte { return append(b, 0) }, ErrBadMsg},
		"body huge": {func(b []byte) []byte { binary.LittleEndian.PutUint32(b[136:], 0xffffffff); return b }, ErrBadMsg},
	}
	for name, c := range cases {
		var m Msg
		if _, err := m.Decode(c.mut(good())); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
	// A cut body still yields a header for an error reply.
	var m Msg
	if err := m.DecodeHeader(good()[:MsgSize]); err != nil || m.BodyLen != 3 || m.XID != 42 {
		t.Fatalf("DecodeHeader: %v %+v", err, m)
	}
}

func TestMsgDecodeAllocs(t *testing.T) {
	m := sampleMsg()
	b := m.Append(nil, make([]byte, 64))
	var got Msg
	n := testing.AllocsPerRun(100, func() {
		if _, err := got.Decode(b); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("Decode allocates %v times", n)
	}
	buf := make([]byte, 0, 512)
	n = testing.AllocsPerRun(100, func() {
		var e Encoder
		e.Reset(buf[:MsgSize])
		e.U64(1)
		m.Seal(e.Bytes())
	})
	if n != 0 {
		t.Fatalf("encode allocates %v times", n)
	}
}

func TestJobID(t *testing.T) {
	long := "0123456789012345678901234567890123456789"
	j := MakeJobID(long)
	if s := j.String(); s != long[:JobIDSize-1] {
		t.Fatalf("truncated jobid %q", s)
	}
	if MakeJobID("").String() != "" {
		t.Fatal("empty jobid")
	}
	if MsgReply.String() != "REPLY" || MsgType(3).String() != "MsgType(3)" {
		t.Fatal("MsgType.String")
	}
}
