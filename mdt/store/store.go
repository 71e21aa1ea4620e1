package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/stria-fs/stria/wire"
)

// Options tune an open store. The zero value is usable.
type Options struct {
	// Logger receives the store's events; zap.NewNop() when nil.
	Logger *zap.Logger
	// MaxBatch bounds the operations one bbolt transaction commits
	// (default 256).
	MaxBatch int
	// MaxPending bounds the applied operations waiting for their commit
	// (default 4096); the next one waits for a commit.
	MaxPending int
	// CommitDelay is how long the flusher lets operations answered before
	// their commit (Apply) gather before it commits them (default 10ms);
	// one that somebody waits for is committed at once. Negative: no delay.
	CommitDelay time.Duration
	// OnFailure is called, once, on the flusher goroutine, when a commit
	// failed: the store has stopped (every later call fails with
	// ErrCommit) and the target must restart so that clients replay what
	// it acknowledged.
	OnFailure func(error)
	// LockTimeout bounds the wait for the file lock (default 1s); another
	// holder makes Open fail with ErrLocked.
	LockTimeout time.Duration
	// NoSync skips fsync on commit. It breaks the durability promise of
	// LastCommitted and exists for tests and benchmarks only.
	NoSync bool
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 4096
	}
	if o.CommitDelay == 0 {
		o.CommitDelay = 10 * time.Millisecond
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
}

// FormatOptions tune Format.
type FormatOptions struct {
	// Reformat replaces an existing store at the path (mkfs --reformat).
	Reformat bool
	// NoSync as Options.NoSync.
	NoSync bool
}

// Store is one MDT's bbolt file with its apply token and flusher.
//
// Ownership: the holder of the apply token (run) applies an operation and
// assigns transnos (lastApplied); the flusher (flush) alone writes to bbolt. Open
// starts the flusher and Close stops it. pmu guards pend and commitCh: the
// flusher drops layers from pend only after their commit, and every
// transaction captures pend and its bbolt read transaction together under
// pmu, so that it sees each write exactly once (overlay.go).
type Store struct {
	db    *bbolt.DB
	path  string
	log   *zap.Logger
	opts  Options
	label Label

	token       chan struct{} // the apply token (buffer of one): held while an operation runs
	kick        chan struct{} // a layer is pending (buffer of one)
	urgent      chan struct{} // somebody waits for a commit (buffer of one)
	closing     chan struct{} // closed by Close
	applierDone chan struct{} // closed when Close took the token for good
	stopped     chan struct{} // closed when flush returns
	barrier     chan struct{} // closed by Barrier
	barrierOnce sync.Once

	pmu      sync.Mutex
	pend     []*layer      // applied, uncommitted, in transno order
	commitCh chan struct{} // closed and replaced at every commit (and at a failure)

	lastCommitted atomic.Uint64 // highest transno durable on disk
	lastApplied   atomic.Uint64 // highest transno assigned; written under the token
	failErr       atomic.Pointer[error]
	commits       atomic.Uint64 // bbolt commits of layers
	committedOps  atomic.Uint64 // layers those commits held
	hurried       atomic.Uint64 // commits a waiter asked for
	commitHook    func() error  // tests: runs before each commit; an error fails it

	closeOnce sync.Once
	closeErr  error
}

