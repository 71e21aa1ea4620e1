// Package mgs is the management server (Lustre's MGS): the registry of
// every target of one or more file systems, their configuration, and the
// persistent parameters (`lctl set_param -P`). A daemon formats it once
// (Format, as mkfs.lustre --mgs) and serves it with Start; targets and
// clients reach it through package mgc.
//
// # Concepts
//
// A file system exists on the MGS from the first registration of one of
// its targets. Its configuration is what a client needs to mount it: every
// target (kind, index, name, UUID, service nodes with their NIDs, the node
// that registered it last first) and the persistent parameters. Unlike
// Lustre, which keeps configuration llogs of setup records that clients
// replay, the MGS keeps the registry itself and hands it out whole
// (wire.ConfigReadReply); the generation counter plays the part of the
// config lock: every change raises it, and a reader that already has the
// current generation is answered Unchanged.
//
// # Registration rules (MGS_TARGET_REG)
//
//   - The fsname is 1-8 of [-_a-zA-Z0-9]; an MDT index is at most 4095, an
//     OST index at most 0xfffe; the UUID is printable, and if it has the
//     form of a target UUID ("x-OST0001_UUID") it must be this target's.
//   - The first registration of (fsname, kind, index) records the target
//     and its UUID owns the index from then on.
//   - A re-registration with the same UUID is accepted from a node the
//     target is registered with: the request comes from one of its recorded
//     NIDs, or its new node list shares a NID with the recorded one. Its
//     node list and parameters replace the recorded ones (the node starting
//     it first, Lustre's primary).
//   - A different UUID claiming an owned index, a UUID already owning
//     another index, or the same UUID from nodes that share nothing with the
//     recorded ones (a second disk formatted with the same index elsewhere)
//     is refused with ErrIndexInUse (EADDRINUSE), and the MGS logs who owns
//     the index. To move a target to new hardware, list one of its old
//     nodes with --servicenode.
//   - The target's --param settings that are new or changed since its last
//     registration are stored in its file system's parameters.
//
// # Generations
//
// One MGS-wide counter (meta/gen) hands out generations. A change to a file
// system (registration that changes anything, a file system parameter)
// stores the new generation as the file system's; a change to a global
// parameter stores it as the global parameters' generation. A file
// system's configuration generation is the larger of its own and the
// global one, so both kinds of change reach its readers and generations
// never go back for one store.
//
// # Parameters
//
// Global parameters (`set_param -P`, Format's Params) go to every file
// system; file system parameters (target --param, SetParamRequest with an
// FSName) to one. A configuration lists both as "key=value" in the order
// they were last set, so the last one set is applied last, as Lustre
// replays its params log. Setting a key again replaces its value and moves
// it to the end.
//
// The MGS's own views live in Config.Node: `lctl dl` shows "mgs MGS MGS";
// mgs.MGS.filesystems lists the file systems; mgs.MGS.live.FSNAME shows
// Lustre's header and target list, then the targets with their NIDs and
// the parameters in YAML; the control command set_param_P stores global
// parameters from lctl on the MGS's node.
//
// # Storage
//
// One bbolt file, Dir/mgs.db; schema.go lists every bucket and key, and
// records.go every record. Each request is one bbolt transaction: a
// registration reads, checks and writes in a single Update, so concurrent
// registrations of the same index cannot both win. Every change is
// fsync'd before it is acknowledged.
//
// # Ownership and lock order
//
// The Server owns the store, its ptlrpc target and service (whose worker
// goroutines run the handlers) and nothing else: it starts no goroutine of
// its own. Close stops the service (waiting for every handler), removes
// the parameters and the device, then closes the store. Server.mu guards
// only the closed flag and the set of registered live views; it is never
// held across a store transaction or an RPC.
package mgs
