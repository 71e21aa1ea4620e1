// Package client is Stria's client library, without FUSE (Lustre's llite
// with its lmv, mdc, lov, osc and mgc devices): it fetches the
// configuration from the MGS, sends metadata operations to the MDTs, and
// reads and writes file data striped over the OSTs. It works on FIDs and
// returns Go errors wrapping syscall errnos; *FS implements the Backend of
// client/fusefs, which turns it into a mount.
//
// # Layers
//
//	client      FS: mount, the Backend methods, open files and inodes,
//	            attributes, virtual xattrs, control commands, parameters
//	client/lmv  routes metadata by FID over the MDCs (MDT0000 for now)
//	client/mdc  one MDT: typed metadata RPCs
//	client/lov  striped reads, glimpse, truncate, the write-back cache
//	client/osc  one OST: typed OST RPCs, RPCs in flight, checksums, grant
//	mgc         the MGS: configuration reads and the watch loop
//
// # Mount
//
// Mount (spec parsing: ParseMGSSpec, "nid[,nid][:nid]:/fsname[/subdir]")
// reads the file system's configuration through mgc within the caller's
// context — an unknown fsname and an unreachable MGS are errors that say
// so — then makes one import per MDT and OST, whose failover list holds,
// per service node, its first NID on a network this node has
// (LNet.PickNID), connects them in parallel (the MDTs within the context,
// each OST for at most Config.OSTWait), asks MDT0000 for the root and walks
// to Config.SubDir. A watch on the configuration (mgc.Watch, one poll per
// ConfigPoll) adds targets that register later; a layout that names an
// OST not known yet makes the client read the configuration at once.
//
// # Metadata
//
// Every Backend method is one or a few MDT RPCs (see mdc), routed by FID
// through lmv, with the caller's credentials (WithCreds) stamped on each
// request (fsuid = uid, fsgid = gid; supplementary groups do not travel:
// ptlrpc.Creds has no room for them). Modifications are replayable.
// ReadDir drops the "." and ".." the MDT returns.
//
// # Attributes
//
// The MDT knows everything but a regular file's size. GetAttr, Lookup,
// Link, SetAttr and readdirplus complete a regular file's attributes with a
// glimpse — OST_GETATTR of every object of its layout, in parallel — size
// being the largest size any object implies (layout's FileSize), blocks
// their sum, mtime and ctime the latest, and merge what this client caches
// of it (the end of its cached writes, the time it last wrote). The MDT's
// part is cached under inode-bits locks (mdcache.go), and the kernel may
// keep names and some attributes under them too (kcache.go). A file just
// created needs no glimpse (its objects are new).
//
// # Data
//
// An open regular file (File) shares an inode with the file's other open
// handles in this mount: its layout and its write-back cache (lov.Cache).
// ReadAt first writes back what is cached of the range, then reads it from
// the objects in parallel straight into the caller's buffer; when an object
// ends inside the range it learns the file size by a glimpse and returns a
// short count at the end of the file (holes read as zeros). WriteAt copies
// into the cache, which sends RPC-size-aligned RPCs as they fill (at most
// MaxRPCsInFlight per OST), holds a writer while its OST's share of the
// cache (MaxDirtyMB) is full, and writes through what the OST's grant does
// not cover, so that ENOSPC reaches the writer. Flush (every close) and
// Fsync write everything back and return a write-back error this handle
// was not told of yet; the OSTs make every write durable before they
// answer, and Fsync asks the MDT to commit (MDS_SYNC) only when it
// answered this client something it has not committed yet (a create).
// Release does the same, then closes the MDT handle with the size and
// mtime this client knows, or, for a file it created and did not write,
// leaves the handle open under the file's OPEN lock until that lock goes
// (opencache.go). Truncate
// (SetAttr with a size, and O_TRUNC) goes to the MDT first, which checks
// permissions, then writes back the file's cache and punches every object
// to its share of the size, extending the object of the new last byte when
// the file grows. O_APPEND is the adapter's: it writes at GetAttr's size.
//
// # Virtual xattrs and control commands (the contract with tools/lfs)
//
// lustre.lov is a file's layout or a directory's default (the MDT maps
// it); setting it on a file without objects makes the MDT instantiate it.
// lustre.fid is the FID as text; lustre.link is built from fid2path. The
// FS answers "mount", "df" and "fid2path" on its obd node's control socket
// and registers Lustre's parameters there (osc.*, mdc.*, llite.*, mgc.*)
// and devices for `lctl dl`.
//
// # Ownership, goroutines, locks
//
// The FS owns the mgc client (and its watch goroutine), the MDCs and OSCs
// (and their imports' goroutines), background connects of late targets
// (FS.wg), and every inode's cache (its write-back goroutines). Close
// writes back and releases every open file, stops the watch, cancels and
// waits for the background work, closes the imports and unregisters the
// parameters; calls after Close fail with ErrClosed (ENOTCONN).
//
// Lock order: mdCache.mu before the FUSE adapter's invalidation queue
// (a leaf); FS.mu before inode.mu; inode.ioMu (held shared by reads and
// writes, alone by truncates and layout changes) before the cache's lock;
// the cache's lock before the OSCs' accounting locks. FS.mu is never held
// across an RPC; the write-back pressure hook collects caches under FS.mu
// and calls them after releasing it.
package client
