// Package fifo is a first-in first-out queue that keeps its storage: a
// queue under steady traffic allocates nothing once it has grown.
package fifo

// Queue is a FIFO of T; the zero value is an empty queue. It is not safe
// for concurrent use.
type Queue[T any] struct {
	items []T
	head  int
}

// Push appends x.
func (q *Queue[T]) Push(x T) { q.items = append(q.items, x) }

// Len is the number of items queued.
func (q *Queue[T]) Len() int { return len(q.items) - q.head }

// Pop removes and returns the oldest item; false when the queue is empty.
func (q *Queue[T]) Pop() (T, bool) {
	var zero T
	if q.head == len(q.items) {
		return zero, false
	}
	x := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 64 && 2*q.head >= len(q.items):
		// Under steady traffic the queue never empties: reclaim the front.
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items, q.head = q.items[:k], 0
	}
	return x, true
}

// Drain empties the queue and returns what it held, in order.
func (q *Queue[T]) Drain() []T {
	out := append([]T(nil), q.items[q.head:]...)
	clear(q.items)
	q.items, q.head = q.items[:0], 0
	return out
}
