// Package mdd gives an MDT its namespace semantics (Lustre's mdd layer):
// POSIX operations on FIDs over the store of package mdt/store. The MDT
// request handlers call it with the caller's credentials and turn its
// errors into errno values with errors.Is (every sentinel of errors.go
// satisfies errors.Is(err, syscall.Exxx)).
//
// # Operations and transactions
//
// Every modifying operation (Create, Mkdir, Mknod, Symlink, Link, Unlink,
// Rmdir, Rename, SetAttr, SetXattr, RemoveXattr, Close of an orphan,
// SweepOrphans) is one store operation: it checks everything first, then
// writes, all inside one function the store runs as one operation
// transaction. It returns after the group committed, with the operation's
// transno (0 when it changed nothing: a rename between two names of one
// inode, a Close that destroyed nothing). Reads (Lookup, GetAttr,
// Readlink, Readdir, GetXattr, ListXattr, Paths, StatFS) run in read
// transactions, concurrently, and see committed state only.
//
// Within an operation an inode cache (op) loads each inode once, so a
// directory that is both parents of a rename is one object, and writes each
// changed inode once at the end; PutInode stamps it with the transno
// (Inode.Version, for version-based recovery).
//
// # Names, links and link counts
//
// Names are at most 255 bytes, hold no '/' or NUL and are not "." or ".."
// (EINVAL, ENAMETOOLONG); modifying operations never see "." and "..", which
// the kernel resolves. Lookup answers "." and ".." itself. Every name of an
// inode has a link entry (parent FID, name) in the store — Lustre's linkEA
// — which gives a directory its ".." and Paths (fid2path) every path of an
// inode. A non-directory's nlink counts its names; a directory's is 2 plus
// its subdirectories (mkdir, rmdir and renames across parents keep the
// parent's count), up to MaxLink (EMLINK).
//
// # Unlink, open counts and orphans
//
// Open counts are in memory only (MDD.opens under MDD.mu). Open runs on
// the store's apply token like every modifying operation, changing the
// count inside the operation with a rollback hook, so it is serialised
// with unlinks: the unlink of the last name of an inode sees every earlier
// open. If the inode is open it becomes an orphan (nlink 0, recorded in
// the store's orphan list) and the last Close destroys it; otherwise it is
// destroyed at once. A Close that cannot destroy anything (another open
// remains, or the inode is no orphan) only lowers the count, under MDD.mu,
// without a store operation and without waiting for a group commit: the
// unlink's orphan decision and MDD.orphans (every orphan, noted in the
// same MDD.mu section) make the two orders of a close and an unlink both
// right. Only the last close of an orphan goes through a store operation. Destroying returns the inode's layout
// blob (Removed.Layout) so the caller destroys the OST objects. An orphan
// of a previous run is kept until SweepOrphans, which the MDT calls when
// recovery ended (replayed opens reopen orphans by FID); Check then insists
// that every orphan is open.
//
// # Readdir
//
// Readdir returns "." and ".." itself (cookies 1 and 2), as FUSE wants
// them, then the stored entries in hash order. A cookie is a name's hash
// position + 1 (store.NamePos), not an index: it stays valid while other
// entries come and go, and an entry present for the whole listing is
// returned exactly once. Entries sharing a position are never split across
// calls.
//
// # Rename
//
// Within one MDT, with POSIX rules: directory over empty directory,
// ENOTEMPTY, ENOTDIR, EISDIR, EINVAL for a move into its own subtree
// (walked up through link entries), a no-op for two names of one inode,
// RENAME_NOREPLACE (EEXIST) and RENAME_EXCHANGE. Parents or inodes on
// another MDT give EXDEV; cross-MDT rename through the update log comes
// with DNE. The victim of an overwrite goes the way of an unlink.
//
// # Permissions
//
// Credentials (Creds) come with each call. Lookup needs search permission on
// the directory; creating or removing a name needs write and search; in a
// sticky directory only the owner of the entry or of the directory may
// remove or rename it (EPERM); moving a directory to a new parent needs
// write permission on it (its ".." changes). Root passes every check
// except executing a file without an x bit. Attribute changes follow
// SetAttr's rules; xattr namespaces: user.* by file permissions on
// regular files and directories, trusted.* root only, security.* and
// lustre.* readable by all and written by owner or root. A new inode gets
// the caller's uid and gid, or the directory's gid in a setgid directory.
//
// # Layouts
//
// The layout of a regular file is the opaque xattr lustre.lov (trusted.lov
// is the same attribute), supplied at Create or set later; each change
// bumps Inode.LayoutGen. A directory's default layout is lustre.lov.default,
// copied to new subdirectories by Mkdir — except the root's, the file
// system default, which subdirectories inherit at runtime (a change of it
// reaches every directory without a default of its own, as in Lustre).
// Destroying a file with a layout calls Config.OnDestroy inside the same
// operation, where the MDT queues the OST objects for destruction, so a
// crash loses neither the unlink nor the objects to destroy; storing a
// layout (Create, SetXattr of lustre.lov) calls Config.OnLayout likewise,
// where the MDT notes the OST objects layouts use. Regular file sizes live on the
// OSTs; Inode.Size of a regular file is the lazy size the MDT last learnt
// (SetAttr with SetSize or SetBlocks, e.g. at close).
//
// # Lock order
//
// MDD.sweepM (SweepOrphans only) before the store's apply token; MDD.mu is a
// leaf lock, never held across a store call.
package mdd
