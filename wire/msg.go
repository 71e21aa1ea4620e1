package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// MsgMagic opens every envelope (Lustre's LUSTRE_MSG_MAGIC_V2).
const MsgMagic uint32 = 0x0BD00BD3

// MsgVersion is the envelope version this build speaks. A decoder rejects
// any other; a change of layout or of a body's field order bumps it.
const MsgVersion uint16 = 1

// MsgSize is the encoded size of the envelope; the body follows it.
const MsgSize = 144

// JobIDSize is the size of the job id field (Lustre's LUSTRE_JOBID_SIZE).
const JobIDSize = 32

// MsgType says whether a message is a request or a reply (Lustre's values).
type MsgType uint16

// The message types.
const (
	MsgRequest MsgType = 4711 // a request
	MsgErr     MsgType = 4712 // a reply to a request that was not processed (bad opcode, busy, malformed)
	MsgReply   MsgType = 4713 // a reply from a handler
)

func (t MsgType) String() string {
	switch t {
	case MsgRequest:
		return "REQUEST"
	case MsgErr:
		return "ERR"
	case MsgReply:
		return "REPLY"
	}
	return fmt.Sprintf("MsgType(%d)", uint16(t))
}

// MsgFlags are per-message flags (Lustre's MSG_* values where they exist).
type MsgFlags uint32

// Message flags.
const (
	FlagResent         MsgFlags = 0x0002 // request: sent before, no reply seen
	FlagReplay         MsgFlags = 0x0004 // request: had a reply, replayed after a server restart
	FlagReqReplayDone  MsgFlags = 0x0040 // request: the client's request replay is over
	FlagLockReplayDone MsgFlags = 0x0080 // request: the client's lock replay is over
	// FlagEarly marks an early reply: no result, only a new service
	// estimate (Timeout) that extends the client's deadline.
	FlagEarly MsgFlags = 0x1000
	// FlagReconstructed marks a reply answered from the export's saved
	// replies instead of by running the handler again.
	FlagReconstructed MsgFlags = 0x2000
)

// ConnectOpFlags travel in OpFlags of connect requests and replies (Lustre's
// MSG_CONNECT_* values).
const (
	ConnectRecovering uint32 = 0x01 // reply: the target is in recovery
	ConnectReconnect  uint32 = 0x02 // reply: the target already knew this client (export reused)
	ConnectReplayable uint32 = 0x04 // reply: the target keeps transnos and accepts replay
	ConnectInitial    uint32 = 0x20 // request: first connection attempt of this import
)

// JobID is the job identifier a request carries (e.g. "dd.1000" or a
// scheduler's job id), NUL-padded.
type JobID [JobIDSize]byte

// MakeJobID truncates s to JobIDSize-1 bytes (a NUL always ends it).
func MakeJobID(s string) JobID {
	var j JobID
	copy(j[:JobIDSize-1], s)
	return j
}

// String returns the job id up to its first NUL.
func (j JobID) String() string {
	if i := bytes.IndexByte(j[:], 0); i >= 0 {
		return string(j[:i])
	}
	return string(j[:])
}

// Msg is the envelope of every request and reply, after Lustre's
// lustre_msg_v2 + ptlrpc_body. Its wire form is MsgSize bytes, little-endian,
// in the field order below, followed by BodyLen bytes of body.
//
//	off  size  field
//	  0     4  magic (MsgMagic)
//	  4     2  version (MsgVersion)
//	  6     2  type
//	  8     4  opcode
//	 12     4  status (positive errno)
//	 16     4  flags
//	 20     4  op flags
//	 24     8  handle
//	 32     8  xid
//	 40     8  transno
//	 48     8  last committed
//	 56     8  last xid
//	 64     4  conn cnt
//	 68     4  timeout (ms)
//	 72     4  service time (ms)
//	 76     4  bulk length
//	 80     8  bulk match bits
//	 88    16  uid, gid, fsuid, fsgid
//	104    32  job id
//	136     4  body length
//	140     4  reserved, zero
type Msg struct {
	Type    MsgType
	Opcode  Opcode
	Status  Errno // reply: the result, 0 for success
	Flags   MsgFlags
	OpFlags uint32 // opcode-specific flags (ConnectRecovering ...)
	// Handle is the export cookie the server returned at connect; every
	// later request carries it.
	Handle uint64
	// XID names the request within its import; the reply carries it back.
	XID uint64
	// Transno is the server-assigned transaction number of a modifying
	// request (reply), or the one being replayed (request with FlagReplay).
	Transno uint64
	// LastCommitted is the highest transno the server has made durable
	// (every reply).
	LastCommitted uint64
	// LastXID: request: every XID of this import up to LastXID has had its
	// reply, so the server may forget those saved replies.
	LastXID uint64
	// ConnCnt is the connection generation the request was sent under.
	ConnCnt uint32
	// Timeout: request: how long the client will wait, in ms;
	// reply and early reply: the server's service estimate, in ms.
	Timeout uint32
	// ServiceTime: reply: time from arrival to reply at the server, in ms.
	ServiceTime uint32
	// BulkLen: request: size of the client's bulk buffer; reply: bytes the
	// server moved.
	BulkLen uint32
	// MatchBits: request: the match bits of the client's bulk buffer on the
	// bulk portal.
	MatchBits              uint64
	UID, GID, FSUID, FSGID uint32
	JobID                  JobID
	// BodyLen is the length of the body that follows.
	BodyLen uint32
}

