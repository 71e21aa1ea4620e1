package lnet

import (
	"context"
	"sync"

	"go.uber.org/zap"
)

// LND is a network driver: it brings up local NIs of one network type and
// moves bytes for them. LNet owns the semantics (matching, credits, peers,
// events); an LND implements start-up, send, receive and shutdown only.
//
// The interface is shaped for RDMA: a small message travels whole, while for
// bulk the LND either streams the payload (socklnd: straight from and into the
// caller's buffers) or has the side that owns the data write it into the
// other side's registered buffer (o2iblnd). Nothing in LNet changes between
// the two.
type LND interface {
	// Type is the network type this LND drives.
	Type() NetType
	// Startup brings up one NI for cfg. Everything that arrives on it is handed
	// to host. The NI runs until Close.
	Startup(ctx context.Context, cfg NIConfig, host Host) (NI, error)
}

// NIConfig is what LNet tells an LND about one NI to start.
type NIConfig struct {
	Net        Net
	Interfaces []string // interface names or addresses, as in "tcp0(eth0)" or "tcp0(127.0.0.2)"
	// PeerCredits is the number of messages the LND may have outstanding to
	// one peer (its queue depth, for o2iblnd the negotiated one).
	PeerCredits int
	Logger      *zap.Logger
}

// NI is one started local network interface.
type NI interface {
	// NID is this NI's own NID.
	NID() NID
	// Send hands tx to the LND. It must not wait for the network: the LND
	// queues tx and calls tx.Complete exactly once, after which tx.Payload may
	// be reused by its owner. A message to a peer that cannot be reached
	// completes with an error wrapping ErrPeerDown.
	Send(tx *Tx)
	// Close stops the NI: transmissions still queued complete with ErrClosed,
	// connections are closed and every goroutine the NI started has returned
	// when Close returns.
	Close() error
	// Status reports the NI's state and counters for `lctl net show`.
	Status() NIStatus
}

// NIStatus is a snapshot of one NI.
type NIStatus struct {
	NID        NID
	Up         bool
	Interfaces []string
	SendCount  uint64
	RecvCount  uint64
	DropCount  uint64
	SendBytes  uint64
	RecvBytes  uint64
	Peers      int // connected peers
}

// Host is LNet as an LND sees it.
type Host interface {
	// Receive is called once for each message that arrives, with its header
	// and a handle on its payload, on the LND's goroutine. LNet matches the
	// header and then calls exactly one of rx.Recv or (for GET) answers it
	// with a REPLY Tx naming rx in GetRx; either way it calls rx.Recv once.
	// An LND must not hand the next message from the same connection to
	// Receive before rx.Recv's done has run for this one.
	Receive(ni NI, from NID, hdr *Header, rx Rx)
	// PeerState tells LNet that a peer became reachable (a connection
	// completed its handshake) or unreachable (connection lost, handshake
	// failed, peer rebooted). LNet uses it for peer state and statistics.
	PeerState(ni NI, peer NID, alive bool, err error)
}

// Rx is an LND's handle on one arrived message whose payload has not yet
// been moved.
type Rx interface {
	// Recv moves the first len(sink) bytes of the payload into sink and
	// drops the rest, then calls done (possibly before Recv returns). sink is
	// nil to drop the payload, or for a message without payload. socklnd reads
	// the socket straight into sink; o2iblnd answers PUT_REQ with PUT_ACK
	// describing sink and waits for the peer's RDMA write and PUT_DONE.
	// len(sink) must not exceed the header's PayloadLen.
	Recv(sink []byte, done func(error))
}

// Inliner is an optional interface of an Rx, for LNDs that can let the
// work a message starts run on the goroutine that received it, instead of
// handing it to another goroutine (a hand-off costs a context switch, often
// more than the work). LNet passes it to MD handlers as Event.Inline.
type Inliner interface {
	// Inline, called from within the done of a Recv that LNet made during
	// Host.Receive, asks the LND to call f on the goroutine that called
	// Receive, once Receive has returned and before that goroutine
	// receives anything more. It reports false and forgets f when it
	// cannot (it is not called from such a done, or f is already set for
	// this message) or would rather not (socklnd: the next message is
	// already arriving on the connection): f is then the caller's to run
	// elsewhere. f runs exactly once when Inline reports true, even if the
	// NI closes.
	//
	// While f runs nothing more is received from that connection, until
	// Detach: the LND then receives on another goroutine, and the one
	// running f ends once f returns. The LND detaches by itself when the
	// connection or the NI closes, so Close never waits for f; f is then
	// its caller's to wait for.
	Inline(f func()) bool
	// Detach lets the connection whose Inline f is running be received by
	// another goroutine. Any goroutine may call it, at any time; it does
	// nothing when no f of this Rx's goroutine is running (a late call may
	// detach a later f of the same goroutine, which costs only a
	// goroutine).
	Detach()
}

// Tx is one outgoing message handed to an LND.
type Tx struct {
	// Dest is the next hop: the NID the LND sends to.
	Dest NID
	Hdr  Header
	// Payload is the data of a PUT or REPLY; len(Payload) == Hdr.PayloadLen.
	Payload []byte
	// ReplySink is set for a GET: the buffer the REPLY's data belongs in.
	// An LND that can place data directly (o2iblnd: GET_REQ carries the sink's
	// RDMA descriptor) does so and then calls ReplyDone; an LND that cannot
	// ignores it, and the REPLY arrives later as an ordinary message.
	ReplySink []byte
	// GetRx is set on a REPLY: the received GET it answers. o2iblnd writes
	// Payload into the sink that GET described; other LNDs ignore it.
	GetRx Rx

	// OnComplete is set by LNet and called by Complete.
	OnComplete func(tx *Tx, err error)
	// OnReplyDone is set by LNet and called by ReplyDone.
	OnReplyDone func(tx *Tx, n int, err error)

	once sync.Once
	m    *msg // LNet's state for a Tx LNet made
}

// Complete reports that tx has left (or failed to leave) and its payload may
// be reused. Only the first call counts.
func (tx *Tx) Complete(err error) {
	tx.once.Do(func() {
		if tx.OnComplete != nil {
			tx.OnComplete(tx, err)
		}
	})
}

// ReplyDone reports, for a GET whose reply an LND placed directly into
// ReplySink, that n bytes of REPLY data have landed (or that the GET failed).
func (tx *Tx) ReplyDone(n int, err error) {
	if tx.OnReplyDone != nil {
		tx.OnReplyDone(tx, n, err)
	}
}
