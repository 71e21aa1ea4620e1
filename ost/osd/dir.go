package osd

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/stria-fs/stria/wire"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Dir is the production engine: a formatted directory on a local file
// system, one file per object. See the package comment for the layout.
type Dir struct {
	dir   string
	label Label
	opts  Options
	log   *zap.Logger
	xattr bool   // attributes in an xattr (else sidecar files)
	root  int    // fd of dir/O, the base of every object path
	space *space // capacity accounting; nil when uncapped
	fds   *fdCache
	seed  maphash.Seed

	// ops is read-held by every operation for its whole run; Close takes
	// it for writing, so it waits for operations in flight. Internal
	// helpers never take it again (a nested RLock could deadlock against a
	// waiting Close).
	ops    sync.RWMutex
	closed bool // guarded by ops

	noDirect     atomic.Bool   // direct I/O refused by the file system (dir_direct.go)
	directWrites atomic.Uint64 // writes that went direct
	directReads  atomic.Uint64 // reads that went direct

	// locks serialise, per object, attribute read-modify-write and, when
	// capacity is capped, the block accounting of data changes.
	locks [64]sync.Mutex

	seqMu sync.Mutex // guards seqs; taken before dirSeq.mu
	seqs  map[uint64]*dirSeq
}

var _ Store = (*Dir)(nil)

// OpenDir opens the target formatted in dir. It fails with ErrNotFormatted
// if dir holds no label.
func OpenDir(dir string, opts Options) (*Dir, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	l, err := ReadLabel(dir)
	if err != nil {
		return nil, err
	}
	root, err := unix.Open(filepath.Join(dir, objectsName), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, dir, mapErrno(err))
	}
	// One server at a time: the lock lives as long as root is open, so it
	// goes with Close or with the process, however it ends. (Between the
	// nodes of a failover pair, multiple-mount protection guards the
	// target; this catches two servers on one node.)
	if err := unix.Flock(root, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(root)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("%w: %s: lock: %w", ErrIO, dir, err)
	}
	d := &Dir{
		dir: dir, label: l, opts: opts, log: opts.Logger.With(zap.String("target", l.Name())),
		xattr: l.Attrs == AttrsXattr, root: root, fds: newFDCache(opts.MaxOpenFiles),
		seed: maphash.MakeSeed(), seqs: map[uint64]*dirSeq{},
	}
	if opts.Capacity > 0 || opts.MaxObjects > 0 {
		if d.space, err = d.scanSpace(); err != nil {
			unix.Close(root)
			return nil, err
		}
	}
	d.log.Info("object store opened", zap.String("dir", dir), zap.String("attrs", l.Attrs),
		zap.Int64("capacity", opts.Capacity), zap.Int64("max_objects", opts.MaxObjects))
	return d, nil
}

// Label implements Store.
func (d *Dir) Label() Label { return d.label }

// Path is the path of the file holding fid's data, for tools and tests.
func (d *Dir) Path(fid wire.FID) string {
	return filepath.Join(d.dir, objectsName, objectName(fid))
}

// begin starts an operation: it checks ctx and holds off Close.
func (d *Dir) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.ops.RLock()
	if d.closed {
		d.ops.RUnlock()
		return ErrClosed
	}
	return nil
}

func (d *Dir) end() { d.ops.RUnlock() }

func seqName(seq uint64) string { return strconv.FormatUint(seq, 16) }

func fanName(oid uint32) string { return "d" + strconv.Itoa(int(oid%fanout)) }

// objectName is fid's path relative to O: <seq hex>/d<oid%32>/<oid hex>.
func objectName(fid wire.FID) string {
	b := make([]byte, 0, 40)
	b = strconv.AppendUint(b, fid.Seq, 16)
	b = append(b, "/d"...)
	b = strconv.AppendUint(b, uint64(fid.Oid%fanout), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(fid.Oid), 16)
	return string(b)
}

// fanPath is the directory holding fid's file.
func (d *Dir) fanPath(fid wire.FID) string {
	return filepath.Join(d.dir, objectsName, seqName(fid.Seq), fanName(fid.Oid))
}

func (d *Dir) lockFor(fid wire.FID) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(d.seed)
	k := fid.KeyBytes()
	h.Write(k[:])
	return &d.locks[h.Sum64()%uint64(len(d.locks))]
}

// pathErr wraps a syscall error with the operation and object and maps it
// to a sentinel.
func pathErr(op string, fid wire.FID, err error) error {
	if err == nil {
		return nil
	}
	return mapErrno(&os.PathError{Op: op, Path: fid.String(), Err: err})
}

