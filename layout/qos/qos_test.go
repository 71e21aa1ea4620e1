package qos_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stria-fs/stria/layout/qos"
)

const GiB = 1 << 30

// equal returns n available OSTs with the same free space.
func equal(n int) []qos.OST {
	osts := make([]qos.OST, n)
	for i := range osts {
		osts[i] = qos.OST{Index: uint32(i), Free: 100 * GiB, Total: 200 * GiB, Avail: true}
	}
	return osts
}

func seeded(seed uint64) *qos.RoundRobin {
	return &qos.RoundRobin{Rand: rand.New(rand.NewPCG(seed, seed+1))}
}

func TestRoundRobinContinues(t *testing.T) {
	rr := seeded(1)
	osts := equal(8)
	first, err := qos.Pick(osts, 2, -1, "", rr)
	if err != nil {
		t.Fatal(err)
	}
	if first[1] != (first[0]+1)%8 {
		t.Fatalf("first pick %v not consecutive", first)
	}
	// Each next allocation starts after the previous one; four picks of 2
	// cover all 8 OSTs once.
	seen := map[uint32]int{first[0]: 1, first[1]: 1}
	prev := first
	for range 3 {
		got, err := qos.Pick(osts, 2, -1, "", rr)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != (prev[1]+1)%8 || got[1] != (got[0]+1)%8 {
			t.Fatalf("pick %v after %v", got, prev)
		}
		for _, o := range got {
			seen[o]++
		}
		prev = got
	}
	for i := range uint32(8) {
		if seen[i] != 1 {
			t.Fatalf("OST %d used %d times in one round: %v", i, seen[i], seen)
		}
	}
}

func TestRoundRobinPrecesses(t *testing.T) {
	rr := seeded(2)
	osts := equal(8)
	var starts []uint32
	for range 6 {
		got, err := qos.Pick(osts, 4, -1, "", rr)
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, got[0])
	}
	// With 8 OSTs and 4 stripes the groups would repeat forever; a pick
	// that reaches the end of the list moves the next start one further.
	next := starts[0]
	for i, got := range starts {
		if got != next {
			t.Fatalf("pick %d starts at %d, want %d (starts %v)", i, got, next, starts)
		}
		end := got + 4
		if end >= 8 {
			end++
		}
		next = end % 8
	}
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(starts)))); distinct < 5 {
		t.Fatalf("starts %v: the groups do not move", starts)
	}
}

