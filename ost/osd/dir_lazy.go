package osd

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"slices"
	"sync"

	"github.com/stria-fs/stria/wire"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Lazy objects (Dir). Precreate makes no files: it marks the new ids in the
// sequence's LAZY bitmap, and an object gets its file from the first call
// that changes it (openMade). Until then it reads as an empty object with
// no stored attributes, which is what a precreated file would be. So an
// empty file of the file system costs its OST one bit, and its destroy
// clears that bit: no inode is made or freed.
//
// The object of a sequence exists iff its file exists or its bit is set.
// The bit is cleared when the file is made (written, not synced: a crash
// then leaves bit and file, which still reads as the one object) and when
// the object is destroyed (synced before Destroy returns, after any clear
// not yet synced, so a destroyed object never comes back).

const lazyName = "LAZY" // O/<seq hex>/LAZY: bit oid%8 of byte oid/8

// lazyPageBits is the number of oids one in-memory page of the bitmap covers.
const lazyPageBits = 8 * lazyPageBytes

const lazyPageBytes = 4096

// lazyMap is one sequence's set of precreated objects that have no file
// yet: the LAZY file and its copy in memory, in pages that exist only
// where a bit was ever set.
type lazyMap struct {
	mu    sync.Mutex // guards the fields below; a leaf
	fd    int
	pages map[uint32]*[lazyPageBytes]byte
	n     int64 // bits set
	dirty bool  // a clear written since the last sync started

	syncs syncGroup // fdatasyncs of fd
}

// loadLazy reads the LAZY file open as fd. Bits above last (possible only
// if a crash came between the bitmap and LAST_ID, which Precreate writes
// in the other order) are dropped: no object lives above LAST_ID.
func loadLazy(fd int, last uint32) (*lazyMap, error) {
	m := &lazyMap{fd: fd, pages: map[uint32]*[lazyPageBytes]byte{}}
	var buf [lazyPageBytes]byte
	for p := uint32(0); ; p++ {
		n, err := unix.Pread(fd, buf[:], int64(p)*lazyPageBytes)
		if err == unix.EINTR {
			p--
			continue
		}
		if err != nil {
			return nil, mapErrno(&os.PathError{Op: "read", Path: lazyName, Err: err})
		}
		if n == 0 {
			break
		}
		clear(buf[n:])
		for i, b := range buf {
			if b == 0 {
				continue
			}
			pg := m.pages[p]
			if pg == nil {
				pg = new([lazyPageBytes]byte)
				m.pages[p] = pg
			}
			for j := range 8 {
				oid := uint64(p)*lazyPageBits + uint64(i)*8 + uint64(j)
				if b&(1<<j) != 0 && oid > 0 && oid <= uint64(last) {
					pg[i] |= 1 << j
					m.n++
				}
			}
		}
		if p == MaxOID/lazyPageBits {
			break
		}
	}
	return m, nil
}

// countLazy returns the number of objects the LAZY file at path holds.
func countLazy(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, mapErrno(err)
	}
	var n int64
	for _, c := range b {
		n += int64(bits.OnesCount8(c))
	}
	return n, nil
}

// has reports whether oid's bit is set.
func (m *lazyMap) has(oid uint32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	pg := m.pages[oid/lazyPageBits]
	i := oid % lazyPageBits
	return pg != nil && pg[i/8]&(1<<(i%8)) != 0
}

// setRange sets the bits of [lo, hi] and writes them (not synced).
func (m *lazyMap) setRange(lo, hi uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for oid := uint64(lo); oid <= uint64(hi); oid++ {
		pg := m.pages[uint32(oid/lazyPageBits)]
		if pg == nil {
			pg = new([lazyPageBytes]byte)
			m.pages[uint32(oid/lazyPageBits)] = pg
		}
		i := oid % lazyPageBits
		if pg[i/8]&(1<<(i%8)) == 0 {
			pg[i/8] |= 1 << (i % 8)
			m.n++
		}
	}
	return m.writeLocked(lo, hi)
}

// clearRange clears the bits of [lo, hi], writes them (not synced) and
// returns the oids that were set, in order.
func (m *lazyMap) clearRange(lo, hi uint32) ([]uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var was []uint32
	for oid := uint64(lo); oid <= uint64(hi); oid++ {
		pg := m.pages[uint32(oid/lazyPageBits)]
		if pg == nil {
			oid |= lazyPageBits - 1 // skip to the next page
			continue
		}
		i := oid % lazyPageBits
		if pg[i/8]&(1<<(i%8)) != 0 {
			pg[i/8] &^= 1 << (i % 8)
			m.n--
			was = append(was, uint32(oid))
		}
	}
	if len(was) == 0 {
		return nil, nil
	}
	m.dirty = true
	return was, m.writeLocked(was[0], was[len(was)-1])
}

// clear clears oid's bit and writes it (not synced); it reports whether the
// bit was set.
func (m *lazyMap) clear(oid uint32) (bool, error) {
	was, err := m.clearRange(oid, oid)
	return len(was) > 0, err
}

