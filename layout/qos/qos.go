package qos

import (
	"cmp"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
)

// DefaultThresholdRR is the free-space spread, in percent, below which OSTs
// count as balanced and are used round-robin (lod.*.qos_threshold_rr).
const DefaultThresholdRR = 17

// OST is what the allocator knows of one OST (from its statfs and state).
type OST struct {
	Index uint32
	Free  uint64 // bytes available for new data
	Total uint64 // size in bytes; 0 if unknown
	// Avail is false for an OST that is inactive, degraded, no_create or
	// read-only: it gets no new objects.
	Avail bool
	Pools []string // the pools the OST belongs to
	// Server names the OSS serving the OST (its primary NID): round-robin
	// alternates servers. Empty: a server of its own.
	Server string
}

// full reports whether the OST is out of space for new objects: nothing
// free, or less than 0.1% of its size (Lustre's reserved_mb_low default).
func (o *OST) full() bool {
	return o.Free == 0 || o.Total > 0 && o.Free < o.Total/1000
}

// RoundRobin is the allocator's state, kept by the MDT across allocations
// (one per pool, or one for all, as the caller likes). Its zero value is
// ready; it is safe for concurrent use.
type RoundRobin struct {
	// Rand drives the round-robin starting point and the weighted choice;
	// nil uses math/rand/v2's global source. Tests inject a seeded one.
	Rand *rand.Rand
	// ThresholdRR overrides DefaultThresholdRR when not 0.
	ThresholdRR int

	mu      sync.Mutex // guards the fields below and Rand
	started bool
	next    uint32 // OST index the next round-robin allocation starts at
}

func (rr *RoundRobin) threshold() int {
	if rr == nil || rr.ThresholdRR == 0 {
		return DefaultThresholdRR
	}
	return rr.ThresholdRR
}

func (rr *RoundRobin) uint64n(n uint64) uint64 {
	if rr == nil || rr.Rand == nil {
		return rand.Uint64N(n)
	}
	return rr.Rand.Uint64N(n)
}

// Pick chooses count OSTs for a new stripe set (count -1: every available
// OST), starting at OST offset (-1: the allocator chooses), from pool ("":
// any OST). Unavailable and full OSTs and OSTs outside the pool are
// skipped. With an offset, the OSTs after it are taken in index order.
// Otherwise, while the candidates are balanced (free space within
// ThresholdRR percent) they are taken round-robin, alternating servers
// (OST.Server) and in index order within each, each allocation starting
// where the last one ended; when imbalanced they are
// drawn at random weighted by free space, without repeats. It fails with
// ErrNotEnough when fewer than count OSTs are available. rr may be nil
// (no memory between calls).
func Pick(osts []OST, count int, offset int, pool string, rr *RoundRobin) ([]uint32, error) {
	return PickMin(osts, count, count, offset, pool, rr)
}

// PickMin is Pick that settles for fewer OSTs, down to minCount, when not
// enough are available, as the MDS does for default striping.
func PickMin(osts []OST, count, minCount int, offset int, pool string, rr *RoundRobin) ([]uint32, error) {
	if count == 0 || count < -1 || minCount > count && count != -1 {
		return nil, fmt.Errorf("%w: count %d, minimum %d", ErrBadCount, count, minCount)
	}
	inPool := make([]OST, 0, len(osts))
	for _, o := range osts {
		if pool == "" || slices.Contains(o.Pools, pool) {
			inPool = append(inPool, o)
		}
	}
	slices.SortFunc(inPool, func(a, b OST) int { return cmp.Compare(a.Index, b.Index) })
	for i := 1; i < len(inPool); i++ {
		if inPool[i].Index == inPool[i-1].Index {
			return nil, fmt.Errorf("%w: %d", ErrDuplicate, inPool[i].Index)
		}
	}
	var usable []OST
	for _, o := range inPool {
		if o.Avail && !o.full() {
			usable = append(usable, o)
		}
	}
	if offset >= 0 && !slices.ContainsFunc(inPool, func(o OST) bool { return int64(o.Index) == int64(offset) }) {
		return nil, fmt.Errorf("%w: OST %d (pool %q)", ErrBadOffset, offset, pool)
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("%w: pool %q", ErrNoOSTs, pool)
	}
	want := count
	if count == -1 {
		want, minCount = len(usable), 1
	}
	if len(usable) < minCount {
		return nil, fmt.Errorf("%w: %d wanted, %d available (pool %q)", ErrNotEnough, minCount, len(usable), pool)
	}
	want = min(want, len(usable))
	switch {
	case offset >= 0:
		return consecutive(usable, uint32(offset), want), nil
	case count != -1 && !Balanced(usable, rr.threshold()):
		return weighted(usable, want, rr), nil
	default:
		return rr.roundRobin(usable, want), nil
	}
}

