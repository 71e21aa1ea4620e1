package socklnd

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/stria-fs/stria/lnet"
)

// Wire constants. Everything is little-endian.
const (
	// FrameMagic starts every frame on an established connection.
	FrameMagic uint32 = 0x53a1f4a3
	// HelloMagic starts the hello each side sends when a connection opens.
	HelloMagic uint32 = 0x53a1e110
	// ProtoVersion is the only protocol version this build speaks.
	ProtoVersion uint16 = 1

	// FrameHeaderSize is the encoded size of a frameHeader.
	FrameHeaderSize = 16
	// HelloSize is the encoded size of a hello.
	HelloSize = 72
	// MaxPayload bounds the payload of one message (and so a frame's length):
	// 64 MiB, four times Lustre's largest bulk RPC.
	MaxPayload = 64 << 20
)

// frameType says what a frame carries.
type frameType uint8

const (
	frameLNet frameType = 1 // an LNet header followed by its payload
	frameNoop frameType = 2 // nothing; length 0 (keepalive, ignored)
)

// Frame flags.
const (
	flagChecksum uint8 = 1 << 0 // cksum holds crc32c of the LNet header
	frameFlags         = flagChecksum
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// headerChecksum is the checksum of an encoded LNet header.
func headerChecksum(b []byte) uint32 { return crc32.Checksum(b[:lnet.HeaderSize], castagnoli) }

// frameHeader precedes every message on an established connection:
//
//	0  magic   u32  FrameMagic
//	4  version u16  ProtoVersion
//	6  type    u8   frameLNet | frameNoop
//	7  flags   u8   flagChecksum
//	8  length  u32  bytes after the frame header: lnet.HeaderSize + payload for LNET, 0 for NOOP
//	12 cksum   u32  crc32c of the LNet header when flagChecksum is set, else 0
type frameHeader struct {
	Type   frameType
	Flags  uint8
	Length uint32
	Cksum  uint32
}

func (f *frameHeader) encode(b []byte) {
	_ = b[FrameHeaderSize-1]
	le := binary.LittleEndian
	le.PutUint32(b[0:], FrameMagic)
	le.PutUint16(b[4:], ProtoVersion)
	b[6] = byte(f.Type)
	b[7] = f.Flags
	le.PutUint32(b[8:], f.Length)
	le.PutUint32(b[12:], f.Cksum)
}

// decode parses and checks a frame header: magic, version, type, flags and
// a length that fits the type and MaxPayload.
func (f *frameHeader) decode(b []byte) error {
	if len(b) < FrameHeaderSize {
		return fmt.Errorf("%w: frame header needs %d bytes, have %d", ErrBadLength, FrameHeaderSize, len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != FrameMagic {
		return fmt.Errorf("%w: frame magic %#08x", ErrBadMagic, m)
	}
	if v := le.Uint16(b[4:]); v != ProtoVersion {
		return fmt.Errorf("%w: frame version %d", ErrBadVersion, v)
	}
	f.Type = frameType(b[6])
	f.Flags = b[7]
	f.Length = le.Uint32(b[8:])
	f.Cksum = le.Uint32(b[12:])
	if f.Flags&^frameFlags != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrBadFrame, f.Flags)
	}
	switch f.Type {
	case frameLNet:
		if f.Length < lnet.HeaderSize || f.Length-lnet.HeaderSize > MaxPayload {
			return fmt.Errorf("%w: LNET frame of %d bytes", ErrBadLength, f.Length)
		}
	case frameNoop:
		if f.Length != 0 || f.Flags != 0 {
			return fmt.Errorf("%w: NOOP frame of %d bytes, flags %#x", ErrBadLength, f.Length, f.Flags)
		}
	default:
		return fmt.Errorf("%w: frame type %d", ErrBadFrame, f.Type)
	}
	return nil
}

// connType is a connection's role from one side's point of view, as
// ksocklnd's typed connections.
type connType uint8

const (
	connControl connType = 1 // small messages, both directions
	connBulkIn  connType = 2 // bulk from the peer to us
	connBulkOut connType = 3 // bulk from us to the peer
)

// flip returns the type the other end of a connection sees.
func (t connType) flip() connType {
	switch t {
	case connBulkIn:
		return connBulkOut
	case connBulkOut:
		return connBulkIn
	}
	return t
}

func (t connType) String() string {
	switch t {
	case connControl:
		return "CONTROL"
	case connBulkIn:
		return "BULK_IN"
	case connBulkOut:
		return "BULK_OUT"
	}
	return fmt.Sprintf("connType(%d)", uint8(t))
}

// Hello flags.
const (
	helloRace  uint8 = 1 << 0 // reply only: the connection lost a connect race and is closed
	helloFlags       = helloRace
)

// hello is what each side sends when a connection opens; the initiator
// first, the acceptor in reply:
//
//	0  magic   u32  HelloMagic
//	4  version u16  ProtoVersion
//	6  type    u8   connection type from the sender's point of view
//	7  flags   u8   helloRace
//	8  src     NID (20 bytes)
//	28 dst     NID (20 bytes)
//	48 srcPID  u32
//	52 dstPID  u32
//	56 srcInc  u64  the sender's incarnation stamp
//	64 dstInc  u64  the incarnation the sender last saw of the receiver (0: none)
type hello struct {
	Type   connType
	Flags  uint8
	Src    lnet.NID
	Dst    lnet.NID
	SrcPID uint32
	DstPID uint32
	SrcInc uint64
	DstInc uint64
}

func (h *hello) encode(b []byte) {
	_ = b[HelloSize-1]
	le := binary.LittleEndian
	le.PutUint32(b[0:], HelloMagic)
	le.PutUint16(b[4:], ProtoVersion)
	b[6] = byte(h.Type)
	b[7] = h.Flags
	// AppendNID writes in place: each slice has room for exactly one NID.
	lnet.AppendNID(b[8:8:28], h.Src)
	lnet.AppendNID(b[28:28:48], h.Dst)
	le.PutUint32(b[48:], h.SrcPID)
	le.PutUint32(b[52:], h.DstPID)
	le.PutUint64(b[56:], h.SrcInc)
	le.PutUint64(b[64:], h.DstInc)
}

// decode parses and checks a hello: magic, version, type, flags, non-zero
// NIDs on one network and a non-zero source incarnation.
func (h *hello) decode(b []byte) error {
	if len(b) < HelloSize {
		return fmt.Errorf("%w: hello needs %d bytes, have %d", ErrBadLength, HelloSize, len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != HelloMagic {
		return fmt.Errorf("%w: hello magic %#08x", ErrBadMagic, m)
	}
	if v := le.Uint16(b[4:]); v != ProtoVersion {
		return fmt.Errorf("%w: hello version %d", ErrBadVersion, v)
	}
	h.Type = connType(b[6])
	h.Flags = b[7]
	var err error
	if h.Src, err = lnet.DecodeNID(b[8:28]); err != nil {
		return fmt.Errorf("%w: %w", ErrBadHello, err)
	}
	if h.Dst, err = lnet.DecodeNID(b[28:48]); err != nil {
		return fmt.Errorf("%w: %w", ErrBadHello, err)
	}
	h.SrcPID = le.Uint32(b[48:])
	h.DstPID = le.Uint32(b[52:])
	h.SrcInc = le.Uint64(b[56:])
	h.DstInc = le.Uint64(b[64:])
	switch {
	case h.Type < connControl || h.Type > connBulkOut:
		return fmt.Errorf("%w: connection type %d", ErrBadHello, h.Type)
	case h.Flags&^helloFlags != 0:
		return fmt.Errorf("%w: unknown flags %#x", ErrBadHello, h.Flags)
	case h.Src.IsZero() || h.Dst.IsZero() || !h.Src.Addr.IsValid() || !h.Dst.Addr.IsValid():
		return fmt.Errorf("%w: missing NID", ErrBadHello)
	case h.Src.Net != h.Dst.Net || h.Src.Net.Type != lnet.SockLND:
		return fmt.Errorf("%w: NIDs %v -> %v not on one tcp network", ErrBadHello, h.Src, h.Dst)
	case h.Src == h.Dst:
		return fmt.Errorf("%w: hello from %v to itself", ErrBadHello, h.Src)
	case h.SrcInc == 0:
		return fmt.Errorf("%w: zero incarnation", ErrBadHello)
	}
	return nil
}
