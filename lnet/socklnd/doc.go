// Package socklnd is the TCP LND, after Lustre's ksocklnd: it moves LNet
// messages between NIs over persistent TCP connections, and nothing else.
// Matching, credits, routing and events belong to lnet.
//
// # NIs and addresses
//
// An NI takes its address from the first interface of its network
// ("tcp0(eth0)" or "tcp0(192.168.1.2)"; without one, the first interface
// that is up, not loopback and has an address), listens on that address and
// Config.Port (988 in production), and dials from that address, so that the
// source address of its connections is its NID. Peers are dialled at their
// NID's address and the same port unless Config.Resolve says otherwise
// (tests, whose NIs listen on ephemeral ports).
//
// # Typed connections
//
// As with ksocklnd's typed_conns, a pair of NIs uses up to three
// connections, each named from its initiator's point of view:
//
//	CONTROL   messages with payloads smaller than MinBulk (1 KiB), both ways
//	BULK_OUT  larger messages from the initiator to the acceptor
//	BULK_IN   larger messages from the acceptor to the initiator
//
// so a small RPC never waits behind megabytes of bulk. Each NI keeps, per
// peer, three slots named from its own side (CONTROL, BULK_OUT: we send bulk
// on it; BULK_IN: the peer does); the acceptor files a connection under the
// flipped type. A slot is connected lazily by the first Send that needs it;
// either side may open any slot. Messages of one size class between one
// pair arrive in order; a small message may overtake a large one.
//
// # Handshake
//
// The initiator sends a hello (HelloMagic, version, connection type, source
// and destination NID and PID, its incarnation stamp and the last one it saw
// of the acceptor); the acceptor checks it (magic, version, type, that the
// destination NID is its own) and answers with its own hello, or closes the
// socket and logs why (zap fields nid and reason). The initiator checks the
// answer the same way, and that it comes from the NID it dialled.
//
// Incarnation stamps (the NI's start time) detect restarts: when a hello
// carries an incarnation other than the one last seen from that NID, every
// older connection to it is closed, the Host hears PeerState(down,
// lnet.ErrStalePeer), then PeerState(up) for the new connection. Messages not
// yet written stay queued and go to the new incarnation.
//
// Connect races: both sides may dial the same slot at once. The rule is that
// of o2iblnd: the connection initiated by the lower NID (address order) is
// kept. An acceptor that is itself dialling that slot and has the lower NID
// answers the peer's hello with the race flag and closes it; the loser waits
// for the winner's connection to arrive (retrying its own now and then in
// case it never does, until ConnectTimeout). When an established connection
// meets a new one from the same initiator, the new one replaces it: that
// side has given the old one up.
//
// # Frames
//
// After the handshake each message is one frame: a 16-byte frame header
// (FrameMagic, version, type LNET or NOOP, flags, length, optional crc32c of
// the LNet header), the 104-byte lnet.Header, then the payload. A writer
// sends a batch of queued messages with vectored writes (writev): headers
// from a scratch buffer, payloads from the callers' buffers, never copied;
// Tx.Complete(nil) follows once the bytes are in the socket. A small
// message to an idle CONTROL connection skips the hand-off to the writer:
// Send makes one non-blocking writev itself and, if the socket takes it all,
// completes the Tx before returning (LNet allows that); what the socket does
// not take goes to the writer (writer.go). A reader reads
// frame and LNet header, checks them (magic, version, type, flags, a length
// of at most MaxPayload that agrees with the header's PayloadLen, the
// checksum), and calls Host.Receive with the connection's one Rx, which is
// reused for every frame (the next is handed out only after this one's Recv
// finished). Rx.Recv then reads the first len(sink)
// bytes of the payload from the socket straight into the sink (bulk
// connections have a read buffer exactly one header long, so payload bytes
// never pass through it) and discards the rest; the reader waits for that
// before it reads the next frame. Anything wrong in a frame closes that
// connection (logged with nid and reason, lnet.ErrProtocol); other
// connections and peers carry on.
//
// # Failure
//
// TCP keepalive (idle 30 s, interval 5 s, 5 probes) finds dead peers; a
// frame started but not finished within Timeout (sock_timeout, 50 s), or a
// write making no progress for as long, fails its connection. A failed
// connection completes its slot's queued messages with an error wrapping
// lnet.ErrPeerDown; when it was the peer's last, the Host hears
// PeerState(down). The next Send reconnects. A failed connection attempt
// fails the slot's queue and starts a back-off (ReconnectMin doubling up to
// ReconnectMax) during which sends to that peer fail at once with
// lnet.ErrPeerDown; a successful handshake resets it.
//
// # Goroutines and locks
//
// Each NI runs an accept loop; a handshake goroutine per accepted socket; a
// dial goroutine per slot being connected; and per connection a reader and,
// for the slots we send on, a writer. The reader also runs the Host's
// Inline work (lnet.Inliner, inline.go) between two frames; when that work
// is detached (or the connection closes under it) a new reader takes over
// the connection and the old goroutine, no longer the NI's, ends with the
// work. Who writes to a socket is decided
// under NI.mu (conn.busy), so frames never interleave. All are counted in NI.wg; Close closes
// the listener, every connection and every socket still in handshake,
// completes queued messages with lnet.ErrClosed and waits for them all.
//
// One mutex per NI (NI.mu) guards peers, slots, queues and the closed flag.
// It is never held while calling the Host, completing a Tx, or doing socket
// I/O, so Host callbacks may call Send. Host.Receive runs on the reader
// goroutine, Rx.Recv's done on whichever goroutine calls Recv. Changes of a
// peer's reachability are recorded under NI.mu as they happen and handed to
// Host.PeerState in that order by one goroutine at a time (flushEvents), so
// the Host never hears "up" after a later "down"; none reaches it after
// Close.
package socklnd
