// Package lov does a file's striped I/O over its layout (Lustre's lov
// device): it maps file ranges to OST object chunks with package layout's
// RAID0 math and fans them out to the OSTs (Targets, implemented by the
// client's OSCs; tests fake them).
//
// # Reads
//
// Read splits a range of one mirror with layout.Split and cuts each chunk
// into RPCs of at most the OST's RPC size, aligned to it in the object;
// every RPC reads into its own sub-slice of the caller's buffer, so the
// data moves from the OST into the caller's memory with no copy. All RPCs
// go out at once, each OST bounding its own RPCs in flight. A chunk can
// not be longer than a stripe unit (except in a one-stripe component,
// where Split merges units), so a read of a file with small stripes makes
// small RPCs: ptlrpc bulk is one contiguous buffer, and merging the units
// of one object would need a copy. Holes (uninstantiated components),
// ranges past the layout and past an object's end read as zeros, and Read
// says so (short); the caller then learns the file size (Glimpse) to tell
// a hole from the end of the file.
//
// # Size
//
// Glimpse asks every object for its attributes in parallel: the file size
// is the largest Component.FileSize over the objects (lov_stripe_size),
// blocks their sum. Truncate punches every object to its share of a new
// size (layout.TruncateSizes) and extends the object that holds the new
// last byte when the file grows. Allocate (fallocate) splits a range as a
// write would and sends each object one OST_FALLOCATE covering its part.
//
// # Write-back cache
//
// Cache (cache.go) is one file's write-back cache: written data is copied
// once, into extents of object space that never cross a multiple of the
// OST's RPC size, and each extent that reaches the end of its slot goes out
// at once (a full slot: one aligned RPC) straight from the extent's
// buffer; the rest waits for
// Flush, for a read of the range (FlushRange), or for a writer waiting on
// cache space (the Pressure hook). Sequential writes to a striped file
// therefore become full-size RPCs whatever the stripe size, since the
// units of one object are contiguous in it. Overlapping extents reach the
// OST in the order they were written. Space is accounted per OST (see
// osc): a writer waits while its OST's share is full, and writes through
// what the OST's grant does not cover. An extent is checksummed (crc32c)
// as data enters it, while the data is hot: a sequential writer's extent
// goes out with its checksum ready; what an overwrite left unsummed is
// summed when sent. Each extent carries the latest
// time its data was written (Write's mtime) to the OST, which moves the
// object's mtime forward to it: written back late, data never makes the
// file newer than the client reported. Errors of write-back are kept and
// reported once to each reader of them (Err, Linux's errseq).
//
// The client caches written data only under a PW extent lock of the
// object (client/datalock.go); when the lock is called back the client
// flushes, and when it was lost to an eviction it drops the object's dirty
// data (Discard, reported as ErrDiscarded, EIO). ObjectEnd tells how far
// the cached writes extend an object, the answer to an OST's glimpse.
//
// # Goroutines and locks
//
// Read, Glimpse, Truncate and Allocate start goroutines per RPC and wait for all of
// them before returning. A Cache starts one goroutine per extent in
// flight; Close waits for them. Cache.mu is taken before the targets'
// accounting locks and is never held across an RPC or a wait.
package lov
