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
// Precreated objects the MDT never used are orphans after an MDT restart.
// The MDT records, in the transaction that stores each layout, the highest
// object of each OST a layout uses (store's ost_lastused); when the device
// first reaches its OST, before it precreates anything, it sends
// OST_SET_INFO (wire.OrphanRequest) with that id and the OST destroys its
// objects of this MDT's sequence above it (Lustre's "resetting orphans").
// An OST that does not know the request is logged and skipped.
//
// # Statfs and availability
//
// The statfs job asks the OST for its space every Config.StatfsInterval.
// Avail, which the allocator feeds to layout/qos, is true only while the
// import is connected, a statfs has answered lately, the OST reports none
// of the degraded, no_create, read-only or out-of-space states, and
// precreation works (or the pool still holds objects; a failed orphan
// cleanup counts as a failed precreate, since none runs before it). Ready is closed at
// the first statfs answer, so the MDT can wait for its OSTs after a start.
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
// the pool, the batch, the statfs snapshot and the error state; it is a
// leaf lock, never held across an RPC or a store call.
package osp
