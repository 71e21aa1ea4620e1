// Package ost is the object storage server (Lustre's OSS with its OFD
// role): it serves one or more OSTs, each an object store (ost/osd) on a
// local directory, to clients (osc) and to the MDTs' object allocators
// (osp) over ptlrpc.
//
// # Life cycle
//
// Format makes a directory an OST (mkfs.lustre --ost): fsname, index, the
// MGS and service nodes and --param settings go into the store's label.
// Start opens every directory of Config.Dirs — refusing an unformatted one
// (ErrNotFormatted), one of another file system (ErrWrongFS) and an index
// served twice (ErrDuplicate) — builds one ptlrpc.Target per OST
// ("FSNAME-OST000a", UUID "FSNAME-OST000a_UUID") and starts two services
// that both serve every target and every OST opcode, as Lustre's OSS:
//
//	"ost"    on wire.OSTRequestPortal, Config.Threads handler goroutines
//	"ost_io" on wire.OSTIOPortal,      Config.IOThreads (default 2*GOMAXPROCS)
//
// Replies go to wire.OSCReplyPortal, bulk moves on wire.OSTBulkPortal,
// clients connect with wire.OSTConnect. A client may send anything to
// either service; clients put reads and writes on ost_io so that a slow
// disk does not hold up statfs and precreates.
//
// Each target registers with the MGS (MGS_TARGET_REG: its service nodes,
// the local one first, and its --param settings) from a background loop
// that retries with back-off while the MGS is away; the target serves
// meanwhile. The server makes its own MGS client (package mgc) of the
// label's MGS nodes (or Config.MGSNodes) unless Config.Register is given;
// without MGS nodes, registration is off. A refusal by the MGS (the index
// belongs to another target: EADDRINUSE) is final and WaitRegistered
// reports it. Close stops the services, waits for every goroutine the
// server started, closes the MGS client and the stores.
//
// # Requests and replies
//
//	OST_READ      IORequest        → IOReply; data PUT into the client's bulk buffer
//	OST_WRITE     IORequest        → IOReply; data fetched by GET from the client's buffer
//	OST_PUNCH     PunchRequest     → ObjectAttrRequest (attributes after)
//	OST_FALLOCATE FallocateRequest → ObjectAttrRequest (mode 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE)
//	OST_SETATTR   ObjectAttrRequest → ObjectAttrRequest
//	OST_GETATTR   FIDRequest       → ObjectAttrRequest
//	OST_CREATE    PrecreateRequest → PrecreateReply (objects [First, First+Count))
//	OST_DESTROY   FIDRequest       → empty
//	OST_STATFS    anything         → StatFS
//	OST_SYNC      FIDRequest       → empty (zero FID: the whole target)
//	OST_GET_INFO  LastIDRequest    → LastIDReply (the MDT's sequence's LAST_ID)
//	OST_SET_INFO  OrphanRequest    → OrphanReply (destroy unused precreated objects)
//
// Anything else is EOPNOTSUPP (ptlrpc). Errors reach the client as errno:
// osd's sentinels carry theirs (ENOENT, ENOSPC, EFBIG...), a checksum
// mismatch is EBADMSG, an I/O that does not fit its bulk buffer EINVAL, a
// malformed body EPROTO (that includes an I/O above wire.MaxIOSize, which
// the decoder refuses).
//
// # Durability
//
// Nothing is acknowledged that is not on disk: a write, punch, fallocate
// or setattr fsyncs its object before the reply, precreate and destroy are
// durable in the store when they return. So the OST needs no transaction numbers and
// no replay: a client whose reply was lost resends, and ptlrpc answers a
// resend from the saved reply.
//
// # Bulk I/O
//
// A read is pread into one pooled buffer, crc32c (Castagnoli) over it,
// one bulk PUT, and the checksum in the reply; a read past the end is
// short and holes are zeros. A write is one bulk GET into a pooled buffer,
// a crc32c check against the client's (a mismatch is refused with EBADMSG
// before anything touches the disk), the grant charge, pwrite (O_DIRECT
// for whole aligned blocks, from the pooled buffer to the device: osd), the
// object's mtime and ctime moved forward to the write's IORequest.Mtime
// (the client's time of the write, Lustre's o_mtime: data written back
// late never makes the file look newer than the client said; the OST's
// clock is never used), and fsync — shared by the writes of one object
// that finish together (osd's group commit: each reply waits for an fsync
// that started after its data was written, so nothing unsynced is
// acknowledged, while N concurrent writes cost about two fsyncs, not N).
// Buffers come from power-of-two size classes (4 KiB to 16 MiB), so the
// data is copied exactly once between the network and the disk and no
// allocation grows with the I/O size. An I/O never moves more than the
// client's bulk buffer (ErrBadIO otherwise).
//
// # Objects and sequences
//
// An MDT precreates objects in its own sequence on each OST: for MDT0000
// the OST's IDIF sequence [0x1_0000_0000 | ost<<16 : oid : 0] as Lustre on
// a one-MDT file system, for MDT n > 0 the sequence SeqOSTBase | n<<16 |
// ost (Sequence). osd keeps LAST_ID durable before the objects exist and
// never lowers it, so an object id is never handed out twice, restarts
// included. After an MDT restarts it asks, with OST_SET_INFO, to destroy
// the objects above the last it handed out ("resetting orphans"), and
// learns LAST_ID to continue after.
//
// # Grants
//
// Each target keeps a grant.Grants fed with the store's available space
// (at start, every Config.StatFSInterval, after every write). A write is
// charged to its client's grant first and to the unpromised space for the
// rest (ENOSPC if it does not fit, before the disk is touched); its reply
// hands out up to IORequest.GrantWant more and returns the client's grant.
// A write that does not fit is charged again for only the part of its
// range without blocks (osd Unallocated: overwrites and preallocated space
// need none, as Lustre's grant check skips mapped blocks) before it is
// refused. A preallocation (OST_FALLOCATE) is charged, for the part of its
// range without blocks, to the unpromised space only (ENOSPC if it does
// not fit): clients' grants stay theirs.
// Grants are keyed by client UUID: a client that connects with a new
// export starts with none (the Connect hook releases the old one), and
// the maintenance loop releases the grant of every client that has no
// export any more — ptlrpc has no disconnect or eviction callback, so a
// departed client's grant lingers at most one StatFSInterval. The same
// loop is the ping evictor: a client silent for Config.EvictIdle (150 s
// by default; clients ping every 25 s) is evicted.
//
// # Extent locks
//
// Each OST runs an ldlm.Namespace (ldlm.go), "filter-NAME_UUID", serving
// EXTENT and PLAIN locks on its objects over LDLM_ENQUEUE/LDLM_CANCEL on
// both services. Clients cache object data only under these locks:
// reading under PR, writing (and keeping dirty data) under PW; the
// namespace grows an uncontended request to [0, EOF]. The lock value
// block of an object is its size, blocks and times from the store. A
// getattr glimpses the holder of the write lock reaching furthest
// (Namespace.Glimpse) and merges the size it reports, so a stat elsewhere
// sees data a client has not written back yet. A client that misses a
// callback (Config.ASTTimeout, then Config.CancelTimeout to cancel) loses
// its locks, then its export; a client evicted as idle, or connecting
// with a new export, loses the locks of the old one. The server trusts
// clients to lock before I/O: OST_READ/OST_WRITE/OST_PUNCH carry no lock
// handle (Lustre's lockless and server-locked I/O are not done).
//
// # Statistics, parameters, fail points
//
// The server registers in its obd.Node: `lctl dl` devices "ost OSS" and
// "obdfilter FSNAME-OSTxxxx", and parameters obdfilter.NAME.{kbytestotal,
// kbytesfree, kbytesavail, filestotal, filesfree, stats, tot_granted,
// num_exports, uuid, last_id}, ost.OSS.{ost,ost_io}.{threads_max,stats},
// fail_loc and fail_val. Fail points (failpoint.go) carry Lustre's
// OBD_FAIL_OST_* numbers and its FailOnce flag; they belong to the Server
// (Lustre's are node-wide), so the node's fail_loc parameter is the last
// registered server's when one node runs several. Dropping a request or
// reply is not a fail point here: ptlrpc always answers a handled request,
// so tests drop messages with lnet/netfault.
//
// # Concurrency and lock order
//
// Handlers run on the services' goroutines, any number at once; the
// store, grants and counters are safe for concurrent use. Goroutines
// started: the services' (owned by ptlrpc, stopped by Close), the MGS
// client's (closed by Close), the maintenance loop and the registration
// loop (stopped by Close through Server.ctx, waited for by Server.wg).
// The lock namespaces own their goroutines and are closed after the
// services. Locks, outermost first:
//
//	target.grantMu (Connect hook, grant handouts, release of departed clients)
//	→ grant.Grants' lock → ptlrpc.Target's lock (Exports snapshot)
//	failPoints.mu (leaf)
package ost
