package o2iblnd

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"

	"github.com/stria-fs/stria/lnet"
)

// Wire constants, after o2iblnd-idl.h.
const (
	ibMagic   = 0x0be91b91
	ibVersion = 0x12 // IBLND_MSG_VERSION_2

	msgHdrSize     = 48 // magic .. dststamp
	connParamsSize = 8
	connMsgSize    = msgHdrSize + connParamsSize // 56: fits the IB CM's REQ private data
	rejectSize     = 24
	rdHdrSize      = 8  // key, nfrags
	rdFragSize     = 12 // nob, addr (packed)
	immHdrSize     = msgHdrSize + lnet.HeaderSize
	putReqSize     = immHdrSize + 8
	putAckFixed    = msgHdrSize + 16 + rdHdrSize
	getReqFixed    = immHdrSize + 8 + rdHdrSize
	completionSize = msgHdrSize + 12

	// minMsgSize is the smallest message size a connection may negotiate:
	// room for a GET_REQ with one fragment.
	minMsgSize = getReqFixed + rdFragSize
)

// msgType is an o2iblnd message type (IBLND_MSG_*).
type msgType uint8

// Message types.
const (
	msgConnReq   msgType = 0xc0
	msgConnAck   msgType = 0xc1
	msgNoop      msgType = 0xd0
	msgImmediate msgType = 0xd1
	msgPutReq    msgType = 0xd2
	msgPutNak    msgType = 0xd3
	msgPutAck    msgType = 0xd4
	msgPutDone   msgType = 0xd5
	msgGetReq    msgType = 0xd6
	msgGetDone   msgType = 0xd7
)

func (t msgType) String() string {
	switch t {
	case msgConnReq:
		return "CONNREQ"
	case msgConnAck:
		return "CONNACK"
	case msgNoop:
		return "NOOP"
	case msgImmediate:
		return "IMMEDIATE"
	case msgPutReq:
		return "PUT_REQ"
	case msgPutNak:
		return "PUT_NAK"
	case msgPutAck:
		return "PUT_ACK"
	case msgPutDone:
		return "PUT_DONE"
	case msgGetReq:
		return "GET_REQ"
	case msgGetDone:
		return "GET_DONE"
	}
	return fmt.Sprintf("msgType(%#x)", uint8(t))
}

// credited reports whether sending a message of type t consumes a credit:
// the requests do; NOOP and the responses of an exchange (PUT_ACK, PUT_NAK,
// PUT_DONE, GET_DONE) travel on the receive buffers reserved for them.
func (t msgType) credited() bool {
	return t == msgImmediate || t == msgPutReq || t == msgGetReq
}

// Reject reasons (IBLND_REJECT_*).
const (
	rejectConnRace     = 1
	rejectNoResources  = 2
	rejectFatal        = 3
	rejectConnUncompat = 4
	rejectConnStale    = 5
	rejectRDMAFrags    = 6
	rejectMsgQueueSize = 7
	rejectInvalidSrvID = 8
	rejectEarly        = 9
)

func rejectReason(why uint8) string {
	switch why {
	case rejectConnRace:
		return "CONN_RACE"
	case rejectNoResources:
		return "NO_RESOURCES"
	case rejectFatal:
		return "FATAL"
	case rejectConnUncompat:
		return "CONN_UNCOMPAT"
	case rejectConnStale:
		return "CONN_STALE"
	case rejectRDMAFrags:
		return "RDMA_FRAGS"
	case rejectMsgQueueSize:
		return "MSG_QUEUE_SIZE"
	case rejectInvalidSrvID:
		return "INVALID_SRV_ID"
	case rejectEarly:
		return "EARLY"
	}
	return fmt.Sprintf("reason %d", why)
}

// Completion statuses are negative errnos, or the number of bytes moved.
const (
	statusEIO    = -5
	statusENOMEM = -12
	statusENODAT = -61
)

// connParams are what the two ends of a connection agree on.
type connParams struct {
	QueueDepth uint16
	MaxFrags   uint16
	MaxMsgSize uint32
}

func (p connParams) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], p.QueueDepth)
	le.PutUint16(b[2:], p.MaxFrags)
	le.PutUint32(b[4:], p.MaxMsgSize)
}

func getConnParams(b []byte) connParams {
	le := binary.LittleEndian
	return connParams{QueueDepth: le.Uint16(b[0:]), MaxFrags: le.Uint16(b[2:]), MaxMsgSize: le.Uint32(b[4:])}
}

// rdFrag is one fragment of an RDMA descriptor.
type rdFrag struct {
	Nob  uint32
	Addr uint64
}

// msgHead is the header every message starts with.
type msgHead struct {
	Type     msgType
	Credits  uint8
	Nob      uint32
	SrcNID   uint64
	SrcStamp uint64
	DstNID   uint64
	DstStamp uint64
}