// open returns a held fd cache entry for fid.
func (d *Dir) open(fid wire.FID) (*fdEntry, error) {
	if err := CheckFID(fid); err != nil {
		return nil, err
	}
	return d.fds.get(fid, func() (int, error) {
		fd, err := unix.Openat(d.root, objectName(fid), unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOATIME, 0)
		if errors.Is(err, unix.EPERM) { // O_NOATIME on a file we do not own
			fd, err = unix.Openat(d.root, objectName(fid), unix.O_RDWR|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			return -1, pathErr("open", fid, err)
		}
		return fd, nil
	})
}

// Create implements Store.
func (d *Dir) Create(ctx context.Context, fid wire.FID, a Attr) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	if err := CheckFID(fid); err != nil {
		return err
	}
	if !d.space.takeObjects(1) {
		return fmt.Errorf("%w: object limit %d", ErrNoSpace, d.opts.MaxObjects)
	}
	s, err := d.seq(fid.Seq, true)
	if err != nil {
		d.space.putObjects(1)
		return err
	}
	s.mu.Lock()
	if fid.Oid > s.last {
		err = s.setLast(fid.Oid)
	}
	s.mu.Unlock()
	if err == nil && s.lazy.has(fid.Oid) {
		err = fmt.Errorf("%w: %v", ErrExists, fid) // precreated, without a file yet
	}
	if err != nil {
		d.space.putObjects(1)
		return err
	}
	gen := d.fds.snapshot()
	fd, err := d.createFile(fid, a)
	if err != nil {
		d.space.putObjects(1)
		return err
	}
	if err := syncDir(d.fanPath(fid)); err != nil {
		unix.Close(fd)
		return err
	}
	d.fds.release(d.fds.add(fid, fd, gen))
	d.log.Debug("object created", zap.Stringer("fid", fid))
	return nil
}

// createFile makes fid's file (and its sidecar in AttrsFile mode) holding
// a's stored fields and returns its fd; on error nothing is left behind.
func (d *Dir) createFile(fid wire.FID, a Attr) (int, error) {
	name := objectName(fid)
	fd, err := unix.Openat(d.root, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, pathErr("create", fid, err)
	}
	if err = d.initAttr(fd, fid, a); err == nil && d.space != nil {
		var st unix.Stat_t
		if err = unix.Fstat(fd, &st); err == nil {
			d.space.used.Add(st.Blocks * BlockSize)
		}
	}
	if err != nil {
		unix.Close(fd)
		unix.Unlinkat(d.root, name, 0)
		unix.Unlinkat(d.root, name+attrSuffix, 0)
		return -1, err
	}
	return fd, nil
}

// Destroy implements Store. An object without a file (dir_lazy.go) is
// destroyed by clearing its bit durably. For one with a file, a clear of
// its bit not yet synced is synced first, so that the object cannot come
// back as an empty one after a crash.
func (d *Dir) Destroy(ctx context.Context, fid wire.FID) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	if err := CheckFID(fid); err != nil {
		return err
	}
	s, err := d.seq(fid.Seq, false)
	if err != nil {
		return err
	}
	if s != nil {
		mu := d.lockFor(fid)
		mu.Lock()
		unmade, err := s.lazy.clear(fid.Oid)
		mu.Unlock()
		if err == nil {
			if unmade {
				err = s.lazy.sync(ctx)
			} else {
				err = s.lazy.syncIfDirty(ctx)
			}
		}
		if err != nil {
			return err
		}
		if unmade {
			// No file, unless a crash left one beside the bit.
			if err := d.destroy(fid); isNotFound(err) {
				d.space.putObjects(1)
				return nil
			} else if err != nil {
				return err
			}
			return syncDir(d.fanPath(fid))
		}
	}
	if err := d.destroy(fid); err != nil {
		return err
	}
	return syncDir(d.fanPath(fid))
}

// destroy unlinks fid's files without syncing the directory.
func (d *Dir) destroy(fid wire.FID) error {
	mu := d.lockFor(fid)
	mu.Lock()
	defer mu.Unlock()
	name := objectName(fid)
	var st unix.Stat_t
	if d.space != nil {
		if err := unix.Fstatat(d.root, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("destroy", fid, err)
		}
	}
	if err := unix.Unlinkat(d.root, name, 0); err != nil {
		return pathErr("destroy", fid, err)
	}
	if !d.xattr {
		if err := unix.Unlinkat(d.root, name+attrSuffix, 0); err != nil && err != unix.ENOENT {
			d.log.Warn("sidecar not removed", zap.Stringer("fid", fid), zap.Error(err))
		}
	}
	d.fds.invalidate(fid)
	if d.space != nil {
		d.space.used.Add(-st.Blocks * BlockSize)
		d.space.putObjects(1)
	}
	d.log.Debug("object destroyed", zap.Stringer("fid", fid))
	return nil
}