// Format creates a new store at path for the target label. It creates every
// bucket, records the label and storage version, sets up sequence state
// (on MDT0000: the sequence controller, this MDT's first super-sequence and
// the FLD entries for it and for the reserved sequences), then calls init,
// if not nil, in the same transaction (mdd creates the root directory
// there). A path that already holds a store is refused with ErrFormatted
// unless opts.Reformat is set.
func Format(path string, label Label, opts FormatOptions, init func(*Tx) error) error {
	if err := label.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		if !opts.Reformat {
			old, err := ReadLabel(path)
			if err != nil {
				return fmt.Errorf("%w: %s holds data (%w); reformat to replace it", ErrFormatted, path, err)
			}
			return fmt.Errorf("%w: %s holds %s (%s)", ErrFormatted, path, old.Name(), old.UUID)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("store: reformat %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: format %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, NoSync: opts.NoSync,
		FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("store: format %s: %w", path, err)
	}
	s := &Store{db: db, log: zap.NewNop(), label: label}
	err = db.Update(func(btx *bbolt.Tx) error {
		for _, name := range allBuckets() {
			if _, err := btx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		meta := btx.Bucket([]byte(bucketMeta))
		puts := []struct {
			k string
			v []byte
		}{
			{keyMetaVersion, binary.BigEndian.AppendUint32(nil, StorageVersion)},
			{keyMetaLabel, AppendLabel(nil, label)},
			{keyMetaTransno, u64Key(0)},
			{keyMetaInodes, u64Key(0)},
			{keyMetaUpdates, u64Key(0)},
		}
		for _, p := range puts {
			if err := meta.Put([]byte(p.k), p.v); err != nil {
				return err
			}
		}
		t := s.newTx(btx, true)
		t.beginOp(&op{})
		if err := t.formatSeq(); err != nil {
			return err
		}
		if init != nil {
			if err := init(t); err != nil {
				return err
			}
		}
		return meta.Put([]byte(keyMetaTransno), u64Key(t.cur.transno))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("store: format %s: %w", path, err)
	}
	return nil
}

// ReadLabel returns the label of the store at path without opening it for
// writing (for a daemon that checks which target a device holds).
func ReadLabel(path string) (Label, error) {
	if _, err := os.Stat(path); err != nil {
		return Label{}, fmt.Errorf("%w: %s: %w", ErrNotFormatted, path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return Label{}, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return Label{}, fmt.Errorf("%w: %s: %w", ErrNotFormatted, path, err)
	}
	defer db.Close()
	var l Label
	err = db.View(func(btx *bbolt.Tx) error {
		var err error
		l, err = readLabel(btx)
		return err
	})
	return l, err
}

func readLabel(btx *bbolt.Tx) (Label, error) {
	meta := btx.Bucket([]byte(bucketMeta))
	if meta == nil {
		return Label{}, ErrNotFormatted
	}
	v := meta.Get([]byte(keyMetaLabel))
	if v == nil {
		return Label{}, ErrNotFormatted
	}
	return DecodeLabel(v)
}

// Open opens a formatted store, runs pending migrations and starts the
// flusher. It refuses a missing or unformatted file (ErrNotFormatted) and
// a file of a newer storage version (ErrNewerVersion).
func Open(path string, opts Options) (*Store, error) {
	opts.defaults()
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFormatted, path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync,
		FreelistType: bbolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFormatted, path, err)
	}
	s := &Store{db: db, path: path, log: opts.Logger, opts: opts,
		token: make(chan struct{}, 1), kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1), closing: make(chan struct{}),
		applierDone: make(chan struct{}), stopped: make(chan struct{}), barrier: make(chan struct{}),
		commitCh: make(chan struct{})}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.log.Info("store opened", zap.String("target", s.label.Name()), zap.String("path", path),
		zap.Uint64("last_committed", s.LastCommitted()))
	s.token <- struct{}{}
	go s.flush()
	return s, nil
}

// load checks the version, migrates, and reads the label and counters.
func (s *Store) load() error {
	var version uint32
	err := s.db.View(func(btx *bbolt.Tx) error {
		meta := btx.Bucket([]byte(bucketMeta))
		if meta == nil {
			return ErrNotFormatted
		}
		v := meta.Get([]byte(keyMetaVersion))
		if len(v) != 4 {
			return fmt.Errorf("%w: no storage version", ErrNotFormatted)
		}
		version = binary.BigEndian.Uint32(v)
		return nil
	})
	if err != nil {
		return err
	}
	if version > StorageVersion {
		return fmt.Errorf("%w: file has version %d, this software knows %d", ErrNewerVersion, version, StorageVersion)
	}
	if version < StorageVersion {
		s.log.Info("migrating store", zap.Uint32("from", version), zap.Uint32("to", StorageVersion))
		if err := s.db.Update(func(btx *bbolt.Tx) error {
			return migrate(btx, version, StorageVersion, migrations())
		}); err != nil {
			return err
		}
	}
	return s.db.View(func(btx *bbolt.Tx) error {
		l, err := readLabel(btx)
		if err != nil {
			return err
		}
		s.label = l
		v := btx.Bucket([]byte(bucketMeta)).Get([]byte(keyMetaTransno))
		if len(v) != 8 {
			return fmt.Errorf("%w: meta transno", ErrCorrupt)
		}
		last := binary.BigEndian.Uint64(v)
		s.lastCommitted.Store(last)
		s.lastApplied.Store(last)
		return nil
	})
}

// Label returns the label the store was formatted with.
func (s *Store) Label() Label { return s.label }

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// LastCommitted returns the highest transno whose transaction is durable.
// Every transno up to it is durable too (transactions commit in order).
func (s *Store) LastCommitted() uint64 { return s.lastCommitted.Load() }

// Close stops applying (operations not yet started fail with ErrClosed),
// lets the flusher commit what was applied (unless a barrier holds it)
// and closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.token // the running operation ends; none starts after
		close(s.applierDone)
		<-s.stopped
		s.closeErr = s.db.Close()
		st := s.Stats()
		s.log.Info("store closed", zap.String("target", s.label.Name()), zap.Uint64("commits", st.Commits),
			zap.Uint64("committed_ops", st.CommittedOps), zap.Uint64("hurried", st.Hurried))
	})
	return s.closeErr
}

