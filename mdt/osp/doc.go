// Package osp is the MDT's proxy of one OST (Lustre's osp device,
// "FSNAME-OSTxxxx-osc-MDTyyyy"): an import to the OST over ptlrpc and
// three background jobs on it.
//
// # Precreation
//
// File creates must not wait for an OST: the device keeps a pool of
// objects the OST has already created (OST_CREATE with a count, answered
// with a run of consecutive object ids in the OST's sequence for this
// MDT), and Alloc hands one out under a mutex. The precreator refills the
// pool in the background whenever it falls to half a batch; the batch
// (create_count) starts at Config.MinBatch, doubles up to MaxBatch each
// time a creator found the pool empty, and halves again when refills come
// rarely. Alloc on an empty pool kicks the precreator and waits for it, at
// most Config.CreateTimeout; if the last precreate failed (the OST is
// down) it fails at once with ErrNoObjects so that the allocator (mdt/lod)
// picks another OST. Objects taken for a create that then failed go back
// to the pool with Release.
//
// # Orphans
//
// Precreated objects the MDT never used are orphans after an MDT restart.
// The MDT records, in the transaction that stores each layout, the highest
// object of each OST a layout uses (store's ost_lastused). What the device
// does with the objects above it at its first connection, before it
// precreates anything, depends on whether the MDT is in recovery:
//
//   - Normal (Config.DeferOrphans off, or EndRecovery came before the
//     device ever reached its OST): it sends OST_SET_INFO
//     (wire.OrphanRequest) with that id and the OST destroys its objects of
//     this MDT's sequence above it (Lustre's "resetting orphans"). An OST
//     that does not know the request is logged and skipped.
//   - Recovery (Config.DeferOrphans, set while the MDT's recovery window
//     is open): creates acknowledged before their commit are about to be
//     replayed by clients with the objects their replies gave, objects the
//     clients may have written already. The device destroys nothing: it
//     reads the OST's LAST_ID (OST_GET_INFO, wire.LastIDRequest) and keeps
//     the range (last used, LAST_ID] of possible orphans. LAST_ID never
//     moves back, so precreation goes on above the range and no new create
//     gets an object a replay may claim. Each replayed create Claims its
//     objects. EndRecovery hands the range, less the claimed objects, to
//     the destroy job, which records them in the store's destroy queue
//     (see Destroys; a few thousand records per transaction, the last of
//     which also raises ost_lastused to the range's end so that the next
//     start does not go over the range again) and then destroys them like
//     any other. Claims after EndRecovery are too late and only logged.
//     An OST that does not tell its LAST_ID is logged and its orphans stay.
//
// Known leak: an MDT that restarts again before EndRecovery forgets the
// range; if creates in the meantime committed objects above it, the next
// start's range begins above them and the old range's orphans are never
// destroyed (they waste space, nothing else).
//
// # Statfs and availability
//
// The statfs job asks the OST for its space every Config.StatfsInterval.
// Avail, which the allocator feeds to layout/qos, is true only while the
// import is connected, a statfs has answered lately, the OST reports none
// of the degraded, no_create, read-only or out-of-space states, and
// precreation works (or the pool still holds objects; a failed orphan
// cleanup or LAST_ID read counts as a failed precreate, since none runs
// before it). Ready is closed at the first statfs answer, so the MDT can wait for its OSTs after a start.
//
// # Destroys
//
// The objects of destroyed files are recorded in the MDT store (bucket
// ost_destroys) in the transaction that destroyed the file, by the MDT;
// the destroy job of each device reads its OST's records, sends
// OST_DESTROY for each (a few in parallel) and deletes the records of the
// objects the OST destroyed — or did not have (ENOENT counts as done) — in
// one store operation. Failures are retried with back-off; the queue
// survives MDT restarts because it is the store. Kick wakes the job after
// new records committed.
//
// # Ownership and locks
//
// New starts the three goroutines; Close stops them (in-flight calls end
// with the device's context) and then closes the import. Device.mu guards
// the pool, the batch, the statfs snapshot, the error state and the
// recovery state (claims, the range, the sweep handed to the destroy job);
// it is a leaf lock, never held across an RPC or a store call. Claim and
// EndRecovery only take it, so the MDT may call them from anywhere; the
// store work of EndRecovery runs in the destroy job, which Close stops.
package osp
