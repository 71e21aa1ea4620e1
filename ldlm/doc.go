// Package ldlm is Stria's distributed lock manager, after Lustre's LDLM:
// every target (each MDT, each OST) runs a lock namespace; clients take
// locks from it over ptlrpc and cache data and metadata only under them,
// which is what makes client caches coherent.
//
// # Locks, resources, modes, policies
//
// A lock is on a resource, named by a wire.ResID (four words; an object's
// FID in the first three) and of one type: PLAIN (the whole resource),
// IBITS (inode bits of an MDT object: LOOKUP, UPDATE, OPEN, LAYOUT, PERM,
// XATTR, DOM), EXTENT (an inclusive byte range of an OST object) or FLOCK
// (POSIX record locks). Its mode is one of Lustre's: EX, PW, PR, CW, CR,
// NL, and GROUP for extent group locks. Two locks conflict when their modes
// are incompatible (Compatible: Lustre's matrix) and their policies meet:
// IBITS share a bit, EXTENT or FLOCK ranges overlap, PLAIN always; two
// GROUP locks conflict unless their group ids are equal; flocks of one
// owner never conflict with each other. Validate refuses an unknown type or
// mode, a policy that does not fit the type, and a type the namespace does
// not serve, with ErrInvalid (EINVAL).
//
// # Server: Namespace
//
// A Namespace holds resources, each with a granted queue and a waiting
// queue, and the locks by server handle. Enqueue (LDLM_ENQUEUE) grants a
// request at once when it conflicts with no granted lock and no waiting
// one — a new request queues behind earlier conflicting waiters, so they
// are not starved. Otherwise it is queued, and every holder of a
// conflicting granted lock gets one blocking callback (LDLM_BL_CALLBACK);
// a conflicting waiting lock is marked instead, and its completion
// callback will carry LockFlagASTSent (cancel once unused). The enqueue
// reply says "blocked"; the handler never waits. When a lock goes
// (LDLM_CANCEL, early cancel, eviction), its resource is reprocessed: the
// waiting locks that conflict neither with a granted lock nor with one
// waiting ahead of them are granted in queue order, each by a completion
// callback (LDLM_CP_CALLBACK) carrying the lock as granted. This is
// Lustre's way; the enqueue reply does not wait for the grant.
//
// Extent locks of clients grow when granted (expandExtent, Lustre's
// ldlm_extent_policy): to the largest extent containing the request that
// overlaps no conflicting granted lock and no conflicting waiting request
// (waiting requests overlapping ours are ignored: we would ping-pong over
// them anyway). With more than 4 conflicting locks it does not grow
// downwards; a PW or CW lock with more than 32 conflicting grows at most 32
// MiB past its start; a grown extent is aligned to the request's own
// alignment (at least a 4 KiB page; an unaligned request is not rounded).
// An uncontended request gets [0, EOF]. Local locks, GROUP locks and
// LockFlagNoExpansion requests get what they asked.
//
// FLOCK requests follow POSIX (Lustre's ldlm_process_flock_lock): a
// request from owner (client, owner cookie) that conflicts with no lock of
// another owner is applied to the owner's locks at once — same-mode locks
// it overlaps or touches merge into it, other-mode locks lose the range it
// covers (split in two when it falls inside), an unlock (mode NL) only
// removes. F_GETLK (LockFlagTestLock) reports a conflicting lock (mode NL:
// none) and grants nothing; F_SETLK (LockFlagBlockNoWait) fails with
// EAGAIN; F_SETLKW waits, unless waiting would close a cycle of owners
// waiting for each other across the namespace's resources (EDEADLK). A
// waiter whose wait becomes a cycle later (an owner with several waiting
// threads) is refused by a completion callback with LockFlagFlockDeadlock.
// Flocks get no blocking callbacks: they go when their owner unlocks, or
// cancels an interrupted F_SETLKW (LDLM_CANCEL of the waiting request), or
// is evicted.
//
// Callbacks go to the client's callback service through one
// connectionless ptlrpc import per client (ImportConfig.NoConnect, to the
// NID its export talks from), each on a goroutine of its own so a silent
// client delays nobody else. A client has ASTTimeout (Lustre's
// ldlm_timeout) to answer a callback; one that answers a blocking callback
// then has CancelTimeout to cancel (Prolong extends it while it still does
// I/O under the lock). A client that misses either is evicted: its locks
// are freed at once, what waited for them is granted, and Config.Evict
// tells the target, which drops the client's export (the client then
// reconnects as a new one). A client answering EINVAL (it does not have
// the lock: its cancel crossed the callback) just loses the lock. The
// target calls EvictClient when it evicts a client for other reasons.
//
// Queues are bounded: MaxWaiting requests in the namespace and
// MaxWaitingPerClient per client; beyond, a request is refused with EBUSY
// and the client retries it after a pause, so a client flooding one
// resource fills at most its own share of the queue, and a request of
// another client waits behind at most that many of the flooder's.
//
// The server takes locks for itself with Lock (an MDT before changing a
// directory, an OST before a punch): the same queues, blocking callbacks to
// the clients in the way, no expansion; LocalLock.Release drops it.
//
// Early lock cancel: a client packs the server handles of unused locks it
// gives up into a modifying request (wire.CancelList; the enqueue carries
// one itself). The handler calls Namespace.Cancel with them before doing
// the operation, saving a blocking-callback round trip.
//
// Lock convert (LDLM_CONVERT, Lustre's inodebits convert): a client gives
// up some inode bits of a granted lock and keeps the rest (Namespace.
// Convert). The lock's blocking callback is then answered: its cancel
// deadline is disarmed, the requests it no longer conflicts with are
// granted, and one it still conflicts with sends it a new callback.
//
// Glimpse: Namespace.Glimpse sends a glimpse callback (LDLM_GL_CALLBACK)
// to the holder of the write lock reaching furthest on an object and
// returns its LVB (the size it knows), without revoking the lock.
//
// # Client: CallbackServer, Client, Lock
//
// A client process runs one CallbackServer per LNet instance: a small
// ptlrpc service on LDLM_CB_REQUEST (replies on LDLM_CB_REPLY) that routes
// callbacks to locks by the client's handle, shared by every client
// namespace of the process. Each Client (one per target) keeps its locks by
// resource. Enqueue first matches a granted cached lock whose mode covers
// the request (Covers: a PW lock serves reads) and whose policy contains
// it; otherwise it sends LDLM_ENQUEUE, with early cancels of the unused
// conflicting locks of the same resource, and waits for the grant. The
// caller holds a reference until Release; an unused lock goes to the LRU,
// from which lru_size (default 100 per CPU; 0 "dynamic" means that same
// default, Stria has no server pool hints) and lru_max_age (default 600 s)
// cancel the oldest. A blocking callback is answered at once; the lock is
// cancelled when its last user releases it: the Cancel hook runs (the
// client layer writes back dirty data and drops its caches), then
// LDLM_CANCEL goes to the server, on the namespace's cancel workers. A
// callback for a lock the client no longer has is answered EINVAL (a
// glimpse ENODATA) and changes nothing; the resend of a completion that
// granted a flock (which the client does not keep) is answered as done.
// With a Convert hook, a blocking callback for only some bits of an
// inode-bits lock gives up those bits instead (the hook drops what they
// covered, LDLM_CONVERT tells the server) and the lock goes back to the
// cache with the rest: the MDC keeps a file's LOOKUP bit, and so its name
// in the kernel, when another client's setattr takes UPDATE|PERM. An interrupted wait (ctx ended)
// cancels the request. A lock whose enqueue was given up before any reply
// stays known by its handle, so that a later callback for it gets it
// cancelled instead of leaking on the server.
//
// The client learns of its eviction when its import reconnects as a new
// client (ptlrpc counts evictions; the namespace checks every
// EvictionCheck and on ErrEvicted replies): it drops every lock and calls
// the Cancel hook with evicted set, so nothing stays cached without a lock.
//
// Parameters (Params) are plain Go getters and setters the caller
// registers under ldlm.namespaces.<name>.: lock_count, resource_count on
// both sides, lru_size, lru_max_age, lock_unused_count and
// early_lock_cancel on clients.
//
// # Goroutines, ownership, lock order
//
// A Namespace owns its timer loop (cancel deadlines) and one goroutine per
// callback in flight; Close cancels them and waits. A Client owns its
// cancel workers and its sweeper (LRU aging, eviction check); Close sends
// the cancels of its locks (best effort), stops them and waits. A
// CallbackServer owns its ptlrpc service.
//
// Namespace.mu guards every structure of a namespace (resources, locks,
// clients, counters); no RPC, no hook and no ptlrpc call runs under it —
// callbacks are collected while it is held and sent after. Client.mu
// guards a client namespace and the fields of its Locks; it is taken
// before CallbackServer.mu, a leaf (callback handlers look the lock up
// under CallbackServer.mu, release it, then take Client.mu). Hooks are
// called with no lock held.
//
// Not done yet: lock replay after a server restart (LockFlagReplay is
// defined), lock conversion (LDLM_CONVERT), server lock-volume pools
// (dynamic LRU), COS/TXN modes.
package ldlm
