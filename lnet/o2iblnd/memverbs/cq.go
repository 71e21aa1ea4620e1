package memverbs

import (
	"fmt"
	"sync"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

func (c *devctx) CreateCQ(entries int) (verbs.CQ, error) {
	if entries <= 0 {
		return nil, fmt.Errorf("%w: CQ of %d entries", verbs.ErrInvalid, entries)
	}
	if err := c.count(&c.cqs, 1); err != nil {
		return nil, err
	}
	c.d.f.cqs.Add(1)
	return &cq{c: c, ring: make([]cqe, entries), ch: make(chan struct{}, 1)}, nil
}

// cqe is a queued completion; retire is the number of send queue slots its
// polling frees (a signalled send retires the unsignalled ones before it).
type cqe struct {
	wc     verbs.WC
	qp     *QP
	retire int32
}

// cq is a completion queue: a ring of entries and a completion channel.
type cq struct {
	c  *devctx
	ch chan struct{}

	mu      sync.Mutex // guards the fields below; taken after a connection's lock
	ring    []cqe
	head, n int
	armed   bool
	overrun bool
	nqp     int
	closed  bool
}

// push queues a completion and fires the channel if armed. On overrun the
// CQ fails, as a hardware CQ does.
func (q *cq) push(e cqe) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.n == len(q.ring) {
		q.overrun = true
	} else {
		q.ring[(q.head+q.n)%len(q.ring)] = e
		q.n++
	}
	if q.armed {
		q.armed = false
		select {
		case q.ch <- struct{}{}:
		default:
		}
	}
}

func (q *cq) Poll(wc []verbs.WC) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.overrun {
		return 0, fmt.Errorf("%w: %d entries", verbs.ErrCQOverrun, len(q.ring))
	}
	n := 0
	for n < len(wc) && q.n > 0 {
		e := &q.ring[q.head]
		wc[n] = e.wc
		if e.retire > 0 {
			e.qp.outstanding.Add(-e.retire)
		}
		*e = cqe{}
		q.head = (q.head + 1) % len(q.ring)
		q.n--
		n++
	}
	return n, nil
}

func (q *cq) ReqNotify() error {
	q.mu.Lock()
	q.armed = true
	q.mu.Unlock()
	return nil
}

func (q *cq) Notify() <-chan struct{} { return q.ch }

func (q *cq) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	if q.nqp != 0 {
		return fmt.Errorf("%w: CQ still used by %d QPs", verbs.ErrInvalid, q.nqp)
	}
	q.closed = true
	q.c.d.f.cqs.Add(-1)
	return q.c.count(&q.c.cqs, -1)
}

func (q *cq) attach(delta int) {
	q.mu.Lock()
	q.nqp += delta
	q.mu.Unlock()
}
