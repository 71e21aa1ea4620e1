// Package osd is the object storage device under an OST: a flat space of
// objects named by FID, each a sparse byte array with a few attributes. It
// knows nothing of the network; the OST request handlers (ost) sit on top
// and map its sentinel errors to errno on the wire.
//
// # Engines
//
// Store is the interface; two engines implement it and pass the same
// conformance suite (osd/osdtest):
//
//   - Dir (OpenDir): the production engine, a directory on a local file
//     system, formatted first with Format.
//   - Mem (NewMem): in memory, objects as maps of 4 KiB pages so that holes,
//     punch and block counts behave as on disk. It is the reference the
//     suite holds Dir to, and the store of fast tests.
//
// # On-disk layout (Dir)
//
//	DIR/LABEL                            the label, JSON (see Label)
//	DIR/O/<seq hex>/LAST_ID              highest oid ever allocated, u64 little-endian
//	DIR/O/<seq hex>/LAZY                 bitmap of objects precreated without a file
//	DIR/O/<seq hex>/d<oid%32>/<oid hex>  one object's data
//	DIR/O/<seq hex>/d<oid%32>/<oid hex>.attr  its attributes (sidecar mode only)
//
// This is Lustre's O/{seq}/dN/{oid} tree with hex names as Lustre uses for
// FID sequences; unlike Lustre, IDIF sequences are not folded into O/0 but
// named like any other. Names that are not canonical hex (no leading zero)
// are ignored, so stray files never pass for objects.
//
// The label is the target's identity: fsname, index, UUID
// ("<fsname>-OSTxxxx_UUID"), a random instance id drawn by Format, the
// format version and the format-time parameters (MGS and service nodes,
// --param). Format refuses a formatted directory (ErrFormatted) or one
// holding foreign files (ErrNotEmpty) unless reformat is set; OpenDir
// refuses an unformatted one (ErrNotFormatted), and the daemon compares
// Label().FSName with its own to refuse another file system's target.
// The label is replaced by write-temp, fsync, rename, fsync-dir.
//
// # Attributes
//
// Size and blocks are the file's. The stored attributes — uid, gid, projid,
// atime, mtime, ctime, filter_fid (parent FID, stripe index/count/size,
// component id and extent: what lfsck and fid2path read) and the layout
// version — are one fixed 108-byte little-endian record with a crc32c
// (attrcodec.go), kept in the user.stria.attr xattr of the object file.
// Format probes the file system: if it refuses user xattrs the target is
// formatted in sidecar mode, the record living in <oid>.attr beside the
// data; the choice is recorded in the label (Attrs) and never changes for
// that target. An object created without attributes has no record (no
// xattr block), so an object made by its first write costs one inode and
// nothing else. On
// ext4 a 108-byte xattr does not fit in a 256-byte inode and takes a block
// of its own: format the backing file system with 512-byte inodes
// (mkfs.ext4 -I 512), as Lustre's ldiskfs OSTs are.
//
// Times are the clients': the store never advances them itself, and
// AttrTimesIfNewer lets the write path apply a client's times only forward,
// as Lustre's OFD does.
//
// # Semantics
//
//   - ReadAt and WriteAt are positional (pread/pwrite straight into the
//     caller's buffer: no copy). Holes read as zeros; a read reaching EOF
//     returns what it got and io.EOF. Objects never grow past MaxObjectSize.
//   - Dir writes whole aligned blocks (offset, length and buffer on 4 KiB,
//     64 KiB or more) through a second descriptor opened O_DIRECT
//     (dir_direct.go): the device takes the bytes from the caller's buffer,
//     no copy into the page cache, nothing left to write back at the fsync;
//     the kernel keeps it coherent with the buffered I/O of everything
//     else. Options.BufferedWrites, or a file system that refuses O_DIRECT,
//     keeps every write buffered. Reads of whole aligned blocks of 256 KiB
//     or more go direct too, with no copy out of the page cache
//     (Options.BufferedReads keeps them buffered).
//   - Punch(off, len) deallocates with fallocate(PUNCH_HOLE|KEEP_SIZE): the
//     size never changes, even when the range runs past EOF (as a client's
//     fallocate punch must keep the file size). Punch(off, PunchToEOF) is
//     Lustre's OST_PUNCH with end = OBD_OBJECT_EOF, a truncate to off that
//     may grow the object. Where the file system cannot punch, zeros are
//     written over the part below EOF.
//   - Allocate(off, len, keepSize) is fallocate(2) mode 0 (the size grows
//     to off+len) or KEEP_SIZE (blocks past EOF, size unchanged): later
//     writes into the range cannot fail for space. A file system that
//     cannot preallocate answers ErrNotSupported (EOPNOTSUPP); nothing
//     pretends to allocate.
//   - Precreate advances LAST_ID (pwrite + fdatasync) before it creates any
//     object, so a crash leaves unused ids, never an object above LAST_ID;
//     Create of a FID above LAST_ID raises it first. LAST_ID never goes
//     down, not even in DestroyOrphans: an id is never handed out twice,
//     across restarts included.
//   - Dir precreates lazily (dir_lazy.go): an object is a bit of LAZY
//     (written and synced after LAST_ID) until its first change (write,
//     punch, truncate, setattr, allocate) makes its file; until then it
//     reads as the empty object a precreated file would be. Destroying
//     one clears its bit. So the empty files of the file system cost their
//     OST no inode, and creating and removing them costs one bit each
//     (Lustre's OSTs precreate real inodes; on ext4 that was most of the
//     OSS's work in a create-heavy job).
//   - Durability: Create, Precreate and Destroy fsync the directories (and
//     LAZY) they changed before returning; the entry of a file made by a
//     first change is synced by the object's next SyncObject. Data and attributes are durable after
//     SyncObject (fsync of the file and its sidecar) or Sync (syncfs of the
//     backing file system, covering everything). Concurrent SyncObjects of
//     one object share fsyncs as a group commit (syncgroup.go): a call is
//     answered by the first fsync that started after it was made, and gets
//     that fsync's error.
//   - Space: a full file system's ENOSPC and EDQUOT reach the writer as
//     ErrNoSpace and ErrQuota. Options.Capacity caps the target's bytes and
//     Options.MaxObjects its objects so tests can fill a target quickly:
//     with a cap, a data change runs under its object's lock, reserves the
//     unallocated part of its range (FIEMAP, which sees fallocated
//     extents; else SEEK_DATA/SEEK_HOLE) before touching
//     the file, and charges the real st_blocks delta after, so a write that
//     does not fit fails whole with ErrNoSpace while overwrites of
//     allocated blocks still succeed. OpenDir of a capped store totals the
//     blocks and objects already there.
//
// # Errors
//
// Every sentinel in errors.go is an *Error carrying its errno:
// errors.Is(err, syscall.ENOENT) holds for anything wrapping ErrNotFound,
// and errors.As(err, &errno) yields the errno for the wire. Errors from the
// operating system are mapped to the sentinels once (mapErrno), keeping
// the original in the chain.
//
// # Open files and concurrency
//
// Dir keeps up to Options.MaxOpenFiles object files open in an LRU cache
// (fdcache.go), each with its O_DIRECT descriptor once a direct write
// needed it (so up to twice as many descriptors) and its fsync group. Each operation holds a reference on its descriptor; an
// evicted or invalidated descriptor closes when the last holder lets go, so
// no operation ever sees its fd closed or reused. Destroy unlinks, then
// invalidates the cache entry and bumps a generation; an open that raced
// with it finds the generation changed and uses its descriptor once without
// caching it. So a FID destroyed and created again is never served from the
// old file.
//
// Lock order (Dir), outermost first:
//
//	Dir.ops (read-held by every operation; Close takes it to wait for them)
//	→ dirSeq.mu (LAST_ID of one sequence: Create, Precreate, DestroyOrphans)
//	→ Dir.locks[hash(fid)] (attribute read-modify-write; capped data changes; Destroy)
//	→ fdCache.mu (leaf); fdEntry.dmu, syncGroup.mu and lazyMap.mu are leaves too
//
// Internal helpers never take Dir.ops again (a nested read lock deadlocks
// against a waiting Close); List drops it around each callback, so the
// callback may use the store. Mem takes Mem.mu before memObj.mu; a
// destroyed memObj is marked dead and refuses further operations.
//
// Neither engine starts goroutines.
package osd
