// Package lndtest is the conformance suite every LND passes.
//
// An LND's own test supplies a Harness, which starts NIs of that LND for
// numbered nodes, and calls Run:
//
//	func TestConformance(t *testing.T) { lndtest.Run(t, &myHarness{}) }
//
// Run exercises the contract of lnet.LND, lnet.NI, lnet.Rx and lnet.Tx as
// LNet relies on it, one subtest per case, each on freshly started NIs:
//
//   - headers arrive bit for bit, with the sender's NID as "from";
//   - payloads of 0, 1, 4095, 4096, 4097 bytes, 1 MiB and 64 MiB arrive intact
//     in both directions; a receiver that takes only part of a payload (or
//     none) gets that prefix and the stream stays in step;
//   - messages of one size class between one pair of NIs arrive in the order
//     they were sent, under load, with Recv called inside Receive or later
//     from another goroutine (LNet does both). Messages of different size
//     classes may overtake each other: a small one must not wait behind bulk;
//   - 16 concurrent senders on each of two nodes, both directions at once,
//     first contact included (connect races);
//   - a message to a NID nobody serves completes with lnet.ErrPeerDown;
//   - a peer dying mid-transfer: the transfer completes with an error, later
//     sends to the dead peer complete with lnet.ErrPeerDown, the host hears
//     PeerState(alive=false), and the survivor keeps talking to a third node;
//   - a peer that restarts (same NID, new incarnation) is reachable again;
//   - Close completes every queued Tx (lnet.ErrClosed for those it did not
//     send), later sends fail with lnet.ErrClosed, a second Close is harmless;
//   - for stream LNDs (Harness also a RawConnector): garbage, garbage before
//     the handshake and truncated frames close only that connection; other
//     peers do not notice;
//   - after every case, once its NIs are closed, no goroutine is left behind
//     (runtime.NumGoroutine is polled back to its starting value; stacks are
//     printed otherwise).
//
// Waits in the suite are bounded by a generous patience that only a hang
// reaches; nothing is timed. The suite runs its cases one after another,
// never in parallel, so that goroutine counts mean something.
//
// The Recorder is the suite's lnet.Host: it records every message and peer
// event, chooses how much of each payload to take, and can hold messages to
// release them later (Recv called outside Receive, as LNet does after
// matching).
package lndtest
