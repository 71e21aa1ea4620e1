package fifo

import (
	"slices"
	"testing"
)

func TestQueueOrderAndReuse(t *testing.T) {
	var q Queue[int]
	if _, ok := q.Pop(); ok {
		t.Fatal("Pop of an empty queue")
	}
	next, want := 0, 0
	// Steady traffic: the queue never empties, so its front is reclaimed.
	for round := 0; round < 1000; round++ {
		q.Push(next)
		q.Push(next + 1)
		next += 2
		x, ok := q.Pop()
		if !ok || x != want {
			t.Fatalf("round %d: Pop %d %v, want %d", round, x, ok, want)
		}
		want++
	}
	if q.Len() != next-want {
		t.Fatalf("Len %d, want %d", q.Len(), next-want)
	}
	if c := cap(q.items); c > 4*q.Len() {
		t.Errorf("storage of %d items for %d queued: the front is not reclaimed", c, q.Len())
	}
	rest := q.Drain()
	if len(rest) != next-want || rest[0] != want || !slices.IsSorted(rest) {
		t.Fatalf("Drain: %d items from %v", len(rest), rest[:1])
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after Drain", q.Len())
	}
}
