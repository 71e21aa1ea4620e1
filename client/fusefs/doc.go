// Package fusefs turns Stria's client library into a FUSE mount, with
// go-fuse (github.com/hanwen/go-fuse/v2, its fs package). It is the only
// package that imports go-fuse, and it knows nothing of RPCs: it works
// through the Backend interface (backend.go), on FIDs, and translates.
//
//	srv, err := fusefs.Mount(ctx, "/mnt/stria", backend, fusefs.Options{
//		FsName: "10.0.0.1@tcp:/stria", AllowOther: true, Logger: log})
//	...
//	err = srv.Serve(ctx) // foreground: until unmounted, or ctx is cancelled
//
// # Inodes
//
// Every inode of the mount is a node holding a FID. Its inode number is
// wire.FID.Ino() (Lustre's flattened FID), stable across clients and
// remounts, generation 0. go-fuse keeps one node per inode number, so the
// names that reach one FID (hard links, readdirplus, lookups from several
// directories) are one kernel inode. go-fuse's tree of nodes is only a
// cache of what the kernel holds: every lookup asks the backend, and a
// node's FID never changes (a rename moves a name, not a FID). Two FIDs
// whose flattened numbers collide would share an inode, as on Lustre with
// 64-bit inode numbers.
//
// # Caching
//
// Names and attributes: a Backend that is a MetaCacher (client.FS) says,
// after each answer, how long the kernel may keep the name and the
// attributes it returned (FUSE entry and attribute timeouts): as long as
// it holds the lock that covers them, and it drops them through the
// MetaInvalidator it is given when the lock goes (cache.go). The
// notifications (FUSE_NOTIFY_INVAL_ENTRY, FUSE_NOTIFY_INVAL_INODE) are
// sent by a goroutine of the mount, never from inside a request: an
// entry's invalidation takes its directory's lock in the kernel, which a
// request of that directory holds while it waits for us. The mount's node
// IDs are the inode numbers (go-fuse's ExternalNodeID), so a FID names
// its kernel inode. A rename of this mount drops the new name: the kernel
// moves the dentry with the timeout of its old name. Without a MetaCacher,
// or where it says 0, nothing is kept: every path walk looks names up and
// every stat fetches attributes. A name's absence is kept (a negative
// entry: a LOOKUP reply of node ID 0 with a timeout, negRaw) when the
// backend gives it a timeout too (Cacheable with a zero FID).
//
// Pages: no open keeps the page cache (no FOPEN_KEEP_CACHE) unless the
// file says its pages are still valid (CacheKeeper: extent locks cover
// them), so a file opened after another client wrote it reads the new
// data (close-to-open). Within one open the page cache serves reads,
// which is what mmap(2) and MPI-IO need; FOPEN_DIRECT_IO is used only for
// O_APPEND (below).
//
// # Data path
//
// Kernel passthrough stays off: handles have no PassthroughFd and the
// capability is not offered, so every READ and WRITE reaches the daemon.
// MaxWrite is 1 MiB (FUSE_MAX_PAGES, 256 pages): a large write(2) arrives
// as 1 MiB WRITEs, one bulk RPC each. Reads come through the kernel's
// readahead, whose window the adapter raises to 4 MiB (the mount's
// read_ahead_kb) so that they too arrive as 1 MiB READs, several at once.
// go-fuse reuses a WRITE's buffer once Write returns, so the backend must
// copy what it keeps.
//
// O_APPEND: the kernel computes an append's offset from its cached size,
// which another client may have made stale. A handle opened with O_APPEND
// is direct I/O, and each of its writes goes where the backend says the
// file ends now, one at a time through this client (node.appendMu).
// Appends from several clients at once are ordered only under locks (#4).
//
// # Record locks
//
// A Backend that is also a Locker (*client.FS: FLOCK locks on the MDT)
// gets flock(2) and fcntl(2) locks (EnableLocks; lock.go): F_GETLK,
// F_SETLK, F_SETLKW and flock (FUSE_LK_FLOCK: the whole file, owned by the
// open file) go to it with the kernel's lock owner. F_SETLKW waits on the
// request's own context, not opContext's: a signal ends the wait at once
// (EINTR) and the backend cancels it. The kernel then keeps no lock
// itself, so release is the adapter's: a FLUSH (every close(2)) drops the
// closing owner's POSIX locks on the file — go-fuse does not hand FLUSH's
// lock owner to the node, so a wrapper of the raw file system notes it by
// caller thread — and a RELEASE drops the open file's flock. The kernel
// sends RELEASE after close(2) returns, so a flock is seen released a
// moment after its last descriptor closes. Flocks and POSIX locks of one
// file conflict with each other, as on Lustre.
//
// # Permissions and credentials
//
// The kernel's default_permissions is off (Options.DefaultPermissions
// turns it on): the MDT checks every operation against the caller's
// credentials, as Lustre checks on the server. Every operation puts the
// caller's fsuid, fsgid and thread id into the context (client.WithCreds),
// and for callers other than root the supplementary groups, read from
// /proc/<tid>/status since FUSE does not send them. The adapter checks
// mode bits itself only where no server operation exists: access(2), the
// kernel's check before chdir, and opening a directory for reading.
//
// # Errors
//
// Backend errors become errnos in one function, toErrno: an error wrapping
// a syscall.Errno (found with errors.As, so wire's remote errors and %w
// chains work) is that errno; a cancelled context (the kernel interrupted
// the request) is EINTR; anything else is EIO, logged with the FID. Never
// hand a wrapped error to go-fuse's ToErrno: it answers ENOSYS, which the
// kernel remembers for the whole mount.
//
// # Directories
//
// A listing streams Backend.ReadDir batches, continued by cookie, with
// attributes (the kernel reads every directory with readdirplus). The
// adapter adds "." and "..": directory offset 1 is after ".", 2 after "..",
// and any larger offset is the backend's cookie of the entry just read,
// so telldir/seekdir work and backend cookies must be above 2.
//
// # Lifetime
//
// Mount starts go-fuse's serving goroutines; Unmount and Wait wait for
// them. Files the kernel never released (an aborted connection) are
// released when serving ends.
//
// Locks: fileSystem.mu (the set of open handles), lockState.mu and
// node.lockMu are leaves. node.appendMu
// is held across one O_APPEND write's GetAttr and WriteAt. go-fuse holds a
// directory handle's lock while Readdirent calls Backend.ReadDir, and its
// own tree locks only between backend calls. The backend must never call
// into the mount (a request it waits on would wait for itself).
package fusefs
