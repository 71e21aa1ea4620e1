package lnet

import (
	"encoding/binary"
	"fmt"
)

// MsgType is one of LNet's four message types (Lustre's values).
type MsgType uint8

// The LNet message types. HELLO is used only inside LNDs and never reaches LNet.
const (
	MsgAck   MsgType = 0 // acknowledges a PUT that asked for one
	MsgPut   MsgType = 1 // data from the initiator into a matched MD at the target
	MsgGet   MsgType = 2 // asks the target to send data from a matched MD back
	MsgReply MsgType = 3 // the data for a GET
)

func (t MsgType) String() string {
	switch t {
	case MsgAck:
		return "ACK"
	case MsgPut:
		return "PUT"
	case MsgGet:
		return "GET"
	case MsgReply:
		return "REPLY"
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// WireHandle names an MD on the node that created it, so that a REPLY or ACK
// finds its MD without matching. Cookie 0 means "none" (no ACK wanted).
type WireHandle struct {
	Interface uint64 // the incarnation of the LNet instance that made the handle
	Object    uint64 // the MD's cookie within that instance
}

// IsNone reports whether the handle names no MD.
func (h WireHandle) IsNone() bool { return h.Object == 0 }

// Header is the fixed-size LNet header that every LND carries in front of a
// payload. Which fields matter depends on Type:
//
//	PUT:   WMD (ack handle), MatchBits, HdrData, Portal, Offset
//	GET:   WMD (return handle), MatchBits, Portal, Offset (source offset), Length (sink length)
//	ACK:   WMD (the PUT's MD at the initiator), MatchBits, Length (bytes the target took)
//	REPLY: WMD (the GET's MD at the initiator)
type Header struct {
	Dest       NID
	Src        NID
	DestPID    uint32
	SrcPID     uint32
	Type       MsgType
	PayloadLen uint32 // bytes of payload that follow the header (PUT, REPLY)
	WMD        WireHandle
	MatchBits  uint64
	HdrData    uint64
	Portal     uint32
	Offset     uint32
	Length     uint32
}

// HeaderSize is the encoded size of a Header.
const HeaderSize = 2*nidWireSize + 4 + 4 + 4 + 4 + 16 + 8 + 8 + 4 + 4 + 4 + 4 // 104: the last 4 are padding

// MaxPortal bounds Portal: LNet has 64 portals.
const MaxPortal = 64

// Encode writes h into b, which must hold HeaderSize bytes, little-endian in
// a fixed field order.
func (h *Header) Encode(b []byte) {
	_ = b[HeaderSize-1]
	putNID(b[0:], h.Dest)
	putNID(b[20:], h.Src)
	le := binary.LittleEndian
	le.PutUint32(b[40:], h.DestPID)
	le.PutUint32(b[44:], h.SrcPID)
	b[48], b[49], b[50], b[51] = byte(h.Type), 0, 0, 0
	le.PutUint32(b[52:], h.PayloadLen)
	le.PutUint64(b[56:], h.WMD.Interface)
	le.PutUint64(b[64:], h.WMD.Object)
	le.PutUint64(b[72:], h.MatchBits)
	le.PutUint64(b[80:], h.HdrData)
	le.PutUint32(b[88:], h.Portal)
	le.PutUint32(b[92:], h.Offset)
	le.PutUint32(b[96:], h.Length)
	le.PutUint32(b[100:], 0)
}

// Decode parses a header from b and checks what can be checked without
// context: the length of b, the message type, the portal and the padding.
func (h *Header) Decode(b []byte) error {
	if len(b) < HeaderSize {
		return fmt.Errorf("%w: header needs %d bytes, have %d", ErrBadHeader, HeaderSize, len(b))
	}
	le := binary.LittleEndian
	h.Dest = getNID(b[0:])
	h.Src = getNID(b[20:])
	h.DestPID = le.Uint32(b[40:])
	h.SrcPID = le.Uint32(b[44:])
	h.Type = MsgType(b[48])
	if b[49]|b[50]|b[51] != 0 || le.Uint32(b[100:]) != 0 {
		return fmt.Errorf("%w: non-zero padding", ErrBadHeader)
	}
	h.PayloadLen = le.Uint32(b[52:])
	h.WMD.Interface = le.Uint64(b[56:])
	h.WMD.Object = le.Uint64(b[64:])
	h.MatchBits = le.Uint64(b[72:])
	h.HdrData = le.Uint64(b[80:])
	h.Portal = le.Uint32(b[88:])
	h.Offset = le.Uint32(b[92:])
	h.Length = le.Uint32(b[96:])
	if h.Type > MsgReply {
		return fmt.Errorf("%w: unknown message type %d", ErrBadHeader, h.Type)
	}
	if h.Portal >= MaxPortal {
		return fmt.Errorf("%w: portal %d out of range", ErrBadHeader, h.Portal)
	}
	if (h.Type == MsgAck || h.Type == MsgGet) && h.PayloadLen != 0 {
		return fmt.Errorf("%w: %v with %d bytes of payload", ErrBadHeader, h.Type, h.PayloadLen)
	}
	return nil
}