// Balanced reports whether the OSTs' free space is within thresholdPct
// percent of each other: min > max * (100 - thresholdPct) / 100.
func Balanced(osts []OST, thresholdPct int) bool {
	if len(osts) == 0 {
		return true
	}
	lo, hi := osts[0].Free, osts[0].Free
	for _, o := range osts[1:] {
		lo, hi = min(lo, o.Free), max(hi, o.Free)
	}
	// Compare hi*(100-t) < lo*100 in 128 bits.
	t := uint64(max(0, min(100, thresholdPct)))
	ah, al := bits.Mul64(hi, 100-t)
	bh, bl := bits.Mul64(lo, 100)
	return ah < bh || ah == bh && al < bl || hi == 0
}

// startAt returns the position in the sorted usable list of the first OST
// with index >= idx, wrapping to 0.
func startAt(usable []OST, idx uint32) int {
	i, _ := slices.BinarySearchFunc(usable, idx, func(o OST, t uint32) int { return cmp.Compare(o.Index, t) })
	if i == len(usable) {
		return 0
	}
	return i
}

// consecutive takes n OSTs in index order from the first usable one at or
// after idx, wrapping.
func consecutive(usable []OST, idx uint32, n int) []uint32 {
	out := make([]uint32, n)
	at := startAt(usable, idx)
	for i := range out {
		out[i] = usable[(at+i)%len(usable)].Index
	}
	return out
}

// roundRobin takes n consecutive OSTs of the server-interleaved order
// (rrOrder) from where the last allocation ended. The first allocation
// starts at a random OST. When an allocation wraps around the end of the
// list and the stripe count does not precess by itself (len % n != 1),
// the next start moves one further, so files do not keep landing on the
// same groups of OSTs (Lustre's lqr_offset_idx).
func (rr *RoundRobin) roundRobin(usable []OST, n int) []uint32 {
	order := rrOrder(usable)
	if rr == nil {
		return indexes(order, 0, n)
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if !rr.started {
		rr.started = true
		rr.next = usable[rr.uint64n(uint64(len(usable)))].Index
	}
	at := slices.IndexFunc(order, func(o OST) bool { return o.Index == rr.next })
	if at < 0 { // the OST went away: go on from the next index up
		next := usable[startAt(usable, rr.next)].Index
		at = slices.IndexFunc(order, func(o OST) bool { return o.Index == next })
	}
	out := indexes(order, at, n)
	end := at + n // position after the last one taken, unwrapped
	if end >= len(order) && n > 1 && len(order)%n != 1 {
		end++
	}
	rr.next = order[end%len(order)].Index
	return out
}

// indexes returns the indexes of n OSTs of order from position at, wrapping.
func indexes(order []OST, at, n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = order[(at+i)%len(order)].Index
	}
	return out
}

// rrOrder is the order round-robin walks the usable OSTs (sorted by index)
// in: one OST of each server in turn, as Lustre's allocator spreads the
// stripes of a file, and consecutive files, over its OSSs. Servers come in
// the order of their lowest OST index, and each server's OSTs in index
// order: OSS0 with OSTs 0 and 1 and OSS1 with 2 and 3 give 0, 2, 1, 3.
func rrOrder(usable []OST) []OST {
	var servers [][]OST
	at := map[string]int{}
	for _, o := range usable {
		i, ok := at[o.Server]
		if !ok || o.Server == "" {
			i = len(servers)
			servers = append(servers, nil)
			if o.Server != "" {
				at[o.Server] = i
			}
		}
		servers[i] = append(servers[i], o)
	}
	if len(servers) == len(usable) {
		return usable
	}
	out := make([]OST, 0, len(usable))
	for round := 0; len(out) < len(usable); round++ {
		for _, s := range servers {
			if round < len(s) {
				out = append(out, s[round])
			}
		}
	}
	return out
}

// weighted draws n distinct OSTs at random, each draw weighted by free
// space (in MiB, plus one so that nearly empty OSTs keep a chance).
func weighted(usable []OST, n int, rr *RoundRobin) []uint32 {
	if rr != nil {
		rr.mu.Lock()
		defer rr.mu.Unlock()
	}
	left := slices.Clone(usable)
	out := make([]uint32, 0, n)
	for range n {
		var total uint64
		for _, o := range left {
			total += o.Free>>20 + 1 // at most 2^44 per OST, 2^55 for 2000 OSTs
		}
		r := rr.uint64n(total)
		pick := len(left) - 1
		for i, o := range left {
			w := o.Free>>20 + 1
			if r < w {
				pick = i
				break
			}
			r -= w
		}
		out = append(out, left[pick].Index)
		left = slices.Delete(left, pick, pick+1)
	}
	return out
}
