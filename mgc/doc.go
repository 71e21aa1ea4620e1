// Package mgc is the client of the management server (Lustre's MGC), used
// alike by the servers (an MDT or OST registers with the MGS when it
// starts) and by clients (a mount reads its file system's configuration
// and follows it).
//
// # Concepts
//
// A Client holds one ptlrpc import to the target "MGS" on the MGS request
// portal. The MGS failover list (mount's "a@tcp,a@o2ib:b@tcp", Config.
// MGSNodes) is flattened to one NID per MGS node, the first of that node's
// NIDs on a network this node has (FailoverNIDs); the import tries them in
// turn. New does not wait for the MGS: the first call connects, within the
// caller's context.
//
//   - Register sends MGS_TARGET_REG and returns the configuration
//     generation that includes the target.
//   - Config / ConfigSince send MGS_CONFIG_READ. A configuration carries a
//     generation (Gen) that the MGS raises on every change; asked with
//     SinceGen at or above it, the MGS answers Unchanged and nothing else,
//     so an idle poll is one small RPC.
//   - Watch runs a poll loop owned by the Client: every PollInterval it asks
//     for a configuration newer than the last one delivered and hands it to
//     the callback. This is how a target registered after a mount, a
//     failover NID, or a `set_param -P` reaches every node without a
//     remount (Lustre revokes a config lock instead; polling needs no lock
//     callbacks and costs one RPC per second per node).
//   - SetParamP sends MGS_SET_INFO with a wire.SetParamRequest.
//
// # Errors
//
// Every call is bounded by its context: the caller of a mount passes a
// deadline, and an MGS that does not answer in time is ErrUnreachable,
// whose message names the MGS NIDs and the last network error ("mgc: MGS
// 10.0.0.1@tcp unreachable: ..."). An fsname the MGS does not know is
// ErrUnknownFS ("file system \"x\" is not known to the MGS at ...", also
// syscall.ENOENT); a registration for an index another target owns is
// ErrIndexInUse (also syscall.EADDRINUSE). Other refusals arrive as the
// MGS's errno (errors.Is(err, syscall.EINVAL)).
//
// # Ownership and invariants
//
// Each Watch runs one goroutine, started under mu (so Close cannot miss
// it) and tracked by wg. Close marks the Client closed, cancels the
// watches' context, waits for them, then closes the import (which fails
// calls in progress with ErrClosed and waits for its own goroutines).
// Callbacks run on the watch's goroutine, one at a time per watch, in
// generation order; a callback that blocks delays only its own watch, and
// one that calls Close deadlocks (Close waits for it).
//
// Generations are monotonic for one MGS store; a reformatted MGS starts
// again from 1 and watchers holding a higher generation see nothing until
// it passes theirs (reformatting the MGS under running clients is not
// supported, as in Lustre without --writeconf).
package mgc
