package osd

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stria-fs/stria/wire"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// dirSeq is one object sequence of a Dir: its directories exist and its
// LAST_ID file is open.
type dirSeq struct {
	seq uint64
	mu  sync.Mutex // guards the fields below and LAST_ID writes
	fd  int        // O/<seq>/LAST_ID
	// last is LAST_ID: the highest oid ever allocated in the sequence. It
	// is at least every existing object's oid and never decreases.
	last uint32

	lazy *lazyMap // precreated objects without a file (dir_lazy.go)
	// ready is set, after fd, last and lazy, once the directories are
	// made and LAST_ID and LAZY read; then seq needs no mu.
	ready atomic.Bool
	// dirtyFans has bit i set when an object file was made in d<i> since
	// that directory's last sync.
	dirtyFans atomic.Uint32
}

// seq returns sequence seq ready for use, making its directories and
// LAST_ID when create is set; without create a sequence that does not exist
// yet yields (nil, nil).
func (d *Dir) seq(seq uint64, create bool) (*dirSeq, error) {
	d.seqMu.Lock()
	s := d.seqs[seq]
	if s == nil {
		s = &dirSeq{seq: seq, fd: -1}
		d.seqs[seq] = s
	}
	d.seqMu.Unlock()
	if s.ready.Load() {
		return s, nil // without s.mu, which a precreate holds across fsyncs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready.Load() {
		return s, nil
	}
	name := seqName(seq)
	if !create {
		if err := unix.Faccessat(d.root, name+"/"+lastIDName, unix.F_OK, 0); err == unix.ENOENT {
			return nil, nil
		}
	}
	if err := d.makeSeqDirs(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.root, name+"/"+lastIDName, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, mapErrno(&os.PathError{Op: "open", Path: name + "/" + lastIDName, Err: err})
	}
	var buf [lastIDSize + 1]byte
	n, err := unix.Pread(fd, buf[:], 0)
	if err == nil && n > 0 {
		s.last, err = decodeLastID(buf[:n])
	}
	var lfd int
	if err == nil {
		lfd, err = unix.Openat(d.root, name+"/"+lazyName, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		if err == nil {
			if s.lazy, err = loadLazy(lfd, s.last); err != nil {
				unix.Close(lfd)
			}
		}
	}
	if err == nil {
		err = syncDir(filepath.Join(d.dir, objectsName, name))
	}
	if err == nil {
		err = syncDir(filepath.Join(d.dir, objectsName))
	}
	if err != nil {
		unix.Close(fd)
		if s.lazy != nil {
			unix.Close(s.lazy.fd)
			s.lazy = nil
		}
		return nil, fmt.Errorf("sequence %#x: %w", seq, mapErrno(err))
	}
	s.fd = fd
	s.ready.Store(true)
	return s, nil
}

func (d *Dir) makeSeqDirs(name string) error {
	if err := unix.Mkdirat(d.root, name, 0o755); err != nil && err != unix.EEXIST {
		return mapErrno(&os.PathError{Op: "mkdir", Path: name, Err: err})
	}
	for i := range uint32(fanout) {
		p := name + "/" + fanName(i)
		if err := unix.Mkdirat(d.root, p, 0o755); err != nil && err != unix.EEXIST {
			return mapErrno(&os.PathError{Op: "mkdir", Path: p, Err: err})
		}
	}
	return nil
}

// LAST_ID holds a u64, little-endian, as Lustre's.
const lastIDSize = 8

func decodeLastID(b []byte) (uint32, error) {
	if len(b) != lastIDSize {
		return 0, fmt.Errorf("%w: LAST_ID of %d bytes", ErrCorrupt, len(b))
	}
	v := binary.LittleEndian.Uint64(b)
	if v > uint64(MaxOID) {
		return 0, fmt.Errorf("%w: LAST_ID %#x", ErrCorrupt, v)
	}
	return uint32(v), nil
}

// setLast writes LAST_ID = v durably; s.mu is held. One aligned 8-byte
// write in place is atomic on the disks we run on.
func (s *dirSeq) setLast(v uint32) error {
	var b [lastIDSize]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	if _, err := pwriteFull(s.fd, wire.FID{Seq: s.seq}, b[:], 0); err != nil {
		return err
	}
	if err := unix.Fdatasync(s.fd); err != nil {
		return mapErrno(&os.PathError{Op: "fdatasync", Path: lastIDName, Err: err})
	}
	s.last = v
	return nil
}

// LastID implements Store.
func (d *Dir) LastID(ctx context.Context, seq uint64) (uint32, error) {
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	defer d.end()
	s, err := d.seq(seq, false)
	if s == nil || err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// Precreate implements Store. LAST_ID moves first, then the objects' bits
// (dir_lazy.go), so a crash part-way leaves unused ids behind, never an
// object above LAST_ID.
func (d *Dir) Precreate(ctx context.Context, seq uint64, count int) (wire.FID, wire.FID, error) {
	if err := d.begin(ctx); err != nil {
		return wire.FID{}, wire.FID{}, err
	}
	defer d.end()
	if count <= 0 {
		return wire.FID{}, wire.FID{}, fmt.Errorf("%w: precreate count %d", ErrInvalid, count)
	}
	s, err := d.seq(seq, true)
	if err != nil {
		return wire.FID{}, wire.FID{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.last
	n := int64(min(uint64(count), uint64(d.opts.SeqWidth-min(last, d.opts.SeqWidth))))
	if n == 0 {
		return wire.FID{}, wire.FID{}, fmt.Errorf("%w: sequence %#x at %#x", ErrSeqExhausted, seq, last)
	}
	if n = d.space.takeObjectsUpTo(n); n == 0 {
		return wire.FID{}, wire.FID{}, fmt.Errorf("%w: object limit %d", ErrNoSpace, d.opts.MaxObjects)
	}
	if err := s.setLast(last + uint32(n)); err != nil {
		d.space.putObjects(n)
		return wire.FID{}, wire.FID{}, err
	}
	// The objects are bits (dir_lazy.go): their files come with their
	// first change. A failure here leaves ids unused, as a crash would.
	first, end := last+1, last+uint32(n)
	err = s.lazy.setRange(first, end)
	if err == nil {
		err = s.lazy.sync(ctx)
	}
	if err != nil {
		if _, cerr := s.lazy.clearRange(first, end); cerr != nil {
			d.log.Warn("precreated bits not cleared", zap.Uint64("seq", seq), zap.Error(cerr))
		}
		d.space.putObjects(n)
		return wire.FID{}, wire.FID{}, err
	}
	return wire.FID{Seq: seq, Oid: first}, wire.FID{Seq: seq, Oid: end}, nil
}

// DestroyOrphans implements Store.
func (d *Dir) DestroyOrphans(ctx context.Context, seq uint64, lastUsed uint32) (int, error) {
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	defer d.end()
	s, err := d.seq(seq, false)
	if s == nil || err != nil {
		return 0, err
	}
	s.mu.Lock() // no precreate while orphans go
	defer s.mu.Unlock()
	n := 0
	var bits []uint32 // orphans that had no file
	if lastUsed < s.last {
		if bits, err = s.lazy.clearRange(lastUsed+1, s.last); err != nil {
			return 0, err
		}
		if err := s.lazy.sync(ctx); err != nil {
			return 0, err
		}
		n = len(bits)
		d.space.putObjects(int64(n))
	}
	var orphans []wire.FID
	for i := range uint32(fanout) {
		err := d.readFan(seq, i, func(f wire.FID) {
			if f.Oid > lastUsed && f.Oid <= s.last {
				orphans = append(orphans, f)
			}
		})
		if err != nil {
			return n, err
		}
	}
	for _, f := range orphans {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if err := d.destroy(f); isNotFound(err) {
			continue
		} else if err != nil {
			return n, err
		}
		if _, counted := slices.BinarySearch(bits, f.Oid); !counted {
			n++ // (a file beside its bit is what a crash leaves: one object)
		}
	}
	for i := range uint32(fanout) {
		if err := syncDir(filepath.Join(d.dir, objectsName, seqName(seq), fanName(i))); err != nil {
			return n, err
		}
	}
	d.log.Info("orphans destroyed", zap.Uint64("seq", seq), zap.Uint32("last_used", lastUsed),
		zap.Uint32("last_id", s.last), zap.Int("count", n))
	return n, nil
}

// readFan calls fn for each object in O/<seq>/d<i>.
func (d *Dir) readFan(seq uint64, i uint32, fn func(wire.FID)) error {
	p := filepath.Join(d.dir, objectsName, seqName(seq), "d"+strconv.Itoa(int(i)))
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return mapErrno(err)
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(1024)
		for _, name := range names {
			if strings.HasPrefix(name, "0") {
				continue // not canonical hex: no object of ours
			}
			oid, perr := strconv.ParseUint(name, 16, 32)
			if perr != nil || oid == 0 || uint32(oid)%fanout != i {
				continue // sidecars, temporaries, strangers
			}
			fn(wire.FID{Seq: seq, Oid: uint32(oid)})
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return mapErrno(err)
		}
	}
}

// Sequences implements Store.
func (d *Dir) Sequences(ctx context.Context) ([]uint64, error) {
	if err := d.begin(ctx); err != nil {
		return nil, err
	}
	defer d.end()
	ents, err := os.ReadDir(filepath.Join(d.dir, objectsName))
	if err != nil {
		return nil, mapErrno(err)
	}
	var seqs []uint64
	for _, e := range ents {
		if v, err := strconv.ParseUint(e.Name(), 16, 64); err == nil && e.IsDir() && seqName(v) == e.Name() {
			seqs = append(seqs, v)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// List implements Store. It reads one fan-out directory at a time and calls
// fn with no lock held, so fn may use the store (destroy what it lists).
// Objects without a file yet (dir_lazy.go) come with their directory's.
func (d *Dir) List(ctx context.Context, seq uint64, fn func(wire.FID) error) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	s, err := d.seq(seq, false)
	d.end()
	if err != nil {
		return err
	}
	var lazy [fanout][]uint32
	if s != nil {
		for _, oid := range s.lazy.oids() {
			lazy[oid%fanout] = append(lazy[oid%fanout], oid)
		}
	}
	for i := range uint32(fanout) {
		if err := d.begin(ctx); err != nil {
			return err
		}
		var fids []wire.FID
		err := d.readFan(seq, i, func(f wire.FID) { fids = append(fids, f) })
		d.end()
		if err != nil {
			return err
		}
		if len(lazy[i]) > 0 {
			files := make(map[uint32]bool, len(fids))
			for _, f := range fids {
				files[f.Oid] = true
			}
			for _, oid := range lazy[i] {
				if !files[oid] { // (a file beside its bit is what a crash leaves)
					fids = append(fids, wire.FID{Seq: seq, Oid: oid})
				}
			}
		}
		for _, f := range fids {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(f); err != nil {
				return err
			}
		}
	}
	return nil
}