// Encode writes m's envelope into b[:MsgSize]; BodyLen must already be set.
func (m *Msg) Encode(b []byte) {
	_ = b[MsgSize-1]
	le := binary.LittleEndian
	le.PutUint32(b[0:], MsgMagic)
	le.PutUint16(b[4:], MsgVersion)
	le.PutUint16(b[6:], uint16(m.Type))
	le.PutUint32(b[8:], uint32(m.Opcode))
	le.PutUint32(b[12:], uint32(m.Status))
	le.PutUint32(b[16:], uint32(m.Flags))
	le.PutUint32(b[20:], m.OpFlags)
	le.PutUint64(b[24:], m.Handle)
	le.PutUint64(b[32:], m.XID)
	le.PutUint64(b[40:], m.Transno)
	le.PutUint64(b[48:], m.LastCommitted)
	le.PutUint64(b[56:], m.LastXID)
	le.PutUint32(b[64:], m.ConnCnt)
	le.PutUint32(b[68:], m.Timeout)
	le.PutUint32(b[72:], m.ServiceTime)
	le.PutUint32(b[76:], m.BulkLen)
	le.PutUint64(b[80:], m.MatchBits)
	le.PutUint32(b[88:], m.UID)
	le.PutUint32(b[92:], m.GID)
	le.PutUint32(b[96:], m.FSUID)
	le.PutUint32(b[100:], m.FSGID)
	copy(b[104:136], m.JobID[:])
	le.PutUint32(b[136:], m.BodyLen)
	le.PutUint32(b[140:], 0)
}

// Append sets m.BodyLen, appends the envelope and body to b and returns it.
func (m *Msg) Append(b []byte, body []byte) []byte {
	m.BodyLen = uint32(len(body))
	n := len(b)
	b = append(b, make([]byte, MsgSize)...)
	m.Encode(b[n:])
	return append(b, body...)
}

// Seal finishes a message built in place: buf holds MsgSize reserved bytes
// followed by the body (appended with an Encoder). Seal sets m.BodyLen and
// writes the envelope into the reserved bytes.
func (m *Msg) Seal(buf []byte) {
	m.BodyLen = uint32(len(buf) - MsgSize)
	m.Encode(buf)
}

// DecodeHeader reads and validates the envelope at the start of b without
// looking at the body: enough to answer a message whose body was cut.
func (m *Msg) DecodeHeader(b []byte) error {
	if len(b) < MsgSize {
		return fmt.Errorf("%w: %d bytes, envelope needs %d", ErrShort, len(b), MsgSize)
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[0:]); v != MsgMagic {
		return fmt.Errorf("%w: bad magic %#x", ErrBadMsg, v)
	}
	if v := le.Uint16(b[4:]); v != MsgVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrBadMsg, v, MsgVersion)
	}
	m.Type = MsgType(le.Uint16(b[6:]))
	switch m.Type {
	case MsgRequest, MsgReply, MsgErr:
	default:
		return fmt.Errorf("%w: unknown type %d", ErrBadMsg, m.Type)
	}
	if le.Uint32(b[140:]) != 0 {
		return fmt.Errorf("%w: reserved field set", ErrBadMsg)
	}
	m.Opcode = Opcode(le.Uint32(b[8:]))
	m.Status = Errno(le.Uint32(b[12:]))
	m.Flags = MsgFlags(le.Uint32(b[16:]))
	m.OpFlags = le.Uint32(b[20:])
	m.Handle = le.Uint64(b[24:])
	m.XID = le.Uint64(b[32:])
	m.Transno = le.Uint64(b[40:])
	m.LastCommitted = le.Uint64(b[48:])
	m.LastXID = le.Uint64(b[56:])
	m.ConnCnt = le.Uint32(b[64:])
	m.Timeout = le.Uint32(b[68:])
	m.ServiceTime = le.Uint32(b[72:])
	m.BulkLen = le.Uint32(b[76:])
	m.MatchBits = le.Uint64(b[80:])
	m.UID = le.Uint32(b[88:])
	m.GID = le.Uint32(b[92:])
	m.FSUID = le.Uint32(b[96:])
	m.FSGID = le.Uint32(b[100:])
	copy(m.JobID[:], b[104:136])
	m.BodyLen = le.Uint32(b[136:])
	return nil
}

// Decode reads and validates a whole message: b must hold the envelope and
// exactly BodyLen bytes of body. The body it returns aliases b. Decode does
// not allocate.
func (m *Msg) Decode(b []byte) (body []byte, err error) {
	if err := m.DecodeHeader(b); err != nil {
		return nil, err
	}
	if uint64(m.BodyLen) != uint64(len(b)-MsgSize) {
		return nil, fmt.Errorf("%w: body length %d, message carries %d", ErrBadMsg, m.BodyLen, len(b)-MsgSize)
	}
	return b[MsgSize:], nil
}
