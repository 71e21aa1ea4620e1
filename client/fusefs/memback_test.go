package fusefs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/client"
	"github.com/stria-fs/stria/wire"
)

// memFS is an in-memory Backend that behaves like a POSIX file system over
// FIDs, checking permissions against the credentials in the context as the
// MDT does. Tests mount it to exercise the adapter; it also records what
// reached it (write sizes, credentials) and can be told to fail.
type memFS struct {
	mu      sync.Mutex
	inodes  map[wire.FID]*memInode
	nextOid uint32

	// noAllocate makes Allocate answer EOPNOTSUPP, as a backend without
	// fallocate does.
	noAllocate bool
	// batch is how many entries one ReadDir returns at most.
	batch int

	// Observations.
	writeSizes map[int]int              // WriteAt calls by length
	readSizes  map[int]int              // ReadAt calls by length
	creds      map[string]client.Creds  // the last credentials per operation
	released   int                      // Release calls
	opens      int                      // Open and Create calls that succeeded
	inject     map[string]error         // op -> error for its next call
	calls      map[string]int           // calls per op
	block      map[string]chan struct{} // op -> its next call waits for its context; closed when it starts
}

type memInode struct {
	fid    wire.FID
	attr   wire.Attr // Size of a regular file is len(data); Nlink of a directory is computed
	data   []byte
	target string
	parent wire.FID             // directories: the directory holding them
	ents   map[string]*memEntry // directories
	cookie uint64               // directories: the last cookie handed out
	xattrs map[string][]byte
	opens  int
}

type memEntry struct {
	fid    wire.FID
	cookie uint64
}

func newMemFS() *memFS {
	m := &memFS{
		inodes:     map[wire.FID]*memInode{},
		nextOid:    1,
		batch:      64,
		writeSizes: map[int]int{},
		readSizes:  map[int]int{},
		creds:      map[string]client.Creds{},
		inject:     map[string]error{},
		calls:      map[string]int{},
		block:      map[string]chan struct{}{},
	}
	now := time.Now().UnixNano()
	m.inodes[wire.RootFID] = &memInode{
		fid:    wire.RootFID,
		attr:   wire.Attr{Mode: syscall.S_IFDIR | 0755, Nlink: 1, Atime: now, Mtime: now, Ctime: now},
		parent: wire.RootFID,
		ents:   map[string]*memEntry{},
		cookie: 2,
	}
	return m
}

var _ Backend = (*memFS)(nil)

// begin locks m, records the caller's credentials for op and returns an
// injected error, if any.
func (m *memFS) begin(ctx context.Context, op string) (client.Creds, error) {
	m.mu.Lock()
	c := client.CredsFrom(ctx)
	m.creds[op] = c
	m.calls[op]++
	if err, ok := m.inject[op]; ok {
		delete(m.inject, op)
		return c, err
	}
	if started, ok := m.block[op]; ok {
		delete(m.block, op)
		m.mu.Unlock()
		close(started)
		// As an RPC waiting for its reply: until the context is done (the
		// kernel interrupted the call), or long enough to fail the test
		// rather than hang it.
		var err error
		select {
		case <-ctx.Done():
			err = fmt.Errorf("memFS: %s: %w", op, ctx.Err())
		case <-time.After(time.Minute):
			err = errors.New("memFS: " + op + " never interrupted")
		}
		m.mu.Lock()
		return c, err
	}
	return c, nil
}

// blockNext makes the next call of op wait for its context to be done;
// the channel is closed when that call has started.
func (m *memFS) blockNext(op string) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := make(chan struct{})
	m.block[op] = ch
	return ch
}

func (m *memFS) callCount(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// failNext makes the next call of op return err.
func (m *memFS) failNext(op string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inject[op] = err
}

func (m *memFS) lastCreds(op string) client.Creds {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.creds[op]
}

// ioCounts returns how many ReadAt and WriteAt calls of each length came.
func (m *memFS) ioCounts() (reads, writes map[int]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.readSizes), maps.Clone(m.writeSizes)
}

func (m *memFS) openCounts() (opens, released int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.opens, m.released
}

// check fails t unless every open was released exactly once and no
// orphan (an unlinked inode) is left: run it after unmounting.
func (m *memFS) check(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opens != m.released {
		t.Errorf("memFS: %d opens, %d releases", m.opens, m.released)
	}
	for fid, in := range m.inodes {
		if in.attr.Nlink == 0 && fid != wire.RootFID {
			t.Errorf("memFS: orphan %v left (%d opens)", fid, in.opens)
		}
	}
}

