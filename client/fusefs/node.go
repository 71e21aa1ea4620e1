package fusefs

import (
	"context"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/wire"
)

// node is one inode of the mount: a FID. go-fuse keeps one node per inode
// number (fs.StableAttr.Ino = fid.Ino()), so every name that reaches the
// same FID (hard links, readdirplus, lookups from two directories) is the
// same kernel inode.
type node struct {
	fs.Inode
	fsys *fileSystem
	fid  wire.FID

	// appendMu serialises O_APPEND writes through this client, so that each
	// finds the size the previous one left.
	appendMu sync.Mutex

	// lockMu guards locks, the owners that took record locks on the node
	// through this mount (lock.go); a leaf.
	lockMu sync.Mutex
	locks  nodeLocks
}

var (
	_ fs.InodeEmbedder      = (*node)(nil)
	_ fs.NodeLookuper       = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeAccesser       = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeReadlinker     = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeStatfser       = (*node)(nil)
	_ fs.NodeGetxattrer     = (*node)(nil)
	_ fs.NodeSetxattrer     = (*node)(nil)
	_ fs.NodeListxattrer    = (*node)(nil)
	_ fs.NodeRemovexattrer  = (*node)(nil)
)

// newChild returns the inode for fid, bound to name in n, with attributes
// a, filling out (with the timeouts the backend allows, gen being the
// invalidation generation read before the backend was asked). If go-fuse
// already knows an inode with fid's number it uses that one.
func (n *node) newChild(ctx context.Context, gen uint64, name string, fid wire.FID, a *wire.Attr, out *fuse.EntryOut) *fs.Inode {
	n.fsys.fillAttr(fid, a, &out.Attr)
	n.fsys.meta.setEntry(gen, n.fid, name, fid, a, out)
	child := &node{fsys: n.fsys, fid: fid}
	return n.NewInode(ctx, child, fs.StableAttr{Mode: fileType(a.Mode), Ino: fid.Ino()})
}

// checkName rejects names longer than a path component may be. The kernel
// lets FUSE names up to 1024 bytes through; Lustre's limit is 255.
func checkName(names ...string) syscall.Errno {
	for _, name := range names {
		if len(name) > wire.MaxFileNameLen {
			return syscall.ENAMETOOLONG
		}
	}
	return 0
}

// Lookup resolves name in n. The backend's ENOENT goes back as ENOENT,
// with the entry timeout the backend allows for the name's absence
// (MetaCacher), which negRaw turns into a negative entry the kernel keeps;
// with neither that nor NegativeTimeout the kernel caches nothing of it.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, e
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	gen := n.fsys.meta.gen.Load()
	fid, a, err := n.fsys.b.Lookup(ctx, n.fid, name)
	if err != nil {
		e := n.fsys.toErrno(err, "lookup", n.fid)
		if e == syscall.ENOENT {
			n.fsys.meta.setNegative(gen, n.fid, name, out)
		}
		return nil, e
	}
	return n.newChild(ctx, gen, name, fid, &a, out), 0
}

// Getattr ignores the file handle: attributes belong to the FID, open or
// unlinked.
func (n *node) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	gen := n.fsys.meta.gen.Load()
	a, err := n.fsys.b.GetAttr(ctx, n.fid)
	if err != nil {
		return n.fsys.toErrno(err, "getattr", n.fid)
	}
	n.fsys.fillAttr(n.fid, &a, &out.Attr)
	n.fsys.meta.setAttr(gen, n.fid, &a, out)
	return 0
}

// Setattr serves chmod, chown, utimensat (UTIME_NOW included) and
// truncate, through a path or an open descriptor alike.
func (n *node) Setattr(ctx context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	want := setAttrIn(in)
	var a wire.Attr
	var err error
	gen := n.fsys.meta.gen.Load()
	if want.Valid == 0 {
		a, err = n.fsys.b.GetAttr(ctx, n.fid)
	} else {
		a, err = n.fsys.b.SetAttr(ctx, n.fid, want)
	}
	if err != nil {
		return n.fsys.toErrno(err, "setattr", n.fid)
	}
	n.fsys.fillAttr(n.fid, &a, &out.Attr)
	n.fsys.meta.setAttr(gen, n.fid, &a, out)
	return 0
}

// Access answers access(2) and the kernel's check before chdir (the only
// permission checks the kernel asks for without default_permissions) from
// the mode bits, as Lustre's client does.
func (n *node) Access(ctx context.Context, mask uint32) syscall.Errno {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	a, err := n.fsys.b.GetAttr(ctx, n.fid)
	if err != nil {
		return n.fsys.toErrno(err, "access", n.fid)
	}
	if !mayAccess(client.CredsFrom(ctx), &a, mask) {
		return syscall.EACCES
	}
	return 0
}

// mayAccess applies the mode bits of a to the caller for mask (R_OK 4,
// W_OK 2, X_OK 1). Root may read and write anything, and execute anything
// with an execute bit, or a directory.
func mayAccess(c client.Creds, a *wire.Attr, mask uint32) bool {
	mask &= 7
	if mask == 0 {
		return true
	}
	if c.UID == 0 {
		return mask&1 == 0 || a.Mode&0111 != 0 || fileType(a.Mode) == syscall.S_IFDIR
	}
	bits := a.Mode
	switch {
	case c.UID == a.UID:
		bits >>= 6
	case inGroup(c, a.GID):
		bits >>= 3
	}
	return bits&mask == mask
}