// writeLocked writes the bytes holding the bits of [lo, hi] from memory.
func (m *lazyMap) writeLocked(lo, hi uint32) error {
	for p := lo / lazyPageBits; p <= hi/lazyPageBits; p++ {
		from, to := uint32(0), uint32(lazyPageBytes-1)
		if p == lo/lazyPageBits {
			from = lo % lazyPageBits / 8
		}
		if p == hi/lazyPageBits {
			to = hi % lazyPageBits / 8
		}
		pg := m.pages[p]
		if pg == nil {
			pg = new([lazyPageBytes]byte) // nothing set here: zeros
		}
		off := int64(p)*lazyPageBytes + int64(from)
		if _, err := pwriteFull(m.fd, wire.FID{}, pg[from:to+1], off); err != nil {
			return fmt.Errorf("%s: %w", lazyName, err)
		}
		if p == MaxOID/lazyPageBits {
			break
		}
	}
	return nil
}

// sync makes every bit written before the call durable; concurrent calls
// share fdatasyncs.
func (m *lazyMap) sync(ctx context.Context) error {
	return m.syncs.sync(ctx, func() error {
		m.mu.Lock()
		m.dirty = false
		m.mu.Unlock()
		if err := unix.Fdatasync(m.fd); err != nil {
			m.mu.Lock()
			m.dirty = true // the next sync tries again
			m.mu.Unlock()
			return mapErrno(&os.PathError{Op: "fdatasync", Path: lazyName, Err: err})
		}
		return nil
	})
}

// syncIfDirty syncs when a clear was written since the last sync started.
func (m *lazyMap) syncIfDirty(ctx context.Context) error {
	m.mu.Lock()
	dirty := m.dirty
	m.mu.Unlock()
	if !dirty {
		return nil
	}
	return m.sync(ctx)
}

// oids returns the set oids, in order.
func (m *lazyMap) oids() []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]uint32, 0, m.n)
	for p, pg := range m.pages {
		for i, b := range pg {
			for b != 0 {
				j := bits.TrailingZeros8(b)
				b &^= 1 << j
				out = append(out, p*lazyPageBits+uint32(i)*8+uint32(j))
			}
		}
	}
	slices.Sort(out)
	return out
}

// lazyObjects counts the objects of the open sequences that have no file.
func (d *Dir) lazyObjects() int64 {
	d.seqMu.Lock()
	defer d.seqMu.Unlock()
	var n int64
	for _, s := range d.seqs {
		if s.ready.Load() {
			s.lazy.mu.Lock()
			n += s.lazy.n
			s.lazy.mu.Unlock()
		}
	}
	return n
}

// openRead is open for a call that only reads: unmade is true (and e
// nil) for an object precreated and never made, which has no file and
// reads as empty. A file made meanwhile is opened: the check runs under
// the object's lock, which the make holds from the file's creation to the
// bit's clear.
func (d *Dir) openRead(fid wire.FID) (e *fdEntry, unmade bool, err error) {
	e, err = d.open(fid)
	if err == nil || !isNotFound(err) {
		return e, false, err
	}
	s, serr := d.seq(fid.Seq, false)
	if serr != nil || s == nil {
		return nil, false, errors.Join(err, serr)
	}
	mu := d.lockFor(fid)
	mu.Lock()
	defer mu.Unlock()
	if s.lazy.has(fid.Oid) {
		return nil, true, nil
	}
	e, err = d.open(fid)
	return e, false, err
}

// openMade is open for a change: an object that has no file yet gets it
// now. The new entry's directory is synced by the next SyncObject.
func (d *Dir) openMade(fid wire.FID) (*fdEntry, error) {
	e, err := d.open(fid)
	if err == nil || !isNotFound(err) {
		return e, err
	}
	s, serr := d.seq(fid.Seq, false)
	if serr != nil || s == nil {
		return nil, errors.Join(err, serr)
	}
	mu := d.lockFor(fid)
	mu.Lock()
	defer mu.Unlock()
	if !s.lazy.has(fid.Oid) {
		return d.open(fid) // made meanwhile, or destroyed
	}
	gen := d.fds.snapshot()
	fd, err := d.createFile(fid, Attr{})
	if err != nil {
		return nil, err
	}
	s.dirtyFans.Or(1 << (fid.Oid % fanout))
	if _, err := s.lazy.clear(fid.Oid); err != nil {
		// The object exists either way (file, or file and bit); a later
		// write of the byte from memory repairs it.
		d.log.Warn("lazy bit not cleared", zap.Stringer("fid", fid), zap.Error(err))
	}
	return d.fds.add(fid, fd, gen), nil
}

// syncFan syncs the directory of fid's file if an object was made in it
// since its last sync.
func (d *Dir) syncFan(fid wire.FID) error {
	s, err := d.seq(fid.Seq, false)
	if err != nil || s == nil {
		return err
	}
	bit := uint32(1) << (fid.Oid % fanout)
	if s.dirtyFans.And(^bit)&bit == 0 {
		return nil
	}
	if err := syncDir(d.fanPath(fid)); err != nil {
		s.dirtyFans.Or(bit)
		return err
	}
	return nil
}
