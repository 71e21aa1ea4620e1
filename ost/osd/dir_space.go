package osd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/stria-fs/stria/wire"
	"golang.org/x/sys/unix"
)

// space accounts a capped target's bytes and objects. A nil *space means
// uncapped: every method then admits everything, and only the backing file
// system's ENOSPC stops a writer.
type space struct {
	capacity   int64        // bytes; 0: uncapped
	maxObjects int64        // 0: uncapped
	used       atomic.Int64 // st_blocks of the object files (data and xattr blocks; sidecars are not charged)
	objects    atomic.Int64
}

// reserve admits n more bytes, or reports false if the cap would be passed.
func (s *space) reserve(n int64) bool {
	if s == nil || s.capacity == 0 {
		if s != nil {
			s.used.Add(n)
		}
		return true
	}
	for {
		u := s.used.Load()
		if u+n > s.capacity {
			return false
		}
		if s.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// takeObjects admits n more objects or reports false.
func (s *space) takeObjects(n int64) bool { return s.takeObjectsUpTo(n) == n }

// takeObjectsUpTo admits as many of n objects as the cap allows.
func (s *space) takeObjectsUpTo(n int64) int64 {
	if s == nil {
		return n
	}
	for {
		o := s.objects.Load()
		k := n
		if s.maxObjects > 0 {
			k = max(0, min(n, s.maxObjects-o))
		}
		if s.objects.CompareAndSwap(o, o+k) {
			return k
		}
	}
}

func (s *space) putObjects(n int64) {
	if s != nil {
		s.objects.Add(-n)
	}
}

// scanSpace totals the blocks and objects already in the target.
func (d *Dir) scanSpace() (*space, error) {
	s := &space{capacity: d.opts.Capacity, maxObjects: d.opts.MaxObjects}
	base := filepath.Join(d.dir, objectsName)
	seqs, err := os.ReadDir(base)
	if err != nil {
		return nil, mapErrno(err)
	}
	for _, sq := range seqs {
		if !sq.IsDir() {
			continue
		}
		lazy, err := countLazy(filepath.Join(base, sq.Name(), lazyName))
		if err != nil {
			return nil, err
		}
		s.objects.Add(lazy) // objects without a file yet (dir_lazy.go)
		for i := range fanout {
			p := filepath.Join(base, sq.Name(), fmt.Sprintf("d%d", i))
			ents, err := os.ReadDir(p)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				return nil, mapErrno(err)
			}
			for _, e := range ents {
				if strings.Contains(e.Name(), ".") {
					continue // sidecars and temporaries are not charged
				}
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(p, e.Name()), &st); err != nil {
					continue
				}
				s.used.Add(st.Blocks * BlockSize)
				s.objects.Add(1)
			}
		}
	}
	return s, nil
}

// accounted runs fn, a change to fid's data through fd, under the object's
// lock, charging the blocks it allocates to the capacity. [off, off+length)
// is the range fn may allocate; its unallocated part is reserved first, so
// a write that does not fit fails with ErrNoSpace before touching the file.
func (d *Dir) accounted(fid wire.FID, fd int, off, length int64, fn func() error) error {
	if d.space == nil {
		return fn()
	}
	mu := d.lockFor(fid)
	mu.Lock()
	defer mu.Unlock()
	var before, after unix.Stat_t
	if err := unix.Fstat(fd, &before); err != nil {
		return pathErr("stat", fid, err)
	}
	if before.Nlink == 0 { // destroyed under us: its blocks are no longer counted
		return fn()
	}
	var need int64
	if length > 0 && d.space.capacity > 0 {
		need = unallocated(fd, off, length, max(int64(before.Blksize), 512))
	}
	if !d.space.reserve(need) {
		return fmt.Errorf("%w: %v: %d bytes at %d (capacity %d)", ErrNoSpace, fid, length, off, d.space.capacity)
	}
	err := fn()
	delta := int64(0)
	if serr := unix.Fstat(fd, &after); serr == nil {
		delta = (after.Blocks - before.Blocks) * BlockSize
	} else {
		delta = need
	}
	d.space.used.Add(delta - need)
	return err
}

// unallocated estimates the bytes of [off, off+length), in whole blocks of
// bs, that have no blocks yet, asking the file system with FIEMAP (which
// sees fallocated extents) or else SEEK_DATA and SEEK_HOLE; where it
// cannot answer, the whole range counts.
func unallocated(fd int, off, length, bs int64) int64 {
	start := off / bs * bs
	end := (off + length + bs - 1) / bs * bs
	if n, ok := allocatedIn(fd, start, end); ok {
		return max(0, end-start-n)
	}
	var need int64
	for pos := start; pos < end; {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if err != nil || data >= end { // ENXIO: no data at or past pos
			return need + end - pos
		}
		need += data/bs*bs - pos
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return need + end - data/bs*bs
		}
		pos = (hole + bs - 1) / bs * bs
	}
	return need
}

// StatFS implements Store: the backing file system's figures, within the
// configured caps. The objects precreated without a file (dir_lazy.go)
// count as inodes already taken: each will need one at its first change.
func (d *Dir) StatFS(ctx context.Context) (StatFS, error) {
	if err := d.begin(ctx); err != nil {
		return StatFS{}, err
	}
	defer d.end()
	var fs unix.Statfs_t
	if err := unix.Fstatfs(d.root, &fs); err != nil {
		return StatFS{}, mapErrno(&os.PathError{Op: "statfs", Path: d.dir, Err: err})
	}
	bs := int64(fs.Bsize)
	st := StatFS{
		Total: int64(fs.Blocks) * bs, Free: int64(fs.Bfree) * bs, Avail: int64(fs.Bavail) * bs,
		Files: int64(fs.Files), FilesFree: max(0, int64(fs.Ffree)-d.lazyObjects()), BlockSize: bs,
	}
	if s := d.space; s != nil && s.capacity > 0 {
		left := max(0, s.capacity-s.used.Load())
		st.Total = min(st.Total, s.capacity)
		st.Free, st.Avail = min(st.Free, left), min(st.Avail, left)
	}
	if s := d.space; s != nil && s.maxObjects > 0 {
		st.Files = min(st.Files, s.maxObjects)
		st.FilesFree = min(st.FilesFree, max(0, s.maxObjects-s.objects.Load()))
	}
	return st, nil
}
