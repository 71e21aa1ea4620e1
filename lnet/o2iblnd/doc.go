// Package o2iblnd is the RDMA LND: it carries LNet messages for o2ib
// networks over reliable-connected verbs queue pairs, speaking the protocol
// of Lustre's ko2iblnd (spec/lustre.md §2.4). The protocol logic is pure Go
// over the small interface of lnet/o2iblnd/verbs; memverbs implements it in
// memory (tests, benchmarks, machines without RDMA hardware) and ibverbs
// over libibverbs and librdmacm (build tag rdma, cgo). Without the tag,
// Startup over the host's devices fails with an error wrapping
// lnet.ErrNotSupported and ErrNoRDMA; an interface without an RDMA device
// fails with one wrapping lnet.ErrNotSupported and ErrNoDevice, which lets
// LNet serve on its other networks ("o2ib0(ib0),tcp0(eth0)" on a node
// without InfiniBand).
//
// # Messages
//
// Every message starts with the 48-byte header of o2iblnd-idl.h: magic
// 0x0be91b91, version 0x12, type, credits returned, length, checksum (0 =
// none; Config.Checksum puts a crc32c there), source NID and incarnation,
// destination NID and incarnation, NIDs in Lustre's 64-bit form (so o2ib
// NIDs are IPv4). Types: CONNREQ 0xc0 and CONNACK 0xc1 (in the connection
// manager's private data, 56 bytes, with the connection parameters queue
// depth, fragments and message size), NOOP 0xd0, IMMEDIATE 0xd1 (LNet
// header and payload), PUT_REQ 0xd2, PUT_NAK 0xd3, PUT_ACK 0xd4, PUT_DONE
// 0xd5, GET_REQ 0xd6, GET_DONE 0xd7. A reject carries {magic, version,
// reason, incarnation, parameters}.
//
// # Data movement
//
// A message whose LNet header and payload fit in MaxMsgSize (4 KiB) goes
// IMMEDIATE. Otherwise the side that owns the data RDMA-writes it into the
// other side's registered memory; o2iblnd never RDMA-reads:
//
//   - PUT, or REPLY without a usable GET_REQ: the sender sends PUT_REQ
//     {LNet header, cookie}; the receiver's LNet calls Rx.Recv(sink), and
//     the receiver answers PUT_ACK {the sender's cookie, its own, an RDMA
//     descriptor of sink} (PUT_NAK when sink is empty: LNet dropped it);
//     the sender writes, then sends PUT_DONE {cookie, bytes}, and the
//     receiver's done runs.
//   - GET whose reply (ReplySink, up to the header's Length) does not fit
//     in a message: GET_REQ {LNet header, cookie, descriptor of the sink}. The target's LNet hands the REPLY
//     Tx with GetRx = that Rx to Send, which writes the REPLY's payload into
//     the sink and sends GET_DONE {cookie, bytes}; the initiator calls
//     Tx.ReplyDone and then Tx.Complete (LNet keeps the sink until
//     Complete). LNet must hand the REPLY to Send before it calls Rx.Recv
//     on the GET: a GET_REQ whose Recv comes first is taken as unmatched and
//     answered GET_DONE -ENODATA (ReplyDone gets lnet.ErrNoMatch), as
//     ko2iblnd answers a GET that LNet did not match. A GET that fits goes
//     IMMEDIATE and its REPLY comes back as an ordinary message.
//
// Bulk buffers are registered through an MR cache keyed by address (see
// mrCache), so ptlrpc's reused buffers are registered once.
//
// # Credits
//
// A connection's queue depth (PeerCredits, at most 255, the lower of the
// two ends' values) is the number of credited messages (IMMEDIATE,
// PUT_REQ, GET_REQ) one side may have outstanding. The receiver returns a
// credit when the message is done with: an IMMEDIATE when LNet's Recv has
// copied it out, a PUT_REQ when its PUT_DONE arrived (or it sent PUT_NAK),
// a GET_REQ with its GET_DONE. Returned credits ride in the header of any
// message going the other way, or in a NOOP once CreditsHiw are owed.
// Responses (PUT_ACK, PUT_NAK, PUT_DONE, GET_DONE) and NOOPs take no
// credit: at most one response per open exchange is in flight, and
// exchanges are bounded by credits, so 2×depth + depth/hiw + 4 receive
// buffers always suffice — no send ever finds the peer's receive queue
// empty (memverbs counts RNR waits; the conformance test checks there are
// none). Because credits come back without waiting for anything the peer
// must send, flow control cannot deadlock.
//
// # Connections
//
// One connection per peer. The active side resolves the peer's address
// (Port, 987 by default), creates its QP, posts every receive and sends
// CONNREQ naming the incarnation it believes the peer has. The passive side
// checks magic, version, NIDs, parameters and incarnations and answers
// CONNACK or a reject with a reason: CONN_UNCOMPAT (magic, version),
// MSG_QUEUE_SIZE or RDMA_FRAGS (the active side retries with the lower
// values), CONN_STALE (a request for an earlier incarnation of this NI, or
// from an earlier incarnation of the peer; the active side retries with the
// incarnation the reject names), CONN_RACE (see below), NO_RESOURCES
// (closing), FATAL (malformed). A request from a newer incarnation of a peer
// closes the connections to its previous one (lnet.ErrStalePeer).
//
// Connection races. Messages for a peer wait in its queue while a set-up is
// under way, active (this NI dials) or passive (it is accepting the peer's
// request), and go over the first connection established, whichever side
// set it up. Send dials only when neither is under way: a node that has
// decided to accept a peer's request does not dial that peer, else the
// peer would accept the second request too and each connection would
// replace the other, failing what was sent over the first ("replaced by a
// new connection") or dropping what had arrived on it but not yet been
// delivered. When both
// dial at once, the higher NID wins, as in kiblnd_passive_connect: it
// rejects a request from a lower NID with CONN_RACE while it is connecting
// or connected, and the lower accepts the higher's request. The loser's
// attempt ends on CONN_RACE once the winner's request is being accepted or
// its connection exists; before the winner's request has arrived it retries
// after a pause (at most 20 times). An attempt that fails while a request is
// being accepted leaves the queue to that accept; an accept that fails
// starts an attempt for what waits. Unlike ko2iblnd, which keeps every
// connection a race leaves, an NI keeps one connection per peer: a request
// from a higher NID accepted while a connection exists (the peer lost its
// end of it) replaces that connection; a lower NID's is rejected with
// CONN_RACE until this end of the old connection has closed.
//
// Every arrived message is checked: decodable, within the negotiated
// message size, from the connected peer's NID and incarnation to ours,
// credits within the queue depth, cookies of open exchanges, descriptors
// within the negotiated fragments. A violation closes that connection with
// a logged reason wrapping lnet.ErrProtocol; an error completion (a peer's
// bad RDMA descriptor shows as a remote access error) closes it too. Other
// peers are not affected. A connection that has sent nothing for Keepalive
// sends a NOOP, so a dead peer shows as a failed send; an exchange open
// longer than Timeout closes the connection (lnet.ErrTimeout).
//
// # Goroutines and locks
//
// Per NI: the accept loop, a goroutine per connection request being
// answered, a goroutine per peer being connected to, and one loop per
// connection; Close waits for all of them. A connection's loop polls its CQ
// (re-arming the completion channel and polling once more before it
// sleeps), delivers arrived messages to LNet one at a time (the next only
// after Rx.Recv's done ran for the last), sends keepalives, enforces
// timeouts and finally tears the connection down: it destroys the QP
// before the CQ and the message buffers, and fails what was in flight.
// Any goroutine may post, under the connection's lock.
//
// Lock order: ni.mu, then conn.mu, then mrCache.mu; none is held while
// calling LNet (Receive, PeerState, Tx.Complete, Tx.ReplyDone, done).
// PeerState calls are queued under ni.mu and delivered in order under
// ni.evMu.
package o2iblnd
