package client

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"syscall"

	"github.com/stria-fs/stria/client/lov"
	"github.com/stria-fs/stria/client/osc"
	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// inode is what the client keeps of a regular file while it is open
// (Lustre's ll_inode_info): its layout and its write-back cache, shared by
// every open handle of the file in this mount.
type inode struct {
	fs    *FS
	fid   wire.FID
	opens int // guarded by fs.mu

	// ioMu is held shared by reads and writes and alone by what must not
	// run beside them: truncate, layout changes.
	ioMu sync.RWMutex

	mu      sync.Mutex // guards the fields below; after fs.mu
	lay     *layout.Layout
	cache   *lov.Cache
	written bool  // data was written through this inode since open
	mtime   int64 // when, by this client's clock
	// noCaps: the file had no security.capability when this client last
	// asked while it was open. The kernel asks before every write(2) (to
	// know whether to drop privileges); without this each write would cost
	// an MDT round trip. Cleared when this client sets or removes it.
	noCaps bool
}

// decodeLayout decodes a layout blob from the MDT (nil for none).
func decodeLayout(raw []byte) (*layout.Layout, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	l, err := layout.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (%w)", ErrBadLayout, err, syscall.EIO)
	}
	return l, nil
}

// openInode returns the inode of fid with one more open, creating it with
// layout lay if the file is not open here yet. A newer layout than the one
// the inode has replaces it.
func (fs *FS) openInode(ctx context.Context, fid wire.FID, lay *layout.Layout) (*inode, error) {
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return nil, errClosed
	}
	in := fs.inodes[fid]
	if in == nil {
		in = &inode{fs: fs, fid: fid, lay: lay}
		in.cache = lov.NewCache(fs.ctx, lov.CacheConfig{Targets: fs, Layout: lay, Pressure: fs.pressure,
			Buffers: &fs.bufs, Logger: fs.log})
		fs.inodes[fid] = in
		in.opens++
		fs.mu.Unlock()
		return in, nil
	}
	in.opens++
	fs.mu.Unlock()
	if lay != nil {
		if err := in.setLayout(ctx, lay); err != nil {
			fs.closeInode(ctx, in)
			return nil, err
		}
	}
	return in, nil
}

// closeInode drops one open; the last one writes back and forgets the
// inode.
func (fs *FS) closeInode(ctx context.Context, in *inode) error {
	fs.mu.Lock()
	in.opens--
	last := in.opens == 0
	if last && fs.inodes[in.fid] == in {
		delete(fs.inodes, in.fid)
	}
	fs.mu.Unlock()
	if !last {
		return nil
	}
	return in.close(ctx)
}

// openedInode returns the inode of fid if the file is open here.
func (fs *FS) openedInode(fid wire.FID) *inode {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.inodes[fid]
}

// close writes back and stops the inode's cache.
func (in *inode) close(ctx context.Context) error {
	return in.cache.Close(ctx)
}

// cacheIfAny returns the inode's cache.
func (in *inode) cacheIfAny() *lov.Cache { return in.cache }

// layout returns the inode's layout (nil: the file has no objects).
func (in *inode) layout() *layout.Layout {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lay
}

// setLayout installs lay if it is newer than the inode's (or the inode
// had none), writing back what the cache holds first.
func (in *inode) setLayout(ctx context.Context, lay *layout.Layout) error {
	in.mu.Lock()
	cur := in.lay
	in.mu.Unlock()
	if cur != nil && (lay == nil || lay.Gen <= cur.Gen) {
		return nil
	}
	in.ioMu.Lock()
	defer in.ioMu.Unlock()
	if err := in.cache.Flush(ctx); err != nil {
		return err
	}
	if err := in.cache.SetLayout(lay); err != nil {
		return err
	}
	in.mu.Lock()
	in.lay = lay
	in.mu.Unlock()
	return nil
}

// dropLayout forgets the inode's layout and asks the MDT for the current
// one (after a setxattr of lustre.lov changed it).
func (in *inode) refreshLayout(ctx context.Context) error {
	m, err := in.fs.lmv.Route(in.fid)
	if err != nil {
		return err
	}
	r, err := m.Getattr(ctx, in.fid)
	if err != nil {
		return err
	}
	lay, err := decodeLayout(r.Layout)
	if err != nil {
		return err
	}
	in.ioMu.Lock()
	defer in.ioMu.Unlock()
	if err := in.cache.Flush(ctx); err != nil {
		return err
	}
	if err := in.cache.SetLayout(lay); err != nil {
		return err
	}
	in.mu.Lock()
	in.lay = lay
	in.mu.Unlock()
	return nil
}

// wrote notes that data was written at time now. The first write ends
// what the client knew of the file's size as a fresh file (mdcache.go).
func (in *inode) wrote(now int64) {
	in.mu.Lock()
	first := !in.written
	in.written = true
	in.mtime = max(in.mtime, now)
	in.mu.Unlock()
	if first {
		in.fs.written(in.fid)
	}
}

// local returns what this client knows beyond the servers: the end of the
// data it cached and the time it last wrote.
func (in *inode) local() (end uint64, mtime int64) {
	in.mu.Lock()
	mtime = in.mtime
	in.mu.Unlock()
	return in.cache.End(), mtime
}

// fileAttr completes the MDT's attributes a of a regular file with what
// its objects say (size, blocks, latest times: a glimpse of every object,
// unless the file is fresh here: mdcache.go) and what this client has
// cached of it.
func (fs *FS) fileAttr(ctx context.Context, fid wire.FID, a *wire.Attr, raw []byte) error {
	if a.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil
	}
	lay, err := decodeLayout(raw)
	if err != nil {
		return err
	}
	var sz lov.Size
	if lay != nil && !fs.fresh(fid) {
		if sz, err = lov.Glimpse(ctx, fs, lay); err != nil {
			return err
		}
	} else if lay != nil {
		// A fresh file's objects are as the MDT created them: empty
		// (mdEntry.fresh); its size and times are the MDT's and what
		// this client caches.
		sz.Size, sz.Blocks = a.Size, a.Blocks
	}
	a.Size, a.Blocks = sz.Size, sz.Blocks
	a.Mtime, a.Ctime = max(a.Mtime, sz.Mtime), max(a.Ctime, sz.Ctime)
	if in := fs.openedInode(fid); in != nil {
		end, mtime := in.local()
		a.Size, a.Mtime = max(a.Size, end), max(a.Mtime, mtime)
	}
	a.Valid |= wire.AttrSize | wire.AttrBlocks
	return nil
}

// size returns the current size of an open file: its objects', or what it
// cached beyond.
func (in *inode) size(ctx context.Context, lay *layout.Layout) (lov.Size, error) {
	var sz lov.Size
	if lay != nil {
		var err error
		if sz, err = lov.Glimpse(ctx, in.fs, lay); err != nil {
			return sz, err
		}
	}
	end, _ := in.local()
	sz.Size = max(sz.Size, end)
	return sz, nil
}

func sortOSCs(s []*osc.OSC) {
	sort.Slice(s, func(i, j int) bool { return s[i].Index() < s[j].Index() })
}