// msg is a decoded message. Payload and the LNet header's fields are only
// valid while the buffer it was decoded from is.
type msg struct {
	msgHead
	CP        connParams  // CONNREQ, CONNACK
	Hdr       lnet.Header // IMMEDIATE, PUT_REQ, GET_REQ
	Payload   []byte      // IMMEDIATE: aliases the buffer
	Cookie    uint64      // PUT_REQ, GET_REQ, completions; PUT_ACK: the source cookie
	DstCookie uint64      // PUT_ACK
	Status    int32       // completions
	RDKey     uint32      // PUT_ACK, GET_REQ
	Frags     []rdFrag    // PUT_ACK, GET_REQ; reuses its capacity
}

// putHead writes the common header into b; the caller fills the body and
// then calls seal.
func putHead(b []byte, h msgHead) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], ibMagic)
	le.PutUint16(b[4:], ibVersion)
	b[6] = byte(h.Type)
	b[7] = h.Credits
	le.PutUint32(b[8:], h.Nob)
	le.PutUint32(b[12:], 0)
	le.PutUint64(b[16:], h.SrcNID)
	le.PutUint64(b[24:], h.SrcStamp)
	le.PutUint64(b[32:], h.DstNID)
	le.PutUint64(b[40:], h.DstStamp)
}

// seal stores the checksum of b[:nob] when asked for. The checksum is the
// crc32c of the message with its checksum field zero; 0 means none.
func seal(b []byte, nob int, checksum bool) {
	if !checksum {
		return
	}
	c := msgChecksum(b[:nob])
	if c == 0 {
		c = 1
	}
	binary.LittleEndian.PutUint32(b[12:], c)
}

func msgChecksum(b []byte) uint32 {
	t := crc32.MakeTable(crc32.Castagnoli)
	var zero [4]byte
	c := crc32.Update(0, t, b[:12])
	c = crc32.Update(c, t, zero[:])
	return crc32.Update(c, t, b[16:])
}

func putRD(b []byte, key uint32, frags []rdFrag) int {
	le := binary.LittleEndian
	le.PutUint32(b[0:], key)
	le.PutUint32(b[4:], uint32(len(frags)))
	off := rdHdrSize
	for _, f := range frags {
		le.PutUint32(b[off:], f.Nob)
		le.PutUint64(b[off+4:], f.Addr)
		off += rdFragSize
	}
	return off
}

