package store

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// op is one Apply or Update call.
type op struct {
	fn    func(*Tx) error
	owner uint64
	done  chan struct{} // closed when the operation is durable, failed, or the store stopped

	// Set while the operation runs, under the apply token.
	transno    uint64
	dep        uint64 // highest transno of another owner's write it read
	err        error
	onApply    []func()
	onCommit   []func()
	onRollback []func()

	// Written by the flusher before done is closed.
	commitErr error
}

// run applies fn as one operation on the caller's goroutine, holding the
// apply token: operations run one at a time, each over the writes of
// those before it, and each one that wrote becomes a layer for the
// flusher. The token replaces a committer goroutine, so an operation costs
// no hand-off between threads.
func (s *Store) run(ctx context.Context, fn func(*Tx) error) (*op, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-s.token:
	case <-s.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { s.token <- struct{}{} }()
	select {
	case <-s.closing:
		return nil, ErrClosed
	default:
	}
	o := &op{fn: fn, owner: ownerOf(ctx), done: make(chan struct{})}
	if !s.waitRoom() {
		o.err = s.stopErr()
		close(o.done)
		return o, nil
	}
	s.apply(o)
	return o, nil
}

// waitRoom holds the applier while Options.MaxPending operations wait
// for their commit. It reports false if the store failed or is closing.
func (s *Store) waitRoom() bool {
	for {
		if s.failure() != nil {
			return false
		}
		s.pmu.Lock()
		n, ch := len(s.pend), s.commitCh
		s.pmu.Unlock()
		if n < s.opts.MaxPending {
			return true
		}
		s.wantCommit()
		select {
		case <-ch:
		case <-s.closing:
			return false
		}
	}
}

// apply runs o over the committed state and the pending layers, in a
// layer of its own that becomes pending if o succeeded and wrote.
func (s *Store) apply(o *op) {
	if err := s.failure(); err != nil {
		o.err = err
		close(o.done)
		return
	}
	btx, pend, err := s.snapshot()
	if err != nil {
		o.err = fmt.Errorf("%w: begin: %w", ErrCommit, err)
		close(o.done)
		return
	}
	l := &layer{owner: o.owner, op: o}
	t := &Tx{tx: btx, s: s, writable: true, pend: pend, buf: l, owner: o.owner}
	t.beginOp(o)
	o.err = o.fn(t)
	_ = btx.Rollback()
	o.dep = t.dep
	if o.err != nil {
		o.transno = 0
		runHooks(o.onRollback)
		close(o.done)
		return
	}
	runForward(o.onApply)
	if o.transno == 0 { // read only: nothing to commit
		runForward(o.onCommit)
		close(o.done)
		return
	}
	s.lastApplied.Store(o.transno)
	l.transno = o.transno
	l.freeze()
	s.pmu.Lock()
	s.pend = append(s.pend, l)
	s.pmu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flush is the flusher: it commits the pending layers, oldest first, as
// many as are there (up to Options.MaxBatch) in one bbolt transaction.
// When Close took the apply token for good it commits what is left and
// returns.
//
// Nobody waits for a layer of Apply: the flusher lets such layers gather
// for Options.CommitDelay after the first one, so that one commit (bbolt's
// page writes and two fdatasyncs) serves many operations, as a journal's
// commit interval does. A waiter (Update, Sync, a commit on share) makes it
// commit at once.
func (s *Store) flush() {
	defer close(s.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.kick:
			if !s.hurry() {
				timer.Reset(s.opts.CommitDelay)
				select {
				case <-timer.C:
				case <-s.urgent:
					s.hurried.Add(1)
					timer.Stop()
				case <-s.applierDone:
					timer.Stop()
				}
			}
			s.flushPending(false)
		case <-s.urgent:
			s.hurried.Add(1)
			s.flushPending(true)
		case <-s.applierDone:
			s.flushPending(true)
			s.abandon(ErrClosed) // held by a barrier, or after a failure
			return
		}
	}
}

// hurry reports whether a commit is wanted now: somebody waits for one,
// commits are not delayed, or enough layers wait.
func (s *Store) hurry() bool {
	select {
	case <-s.urgent:
		s.hurried.Add(1)
		return true
	default:
	}
	if s.opts.CommitDelay <= 0 {
		return true
	}
	s.pmu.Lock()
	n := len(s.pend)
	s.pmu.Unlock()
	return n >= s.opts.MaxBatch
}