func isDir(in *memInode) bool { return in.attr.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// may reports whether c may access in for mask (4 read, 2 write, 1 search).
func may(c client.Creds, in *memInode, mask uint32) bool {
	return mayAccess(c, &in.attr, mask)
}

// attrOf returns in's attributes with the computed fields filled in.
func (m *memFS) attrOf(in *memInode) wire.Attr {
	a := in.attr
	a.Valid = wire.AttrMode | wire.AttrUID | wire.AttrGID | wire.AttrSize | wire.AttrBlocks |
		wire.AttrNlink | wire.AttrAtime | wire.AttrMtime | wire.AttrCtime
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		a.Size = uint64(len(in.data))
	case syscall.S_IFLNK:
		a.Size = uint64(len(in.target))
	case syscall.S_IFDIR:
		a.Size = 4096
		if a.Nlink != 0 {
			a.Nlink = 2
			for _, e := range in.ents {
				if isDir(m.inodes[e.fid]) {
					a.Nlink++
				}
			}
		}
	}
	a.Blocks = (a.Size + 511) / 512
	return a
}

// dir returns the directory parent, checking that c may search it (and
// write it, for wr).
func (m *memFS) dir(c client.Creds, parent wire.FID, wr bool) (*memInode, error) {
	d, ok := m.inodes[parent]
	switch {
	case !ok:
		return nil, syscall.ENOENT
	case !isDir(d):
		return nil, syscall.ENOTDIR
	case d.attr.Nlink == 0 && wr:
		return nil, syscall.ENOENT
	case !may(c, d, 1) || wr && !may(c, d, 2):
		return nil, syscall.EACCES
	}
	return d, nil
}

