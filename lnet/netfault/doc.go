// Package netfault injects network faults into any LND, for tests and for
// `lctl net_drop_add` / `net_delay_add`: Wrap(inner, rules) returns an LND
// whose NIs apply a shared, run-time changeable Rules to every message.
//
// # Faults
//
//   - Drop rules lose messages selected by source and destination NID,
//     message type, portal and a match-bits predicate, with Skip (let the
//     first N through), Interval (every Nth), Rate (a probability drawn from
//     a source seeded by NewRules, so runs repeat) and Count (only the next
//     N). A message dropped on the sending side completes its Tx with a nil
//     error — the sender believes it left — and the receiver never sees it.
//   - Delay rules hold messages for a latency, or until Release.
//   - Partition(a, b) drops everything between two NIDs, both ways, until
//     Heal.
//
// The first rule that fires on a message decides; partitions come first.
//
// # Where rules apply
//
// Each message is judged once. A wrapped NI judges what it sends. It also
// judges what it receives from NIs that are not wrapped with the same Rules
// (a node whose LND is not wrapped), so a partition holds both ways even
// when only one side is wrapped. A message dropped on the receiving side is
// released unread; the sender's Tx completes as its LND decides (lolnd: no
// error). A message delayed on the receiving side keeps the receiving LND's
// connection from delivering the next one until it is released, as a
// stalled link would.
//
// # Goroutines and locks
//
// Rules.mu is a leaf lock: no LND, Host, Rx or Tx.Complete is called under
// it. Latency timers belong to the NI whose message they hold; Close fails
// that NI's held messages (a held Tx completes with lnet.ErrClosed, a held
// received message is dropped), waits for timers already firing, then
// closes the inner NI.
package netfault