// wantCommit asks the flusher to commit now.
func (s *Store) wantCommit() {
	select {
	case s.urgent <- struct{}{}:
	default:
	}
}

// flushPending commits the pending layers: one batch, or all of them
// when all is set (a waiter, Close); layers that arrive meanwhile wait
// for the next kick and its CommitDelay.
func (s *Store) flushPending(all bool) {
	for !s.held() && s.failure() == nil {
		s.pmu.Lock()
		batch := s.pend[:min(len(s.pend), s.opts.MaxBatch)]
		more := len(s.pend) > len(batch)
		s.pmu.Unlock()
		if len(batch) == 0 {
			return
		}
		if s.commitHook != nil {
			if err := s.commitHook(); err != nil {
				s.fail(fmt.Errorf("%w: %w", ErrCommit, err))
				return
			}
		}
		if err := s.commitLayers(batch); err != nil {
			s.fail(err)
			return
		}
		s.lastCommitted.Store(batch[len(batch)-1].transno)
		s.commits.Add(1)
		s.committedOps.Add(uint64(len(batch)))
		s.pmu.Lock()
		s.pend = s.pend[len(batch):]
		close(s.commitCh)
		s.commitCh = make(chan struct{})
		s.pmu.Unlock()
		for _, l := range batch {
			runForward(l.op.onCommit)
			close(l.op.done)
		}
		if !all && !more {
			return
		}
	}
}

// commitLayers writes batch into one bbolt transaction and commits it.
func (s *Store) commitLayers(batch []*layer) error {
	btx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("%w: begin: %w", ErrCommit, err)
	}
	for _, l := range batch {
		for i, keys := range l.sorted {
			if len(keys) == 0 {
				continue
			}
			b := btx.Bucket(bucketNames[i])
			for _, k := range keys {
				if e := l.kv[i][k]; e.del {
					err = b.Delete([]byte(k))
				} else {
					err = b.Put([]byte(k), e.v)
				}
				if err != nil {
					_ = btx.Rollback()
					return fmt.Errorf("%w: %s: %w", ErrCommit, bucketNames[i], err)
				}
			}
		}
	}
	last := batch[len(batch)-1].transno
	if err := btx.Bucket(bucketNames[bkMeta]).Put([]byte(keyMetaTransno), u64Key(last)); err != nil {
		_ = btx.Rollback()
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	return nil
}

// fail stops the store after a failed commit. Operations applied and
// perhaps acknowledged cannot be taken back: the clients hold them for
// replay, so the target must restart (Options.OnFailure) and recover.
func (s *Store) fail(err error) {
	if !s.failErr.CompareAndSwap(nil, &err) {
		return
	}
	s.log.Error("commit failed: the store stops; the target must restart and recover", zap.Error(err))
	s.abandon(err)
	if s.opts.OnFailure != nil {
		s.opts.OnFailure(err)
	}
}

// abandon gives up the pending layers: their rollback hooks run, newest
// first, and their waiters get err.
func (s *Store) abandon(err error) {
	s.pmu.Lock()
	lost := s.pend
	s.pend = nil
	close(s.commitCh)
	s.commitCh = make(chan struct{})
	s.pmu.Unlock()
	for i := len(lost) - 1; i >= 0; i-- {
		o := lost[i].op
		runHooks(o.onRollback)
		o.commitErr = err
		close(o.done)
	}
}

// waitCommitted returns once transno tn is durable, or the store failed
// or stopped, or a barrier holds commits (then no commit is waited for).
func (s *Store) waitCommitted(ctx context.Context, tn uint64) error {
	for {
		if s.lastCommitted.Load() >= tn || s.held() {
			return nil
		}
		if err := s.failure(); err != nil {
			return err
		}
		s.pmu.Lock()
		ch := s.commitCh
		s.pmu.Unlock()
		if s.lastCommitted.Load() >= tn {
			return nil
		}
		s.wantCommit()
		select {
		case <-ch:
		case <-s.barrier:
		case <-s.stopped:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runHooks runs rollback hooks, latest first.
func runHooks(hooks []func()) {
	for i := len(hooks) - 1; i >= 0; i-- {
		hooks[i]()
	}
}

// runForward runs apply and commit hooks in the order they were added.
func runForward(hooks []func()) {
	for _, h := range hooks {
		h()
	}
}