// decodeMsg parses the message in b (the bytes a receive completion
// reported) into m. It checks everything that needs no connection state:
// magic, version, lengths, checksum, the type and its body, the LNet header,
// and that an RDMA descriptor has at most maxFrags fragments.
func decodeMsg(b []byte, m *msg, maxFrags int) error {
	if len(b) < msgHdrSize {
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrBadMsg, len(b), msgHdrSize)
	}
	le := binary.LittleEndian
	if mg := le.Uint32(b[0:]); mg != ibMagic {
		return fmt.Errorf("%w: %#x", ErrBadMagic, mg)
	}
	if v := le.Uint16(b[4:]); v != ibVersion {
		return fmt.Errorf("%w: %#x (want %#x)", ErrBadVersion, v, ibVersion)
	}
	m.Type = msgType(b[6])
	m.Credits = b[7]
	m.Nob = le.Uint32(b[8:])
	if m.Nob < msgHdrSize || uint64(m.Nob) > uint64(len(b)) {
		return fmt.Errorf("%w: message length %d, received %d", ErrBadMsg, m.Nob, len(b))
	}
	b = b[:m.Nob]
	if ck := le.Uint32(b[12:]); ck != 0 {
		if got := msgChecksum(b); got != ck && !(got == 0 && ck == 1) {
			return fmt.Errorf("%w: %#x, computed %#x", ErrChecksum, ck, got)
		}
	}
	m.SrcNID = le.Uint64(b[16:])
	m.SrcStamp = le.Uint64(b[24:])
	m.DstNID = le.Uint64(b[32:])
	m.DstStamp = le.Uint64(b[40:])
	m.Payload = nil
	m.Frags = m.Frags[:0]
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("%w: %v of %d bytes, needs %d", ErrBadMsg, m.Type, len(b), n)
		}
		return nil
	}
	hdr := func() error {
		if err := m.Hdr.Decode(b[msgHdrSize:]); err != nil {
			return fmt.Errorf("%w: %v: %w", ErrBadMsg, m.Type, err)
		}
		return nil
	}
	rd := func(off int) error {
		m.RDKey = le.Uint32(b[off:])
		n := le.Uint32(b[off+4:])
		if n == 0 || uint64(n) > uint64(maxFrags) {
			return fmt.Errorf("%w: %v: %d fragments (1..%d)", ErrBadMsg, m.Type, n, maxFrags)
		}
		if err := need(off + rdHdrSize + int(n)*rdFragSize); err != nil {
			return err
		}
		for i := 0; i < int(n); i++ {
			p := off + rdHdrSize + i*rdFragSize
			m.Frags = append(m.Frags, rdFrag{Nob: le.Uint32(b[p:]), Addr: le.Uint64(b[p+4:])})
		}
		return nil
	}
	switch m.Type {
	case msgConnReq, msgConnAck:
		if err := need(connMsgSize); err != nil {
			return err
		}
		m.CP = getConnParams(b[msgHdrSize:])
	case msgNoop:
	case msgImmediate:
		if err := need(immHdrSize); err != nil {
			return err
		}
		if err := hdr(); err != nil {
			return err
		}
		m.Payload = b[immHdrSize:]
		if uint64(m.Hdr.PayloadLen) != uint64(len(m.Payload)) {
			return fmt.Errorf("%w: IMMEDIATE carries %d bytes, its header says %d", ErrBadMsg, len(m.Payload), m.Hdr.PayloadLen)
		}
	case msgPutReq:
		if err := need(putReqSize); err != nil {
			return err
		}
		if err := hdr(); err != nil {
			return err
		}
		if m.Hdr.Type != lnet.MsgPut && m.Hdr.Type != lnet.MsgReply {
			return fmt.Errorf("%w: PUT_REQ for an LNet %v", ErrBadMsg, m.Hdr.Type)
		}
		m.Cookie = le.Uint64(b[immHdrSize:])
	case msgGetReq:
		if err := need(getReqFixed); err != nil {
			return err
		}
		if err := hdr(); err != nil {
			return err
		}
		if m.Hdr.Type != lnet.MsgGet {
			return fmt.Errorf("%w: GET_REQ for an LNet %v", ErrBadMsg, m.Hdr.Type)
		}
		m.Cookie = le.Uint64(b[immHdrSize:])
		return rd(immHdrSize + 8)
	case msgPutAck:
		if err := need(putAckFixed); err != nil {
			return err
		}
		m.Cookie = le.Uint64(b[msgHdrSize:])
		m.DstCookie = le.Uint64(b[msgHdrSize+8:])
		return rd(msgHdrSize + 16)
	case msgPutNak, msgPutDone, msgGetDone:
		if err := need(completionSize); err != nil {
			return err
		}
		m.Cookie = le.Uint64(b[msgHdrSize:])
		m.Status = int32(le.Uint32(b[msgHdrSize+8:]))
	default:
		return fmt.Errorf("%w: %v", ErrBadMsg, m.Type)
	}
	return nil
}

// rejection is the private data of a connection reject (kib_rej).
type rejection struct {
	Magic       uint32
	Version     uint16
	Why         uint8
	Incarnation uint64
	CP          connParams
}

func (r rejection) encode() []byte {
	b := make([]byte, rejectSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], r.Magic)
	le.PutUint16(b[4:], r.Version)
	b[6] = r.Why
	le.PutUint64(b[8:], r.Incarnation)
	r.CP.put(b[16:])
	return b
}

func decodeRejection(b []byte) (rejection, error) {
	if len(b) < rejectSize {
		return rejection{}, fmt.Errorf("%w: reject of %d bytes, needs %d", ErrBadMsg, len(b), rejectSize)
	}
	le := binary.LittleEndian
	r := rejection{
		Magic:       le.Uint32(b[0:]),
		Version:     le.Uint16(b[4:]),
		Why:         b[6],
		Incarnation: le.Uint64(b[8:]),
		CP:          getConnParams(b[16:]),
	}
	if r.Magic != ibMagic {
		return r, fmt.Errorf("%w: reject magic %#x", ErrBadMagic, r.Magic)
	}
	return r, nil
}

// nidToWire packs an o2ib NID into Lustre's 64-bit form: the network (type
// << 16 | number) in the high word, the IPv4 address in the low one.
func nidToWire(n lnet.NID) (uint64, error) {
	if !n.Addr.Is4() {
		return 0, fmt.Errorf("%w: %v: o2iblnd NIDs need an IPv4 address", lnet.ErrBadNID, n)
	}
	a := n.Addr.As4()
	return uint64(n.Net.Type)<<48 | uint64(n.Net.Num)<<32 | uint64(binary.BigEndian.Uint32(a[:])), nil
}

// nidFromWire unpacks a NID packed by nidToWire.
func nidFromWire(v uint64) lnet.NID {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(v))
	return lnet.NID{Addr: netip.AddrFrom4(a), Net: lnet.Net{Type: lnet.NetType(v >> 48), Num: uint16(v >> 32)}}
}