func TestRoundRobinFirstStartIsRandom(t *testing.T) {
	starts := map[uint32]bool{}
	for seed := range uint64(20) {
		got, err := qos.Pick(equal(8), 1, -1, "", seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		starts[got[0]] = true
	}
	if len(starts) < 3 {
		t.Fatalf("20 seeds started on only %v", starts)
	}
	// Without state, allocation starts at the lowest index.
	if got, _ := qos.Pick(equal(8), 3, -1, "", nil); !slices.Equal(got, []uint32{0, 1, 2}) {
		t.Fatalf("nil state: %v", got)
	}
}

func TestSkipsUnavailableFullAndOutOfPool(t *testing.T) {
	osts := equal(6)
	osts[1].Avail = false
	osts[2].Free = 100 << 20 // below 0.1% of 200 GiB: full
	osts[4].Free = 0
	for i := range osts {
		if i != 5 {
			osts[i].Pools = []string{"flash"}
		}
	}
	got, err := qos.Pick(osts, -1, -1, "", nil)
	if err != nil || !slices.Equal(got, []uint32{0, 3, 5}) {
		t.Fatalf("all: %v, %v", got, err)
	}
	got, err = qos.Pick(osts, -1, -1, "flash", nil)
	if err != nil || !slices.Equal(got, []uint32{0, 3}) {
		t.Fatalf("pool flash: %v, %v", got, err)
	}
	if _, err := qos.Pick(osts, 3, -1, "flash", nil); !errors.Is(err, qos.ErrNotEnough) {
		t.Fatalf("3 of 2: %v", err)
	}
	got, err = qos.PickMin(osts, 3, 2, -1, "flash", nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("PickMin(3, 2): %v, %v", got, err)
	}
	if _, err := qos.Pick(osts, 1, -1, "archive", nil); !errors.Is(err, qos.ErrNoOSTs) {
		t.Fatalf("empty pool: %v", err)
	}
}

func TestOffset(t *testing.T) {
	osts := equal(8)
	osts[3].Avail = false
	osts[6].Pools = []string{"p"}
	tests := []struct {
		name   string
		count  int
		offset int
		pool   string
		want   []uint32
		err    error
	}{
		{"from 5", 3, 5, "", []uint32{5, 6, 7}, nil},
		{"wraps", 3, 6, "", []uint32{6, 7, 0}, nil},
		{"unavailable start moves on", 2, 3, "", []uint32{4, 5}, nil},
		{"all from 2", -1, 2, "", []uint32{2, 4, 5, 6, 7, 0, 1}, nil},
		{"no such OST", 1, 9, "", nil, qos.ErrBadOffset},
		{"not in the pool", 1, 2, "p", nil, qos.ErrBadOffset},
		{"in the pool", 1, 6, "p", []uint32{6}, nil},
	}
	for _, tt := range tests {
		rr := seeded(3)
		got, err := qos.Pick(osts, tt.count, tt.offset, tt.pool, rr)
		if !errors.Is(err, tt.err) || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, %v; want %v, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
	// An explicit offset leaves the round-robin position alone.
	rr := seeded(4)
	a, _ := qos.Pick(osts, 1, -1, "", rr)
	if _, err := qos.Pick(osts, 2, 0, "", rr); err != nil {
		t.Fatal(err)
	}
	b, _ := qos.Pick(osts, 1, -1, "", rr)
	usable := []uint32{0, 1, 2, 4, 5, 6, 7} // OST 3 is unavailable
	if want := usable[(slices.Index(usable, a[0])+1)%len(usable)]; b[0] != want {
		t.Fatalf("round robin moved by an offset pick: %v then %v, want %d", a, b, want)
	}
}

func TestBalanced(t *testing.T) {
	mk := func(free ...uint64) []qos.OST {
		var o []qos.OST
		for i, f := range free {
			o = append(o, qos.OST{Index: uint32(i), Free: f, Avail: true})
		}
		return o
	}
	tests := []struct {
		free []uint64
		want bool
	}{
		{[]uint64{100, 100, 100}, true},
		{[]uint64{100, 84}, true},  // 16% apart
		{[]uint64{100, 83}, false}, // 17% apart: not below the threshold
		{[]uint64{100, 50}, false},
		{[]uint64{1 << 63, 1<<63 - 1<<58}, true}, // no overflow at the top
		{[]uint64{42}, true},
	}
	for _, tt := range tests {
		if got := qos.Balanced(mk(tt.free...), qos.DefaultThresholdRR); got != tt.want {
			t.Errorf("Balanced(%v) = %v", tt.free, got)
		}
	}
}

func TestWeightedByFreeSpace(t *testing.T) {
	// OST 0 has 9 times the free space of each of the others.
	osts := equal(4)
	osts[0].Free = 900 * GiB
	osts[0].Total = 1000 * GiB
	rr := seeded(5)
	hits := map[uint32]int{}
	const n = 3000
	for range n {
		got, err := qos.Pick(osts, 2, -1, "", rr)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] == got[1] {
			t.Fatalf("OST %d twice in one stripe set", got[0])
		}
		hits[got[0]]++
	}
	// First draws: OST 0 with probability 900/1200 = 0.75 (seeded, so the
	// count is fixed; the bounds only document the expectation).
	if hits[0] < n*70/100 || hits[0] > n*80/100 {
		t.Fatalf("OST 0 first in %d of %d draws, want about 75%%: %v", hits[0], n, hits)
	}
	for i := uint32(1); i < 4; i++ {
		if hits[i] == 0 {
			t.Fatalf("OST %d never drawn: %v", i, hits)
		}
	}
	// Same seed, same choices.
	a, _ := qos.Pick(osts, 3, -1, "", seeded(9))
	b, _ := qos.Pick(osts, 3, -1, "", seeded(9))
	if !slices.Equal(a, b) {
		t.Fatalf("not deterministic: %v vs %v", a, b)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := qos.Pick(equal(2), 0, -1, "", nil); !errors.Is(err, qos.ErrBadCount) {
		t.Errorf("count 0: %v", err)
	}
	if _, err := qos.Pick(equal(2), -2, -1, "", nil); !errors.Is(err, qos.ErrBadCount) {
		t.Errorf("count -2: %v", err)
	}
	dup := append(equal(2), equal(1)...)
	if _, err := qos.Pick(dup, 1, -1, "", nil); !errors.Is(err, qos.ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := qos.Pick(nil, 1, -1, "", nil); !errors.Is(err, qos.ErrNoOSTs) {
		t.Errorf("no OSTs: %v", err)
	}
}

func TestConcurrentPicks(t *testing.T) {
	rr := seeded(6)
	osts := equal(16)
	var wg sync.WaitGroup
	counts := make([]map[uint32]int, 4)
	for g := range counts {
		counts[g] = map[uint32]int{}
		wg.Go(func() {
			for range 100 {
				got, err := qos.Pick(osts, 1, -1, "", rr)
				if err != nil {
					t.Error(err)
					return
				}
				counts[g][got[0]]++
			}
		})
	}
	wg.Wait()
	// 400 single-stripe picks round-robin over 16 OSTs: 25 each.
	total := map[uint32]int{}
	for _, c := range counts {
		for k, v := range c {
			total[k] += v
		}
	}
	for i := range uint32(16) {
		if total[i] != 25 {
			t.Fatalf("OST %d picked %d times: %v", i, total[i], total)
		}
	}
}

// Round-robin alternates servers: with two OSTs on each of two OSSs,
// consecutive single-stripe files go to one OSS, then the other, and a
// two-stripe file spans both.
func TestRoundRobinAlternatesServers(t *testing.T) {
	osts := equal(4)
	for i := range osts {
		osts[i].Server = []string{"oss0", "oss0", "oss1", "oss1"}[i]
	}
	server := func(idx uint32) string { return osts[idx].Server }
	rr := seeded(3)
	var prev string
	seen := map[uint32]int{}
	for i := range 8 {
		got, err := qos.Pick(osts, 1, -1, "", rr)
		if err != nil {
			t.Fatal(err)
		}
		if s := server(got[0]); i > 0 && s == prev {
			t.Fatalf("file %d on OST %d of %s, as the file before it", i, got[0], s)
		} else {
			prev = s
		}
		seen[got[0]]++
	}
	for i := range uint32(4) {
		if seen[i] != 2 {
			t.Fatalf("OST %d used %d times in two rounds: %v", i, seen[i], seen)
		}
	}
	for range 4 {
		got, err := qos.Pick(osts, 2, -1, "", rr)
		if err != nil {
			t.Fatal(err)
		}
		if server(got[0]) == server(got[1]) {
			t.Fatalf("two stripes %v on one server", got)
		}
	}
	// An explicit offset still takes OSTs in index order.
	got, err := qos.Pick(osts, 2, 0, "", rr)
	if err != nil || !slices.Equal(got, []uint32{0, 1}) {
		t.Fatalf("offset 0: %v %v", got, err)
	}
}
