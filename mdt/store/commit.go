package store

import (
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Operation states: an Update's caller may cancel only a pending operation.
const (
	opPending int32 = iota
	opRunning
	opCanceled
)

// op is one Update call travelling to the committer.
type op struct {
	fn    func(*Tx) error
	state atomic.Int32
	done  chan struct{} // closed by the committer when transno/err are final

	// Results and per-attempt state; written by the committer only.
	transno    uint64
	err        error
	dirty      bool
	onCommit   []func()
	onRollback []func()
}

// run is the committer loop: it takes the first waiting operation, gathers
// the others (up to MaxBatch, waiting BatchDelay at most), and commits them
// as one transaction.
func (s *Store) run() {
	defer close(s.stopped)
	batch := make([]*op, 0, s.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.closing:
			return
		}
		batch = s.gather(batch)
		s.commit(batch)
	}
}

func (s *Store) gather(batch []*op) []*op {
	for len(batch) < s.opts.MaxBatch {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
			continue
		default:
		}
		break
	}
	if s.opts.BatchDelay <= 0 || len(batch) >= s.opts.MaxBatch {
		return batch
	}
	timer := time.NewTimer(s.opts.BatchDelay)
	defer timer.Stop()
	for len(batch) < s.opts.MaxBatch {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-timer.C:
			return batch
		case <-s.closing:
			return batch
		}
	}
	return batch
}

// commit runs the operations of batch in one bbolt transaction, in order,
// and commits it. An operation that fails without having written is simply
// answered with its error. One that fails after writing poisons the
// transaction (bbolt has no savepoints): the transaction is rolled back, the
// operation answered, and the group re-run without it.
func (s *Store) commit(batch []*op) {
	live := batch[:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opPending, opRunning) {
			live = append(live, o)
		} else {
			close(o.done) // cancelled by its caller, who no longer waits
		}
	}
	for len(live) > 0 {
		poisoned, err := s.attempt(live)
		if poisoned < 0 {
			for _, o := range live {
				if err != nil && o.err == nil {
					o.transno, o.err = 0, err
				}
				close(o.done)
			}
			return
		}
		p := live[poisoned]
		close(p.done)
		live = append(live[:poisoned], live[poisoned+1:]...)
	}
}

// attempt runs ops in one transaction. It returns the index of an operation
// that failed after writing (the transaction is then rolled back, and that
// operation's err set) or -1 with the group's commit error, if any.
func (s *Store) attempt(ops []*op) (int, error) {
	btx, err := s.db.Begin(true)
	if err != nil {
		return -1, fmt.Errorf("%w: begin: %w", ErrCommit, err)
	}
	t := s.newTx(btx, true)
	for i, o := range ops {
		t.beginOp(o)
		o.err = o.fn(t)
		if o.err != nil {
			if o.dirty {
				_ = btx.Rollback()
				s.rolledBack(ops[:i+1])
				s.log.Debug("group re-run without failed operation", zap.Int("ops", len(ops)), zap.Error(o.err))
				return i, nil
			}
			if o.transno != 0 { // the latest transno; give it back
				t.last--
				o.transno = 0
			}
			runHooks(o.onRollback)
			o.onRollback, o.onCommit = nil, nil
			continue
		}
		if o.dirty {
			t.Transno()
		}
	}
	if !t.dirty {
		_ = btx.Rollback()
		s.committed(ops)
		return -1, nil
	}
	err = t.put(t.bk(bkMeta), []byte(keyMetaTransno), u64Key(t.last))
	if err == nil {
		err = btx.Commit()
	} else {
		_ = btx.Rollback()
	}
	if err != nil {
		s.log.Error("group commit failed", zap.Int("ops", len(ops)), zap.Error(err))
		s.rolledBack(ops)
		return -1, fmt.Errorf("%w: %w", ErrCommit, err)
	}
	s.lastTransno = t.last
	s.lastCommitted.Store(t.last)
	s.committed(ops)
	return -1, nil
}

func (s *Store) committed(ops []*op) {
	for _, o := range ops {
		for _, h := range o.onCommit {
			h()
		}
	}
}

// rolledBack undoes the in-memory effects of ops, latest first.
func (s *Store) rolledBack(ops []*op) {
	for i := len(ops) - 1; i >= 0; i-- {
		o := ops[i]
		runHooks(o.onRollback)
		o.onRollback, o.onCommit, o.transno = nil, nil, 0
	}
}

// runHooks runs rollback hooks, latest first.
func runHooks(hooks []func()) {
	for i := len(hooks) - 1; i >= 0; i-- {
		hooks[i]()
	}
}