// Barrier stops commits from now until the store closes (Lustre's
// replay_barrier, `lctl --device N readonly`): nothing more reaches the
// disk, and every operation is answered once applied, with a transno
// above LastCommitted that clients keep for replay. It is for recovery
// tests: a restart loses every change since, which the clients replay.
func (s *Store) Barrier() {
	_ = s.Sync(context.Background()) // what was applied before stays
	s.barrierOnce.Do(func() {
		close(s.barrier)
		s.log.Warn("replay barrier: commits stopped until restart", zap.String("target", s.label.Name()),
			zap.Uint64("last_committed", s.LastCommitted()))
	})
}

func (s *Store) held() bool {
	select {
	case <-s.barrier:
		return true
	default:
		return false
	}
}

// failure returns the error that stopped the store, if one did.
func (s *Store) failure() error {
	if p := s.failErr.Load(); p != nil {
		return fmt.Errorf("%w: the store stopped after a failed commit: %w", ErrCommit, *p)
	}
	return nil
}

func (s *Store) stopErr() error {
	if err := s.failure(); err != nil {
		return err
	}
	return ErrClosed
}

// snapshot begins a read transaction together with the pending layers it
// does not hold yet.
func (s *Store) snapshot() (*bbolt.Tx, []*layer, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	btx, err := s.db.Begin(false)
	return btx, s.pend, err
}

// View runs fn in a read-only transaction, concurrently with operations
// and other readers. It sees every applied operation, committed or not.
// If fn read what an uncommitted operation of another owner (WithOwner)
// wrote, View returns once that is committed (commit on share).
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.closing:
		return ErrClosed
	default:
	}
	if err := s.failure(); err != nil {
		return err
	}
	btx, pend, err := s.snapshot()
	if err != nil {
		return fmt.Errorf("store: view: %w", err)
	}
	t := &Tx{tx: btx, s: s, pend: pend, owner: ownerOf(ctx)}
	err = fn(t)
	_ = btx.Rollback()
	if err == nil && t.dep > 0 {
		err = s.waitCommitted(ctx, t.dep)
	}
	return err
}

