// Package mdt is the metadata server (Lustre's MDS with its MDT role): it
// serves one metadata target over ptlrpc — the namespace, attributes,
// extended attributes and file layouts — and allocates the OST objects of
// new files. Its layers, named as Lustre's:
//
//	mdt        request handlers, open handles, parameters (this package)
//	mdt/mdd    namespace semantics: POSIX operations on FIDs
//	mdt/lod    layouts: effective layout of a new file, OST choice (layout/qos)
//	mdt/osp    one proxy per OST: precreated object pools, statfs, destroys
//	mdt/store  the bbolt store: records, group commit, transnos, destroy queue
//
// # Life cycle
//
// Format makes a directory an MDT (mkfs.lustre --mdt): a store file
// (StoreFile) whose label records the fsname, index, MGS and service nodes
// and --param settings; MDT0000 gets the root directory, whose default
// layout is the file system default (lov.stripesize, lov.stripecount,
// lov.stripeoffset parameters). Start opens it — refusing an unformatted
// directory (ErrNotFormatted) or another file system's MDT (ErrWrongFS) —
// opens a recovery window (below), and starts the "mdt" service on
// wire.MDSRequestPortal (replies wire.MDCReplyPortal, bulk
// wire.MDSBulkPortal, connect wire.MDSConnect) with the target
// "FSNAME-MDT0000". Every reply carries the store's last committed transno.
// The target registers with the MGS (MGS_TARGET_REG) from a background
// loop that retries while the MGS is away, and watches the file system's
// configuration (package mgc): every OST in it, and every OST that joins
// later, gets an OST proxy (mdt/osp) added to the allocator (mdt/lod).
// Close stops the service, the loops and the proxies and closes the store.
//
// # Requests
//
//	MDS_GET_ROOT     Empty              → GetRootReply
//	MDS_GETATTR      FIDRequest         → InodeReply (layout of a regular file)
//	MDS_GETATTR_NAME GetattrNameRequest → InodeReply
//	MDS_REINT        op + body: SETATTR, CREATE, LINK → InodeReply;
//	                 UNLINK, RENAME, SETXATTR → Empty; OPEN → InodeReply with Handle
//	MDS_CLOSE        CloseRequest       → Empty
//	MDS_READPAGE     ReadpageRequest    → ReadpageReply (attributes with Plus)
//	MDS_STATFS       Empty              → StatFS (inodes; blocks of the store's file system)
//	MDS_GETXATTR     GetxattrRequest    → GetxattrReply
//	MDS_SYNC         FIDRequest         → Empty
//	MDS_GET_INFO     Fid2pathRequest    → Fid2pathReply
//
// Credentials are the request's fsuid and fsgid (no supplementary groups
// travel yet). A create by open(O_CREAT) is answered once it ran in the
// store (store.Apply), before its commit, with its transno, which the
// reply carries: the client keeps the request, with the FID and layout of
// the reply, until last_committed passes it and replays it after a
// restart (Recovery, below), as Lustre clients do. Every other modifying
// operation returns after its commit; so does one that read another
// client's uncommitted change (commit on share), and MDS_SYNC waits for
// all. Nothing is acknowledged that is neither on disk nor held for
// replay. Errors reach the client as errno: the
// mdd, lod and osp sentinels carry theirs (errnoTable).
//
// # Layouts and objects
//
// A regular file created by REINT_OPEN with O_CREAT, or by REINT_CREATE
// with a layout template, gets its layout at create: lod computes it from
// the request's template, the parent directory's default ("lustre.lov" of
// a directory, stored as mdd's lustre.lov.default), the root's default,
// or the built-in one; refuses a stripe count above the number of OSTs
// (EINVAL, nothing allocated); picks OSTs with layout/qos and takes one
// precreated object per stripe of the initial components from the OST
// proxies' pools — no OST round trip — and the encoded layout is stored
// as the file's "lustre.lov" in the create's own transaction. A create
// that fails gives its objects back to the pools.
//
// The transaction that stores a layout also records, per OST, the highest
// object layouts use (mdd's OnLayout hook, store's ost_lastused). The
// objects the OSTs precreated above it were in the pools of the previous
// run: no committed file has them, but a replayed create may claim them.
// So an OST proxy started in the recovery window only notes that range
// and precreates above it; when the window ends, the objects of the range
// no replayed create claimed go to the destroy queue (osp's recovery
// mode, Lustre's "resetting orphans").
//
// A regular file made by mknod (REINT_CREATE without a template) has no
// layout (Lustre's delayed create). REINT_SETXATTR of "lustre.lov" on it
// instantiates the given template (`lfs setstripe NEWFILE`); on a file
// that has a layout it is EEXIST. Opening it for writing instantiates the
// default layout. On a directory, "lustre.lov" sets its default (checked
// as a template) and removing it reverts to the file system default.
//
// Destroying a file with objects (the unlink of its last name, the last
// close of an unlinked open file, the victim of a rename, the orphan
// sweep after recovery) records its objects in the store's destroy queue in the same
// transaction (mdd's OnDestroy hook); after the commit the OST proxies are
// woken and send OST_DESTROY, deleting the records as the OSTs answer. The
// queue survives restarts.
//
// # Open handles
//
// Open handles are per client: a map on the ptlrpc export's private state,
// with random-based cookies. ptlrpc has no export teardown callback, so
// exportLoop compares the per-client states with the target's exports
// every Config.ExportCheckInterval and closes the handles of clients that
// are gone (evicted, disconnected, reconnected as a new export). Handles
// are not persistent: clients keep their opens for replay until they
// close them (ptlrpc.Kept, Lustre's open replay) and replay each as an
// open of its FID with the handle it got (OpenRequest.Handle) when they
// reconnect to a new instance.
//
// Recovery (recovery.go): for Config.RecoveryWindow after a start
// (default 60 s; EndRecovery ends it early, as Lustre's abort_recovery)
// a replayed open reopens its file — unlinked or not, without checking
// the credentials again, since it was allowed when made — and registers
// the same handle on the client's new export, so that the later close
// finds it; after the window replays are refused (EBADF). When the
// window ends, the orphans of the previous run that no replayed open
// holds are destroyed; those held stay until their last close. A
// replayed create (replay.go) makes the file again, with the FID and
// layout of its first reply, if the restart lost it, and claims its
// objects. A replayed close whose handle is gone keeps what it reports.
// Requests that are not replays are served during the window (Lustre
// holds them back): an unlink of a file's last name that comes before the
// replayed open of a client that held it destroys it, and the replay then
// fails (ENOENT). `lctl --device N readonly` stops the store's commits
// until the restart (store.Barrier, Lustre's replay barrier), to test
// recovery. mdt.*.recovery_status shows the window as
// Lustre's does (status RECOVERING or COMPLETE, recovery_start,
// time_remaining or recovery_duration, replayed_requests).
//
// # Lock namespace
//
// The MDT serves one ldlm.Namespace ("mdt-FSNAME-MDT0000_UUID", ldlm.go):
// PLAIN, IBITS and FLOCK locks on resources named by FIDs
// (wire.ResIDOfFID), its LDLM_ENQUEUE and LDLM_CANCEL handlers on the
// target beside the metadata ones. flock(2) and fcntl(2) locks of clients
// are FLOCK locks on the file's flock resource (the FID's name with
// wire.LockFlock in its fourth word: a resource has one lock type, and the
// FID's own name holds the inode-bits locks). A client that misses a lock
// callback (Config.LockASTTimeout, LockCancelTimeout) loses its locks and
// then its export (Target.Evict), in that order; a client whose export
// goes for another reason (eviction, disconnect, idle) loses its locks at
// the next export check, flocks included, so nobody waits on a departed
// owner.
//
// Before changing an object the MDT takes EX inode-bits locks on it for
// itself (mdlock.go), so that every client caching it under a PR lock is
// called back and drops its cache first: setattr (also open's O_TRUNC and
// close's size and times), link: UPDATE|PERM; unlink, rmdir and rename:
// LOOKUP|UPDATE|PERM on every object the names name, looked up again once
// the locks are held (a name that changed meanwhile is locked anew);
// setxattr: UPDATE|XATTR, and LAYOUT for layouts, as when open
// instantiates a delayed layout. A create takes nothing of the parent:
// clients cache no directory contents, and a name's absence is covered by
// its slot (below). Locks are taken in FID order.
//
// Name slots: an operation that makes a name (create, mkdir, link, open
// with O_CREAT) or looks names up to lock what they name (unlink, rename)
// holds EX locks on the names' slots (wire.NameSlot; Lustre's PDO locks: a
// PLAIN resource per directory and name hash, taken before any inode
// lock), so that a name made meanwhile is never replaced by a rename that
// did not lock, and call back, the inode it named. A lookup that finds no
// name may grant the client a PR lock on its slot, under which the client
// caches the absence (negative.go): the slot's EX calls it back. Only
// directories where no slot was taken for Config.NegativeQuiet get them,
// since the kernel looks up every name it is about to create.
//
// Directory names (dirnames.go): in a directory a client made, and in
// which it made every name since, a lookup that finds no name grants that
// client a PR lock on the directory's wire.DirNames resource instead; it
// then answers the lookups of the names it did not make itself. Any other
// client's operation on a name there takes EX on the resource with its
// slots, which calls the lock back, and the directory is nobody's from
// then on.
//
// Intent locks (Lustre's IT_LOOKUP and IT_OPEN): MDS_GETATTR_NAME, REINT_OPEN
// and REINT_CREATE may carry the handle of a client lock; the MDT then
// enqueues a PR lock of wire.IntentBits on the inode it found or made, for
// that client, at once or not at all (never waiting for other clients),
// reads the name's binding, the attributes and the layout again under it,
// and returns the lock in InodeReply.Lock. A first lookup (or create)
// costs one RPC and leaves the client caching under a lock. A replayed
// request gets no lock. The creating open of a regular file also grants
// the OPEN bit when no other open for writing came since the create
// (fresh.go): with it the creator knows the new file is empty
// without glimpsing the OSTs, so every open for writing of an existing
// regular file takes EX on the OPEN bit first.
//
// Early lock cancel: an unlink or rmdir carries the handles of the
// client's own locks on the inode (UnlinkRequest.Cancels), cancelled
// before the inode is locked rather than called back. A handler waiting for a lock holds a service thread until the
// clients cancel (or are evicted after Config.LockCancelTimeout): the
// cancels arrive on the same service, so a flood of conflicting changes
// can exhaust the threads until evictions free them (Lustre cancels on a
// service of its own; ptlrpc has one service per portal here).
//
// # Parameters and devices
//
// mdt.FSNAME-MDT0000.{uuid,md_stats,num_exports,last_committed,kbytes*,
// files*}; lod.FSNAME-MDT0000-mdtlov.{uuid,numobd,activeobd,target_obd,
// stripesize,stripecount,stripeoffset} (the last three read and write the
// file system default); osp.FSNAME-OSTxxxx-osc-MDT0000.{prealloc_next_id,
// prealloc_last_id,prealloc_last_seq,prealloc_status,prealloc_count,
// create_count,destroys_in_flight,destroys_pending,active,kbytes*,files*,
// import}; ldlm.namespaces.mdt-FSNAME-MDT0000_UUID.{lock_count,
// resource_count,lock_timeouts,ast_timeout,cancel_timeout}. Devices for `lctl dl`: "mdt", "lod" and one "osp" per OST (IN
// while the OST takes no objects).
//
// # Locks and goroutines
//
// Server.mu guards the OST proxies, the per-client states and the
// registered parameters; it is never held across a store operation or an
// RPC (the store's commit hooks take it to find proxies to wake). An
// exportState's mu is a leaf. Goroutines: the registration loop and the
// export loop (Server.wg), the MGS client's watch (owned by the client,
// which Close closes when the server made it), and each proxy's own.
package mdt
