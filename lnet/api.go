package lnet

import (
	"go.uber.org/zap"
)

// Config configures one LNet instance (one per process in production; one per
// simulated node in an in-process test cluster).
type Config struct {
	// Networks lists the local networks, as ParseNetworks returns them.
	Networks []NetConfig
	// LNDs are the drivers this build offers; each network uses the one of its type.
	LNDs   []LND
	Logger *zap.Logger
	// Credits bounds the messages queued to the LND on one NI (default 256).
	Credits int
	// PeerCredits bounds the messages queued to the LND for one peer (default 8).
	PeerCredits int
	// PID is this instance's process id (default PIDLustre).
	PID uint32
}

// MDOptions say what an MD accepts and how.
type MDOptions uint32

// MD options, after Lustre's LNET_MD_*.
const (
	MDOpPut        MDOptions = 1 << iota // accepts incoming PUTs
	MDOpGet                              // serves incoming GETs
	MDManageRemote                       // the initiator's offset is used, not a local one that advances
	MDTruncate                           // a longer PUT is truncated to fit rather than rejected
	MDAckDisable                         // never send ACKs for PUTs into this MD
	MDMaxSize                            // every PUT may be MaxSize long; unlink when less room is left (ptlrpc request buffers)
)

// ThresholdInf is an MD threshold that never runs out.
const ThresholdInf = -1

// MD is a memory descriptor: a buffer LNet may fill (PUT, REPLY) or read
// from (GET, source of a PUT), and the handler that hears what happened.
type MD struct {
	Buf []byte
	// Threshold is the number of operations after which the MD unlinks
	// itself; ThresholdInf for never; 0 is invalid. As in Lustre, every
	// event-producing operation counts: an incoming PUT or GET, an outgoing
	// Put or Get (its SEND), and the ACK or REPLY that comes back. So a Put
	// that asks for an ACK, and every Get, needs a Threshold of 2 for the
	// ACK/REPLY to find the MD.
	Threshold int
	Options   MDOptions
	// MaxSize is used with MDMaxSize: the largest PUT one match may take.
	// The MD is exhausted (and unlinks) once less than MaxSize bytes are left.
	MaxSize int
	// Handler is called for every event on the MD, on an LNet or LND
	// goroutine. It must not block.
	Handler func(Event)
	// UserData is returned in events untouched.
	UserData any
}

// EventType says what happened on an MD.
type EventType uint8

// Event types, after Lustre's LNET_EVENT_*.
const (
	EventSend   EventType = iota + 1 // a PUT or GET from this MD (or a REPLY from it) has left; the buffer may be reused
	EventPut                         // a PUT landed in this MD
	EventGet                         // a GET read from this MD
	EventReply                       // the REPLY to our GET landed in this MD
	EventAck                         // the target acknowledged our PUT
	EventUnlink                      // the MD was unlinked by Unlink or Close (always its last event)
)

// Event is what an MD's handler hears.
type Event struct {
	Type      EventType
	Initiator ProcessID // who started the operation
	MatchBits uint64
	HdrData   uint64
	RLength   uint32 // length requested by the initiator
	MLength   uint32 // bytes actually moved
	Offset    uint32 // offset into the MD
	MD        *MDHandle
	UserData  any
	Unlinked  bool  // this was the MD's last event
	Err       error // non-nil if the operation failed
	// Inline, when not nil, lets the handler run the work this event
	// starts on the goroutine that delivered it, once the delivery is
	// over (see Inliner). It is set only for EventPut delivered by the
	// LND goroutine that received a message, and is valid only during the
	// handler call.
	Inline Inliner
}

// MatchSpec is a match entry's criteria: who may match it and with which bits.
type MatchSpec struct {
	// Source restricts matches to one initiator; the zero NID or PID matches any.
	Source     ProcessID
	MatchBits  uint64
	IgnoreBits uint64
}

// Position places a new match entry in its portal's list.
type Position uint8

// Where Attach inserts.
const (
	InsertAfter  Position = iota // at the end of the portal's list
	InsertBefore                 // at the head
)

// PutArgs are the target side of a PUT.
type PutArgs struct {
	Target    ProcessID
	Portal    uint32
	MatchBits uint64
	Offset    uint32 // offset at the target MD (with MDManageRemote)
	HdrData   uint64
	Ack       bool // ask the target for an ACK event
}

// GetArgs are the target side of a GET.
type GetArgs struct {
	Target    ProcessID
	Portal    uint32
	MatchBits uint64
	Offset    uint32 // offset in the target MD to read from
}

// Reserved portal and match bits for LNet's own ping, as Lustre.
const (
	ReservedPortal     = 0
	PingMatchBits      = 0x8000000000000000
	pingInfoMagic      = 0x70696e67 // "ping"
	DefaultCredits     = 256
	DefaultPeerCredits = 8
)

// PeerStatus is a snapshot of one peer, for `lnetctl peer show`.
type PeerStatus struct {
	NID        NID
	LocalNID   NID // the local NI that reaches it
	Alive      bool
	LastErr    error // why it went down, if it did
	Credits    int   // available send credits (negative: messages queued)
	MinCredits int   // low-water mark of Credits
	Queued     int   // messages waiting in LNet for a credit
	SendCount  uint64
	RecvCount  uint64
	DropCount  uint64
}