func (m *memFS) child(d *memInode, name string) (*memInode, error) {
	e, ok := d.ents[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return m.inodes[e.fid], nil
}

func (m *memFS) touch(in *memInode, mtime bool) {
	now := time.Now().UnixNano()
	in.attr.Ctime = now
	if mtime {
		in.attr.Mtime = now
	}
}

func (m *memFS) addEntry(d *memInode, name string, fid wire.FID) {
	d.cookie++
	d.ents[name] = &memEntry{fid: fid, cookie: d.cookie}
	m.touch(d, true)
}

// newInode makes an inode owned by c and links it into d.
func (m *memFS) newInode(c client.Creds, d *memInode, name string, mode uint32) *memInode {
	fid := wire.FID{Seq: wire.SeqNormalStart, Oid: m.nextOid}
	m.nextOid++
	now := time.Now().UnixNano()
	in := &memInode{fid: fid, attr: wire.Attr{Mode: mode, UID: c.UID, GID: c.GID, Nlink: 1,
		Atime: now, Mtime: now, Ctime: now}}
	if isDir(in) {
		in.parent, in.ents, in.cookie = d.fid, map[string]*memEntry{}, 2
	}
	m.inodes[fid] = in
	m.addEntry(d, name, fid)
	return in
}

// create makes a new entry in parent after the common checks.
func (m *memFS) create(ctx context.Context, op string, parent wire.FID, name string, mode uint32) (wire.FID, wire.Attr, error) {
	c, err := m.begin(ctx, op)
	defer m.mu.Unlock()
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	d, err := m.dir(c, parent, true)
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	if _, ok := d.ents[name]; ok {
		return wire.FID{}, wire.Attr{}, syscall.EEXIST
	}
	in := m.newInode(c, d, name, mode)
	return in.fid, m.attrOf(in), nil
}

// drop removes one link to in, and in itself once nothing refers to it.
func (m *memFS) drop(in *memInode) {
	if isDir(in) {
		in.attr.Nlink = 0
	} else if in.attr.Nlink > 0 {
		in.attr.Nlink--
	}
	m.touch(in, false)
	if in.attr.Nlink == 0 && in.opens == 0 {
		delete(m.inodes, in.fid)
	}
}

// sticky reports whether the sticky bit of d forbids c to remove in.
func sticky(c client.Creds, d, in *memInode) bool {
	return d.attr.Mode&syscall.S_ISVTX != 0 && c.UID != 0 && c.UID != d.attr.UID && c.UID != in.attr.UID
}

func (m *memFS) Root() wire.FID { return wire.RootFID }

func (m *memFS) Lookup(ctx context.Context, parent wire.FID, name string) (wire.FID, wire.Attr, error) {
	c, err := m.begin(ctx, "lookup")
	defer m.mu.Unlock()
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	d, err := m.dir(c, parent, false)
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	in, err := m.child(d, name)
	if err != nil {
		return wire.FID{}, wire.Attr{}, err
	}
	return in.fid, m.attrOf(in), nil
}

func (m *memFS) GetAttr(ctx context.Context, fid wire.FID) (wire.Attr, error) {
	_, err := m.begin(ctx, "getattr")
	defer m.mu.Unlock()
	if err != nil {
		return wire.Attr{}, err
	}
	in, ok := m.inodes[fid]
	if !ok {
		return wire.Attr{}, syscall.ENOENT
	}
	return m.attrOf(in), nil
}

func (m *memFS) SetAttr(ctx context.Context, fid wire.FID, a wire.Attr) (wire.Attr, error) {
	c, err := m.begin(ctx, "setattr")
	defer m.mu.Unlock()
	if err != nil {
		return wire.Attr{}, err
	}
	in, ok := m.inodes[fid]
	if !ok {
		return wire.Attr{}, syscall.ENOENT
	}
	owner := c.UID == 0 || c.UID == in.attr.UID
	switch {
	case a.Valid&wire.AttrMode != 0 && !owner,
		a.Valid&wire.AttrUID != 0 && c.UID != 0 && a.UID != in.attr.UID,
		a.Valid&wire.AttrGID != 0 && c.UID != 0 && (!owner || !inGroup(c, a.GID)),
		a.Valid&(wire.AttrAtime|wire.AttrMtime) != 0 && a.Valid&(wire.AttrAtimeNow|wire.AttrMtimeNow) == 0 && !owner:
		return wire.Attr{}, syscall.EPERM
	case a.Valid&(wire.AttrAtimeNow|wire.AttrMtimeNow) != 0 && !owner && !may(c, in, 2),
		a.Valid&wire.AttrSize != 0 && !may(c, in, 2):
		return wire.Attr{}, syscall.EACCES
	case a.Valid&wire.AttrSize != 0 && isDir(in):
		return wire.Attr{}, syscall.EISDIR
	case a.Valid&wire.AttrSize != 0 && in.attr.Mode&syscall.S_IFMT != syscall.S_IFREG:
		return wire.Attr{}, syscall.EINVAL
	}
	now := time.Now().UnixNano()
	if a.Valid&wire.AttrMode != 0 {
		in.attr.Mode = in.attr.Mode&syscall.S_IFMT | a.Mode&07777
	}
	if a.Valid&wire.AttrUID != 0 {
		in.attr.UID = a.UID
	}
	if a.Valid&wire.AttrGID != 0 {
		in.attr.GID = a.GID
	}
	if a.Valid&wire.AttrSize != 0 {
		in.data = resize(in.data, int(a.Size))
		in.attr.Mtime = now
	}
	if a.Valid&wire.AttrAtime != 0 {
		in.attr.Atime = a.Atime
		if a.Valid&wire.AttrAtimeNow != 0 {
			in.attr.Atime = now
		}
	}
	if a.Valid&wire.AttrMtime != 0 {
		in.attr.Mtime = a.Mtime
		if a.Valid&wire.AttrMtimeNow != 0 {
			in.attr.Mtime = now
		}
	}
	in.attr.Ctime = now
	return m.attrOf(in), nil
}

func resize(b []byte, n int) []byte {
	if n <= len(b) {
		return b[:n]
	}
	return append(b, make([]byte, n-len(b))...)
}

func (m *memFS) Mkdir(ctx context.Context, parent wire.FID, name string, mode uint32) (wire.FID, wire.Attr, error) {
	return m.create(ctx, "mkdir", parent, name, syscall.S_IFDIR|mode&07777)
}

func (m *memFS) Mknod(ctx context.Context, parent wire.FID, name string, mode, rdev uint32) (wire.FID, wire.Attr, error) {
	if t := mode & syscall.S_IFMT; (t == syscall.S_IFCHR || t == syscall.S_IFBLK) && client.CredsFrom(ctx).UID != 0 {
		return wire.FID{}, wire.Attr{}, syscall.EPERM
	}
	fid, a, err := m.create(ctx, "mknod", parent, name, mode)
	if err == nil && rdev != 0 {
		m.mu.Lock()
		m.inodes[fid].attr.Rdev = rdev
		a = m.attrOf(m.inodes[fid])
		m.mu.Unlock()
	}
	return fid, a, err
}

func (m *memFS) Symlink(ctx context.Context, parent wire.FID, name, target string) (wire.FID, wire.Attr, error) {
	fid, _, err := m.create(ctx, "symlink", parent, name, syscall.S_IFLNK|0777)
	if err != nil {
		return fid, wire.Attr{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inodes[fid].target = target
	return fid, m.attrOf(m.inodes[fid]), nil
}

func (m *memFS) Readlink(ctx context.Context, fid wire.FID) (string, error) {
	_, err := m.begin(ctx, "readlink")
	defer m.mu.Unlock()
	if err != nil {
		return "", err
	}
	in, ok := m.inodes[fid]
	if !ok {
		return "", syscall.ENOENT
	}
	if in.attr.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		return "", syscall.EINVAL
	}
	return in.target, nil
}

func (m *memFS) Link(ctx context.Context, fid, parent wire.FID, name string) (wire.Attr, error) {
	c, err := m.begin(ctx, "link")
	defer m.mu.Unlock()
	if err != nil {
		return wire.Attr{}, err
	}
	in, ok := m.inodes[fid]
	if !ok {
		return wire.Attr{}, syscall.ENOENT
	}
	if isDir(in) {
		return wire.Attr{}, syscall.EPERM
	}
	d, err := m.dir(c, parent, true)
	if err != nil {
		return wire.Attr{}, err
	}
	if _, ok := d.ents[name]; ok {
		return wire.Attr{}, syscall.EEXIST
	}
	in.attr.Nlink++
	m.touch(in, false)
	m.addEntry(d, name, fid)
	return m.attrOf(in), nil
}

func (m *memFS) remove(ctx context.Context, op string, parent wire.FID, name string, wantDir bool) error {
	c, err := m.begin(ctx, op)
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	d, err := m.dir(c, parent, true)
	if err != nil {
		return err
	}
	in, err := m.child(d, name)
	switch {
	case err != nil:
		return err
	case wantDir && !isDir(in):
		return syscall.ENOTDIR
	case !wantDir && isDir(in):
		return syscall.EISDIR
	case wantDir && len(in.ents) > 0:
		return syscall.ENOTEMPTY
	case sticky(c, d, in):
		return syscall.EPERM
	}
	delete(d.ents, name)
	m.touch(d, true)
	m.drop(in)
	return nil
}

func (m *memFS) Unlink(ctx context.Context, parent wire.FID, name string) error {
	return m.remove(ctx, "unlink", parent, name, false)
}

func (m *memFS) Rmdir(ctx context.Context, parent wire.FID, name string) error {
	return m.remove(ctx, "rmdir", parent, name, true)
}

func (m *memFS) Rename(ctx context.Context, sp wire.FID, sn string, dp wire.FID, dn string, flags uint32) error {
	c, err := m.begin(ctx, "rename")
	defer m.mu.Unlock()
	if err != nil {
		return err
	}
	if flags&^(wire.RenameNoReplace|wire.RenameExchange) != 0 || flags == wire.RenameNoReplace|wire.RenameExchange {
		return syscall.EINVAL
	}
	sd, err := m.dir(c, sp, true)
	if err != nil {
		return err
	}
	dd, err := m.dir(c, dp, true)
	if err != nil {
		return err
	}
	src, err := m.child(sd, sn)
	if err != nil {
		return err
	}
	dst, derr := m.child(dd, dn)
	switch {
	case flags == wire.RenameExchange && derr != nil:
		return syscall.ENOENT
	case flags == wire.RenameNoReplace && derr == nil:
		return syscall.EEXIST
	case sticky(c, sd, src) || derr == nil && sticky(c, dd, dst):
		return syscall.EPERM
	case isDir(src) && m.under(dd, src.fid), derr == nil && isDir(dst) && m.under(sd, dst.fid) && flags == wire.RenameExchange:
		return syscall.EINVAL
	}
	if derr == nil && src == dst {
		return nil
	}
	if flags == wire.RenameExchange {
		sd.ents[sn].fid, dd.ents[dn].fid = dst.fid, src.fid
		if isDir(src) {
			src.parent = dd.fid
		}
		if isDir(dst) {
			dst.parent = sd.fid
		}
		m.touch(sd, true)
		m.touch(dd, true)
		m.touch(src, false)
		m.touch(dst, false)
		return nil
	}
	if derr == nil {
		switch {
		case isDir(src) && !isDir(dst):
			return syscall.ENOTDIR
		case !isDir(src) && isDir(dst):
			return syscall.EISDIR
		case isDir(dst) && len(dst.ents) > 0:
			return syscall.ENOTEMPTY
		}
		delete(dd.ents, dn)
		m.drop(dst)
	}
	delete(sd.ents, sn)
	m.touch(sd, true)
	m.addEntry(dd, dn, src.fid)
	if isDir(src) {
		src.parent = dd.fid
	}
	m.touch(src, false)
	return nil
}

// under reports whether d is fid or lies below it.
func (m *memFS) under(d *memInode, fid wire.FID) bool {
	for {
		if d.fid == fid {
			return true
		}
		if d.fid == wire.RootFID {
			return false
		}
		d = m.inodes[d.parent]
	}
}

func (m *memFS) Create(ctx context.Context, parent wire.FID, name string, flags, mode uint32) (File, wire.FID, wire.Attr, error) {
	c, err := m.begin(ctx, "create")
	defer m.mu.Unlock()
	if err != nil {
		return nil, wire.FID{}, wire.Attr{}, err
	}
	d, err := m.dir(c, parent, false)
	if err != nil {
		return nil, wire.FID{}, wire.Attr{}, err
	}
	in, err := m.child(d, name)
	switch {
	case err == nil && flags&syscall.O_EXCL != 0:
		return nil, wire.FID{}, wire.Attr{}, syscall.EEXIST
	case err == nil:
		f, err := m.open(c, in, flags)
		if err != nil {
			return nil, wire.FID{}, wire.Attr{}, err
		}
		return f, in.fid, m.attrOf(in), nil
	case !may(c, d, 2):
		return nil, wire.FID{}, wire.Attr{}, syscall.EACCES
	}
	in = m.newInode(c, d, name, syscall.S_IFREG|mode&07777)
	in.opens++
	m.opens++
	return &memFile{m: m, in: in, flags: flags}, in.fid, m.attrOf(in), nil
}

func (m *memFS) Open(ctx context.Context, fid wire.FID, flags uint32) (File, error) {
	c, err := m.begin(ctx, "open")
	defer m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	in, ok := m.inodes[fid]
	if !ok {
		return nil, syscall.ENOENT
	}
	return m.open(c, in, flags)
}

func (m *memFS) open(c client.Creds, in *memInode, flags uint32) (File, error) {
	acc := flags & syscall.O_ACCMODE
	switch {
	case isDir(in) && acc != syscall.O_RDONLY:
		return nil, syscall.EISDIR
	case acc != syscall.O_WRONLY && !may(c, in, 4), acc != syscall.O_RDONLY && !may(c, in, 2):
		return nil, syscall.EACCES
	}
	if flags&syscall.O_TRUNC != 0 && acc != syscall.O_RDONLY {
		in.data = in.data[:0]
		m.touch(in, true)
	}
	in.opens++
	m.opens++
	return &memFile{m: m, in: in, flags: flags}, nil
}

func (m *memFS) ReadDir(ctx context.Context, dir wire.FID, cookie uint64, plus bool) ([]wire.Dirent, bool, error) {
	c, err := m.begin(ctx, "readdir")
	defer m.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	d, ok := m.inodes[dir]
	switch {
	case !ok:
		return nil, false, syscall.ENOENT
	case !isDir(d):
		return nil, false, syscall.ENOTDIR
	case !may(c, d, 4):
		return nil, false, syscall.EACCES
	}
	var out []wire.Dirent
	for name, e := range d.ents {
		if e.cookie > cookie {
			in := m.inodes[e.fid]
			de := wire.Dirent{Name: name, FID: e.fid, Type: in.attr.Mode & syscall.S_IFMT, Cookie: e.cookie}
			if plus {
				de.Attr = m.attrOf(in)
			}
			out = append(out, de)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cookie < out[j].Cookie })
	if len(out) > m.batch {
		return out[:m.batch], false, nil
	}
	return out, true, nil
}

func (m *memFS) SyncMeta(context.Context, wire.FID) error { return nil }

func (m *memFS) StatFS(ctx context.Context) (wire.StatFS, error) {
	_, err := m.begin(ctx, "statfs")
	defer m.mu.Unlock()
	return wire.StatFS{Blocks: 1 << 20, BFree: 1 << 19, BAvail: 1 << 18, Files: 1 << 16,
		FFree: 1<<16 - uint64(len(m.inodes)), BSize: 4096, NameLen: wire.MaxFileNameLen}, err
}