// Apply runs fn as one operation and returns once it ran, with its
// transno (non-zero for an operation that wrote; 0 for one that only read
// or failed), before it is committed: every later operation and view
// sees what it wrote, and it is durable once LastCommitted reaches its
// transno. A caller that answers a client with it must have the client
// keep the request for replay until then (Lustre's reply before commit).
//
// fn runs on the caller's goroutine, serialised with every other
// operation. Effects outside the store go in Tx.OnApply, Tx.OnCommit and
// Tx.OnRollback hooks. If fn returns an error, nothing it wrote takes
// effect and the error is returned as is. If fn read an uncommitted write
// of another owner, Apply returns once that is committed.
//
// A ctx cancelled before fn starts makes Apply return ctx.Err() with
// nothing done; once fn started, it runs to its end.
func (s *Store) Apply(ctx context.Context, fn func(*Tx) error) (uint64, error) {
	o, err := s.run(ctx, fn)
	if err != nil {
		return 0, err
	}
	if o.err != nil {
		return 0, o.err
	}
	if err := s.waitCommitted(context.WithoutCancel(ctx), o.dep); err != nil {
		return o.transno, err
	}
	return o.transno, nil
}

// Update is Apply that returns once the operation is durable (or, under a
// Barrier, once it ran). A failed commit makes it return ErrCommit.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) (uint64, error) {
	o, err := s.run(ctx, fn)
	if err != nil {
		return 0, err
	}
	if o.err != nil {
		return 0, o.err
	}
	s.wantCommit()
	select {
	case <-o.done:
		if o.commitErr != nil {
			return 0, o.commitErr
		}
	case <-s.barrier:
	}
	if err := s.waitCommitted(context.WithoutCancel(ctx), o.dep); err != nil {
		return 0, err
	}
	return o.transno, nil
}

// Stats counts the store's commits.
type Stats struct {
	Commits      uint64 // bbolt transactions that committed operations
	CommittedOps uint64 // operations they committed
	Hurried      uint64 // commits a waiter asked for before CommitDelay
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), CommittedOps: s.committedOps.Load(), Hurried: s.hurried.Load()}
}

// Sync returns once every operation applied before it is durable (MDS_SYNC,
// fsync of a file or directory), or the store failed or stopped.
func (s *Store) Sync(ctx context.Context) error {
	return s.waitCommitted(ctx, s.lastApplied.Load())
}

// Sizes reports the store file's size and the free space of the file
// system under it, for StatFS.
type Sizes struct {
	FileBytes             int64
	BlockSize             uint64
	Blocks, Bfree, Bavail uint64
}

// Usage returns the store's sizes.
func (s *Store) Usage() (Sizes, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return Sizes{}, fmt.Errorf("store: usage: %w", err)
	}
	sz, err := fsSizes(s.path)
	if err != nil {
		return Sizes{}, fmt.Errorf("store: usage: %w", err)
	}
	sz.FileBytes = fi.Size()
	return sz, nil
}

// Check verifies the store: bbolt's page-level consistency, that every
// record decodes, that xattrs, symlinks, links and orphans belong to
// existing inodes, the inode counter, and the sequence and FLD state. It
// does not judge namespace semantics (link counts against names); mdd.Check
// does.
func (s *Store) Check(ctx context.Context) error {
	return s.View(ctx, func(t *Tx) error {
		for err := range t.tx.Check() {
			return fmt.Errorf("%w: bbolt: %w", ErrInvariant, err)
		}
		return t.check()
	})
}

// localFID is for the check of local allocations.
func (t *Tx) checkAllocated(f wire.FID) error {
	l, ok, err := t.local()
	if err != nil || !ok || f.Seq != l.Seq {
		return err
	}
	if f.Oid >= l.NextOid {
		return fmt.Errorf("%w: inode %v at or beyond allocator %#x:%#x", ErrInvariant, f, l.Seq, l.NextOid)
	}
	return nil
}