// ReadAt implements Store.
func (d *Dir) ReadAt(ctx context.Context, fid wire.FID, p []byte, off int64) (int, error) {
	if err := checkRange(off, int64(len(p))); err != nil {
		return 0, err
	}
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	defer d.end()
	e, unmade, err := d.openRead(fid)
	if unmade {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF // an empty object
	}
	if err != nil {
		return 0, err
	}
	defer d.fds.release(e)
	return d.pread(e, fid, p, off) // dir_direct.go
}

// WriteAt implements Store.
func (d *Dir) WriteAt(ctx context.Context, fid wire.FID, p []byte, off int64) (int, error) {
	if err := checkRange(off, int64(len(p))); err != nil {
		return 0, err
	}
	if off > MaxObjectSize-int64(len(p)) {
		return 0, fmt.Errorf("%w: write to %d", ErrTooBig, off+int64(len(p)))
	}
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	defer d.end()
	e, err := d.openMade(fid)
	if err != nil {
		return 0, err
	}
	defer d.fds.release(e)
	if len(p) == 0 {
		return 0, nil
	}
	if d.space == nil {
		return d.pwrite(e, fid, p, off)
	}
	var n int
	err = d.accounted(fid, e.fd, off, int64(len(p)), func() error {
		n, err = d.pwrite(e, fid, p, off)
		return err
	})
	return n, err
}

func pwriteFull(fd int, fid wire.FID, p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pwrite(fd, p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, pathErr("write", fid, err)
		}
		n += m
	}
	return n, nil
}

// Punch implements Store.
func (d *Dir) Punch(ctx context.Context, fid wire.FID, off, length int64) error {
	if length == PunchToEOF {
		return d.Truncate(ctx, fid, off)
	}
	if err := checkRange(off, length); err != nil {
		return err
	}
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	e, err := d.openMade(fid)
	if err != nil {
		return err
	}
	defer d.fds.release(e)
	length = min(length, MaxObjectSize-min(off, MaxObjectSize)) // nothing lives past MaxObjectSize
	if length == 0 {
		return nil
	}
	return d.accounted(fid, e.fd, 0, 0, func() error {
		return d.punchHole(e.fd, fid, off, length)
	})
}

// punchHole deallocates [off, off+length) keeping the size; where the file
// system cannot punch holes it writes zeros over the part below EOF.
func (d *Dir) punchHole(fd int, fid wire.FID, off, length int64) error {
	err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
	if err == nil || (err != unix.EOPNOTSUPP && err != unix.ENOSYS) {
		return pathErr("punch", fid, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return pathErr("punch", fid, err)
	}
	end := min(st.Size, off+length)
	zeros := make([]byte, 64<<10)
	for pos := off; pos < end; pos += int64(len(zeros)) {
		if _, err := pwriteFull(fd, fid, zeros[:min(int64(len(zeros)), end-pos)], pos); err != nil {
			return err
		}
	}
	return nil
}

// Truncate implements Store.
func (d *Dir) Truncate(ctx context.Context, fid wire.FID, size int64) error {
	if size < 0 || size > MaxObjectSize {
		return fmt.Errorf("%w: size %d", ErrInvalid, size)
	}
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	e, err := d.openMade(fid)
	if err != nil {
		return err
	}
	defer d.fds.release(e)
	return d.accounted(fid, e.fd, 0, 0, func() error {
		return pathErr("truncate", fid, unix.Ftruncate(e.fd, size))
	})
}

// Close implements Store.
func (d *Dir) Close() error {
	d.ops.Lock()
	defer d.ops.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.fds.close()
	d.seqMu.Lock()
	for _, s := range d.seqs {
		if s.fd >= 0 {
			unix.Close(s.fd)
			s.fd = -1
		}
		if s.lazy != nil {
			unix.Close(s.lazy.fd)
			s.lazy.fd = -1
		}
	}
	d.seqMu.Unlock()
	err := unix.Close(d.root)
	d.log.Info("object store closed")
	return mapErrno(err)
}
