// Package lolnd is an in-process LND: several LNet instances in one process
// (the nodes of an in-process test cluster) exchange messages through a
// shared Fabric, as if it were a network.
//
// # Addresses
//
// Every NI on network "lo" gets the NID N@lo, where N is its interface in the
// networks string ("lo(3)" gives 3@lo) or else the lowest number free on the
// fabric. A number is free again once its NI has closed, so a restarted node
// can come back with the same NID.
//
// # Delivery
//
// Each (sender NI, destination number) pair has a FIFO queue and, while the
// queue is not empty, one goroutine owned by the sender that delivers it:
// messages of one pair arrive in the order they were sent and never
// concurrently. The goroutine calls the destination's Host.Receive, then
// waits until the host called Rx.Recv, which copies the payload from the
// sender's buffer into the sink (one copy, like a wire) and then completes
// the sender's Tx; so the sender's buffer stays valid until the receiver has
// consumed it. A destination that does not exist (or has closed) completes
// the Tx with an error wrapping lnet.ErrPeerDown.
//
// # Peer state
//
// The first message between two NIs tells both hosts PeerState(alive=true);
// closing an NI tells every NI that talked to it PeerState(alive=false,
// ErrPeerDown).
//
// # Shutdown
//
// NI.Close takes the NI off the fabric, completes queued Txs with
// lnet.ErrClosed, waits for Receive calls into its host to return and for its
// delivery goroutines to exit. A delivery waiting for an Rx.Recv that the
// receiving host holds back (netfault delays) is abandoned when either side
// closes: the Tx completes with lnet.ErrPeerDown (the receiver closed) or
// lnet.ErrClosed (the sender closed), and a late Recv gets ErrClosed without
// touching the sender's buffer.
//
// # Locks
//
// Fabric.mu, then ni.mu, then rx.mu; none is held while calling a Host, an
// Rx done function or Tx.Complete.
package lolnd
