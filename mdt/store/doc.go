// Package store is an MDT's persistent storage (Lustre's osd role): one
// bbolt file per metadata target holding inodes, directory entries, xattrs,
// symlink targets, link back-pointers, orphans, per-client reply data,
// sequence and FLD state, and the cross-MDT update log. It knows records
// and keys, not namespace rules; package mdd builds POSIX semantics on it.
//
// # Schema
//
// schema.go lists every bucket and key encoding and holds StorageVersion and
// the migrations; records.go holds the value encodings. FIDs in keys are
// big-endian (wire.FID.KeyBytes) so one inode's records are one key prefix
// and range scans follow FID order. The meta bucket keeps the storage
// version, the target Label, the last committed transno and counters.
// Format writes version StorageVersion; Open runs the migrations from an
// older version in one transaction and refuses a newer one
// (ErrNewerVersion) or an unformatted file (ErrNotFormatted). Format
// refuses a formatted file unless told to reformat (ErrFormatted).
//
// # Directories and readdir cookies
//
// A directory entry's key is parentFID ‖ NamePos(name) ‖ name, where
// NamePos is a 62-bit FNV-1a hash of the name plus 3 (cookies 0, 1, 2 are
// the start, "." and ".."). A directory is the key range with its FID as
// prefix, in hash order, as Lustre's htree directories are. The readdir
// cookie of an entry is its position; to resume after an entry, Dirents is
// called with position+1. Because a position is a function of the name
// alone, an entry that stays in the directory is returned exactly once
// across any inserts or deletes between calls, and an entry inserted or
// removed meanwhile is returned at most once. Two names with the same
// position (a 62-bit collision) must be returned in the same readdir batch
// so that resuming at position+1 skips neither; mdd does that.
//
// # Operations, layers and commits
//
// Writes run through Apply or Update: the caller's function becomes one
// operation, run one at a time on the caller's goroutine under the apply
// token (no hand-off to another thread). Its writes
// go to a layer of its own (overlay.go), not to bbolt: if the function
// fails, the layer is dropped and nothing it wrote takes effect (bbolt has
// no savepoints; the layer is one). An operation that succeeded and wrote
// gets the next transno and its layer joins the pending layers, which
// every later operation and view reads through before bbolt: each sees
// every applied operation, committed or not. A flusher goroutine commits
// the pending layers, oldest first, as many as are there (up to
// Options.MaxBatch) in one bbolt transaction with the highest transno
// stored in it, then drops them: one fsync for the group, while the
// operations go on being applied. LastCommitted is the highest durable
// transno; transnos follow commit order.
//
// Apply returns once the operation ran: the MDT answers a create then,
// before its commit, as Lustre does, with its transno; the client keeps
// the request until last_committed passes it and replays it after a
// restart, so nothing is lost that neither the disk nor a client holds.
// Update returns once the operation is durable. In-memory effects go in
// hooks: OnApply (after the operation ran, before any later one), OnCommit
// (once durable, on the flusher, in commit order) and OnRollback (the
// operation failed, or the store failed before committing it).
//
// Commit on share: a transaction carries the owner of its context
// (WithOwner: the MDT passes the client's export). One that read a write
// of an uncommitted operation of another owner returns only once that is
// committed, so no client acts on another client's change that a restart
// could take back; the owner 0, the MDT itself (OST destroys, orphan
// sweeps), is foreign to all. A client's own changes it reads at once.
//
// A failed commit cannot be answered: operations were acknowledged. The
// store stops (every later call fails with ErrCommit), runs the rollback
// hooks of what was pending and calls Options.OnFailure; the target must
// restart and recover. Barrier (Lustre's replay_barrier) stops commits
// until the store closes, for recovery tests: everything since is lost at
// the restart and must come back by replay.
//
// Transactions read bbolt through a read transaction begun together with
// the capture of the pending layers (Store.pmu), and the flusher drops
// layers only after their commit: a transaction sees each write exactly
// once. The running operation's own writes come first, then the layers
// newest first, then bbolt; cursors merge the layers' sorted keys with
// bbolt's cursor.
//
// # Sequences and FLD
//
// MDT0000 runs the sequence controller (seq.go): it grants super-sequences
// of SuperSeqWidth sequences, MDT0000 first [0x200000400, 0x240000400),
// and records each grant in its FLD, which also maps the reserved
// sequences below 0x200000400 (root, .lustre) to MDT0000. A target's
// sequence server hands single sequences out of its super range; the local
// allocator numbers FIDs 1..MaxOid within one. All this state is written in
// the transaction of the operation that consumes it, so a FID is never
// reused, across restarts included, and a rolled-back operation gives its
// FID back unused.
//
// # Orphans and reply data
//
// The orphans bucket lists inodes whose last name went while open; mdd
// destroys them at last close, or sweeps them after a restart's recovery
// window (the ones a replayed open holds wait for their last close).
// last_rcvd keeps, per client UUID and reply tag, the XID, transno, result
// and reply bytes of its last request, so a resent request gets its reply
// reconstructed rather than executed twice; ptlrpc saves it in the
// transaction of the request itself.
//
// # OST destroy queue
//
// The ost_destroys bucket lists OST objects of destroyed files, keyed by
// OST index then object FID, so each OST's pending destroys are one key
// prefix. The MDT adds them in the transaction that destroys the file
// (unlink, last close of an orphan, orphan sweep), so a crash loses
// neither; its proxy of the OST (mdt/osp) sends the destroys and deletes
// each record once the OST answered.
//
// The ost_lastused bucket keeps, per OST, the highest object a committed
// layout referenced (Lustre's lov_objids), written in the transaction that
// stores the layout. After a restart the MDT asks each OST to destroy the
// objects it precreated above it: they were never handed out to a file.
//
// # Label and mount data
//
// The label names the target (fsname, index, UUID) and keeps what format
// was told (Lustre's mountdata): the MGS nodes, the service nodes and the
// --param settings. Label records of format 2 hold all of it; format 1
// records (storage version 1) decode with the mount data empty.
//
// # Ownership and lock order
//
// Open starts the flusher; Close takes the apply token for good
// (operations not yet taken fail with ErrClosed), lets the flusher commit
// what is pending (unless a barrier holds it) and closes the file. The
// token's holder owns the last assigned transno and runs apply and rollback
// hooks; the flusher alone writes to bbolt and runs commit hooks. Store.pmu
// guards the pending layers; it is a leaf. Hooks must not call Apply or
// Update (the token's holder or the flusher would wait for itself).
//
// Check verifies the store-level invariants: bbolt page consistency, every
// record decodes, records keyed by an inode belong to an existing one, the
// inode counter, no inode FID at or beyond the local allocator, FLD ranges
// disjoint and the super range ours in the FLD.
package store
