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
// # Transactions, group commit and transnos
//
// Reads run in View, concurrently. Writes run through Update: the caller's
// function becomes one operation, handed to a single committer goroutine
// which runs the operations waiting for it (up to Options.MaxBatch, waiting
// up to Options.BatchDelay) one after another in one bbolt read-write
// transaction and commits it — one fsync for the group. Each operation that
// writes gets the next transno in the order the committer runs it, so
// transnos follow commit order; the highest transno is stored in the same
// transaction, and LastCommitted returns the highest durable one. Update
// returns only after the group committed: nothing is acknowledged before it
// is on disk.
//
// bbolt has no savepoints, so an operation that fails must leave no writes
// behind: an operation that fails before writing is simply answered with its
// error; one that fails after writing makes the committer roll the group back
// and run it again without that operation (a rare path — mdd checks before
// it writes). Operation functions must therefore be pure functions of the
// transaction; in-memory effects go in Tx.OnCommit / Tx.OnRollback hooks,
// which run on the committer goroutine. Since every operation runs on that
// goroutine, an operation sees the effects of all operations before it,
// committed or in its own group.
//
// Acknowledging early (not implemented): a server could answer an operation
// once it ran in the open group, with its transno and the current
// LastCommitted, and commit later. Lustre clients keep every request whose
// transno is above last_committed and replay it after a server restart, so
// that would lose nothing that neither the disk nor a client holds. The
// transno order is already right for it. It is the one large win left for
// creates: the group commit (a bbolt commit, two fdatasyncs) is most of a
// create's time, and with NoSync — the bound of what early replies can give
// — mdbench's create phase (2 workers, one FUSE client) ran about twice as
// fast on a loaded 2-core machine (issue #3). What it needs, besides Update
// returning after the function ran (a second channel):
//
//   - Reads of acknowledged writes. A bbolt read transaction sees committed
//     groups only, so a stat right after an early-acknowledged create would
//     not find the file. The store must track the keys written by
//     acknowledged, uncommitted operations and make a View that reads one
//     wait for that commit (or run such reads inside the open group).
//   - The same FIDs and layouts on replay. The MDT allocates FIDs and OST
//     objects inside the operation; a create replayed after a restart must
//     get the FID and objects its first reply gave (the client caches them
//     and may have written the objects). Either clients allocate FIDs from
//     sequences of their own (CreateArgs.FID exists for that) or mdc writes
//     the reply's FID and layout into the request ptlrpc keeps for replay
//     (Lustre's mdc_replay_open); mdt must then create with them.
//   - MDT recovery of changes, beyond what exists (mdt/recovery.go: a
//     window in which clients replay their opens, before the orphan
//     sweep): replays of changes must run in transno order across
//     clients, with their original transnos (Update must accept a given
//     one), before any new request; the OST orphan cleanup (destroying
//     objects above ost_lastused) must wait for the window's end or it
//     destroys the objects of replayed creates.
//   - A failed commit after early replies cannot be rolled back and
//     answered: the clients believe those operations done. The store must
//     stop and the target restart into recovery.
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
// Open starts the committer; Close stops it (operations not yet taken fail
// with ErrClosed) and waits for it before closing the file. The committer
// alone writes, owns the last assigned transno and runs hooks; the store
// has no mutex of its own beyond bbolt's. Hooks must not call Update (the
// committer would wait for itself).
//
// Check verifies the store-level invariants: bbolt page consistency, every
// record decodes, records keyed by an inode belong to an existing one, the
// inode counter, no inode FID at or beyond the local allocator, FLD ranges
// disjoint and the super range ours in the FLD.
package store
