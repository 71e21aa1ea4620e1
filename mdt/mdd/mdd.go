package mdd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// Limits.
const (
	// MaxNameLen is the longest name of a directory entry (NAME_MAX).
	MaxNameLen = 255
	// MaxSymlinkLen is the longest symlink target (PATH_MAX - 1).
	MaxSymlinkLen = 4095
	// MaxLink is the most names a file, or subdirectories a directory, may
	// have (ldiskfs' EXT4_LINK_MAX).
	MaxLink = 65000
	// DirSize is the size reported for a directory, as ldiskfs' first block.
	DirSize = 4096
)

// Permission and special mode bits.
const (
	modeSetUID uint32 = 0o4000
	modeSetGID uint32 = 0o2000
	modeSticky uint32 = 0o1000
	modePerm   uint32 = 0o7777
)

// Config tunes an MDD. The zero value is usable.
type Config struct {
	// Logger receives the layer's events; zap.NewNop() when nil.
	Logger *zap.Logger
	// Now is the clock for timestamps; time.Now when nil.
	Now func() time.Time
	// InodeBytes is the store space counted per inode when StatFS reports
	// free inodes (default 2048, ldiskfs' MDT inode ratio order).
	InodeBytes uint64
	// OnDestroy, if set, is called inside the store operation that
	// destroys a regular file with a layout (unlink of the last name, the
	// last close of an orphan, the orphan sweep, the victim of a rename),
	// with the file's lustre.lov blob. The MDT records the file's OST
	// objects for destruction there, in the same transaction. Like every
	// operation function it must be a pure function of the transaction;
	// an error fails the operation.
	OnDestroy func(t *store.Tx, f wire.FID, layout []byte) error
	// OnLayout, if set, is called inside every store operation that stores
	// a file's layout (Create with a layout, SetXattr of lustre.lov), with
	// the new blob; the MDT records there which OST objects layouts use.
	// The same rules as for OnDestroy apply.
	OnLayout func(t *store.Tx, f wire.FID, layout []byte) error
}

// MDD is the namespace layer of one MDT over its store.
//
// Open counts live in memory only (opens is guarded by mu; the lock is
// never held across a store call). Every operation that reads or changes
// them runs under the store's apply token, so an unlink and an open
// of the same inode are serialised: an unlink sees every open that ran
// before it, committed or in its group.
type MDD struct {
	s     *store.Store
	log   *zap.Logger
	now   func() time.Time
	cfg   Config
	index uint32

	mu    sync.Mutex
	opens map[wire.FID]int // open handles per inode
	// orphans holds every inode recorded as an orphan, and possibly some
	// that no longer are (a superset): Close of an inode outside it needs
	// no store operation.
	orphans map[wire.FID]struct{}
	swept   bool       // SweepOrphans has run since New
	sweepM  sync.Mutex // serialises SweepOrphans
}

// Creds are the caller's credentials, passed explicitly to every check.
type Creds struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups
}

// Root returns root's credentials (uid 0 bypasses permission checks).
func Root() Creds { return Creds{} }

// IsRoot reports whether c is root.
func (c Creds) IsRoot() bool { return c.UID == 0 }

