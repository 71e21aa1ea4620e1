// Package lnet is Stria's LNet: NIDs and networks, the LND interface that
// network drivers implement, and the message layer above them — portals,
// match entries, memory descriptors (MDs), events, peers and credits — after
// Lustre's LNet (see ../shared/spec/lustre.md §2.1–2.3).
//
// # Model
//
// An LNet instance has one NI per configured network ("o2ib0(ib0),tcp0(eth0)"),
// each started by the LND of that network's type. A peer is reached through
// the NI on its network (PickNID chooses among a peer's NIDs; LNet does not
// route). Messages to one of our own NIDs, and to 0@lo when no lo network is
// configured, loop back inside LNet without an LND (Lustre's 0@lo).
//
// Four message types move data: PUT (initiator's MD into a target MD), ACK
// (the target took a PUT), GET (the target sends data back) and REPLY (that
// data). On the target, a PUT or GET is matched against the match entries
// (MEs) of its portal (0..63) in list order; the first ME whose source filter
// (zero NID/PID = any) and match bits ((want ^ got) &^ ignore == 0) agree and
// whose MD accepts the operation (MDOpPut / MDOpGet) and is not exhausted
// takes it. If the message is longer than the room left in that MD (from its
// offset to its end, or MaxSize with MDMaxSize) and the MD lacks MDTruncate,
// the message is dropped — as Lustre, it is not offered to later MEs; this
// rule applies to GETs too (their length is the initiator's sink length).
// With MDManageRemote the initiator's offset is used, otherwise a local
// offset that advances by what each PUT moved. A REPLY or ACK finds its MD
// by the wire handle the initiator sent (the instance's incarnation and the
// MD's cookie), never by matching; a stale handle is dropped.
//
// Unmatched and rejected messages are dropped: the payload is released
// unread, the drop is counted on the NI (NIs().DropCount) and the peer, and
// logged at debug level with the nid. An unmatched GET gets no answer, as in
// Lustre: the initiator's timeout ends its wait.
//
// Payloads are never copied by LNet: a PUT or REPLY is received by the LND
// straight into the MD's buffer (Rx.Recv), and a REPLY or PUT is sent from
// the MD's buffer. The buffers belong to LNet from Attach/Bind until the MD's
// last event.
//
// # MDs, thresholds and events
//
// Every event-producing operation takes one unit of an MD's Threshold when
// it starts: an incoming PUT or GET, an outgoing Put or Get, and the ACK or
// REPLY that comes back (so a Put with Ack, and every Get, wants Threshold 2
// or ThresholdInf). An MD whose threshold ran out (or, with MDMaxSize, whose
// room fell below MaxSize) leaves its portal at once and unlinks itself when
// its last operation ends: that operation's event has Unlinked set and no
// EventUnlink follows. Unlink (and Close) take the MD off its portal at once,
// stop new operations, drop ACKs and REPLYs that arrive later, and end with
// one EventUnlink (Unlinked set) after every operation under way has
// finished. So the rule for a waiter is: the MD is done with its buffer at
// the first event that has Unlinked set, whichever type it is.
//
// Events: SEND when a Put or Get has left (Err set if it failed; a failed Get
// also gets a REPLY event with the same Err so waiters wake); PUT and GET on
// the target when the data moved; ACK and REPLY on the initiator. An ACK or
// REPLY may be heard before the SEND of the same operation.
//
// Handlers run on LND and LNet goroutines (and on the caller's goroutine for
// Unlink and Close) and must not block. LNet calls one MD's handler from one
// goroutine at a time, in the order it decided the events, with no lock held:
// a handler may call Put, Get, Attach and Unlink, but not Close (Close waits
// for the LND goroutines a handler may be running on).
//
// Work that may block does not belong in a handler, but handing it to
// another goroutine costs a wake-up and a context switch, more than a small
// RPC's whole work. So a PUT event delivered by the LND goroutine that
// received the message carries Event.Inline when the LND offers it (an Rx
// that implements Inliner; socklnd does): the handler may ask for its work
// to run on that goroutine once the delivery is over, with no MD's delivery
// held up, and detach the goroutine's connection (hand its receiving to a
// new goroutine) when the work turns out long or waits for the network.
//
// The bytes a PUT or REPLY moved are the handler's to read once it heard the
// event. With MDManageRemote two initiators may aim at the same bytes; LNet
// does not serialise them (nor does Lustre).
//
// # Credits
//
// A message handed to an LND holds one credit of its NI (Config.Credits) and
// one of its peer (Config.PeerCredits) until its Tx completes. A message that
// finds no peer credit waits on the peer's queue; one that has a peer credit
// but no NI credit waits on the NI's queue; both are FIFO, and credits are
// passed on as Txs complete. Put and Get never block and never drop for want
// of credits. Negative credits count the waiting messages (as lnetctl shows).
// The loopback takes no credits.
//
// # LND contract, as LNet relies on it
//
//   - Send never blocks; it may complete the Tx before returning.
//   - An LND calls Host methods, Rx done functions, Tx.Complete and
//     Tx.ReplyDone without holding its own locks (LNet may call Send from
//     inside them).
//   - For a GET whose REPLY an LND places straight into ReplySink, it calls
//     ReplyDone before Complete; the GET holds its MD until Complete, so the
//     buffer stays valid for the LND's RDMA.
//   - Close completes every Tx the NI holds and ends every pending Rx (its
//     done is called, with an error if the payload did not arrive).
//
// # Locks and goroutines
//
// LNet.mu is LNet's only lock (the sync.Pools, owned by the instance, that
// recycle its per-message receive state are not locks in this sense). It
// guards the portals, the MD table and every MD's mutable state, peers, credits and queues. It is never held while
// calling an LND (Send, Close, Status), an Rx, Tx.Complete or an MD handler.
// The loopback NI has its own leaf lock. LNet starts one goroutine (the
// loopback's); everything else runs on LND goroutines and callers'. Close
// fails the messages queued in LNet with ErrClosed, closes the NIs (which
// complete the Txs they hold), stops the loopback, then unlinks every MD
// still live, so each gets its final event before Close returns.
package lnet