func inGroup(c client.Creds, gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Mkdir hands the backend S_IFDIR and the permission bits (the kernel has
// applied the umask).
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, e
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	gen := n.fsys.meta.gen.Load()
	fid, a, err := n.fsys.b.Mkdir(ctx, n.fid, name, syscall.S_IFDIR|mode&07777)
	if err != nil {
		return nil, n.fsys.toErrno(err, "mkdir", n.fid)
	}
	return n.newChild(ctx, gen, name, fid, &a, out), 0
}

// Mknod passes the mode with its file type: FIFOs, sockets and regular
// files; device nodes too, and the backend (the MDT) refuses them to
// callers without CAP_MKNOD, i.e. other than root.
func (n *node) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, e
	}
	if fileType(mode) == 0 {
		mode |= syscall.S_IFREG
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	gen := n.fsys.meta.gen.Load()
	fid, a, err := n.fsys.b.Mknod(ctx, n.fid, name, mode, dev)
	if err != nil {
		return nil, n.fsys.toErrno(err, "mknod", n.fid)
	}
	return n.newChild(ctx, gen, name, fid, &a, out), 0
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, e
	}
	if len(target) > wire.MaxPathLen {
		return nil, syscall.ENAMETOOLONG
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	gen := n.fsys.meta.gen.Load()
	fid, a, err := n.fsys.b.Symlink(ctx, n.fid, name, target)
	if err != nil {
		return nil, n.fsys.toErrno(err, "symlink", n.fid)
	}
	return n.newChild(ctx, gen, name, fid, &a, out), 0
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	target, err := n.fsys.b.Readlink(ctx, n.fid)
	if err != nil {
		return nil, n.fsys.toErrno(err, "readlink", n.fid)
	}
	return []byte(target), 0
}

// Link makes a second name for target; go-fuse finds target's inode by its
// number, so both names are one inode.
func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, e
	}
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	gen := n.fsys.meta.gen.Load()
	a, err := n.fsys.b.Link(ctx, t.fid, n.fid, name)
	if err != nil {
		return nil, n.fsys.toErrno(err, "link", t.fid)
	}
	return n.newChild(ctx, gen, name, t.fid, &a, out), 0
}

// Unlink removes a name. A file still open keeps its node and handles here,
// and its data in the backend (an orphan), until the last close.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := checkName(name); e != 0 {
		return e
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	return n.fsys.toErrno(n.fsys.b.Unlink(ctx, n.fid, name), "unlink", n.fid)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := checkName(name); e != 0 {
		return e
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	return n.fsys.toErrno(n.fsys.b.Rmdir(ctx, n.fid, name), "rmdir", n.fid)
}

// Rename maps renameat2's RENAME_NOREPLACE and RENAME_EXCHANGE to the wire
// flags; any other flag (RENAME_WHITEOUT) is EINVAL.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := checkName(name, newName); e != 0 {
		return e
	}
	var wf uint32
	switch flags {
	case 0:
	case unix.RENAME_NOREPLACE:
		wf = wire.RenameNoReplace
	case unix.RENAME_EXCHANGE:
		wf = wire.RenameExchange
	default:
		return syscall.EINVAL
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	err := n.fsys.b.Rename(ctx, n.fid, name, np.fid, newName, wf)
	if err == nil {
		n.fsys.meta.renamed(n.fid, name, np.fid, newName, wf == wire.RenameExchange)
	}
	return n.fsys.toErrno(err, "rename", n.fid)
}

// Create creates and opens a regular file; flags (O_EXCL, O_TRUNC,
// O_APPEND, the access mode) go to the backend as open(2) gave them.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, nil, 0, e
	}
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	gen := n.fsys.meta.gen.Load()
	f, fid, a, err := n.fsys.b.Create(ctx, n.fid, name, flags, syscall.S_IFREG|mode&07777)
	if err != nil {
		return nil, nil, 0, n.fsys.toErrno(err, "create", n.fid)
	}
	n.fsys.fillAttr(fid, &a, &out.Attr)
	n.fsys.meta.setEntry(gen, n.fid, name, fid, &a, out)
	child := &node{fsys: n.fsys, fid: fid}
	// go-fuse registers a created inode exclusively: the handle's node is
	// the inode the kernel gets.
	in := n.NewInode(ctx, child, fs.StableAttr{Mode: fileType(a.Mode), Ino: fid.Ino()})
	h, fuseFlags := n.fsys.newHandle(in.Operations().(*node), f, flags)
	return in, h, fuseFlags, 0
}

// Open opens a regular file. The kernel has already truncated for O_TRUNC
// (a SETATTR before the OPEN), and strips O_TRUNC, O_CREAT and O_EXCL.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	f, err := n.fsys.b.Open(ctx, n.fid, flags)
	if err != nil {
		return nil, 0, n.fsys.toErrno(err, "open", n.fid)
	}
	h, fuseFlags := n.fsys.newHandle(n, f, flags)
	return h, fuseFlags, 0
}

// OpendirHandle checks that the caller may read the directory (there is no
// open of a directory on the MDT to check it) and opens a listing.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if !n.fsys.opts.DefaultPermissions {
		if e := n.Access(ctx, unix.R_OK); e != 0 {
			return nil, 0, e
		}
	}
	return &dirHandle{n: n}, 0, 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	ctx, release := n.fsys.opContext(ctx)
	defer release()
	s, err := n.fsys.b.StatFS(ctx)
	if err != nil {
		return n.fsys.toErrno(err, "statfs", n.fid)
	}
	out.Blocks, out.Bfree, out.Bavail = s.Blocks, s.BFree, s.BAvail
	out.Files, out.Ffree = s.Files, s.FFree
	out.Bsize, out.Frsize = s.BSize, s.BSize
	out.NameLen = s.NameLen
	if out.NameLen == 0 {
		out.NameLen = wire.MaxFileNameLen
	}
	return 0
}