func (c Creds) inGroup(gid uint32) bool {
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

// Attr is an inode's attributes with its FID.
type Attr struct {
	FID wire.FID
	store.Inode
}

// Format formats a store for label and, on MDT0000, creates the root
// directory wire.RootFID (mode 0755, root-owned). A formatted store is
// refused unless opts.Reformat.
func Format(path string, label store.Label, opts store.FormatOptions) error {
	return store.Format(path, label, opts, func(t *store.Tx) error {
		if label.Index != 0 {
			return nil
		}
		now := time.Now().UnixNano()
		root := store.Inode{Mode: store.TypeDir | 0o755, Nlink: 2, Size: DirSize,
			Atime: now, Mtime: now, Ctime: now, Btime: now}
		return t.PutInode(wire.RootFID, &root)
	})
}

// New returns the namespace layer over an open store; the caller keeps
// ownership of the store (it serves reply data too) and closes it after
// the last call into the MDD. Orphans left by the previous run stay until
// SweepOrphans, which the MDT calls when recovery is over (replayed opens
// may still need them).
func New(s *store.Store, cfg Config) (*MDD, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InodeBytes == 0 {
		cfg.InodeBytes = 2048
	}
	m := &MDD{s: s, log: cfg.Logger, now: cfg.Now, cfg: cfg, index: s.Label().Index, opens: map[wire.FID]int{},
		orphans: map[wire.FID]struct{}{}}
	err := s.View(context.Background(), func(t *store.Tx) error {
		m.swept = true // nothing to sweep unless the last run left orphans
		if err := t.Orphans(func(f wire.FID, _ store.Orphan) bool {
			m.swept = false
			m.orphans[f] = struct{}{}
			return true
		}); err != nil {
			return err
		}
		if m.index != 0 {
			return nil
		}
		ino, err := t.Inode(wire.RootFID)
		if err == nil && !ino.IsDir() {
			err = fmt.Errorf("root %v is not a directory", wire.RootFID)
		}
		if err != nil {
			return fmt.Errorf("%w: MDT0000 without root: %w", ErrInvariant, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Store returns the store under the MDD.
func (m *MDD) Store() *store.Store { return m.s }

// Label returns the target's label.
func (m *MDD) Label() store.Label { return m.s.Label() }

// LastCommitted returns the highest durable transno.
func (m *MDD) LastCommitted() uint64 { return m.s.LastCommitted() }

// OpenCount returns the number of open handles of f.
func (m *MDD) OpenCount(f wire.FID) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.opens[f]
}

// markOrphan decides, inside a store operation that removed the last name
// of f, whether f becomes an orphan: it does if it is open. The decision
// and the note in MDD.orphans are one step under MDD.mu, so that a Close
// outside a store operation (closeUnlinked) either ran before it, and the
// inode is destroyed, or sees the note and goes through a store operation.
func (m *MDD) markOrphan(t *store.Tx, f wire.FID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opens[f] == 0 {
		return false
	}
	if _, ok := m.orphans[f]; !ok {
		m.orphans[f] = struct{}{}
		t.OnRollback(func() {
			m.mu.Lock()
			delete(m.orphans, f)
			m.mu.Unlock()
		})
	}
	return true
}

// forgetOrphan drops f from MDD.orphans once the operation that destroyed
// it committed.
func (m *MDD) forgetOrphan(t *store.Tx, f wire.FID) {
	t.OnCommit(func() {
		m.mu.Lock()
		delete(m.orphans, f)
		m.mu.Unlock()
	})
}

// closeLinked drops one open of f without a store operation when that
// cannot destroy it: another open remains, or f is not an orphan. It
// reports false when the caller must go through a store operation (the last
// open of an orphan, or no open at all: an error to report there).
func (m *MDD) closeLinked(f wire.FID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.opens[f]
	if n == 0 {
		return false
	}
	if _, orphan := m.orphans[f]; orphan && n == 1 {
		return false
	}
	if n == 1 {
		delete(m.opens, f)
	} else {
		m.opens[f] = n - 1
	}
	return true
}

// addOpen changes f's open count inside a store operation; the change is
// undone if the operation's effects are discarded.
func (m *MDD) addOpen(t *store.Tx, f wire.FID, delta int) {
	m.mu.Lock()
	m.opens[f] += delta
	if m.opens[f] == 0 {
		delete(m.opens, f)
	}
	m.mu.Unlock()
	t.OnRollback(func() {
		m.mu.Lock()
		m.opens[f] -= delta
		if m.opens[f] == 0 {
			delete(m.opens, f)
		}
		m.mu.Unlock()
	})
}

// checkName validates a name that a modifying operation creates or removes.
// "." and ".." are refused: the kernel (and the FUSE client) resolves them
// before a request is made.
func checkName(name string) error {
	switch {
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name of %d bytes", ErrNameTooLong, len(name))
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: name %q", ErrInvalid, name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: name %q holds '/' or NUL", ErrInvalid, name)
	}
	return nil
}

// Access bits for permitted.
const (
	mayExec  uint32 = 1
	mayWrite uint32 = 2
	mayRead  uint32 = 4
)

// permitted reports whether c may access ino with the bits want. Root
// passes, except that it may execute a non-directory only if some x bit is
// set.
func permitted(c Creds, ino *store.Inode, want uint32) bool {
	if c.IsRoot() {
		return want&mayExec == 0 || ino.IsDir() || ino.Mode&0o111 != 0
	}
	var bits uint32
	switch {
	case c.UID == ino.UID:
		bits = ino.Mode >> 6
	case c.inGroup(ino.GID):
		bits = ino.Mode >> 3
	default:
		bits = ino.Mode
	}
	return bits&7&want == want
}

// ownerOrRoot reports whether c owns ino or is root.
func ownerOrRoot(c Creds, ino *store.Inode) bool { return c.IsRoot() || c.UID == ino.UID }

// stickyAllows applies the sticky-directory rule: in a directory with the
// sticky bit only the owner of the entry, the owner of the directory or
// root may remove or rename an entry.
func stickyAllows(c Creds, dir, victim *store.Inode) bool {
	return dir.Mode&modeSticky == 0 || c.IsRoot() || c.UID == dir.UID || c.UID == victim.UID
}

// op is one namespace operation's view of a store transaction: an inode
// cache that handles aliases (a directory that is both parents of a
// rename) and writes each changed inode once.
type op struct {
	m     *MDD
	t     *store.Tx
	now   int64
	cache map[wire.FID]*store.Inode
	dirty []wire.FID
}

func (m *MDD) newOp(t *store.Tx) *op {
	return &op{m: m, t: t, now: m.now().UnixNano(), cache: map[wire.FID]*store.Inode{}}
}

// inode returns the cached inode f; ErrNotFound or ErrRemote when absent.
func (o *op) inode(f wire.FID) (*store.Inode, error) {
	if ino, ok := o.cache[f]; ok {
		if ino == nil {
			return nil, fmt.Errorf("%w: %v", ErrNotFound, f)
		}
		return ino, nil
	}
	ino, err := o.t.Inode(f)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, o.m.missing(o.t, f)
		}
		return nil, err
	}
	o.cache[f] = &ino
	return &ino, nil
}

// missing explains an absent inode: on another MDT by the FLD, or gone.
func (m *MDD) missing(t *store.Tx, f wire.FID) error {
	if r, err := t.FLDLookup(f.Seq); err == nil && (r.Type != store.FLDMDT || r.Index != m.index) {
		return fmt.Errorf("%w: %v is on %s%04x", ErrRemote, f, map[uint8]string{store.FLDMDT: "MDT", store.FLDOST: "OST"}[r.Type], r.Index)
	}
	return fmt.Errorf("%w: %v", ErrNotFound, f)
}

// dir returns the live directory f: ENOENT if absent or removed, ENOTDIR.
func (o *op) dir(f wire.FID) (*store.Inode, error) {
	ino, err := o.inode(f)
	if err != nil {
		return nil, err
	}
	if !ino.IsDir() {
		return nil, fmt.Errorf("%w: %v", ErrNotDir, f)
	}
	if ino.Nlink == 0 {
		return nil, fmt.Errorf("%w: directory %v was removed", ErrNotFound, f)
	}
	return ino, nil
}

// lookup returns the entry name of directory parent, ErrNotFound if none.
func (o *op) lookup(parent wire.FID, name string) (store.Dirent, error) {
	d, err := o.t.Dirent(parent, name)
	if errors.Is(err, store.ErrNotFound) {
		return d, fmt.Errorf("%w: %v/%q", ErrNotFound, parent, name)
	}
	return d, err
}

// touch marks f changed: its ctime (and mtime when content is true) set to
// now, written at flush.
func (o *op) touch(f wire.FID, content bool) {
	ino := o.cache[f]
	ino.Ctime = o.now
	if content {
		ino.Mtime = o.now
	}
	o.mark(f)
}

func (o *op) mark(f wire.FID) {
	for _, d := range o.dirty {
		if d == f {
			return
		}
	}
	o.dirty = append(o.dirty, f)
}

// put adds a new inode to the cache, to be written at flush.
func (o *op) put(f wire.FID, ino *store.Inode) {
	o.cache[f] = ino
	o.mark(f)
}

// destroy removes inode f from the store and the cache.
func (o *op) destroy(f wire.FID) error {
	o.cache[f] = nil
	return o.t.DestroyInode(f)
}

// flush writes the changed inodes.
func (o *op) flush() error {
	for _, f := range o.dirty {
		if ino := o.cache[f]; ino != nil {
			if err := o.t.PutInode(f, ino); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *op) attr(f wire.FID) Attr {
	if ino := o.cache[f]; ino != nil {
		return Attr{FID: f, Inode: *ino}
	}
	return Attr{FID: f}
}

// storeErr maps store errors that callers can cause to mdd sentinels.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNoSequence):
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// update runs fn as one store operation and maps store errors.
func (m *MDD) update(ctx context.Context, fn func(o *op) error) (uint64, error) {
	tn, err := m.s.Update(ctx, func(t *store.Tx) error { return fn(m.newOp(t)) })
	return tn, storeErr(err)
}

// apply runs fn as one store operation answered before its commit
// (store.Apply) and maps store errors.
func (m *MDD) apply(ctx context.Context, fn func(o *op) error) (uint64, error) {
	tn, err := m.s.Apply(ctx, func(t *store.Tx) error { return fn(m.newOp(t)) })
	return tn, storeErr(err)
}

// view runs fn in a read transaction and maps store errors.
func (m *MDD) view(ctx context.Context, fn func(o *op) error) error {
	return storeErr(m.s.View(ctx, func(t *store.Tx) error { return fn(m.newOp(t)) }))
}
