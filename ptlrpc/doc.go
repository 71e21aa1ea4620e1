// Package ptlrpc is Stria's RPC layer over lnet, after Lustre's ptlrpc:
// services with bounded worker pools on the server side, imports with a
// connection state machine on the client side, server-driven bulk, adaptive
// timeouts with early replies, resend with reply reconstruction, and replay
// after a server restart.
//
// # Messages
//
// Every request and reply is a wire.Msg envelope followed by a body (see
// package wire). A request is one LNet PUT to the service's request portal,
// with the request's XID as match bits; its reply is one PUT back to the
// client's reply portal, matched by the same XID.
//
// # Server: Service, Target, Export
//
// A Service listens on one request portal of one LNet instance. It posts
// RequestBuffers buffers of RequestBufferSize bytes (MDs with MDMaxSize, so
// many requests land in one buffer). Each request is copied out of the
// buffer into a pooled one as it arrives (requests are small; bulk never
// passes through here), so a slow handler never pins a request buffer, and
// a buffer LNet has unlinked for lack of room is posted again at once. A request longer
// than MaxRequestSize is truncated by LNet, and the service answers it with
// EMSGSIZE: nothing is ever silently cut. An envelope that does not decode is
// logged and dropped; the service serves everyone else.
//
// At most Threads handlers run at once. A request that arrives while fewer
// run and none waits runs at once: a quick one (its opcode's handlers have
// taken under 100 µs lately) on the LND goroutine that received it, where
// the LND offers that (lnet.Event.Inline; socklnd does), and otherwise on a
// parked worker goroutine. Other requests wait in a bounded queue
// (QueueDepth), served in arrival order as threads free up. A request that
// finds the queue full is answered at once with an ERR reply of EBUSY; the
// client pauses and resends it (Lustre would let it wait in the request
// buffer; answering keeps memory bounded and tells the client to back off).
// Running inline saves a goroutine hand-off (a wake-up and a context switch)
// per request; its connection is read again once the handler returns, or
// sooner, by a new reader, when the handler waits for bulk or a watchdog
// finds it running long (see threads.go).
//
// A Target (an MDT, an OST, the MGS) owns its Exports, one per connected
// client, keyed by client UUID and found by the handle every request carries.
// One target may be served by several services, as Lustre's ost and ost_io
// portals reach the same OSTs. A service handles CONNECT (creating or
// reusing the export, bumping its conn_cnt), DISCONNECT and OBD_PING itself;
// every other opcode goes to the target's Handlers, or for requests without
// a connection (handle 0, e.g. lock callbacks to a client) to the service's
// own Handlers. An unknown opcode gets an ERR reply of EOPNOTSUPP, an unknown
// handle ENOTCONN (the client reconnects), and a request sent under an older
// conn_cnt is dropped (its resend under the new one will be answered).
//
// Every reply carries the target's last_committed and the transno the
// handler set (Request.SetTransno); TransnoCounter is a simple source of
// both.
//
// Reply reconstruction: every handler reply is kept on the export, keyed by
// XID, until the client's LastXID (the highest XID below which it has every
// reply, sent in each request) passes it, or MaxSavedReplies newer ones push
// it out. A request whose XID has a saved reply gets that reply again
// (flagged FlagReconstructed, with a fresh last_committed) and its handler
// does not run; a copy of a request still running is dropped, since the
// running one's reply will answer it. Replays (FlagReplay) bypass this: the
// target must apply a replay idempotently, by its transno. Saved replies live
// in memory only; reconstruction across a server restart is the target's
// business (Lustre's last_rcvd).
//
// # Bulk
//
// Bulk is driven by the server. The client posts its buffer on the bulk
// portal under match bits equal to the request's XID before it sends the
// request; the envelope carries the buffer's length and match bits. For a
// write the handler calls Request.BulkGet (an LNet GET from the client's
// buffer); for a read Request.BulkPut (an LNet PUT with an ACK into it),
// which refuses, before sending anything, data larger than the client's
// buffer — and LNet would drop an oversize PUT rather than write past the
// buffer anyway. Bulk data is never copied by ptlrpc: LNet moves it between
// the caller's buffers. The client unlinks its buffer and waits for LNet to
// let go of it before Call returns.
//
// # Client: Import
//
// An Import is a client's connection to one target, tried over the target's
// failover NIDs in turn (LNet.PickNID skips those no local network reaches).
// States: NEW → CONNECTING → FULL; a timeout, a failed send or an ENOTCONN
// reply makes it DISCONN, and its run loop reconnects, to the same NID first
// and then the next ones, pausing ReconnectBackoff (doubling) after each full
// round. Calls wait while the import is not FULL.
//
// Each call gets the next XID of its import (random start, so imports and
// client restarts do not collide). Before sending, the call attaches its
// reply buffer (and bulk buffer) to the reply portal, matched by XID and the
// server's NID. It waits for the reply until its deadline: the adaptive
// service estimate plus network latency, within [AT.Min, AT.Max]. An early
// reply moves the deadline out. On a timeout or failed send the import
// reconnects and the call is resent with the same XID and FlagResent; a call
// whose import reconnected for another reason is resent too. An ERR reply of
// EBUSY is resent after a pause. A reply longer than the call's reply
// buffer (Req.ReplySize, default ImportConfig.MaxReplySize) is truncated by
// LNet; the call is then resent with a buffer of the reply's size, and the
// server answers from the saved reply, as Lustre does. If a reconnect shows the server has
// forgotten this client without restarting (eviction), calls in progress fail
// with ErrEvicted.
//
// Replay: a Replayable request whose reply had a transno above
// last_committed stays on the import's replay list (without bulk) until a
// later reply's last_committed passes it. When a reconnect shows a new
// server incarnation (restart or failover), the import enters REPLAY and
// resends the list in transno order with FlagReplay and the original
// transno, one at a time, before any other request goes out; a replay cut
// short (a replayed request unanswered) is done again, whole, on the next
// connection, even to the same instance (targets apply replays
// idempotently). A request
// sent with CallKeep (Lustre's rq_replay, for opens) is kept beyond its
// commit, until its caller drops it (Kept.Drop, at close), and replayed
// after every restart in the same order (a kept request whose reply had no
// transno goes after what the server had committed then); its caller may
// replace the body it is replayed with, from its reply, before it is kept
// (Req.ReplayBody): mdc replays an open as a reopen of the FID with the
// handle the server gave. Its caller may instead release it
// (Kept.Release, at the close of a file the open created): a kept request
// the server has not committed yet then joins the replay list, with a
// new body, until last_committed passes it, as Lustre keeps an open
// request until its close commits; a committed one is dropped. A body
// released during a replay goes in before the request's own replay if it
// has not been sent yet, else after it. Idle FULL
// imports ping (OBD_PING) every PingInterval; the ping's reply brings
// last_committed too.
//
// # Adaptive timeouts and early replies
//
// A service measures each request's service time into an estimate (the
// worst of four bins over AT.History, within [AT.Min, AT.Max], Lustre's
// at_measured), returned in every reply's Timeout field; the client keeps it
// and a network latency estimate per import. Each request tells the server
// its timeout; the service's early-reply loop sends an envelope-only early
// reply (FlagEarly, at offset 0 of the client's reply buffer; final replies
// land after it) when a request still queued or running comes within
// AT.EarlyMargin of that deadline, granting AT.Extra more (plus what the
// estimate says is still needed). All times on the wire are milliseconds.
//
// # Goroutines, ownership, locks
//
// A Service owns its worker goroutines, its early-reply loop, its inline
// watchdog and the handler runs it started on LND goroutines; Close stops
// taking requests, cancels the handlers' context, drops what is queued,
// unlinks the request buffers and waits for all of it. An Import owns its
// run loop and its pings; Close sends DISCONNECT (best effort), fails calls
// in progress with ErrClosed and waits for them and its goroutines. LNet MD
// handlers only record events under a call's or buffer's lock and signal;
// they never block. A call waiting alone on its import sleeps in the
// network poller (an eventfd, on Linux) rather than on a channel, so that
// the goroutine that delivers its reply does not make the scheduler wake
// another thread to run it (wait.go). Every buffer handed to LNet stays
// untouched until LNet reports it done (send complete, MD unlinked).
//
// Lock order: Service.mu before the thread pool's and Service.activeMu;
// Target.mu before Export.mu; Import.mu before call.mu. No lock is held
// while calling LNet except Service.mu (and the pool's, to hand a request to
// the LND goroutine) around posting a request buffer, and none while
// calling a handler.
//
// # Allocation
//
// Request, reply and call state come from pools; a small RPC allocates a
// small constant (LNet's MD handles, each bound one with its message, and
// the Reply value) and nothing in proportion to bulk size. No timer is
// armed per request: arming one can wake a thread, which costs more than a
// small RPC. An Import times its calls out with one timer, moved only to an
// earlier deadline; a Service watches its inline runs with one ticker that
// runs only while requests run inline.
package ptlrpc
