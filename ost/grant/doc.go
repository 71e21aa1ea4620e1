// Package grant is the OST's grant accounting, after Lustre's tgt_grant: an
// OST promises each client space for the dirty data it caches, so a client
// never holds data it cannot write back.
//
// Concepts:
//
//   - avail: the bytes writers may still use, set from statfs (SetAvail)
//     and lowered by every write served (Consume) until the next refresh.
//   - grant: bytes promised to one client; total is their sum.
//   - left = avail - Reserve - total: what can still be promised.
//
// Flow, as the OST handlers use it: at connect and in every write reply the
// OST calls Grant(client, want) and sends back what it gave; on a write of
// n bytes it calls Consume(client, n) first — the client's grant covers
// what it can, the rest must fit in left, else the write fails with
// ErrNoSpace (ENOSPC) before it touches the disk; a preallocation
// (fallocate) calls Preallocate, which takes only unpromised space; a
// client returning grant
// calls Shrink; a disconnected or evicted client's grant is dropped with
// Release.
//
// Invariants: total is the sum of the clients' grants; a Grant never makes
// total exceed avail - Reserve; a grant is a multiple of Unit when given.
// Grants already promised are honoured by Consume even if avail later
// shrinks under them (space used behind the OST's back); the store's own
// ENOSPC still stops such a write. Overwrites consume grant like new writes
// (the OST cannot tell cheaply); the next SetAvail corrects avail.
//
// One Grant call gives at most 1/MaxFraction of left (Lustre: 1/8), so one
// client cannot take the whole target at once; when left is below one unit
// per fraction, the remainder is given whole.
//
// Grants is pure (no I/O, no goroutines) and safe for concurrent use; its
// one mutex is a leaf.
package grant
