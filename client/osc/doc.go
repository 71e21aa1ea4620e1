// Package osc is the client side of one OST (Lustre's osc device): typed
// OST RPCs over one ptlrpc import, the bound on RPCs in flight, data
// checksums, and the grant and dirty-byte accounting the write-back cache
// (package lov) runs under.
//
// # RPCs
//
// One import per OST, as Lustre's osc: connect, getattr, punch, setattr,
// statfs and sync go to the OSS's "ost" service (wire.OSTRequestPortal),
// reads and writes to its "ost_io" service (wire.OSTIOPortal, ptlrpc's
// Req.Portal), so that a slow disk does not hold up the rest; so does
// fallocate (OST_FALLOCATE), which may take as long as a write. Read and Write move one RPC's worth (at most MaxRPCSize,
// default 4 MiB, Lustre's max_pages_per_rpc) between an OST object and the
// caller's buffer by server-driven bulk: the OST PUTs read data straight
// into the caller's slice and GETs write data straight from it; the OSC
// copies nothing. They wait for one of MaxRPCsInFlight slots (default 8,
// settable: max_rpcs_in_flight), handed out in arrival order; the other
// RPCs are not bounded, as in Lustre.
//
// # Checksums
//
// Every write carries the crc32c (Castagnoli) of its data, which the caller
// computes (lov sums the data as it enters its cache, while it is still in
// the CPU's cache, so that sending costs no pass over it); the OST checks
// it before the data reaches its disk and answers EBADMSG on a mismatch,
// which the OSC resends, four tries in all, before failing with
// ErrChecksum (EIO). A read's reply carries the OST's crc32c of the data;
// the OSC checks it (unless checksums are turned off) and reads once more
// on a mismatch, then fails with ErrChecksum (EIO). Nothing that failed a
// checksum is ever returned as data.
//
// # Extent locks
//
// With Config.Callbacks the OSC keeps the client's lock namespace of the
// OST (lock.go; ldlm.Client "TARGET-osc-INSTANCE", hooks from the client
// layer): Lock takes or matches an extent lock on an object and tags it
// with the client layer's data (the file's FID), Covered tells whether a
// cached lock serves a range. Punch and SetSize run under a PW lock on
// [size, EOF], which calls back what other clients cache beyond the new
// end. Reads and writes themselves take no lock here: the client layer
// locks the whole I/O (a write's data stays cached after the RPC-free
// Write into the cache, so the lock belongs to the layer that caches).
// Close cancels the locks (best effort, bounded) before closing the
// import.
//
// # Grant and dirty accounting
//
// See cache.go: dirty counts the bytes cached towards the OST (dirty or in
// flight), bounded by MaxDirty (max_dirty_mb); the OST's grant, reported
// in every I/O reply (also on errors), tells how much of that the OST has
// promised to store. Writes ask for enough grant to cover MaxDirty. Data
// the grant does not cover is written through by its writer, so that an
// ENOSPC reaches the writer rather than a later flush.
//
// # Failures
//
// An OST that is down makes RPCs wait while ptlrpc reconnects, over the
// failover list, as long as the caller's context lives; errors the OST
// returned arrive wrapped and match their errno.
//
// # Concurrency
//
// Safe for concurrent use. OSC.mu guards the accounting and is a leaf;
// the limiter has its own leaf lock. The OSC starts no goroutine of its
// own; the import's are stopped by Close.
package osc
