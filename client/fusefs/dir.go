package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"go.uber.org/zap"

	"github.com/stria-fs/stria/wire"
)

// Directory offsets, as the kernel sees them (d_off, telldir): 0 is the
// start, 1 the position after ".", 2 after ".."; anything larger is the
// backend's cookie of the entry just read, which is why the backend's
// cookies are all greater than 2 (the MDT reserves 0, 1 and 2 likewise).
const (
	offStart  = 0
	offDot    = 1
	offDotDot = 2
)

// dirHandle is an open directory: a cursor over Backend.ReadDir, one batch
// at a time. go-fuse serialises calls on one handle.
type dirHandle struct {
	n    *node
	pos  uint64        // offset of the last entry handed out
	ents []wire.Dirent // fetched after pos, not handed out yet
	end  bool          // the backend has nothing after ents
	last wire.Dirent   // the entry handed out last, for readdirplus' Lookup
	de   fuse.DirEntry
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileLookuper     = (*dirHandle)(nil)
	_ fs.FileFsyncdirer   = (*dirHandle)(nil)
)

// Readdirent returns the next entry, nil at the end. Entries come with
// attributes (plus), so that readdirplus, which the kernel uses for every
// listing, needs no lookup per entry.
func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	switch d.pos {
	case offStart:
		d.pos = offDot
		d.de = fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: d.n.fid.Ino(), Off: offDot}
		return &d.de, 0
	case offDot:
		d.pos = offDotDot
		ino := d.n.fid.Ino()
		if _, parent := d.n.Parent(); parent != nil {
			ino = parent.StableAttr().Ino
		}
		d.de = fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: ino, Off: offDotDot}
		return &d.de, 0
	}
	fsys := d.n.fsys
	if len(d.ents) == 0 {
		if d.end {
			return nil, 0
		}
		cookie := d.pos
		if cookie == offDotDot {
			cookie = 0
		}
		ctx, release := fsys.opContext(ctx)
		defer release()
		ents, end, err := fsys.b.ReadDir(ctx, d.n.fid, cookie, true)
		if err != nil {
			return nil, fsys.toErrno(err, "readdir", d.n.fid)
		}
		if len(ents) == 0 && !end {
			fsys.log.Error("fusefs: readdir returned no entries and no end", zap.Stringer("fid", d.n.fid))
			return nil, syscall.EIO
		}
		d.ents, d.end = ents, end
		if len(ents) == 0 {
			return nil, 0
		}
	}
	e := d.ents[0]
	d.ents = d.ents[1:]
	if e.Cookie <= offDotDot {
		fsys.log.Error("fusefs: readdir cookie collides with . or ..",
			zap.Stringer("fid", d.n.fid), zap.String("name", e.Name), zap.Uint64("cookie", e.Cookie))
		return nil, syscall.EIO
	}
	d.pos = e.Cookie
	d.last = e
	d.de = fuse.DirEntry{Name: e.Name, Mode: fileType(e.Type), Ino: e.FID.Ino(), Off: e.Cookie}
	return &d.de, 0
}

// Seekdir moves to an offset an earlier entry returned (or 0): the next
// batch is fetched from that cookie.
func (d *dirHandle) Seekdir(_ context.Context, off uint64) syscall.Errno {
	d.pos, d.ents, d.end, d.last = off, nil, false, wire.Dirent{}
	return 0
}

// Lookup makes the inode of the entry Readdirent just returned, from the
// attributes that came with it; any other name is looked up.
func (d *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if d.last.Name == name && d.last.Attr.Mode != 0 && !d.last.FID.IsZero() {
		// A listing is read without locks: its attributes are not kept,
		// though its name may be (the backend knows whether it holds a
		// lock on the binding).
		in := d.n.newChild(ctx, d.n.fsys.meta.gen.Load(), name, d.last.FID, &d.last.Attr, out)
		out.SetAttrTimeout(0)
		return in, 0
	}
	return d.n.Lookup(ctx, name, out)
}

// Fsyncdir makes the directory's changes durable: the MDT answers creates
// before it commits them (the client would replay them after a restart of
// the MDS, but not after its own crash as well).
func (d *dirHandle) Fsyncdir(ctx context.Context, _ uint32) syscall.Errno {
	return d.n.fsys.toErrno(d.n.fsys.b.SyncMeta(ctx, d.n.fid), "fsyncdir", d.n.fid)
}
