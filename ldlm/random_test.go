package ldlm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stria-fs/stria/wire"
)

// inUse is the test's record of the locks callers hold right now, across
// clients: two of them must never conflict — the coherence the lock
// manager exists for.
type inUse struct {
	mu    sync.Mutex
	held  map[*Lock]int // references
	owner map[*Lock]*tclient
}

func (u *inUse) add(t *testing.T, tc *tclient, l *Lock) {
	d := l.Desc()
	u.mu.Lock()
	defer u.mu.Unlock()
	for o := range u.held {
		if o == l {
			continue
		}
		od := o.Desc()
		if od.Res == d.Res && od.Type == d.Type && Conflicts(d.Type, d.Mode, &d.Policy, od.Mode, &od.Policy) {
			t.Errorf("in use together: %v %v %+v (client %s) and %v %+v (client %s)", d.Res, d.Mode, d.Policy,
				tc.uuid, od.Mode, od.Policy, u.owner[o].uuid)
		}
	}
	u.held[l]++
	u.owner[l] = tc
}

func (u *inUse) remove(l *Lock) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.held[l]--; u.held[l] == 0 {
		delete(u.held, l)
		delete(u.owner, l)
	}
}

// randomDesc picks a request on one of a few resources of each type.
// Resources are numbered so that a worker can take them in increasing
// order (the order that keeps callers holding several locks from
// deadlocking each other, as a file system's own lock ordering does).
func randomDesc(rng *rand.Rand, res uint64) wire.LockDesc {
	modes := []wire.LockMode{wire.LockEX, wire.LockPW, wire.LockPW, wire.LockPR, wire.LockPR, wire.LockPR,
		wire.LockCW, wire.LockCR, wire.LockNL}
	m := modes[rng.IntN(len(modes))]
	switch res % 3 {
	case 0:
		s := rng.Uint64N(64) * 4096
		e := s + rng.Uint64N(16)*4096 + 4095
		if rng.IntN(4) == 0 {
			e = wire.LockEOF
		}
		return extent(res, m, s, e)
	case 1:
		return ibits(res, m, 1+rng.Uint64N(wire.InodeLockFull))
	}
	return plain(res, m)
}

// randomWorker runs ops requests of one goroutine of client tc.
func randomWorker(t *testing.T, cl *cluster, tc *tclient, u *inUse, seed uint64, id, ops int) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	ctx := testCtx(t)
	for op := 0; op < ops && !t.Failed(); op++ {
		switch k := rng.IntN(20); {
		case k < 14:
			// Take one or two locks in resource order, hold, release.
			var held []*Lock
			res := 1 + rng.Uint64N(6)
			for n := 1 + rng.IntN(2); n > 0 && res <= 9; n-- {
				l, err := tc.c.Enqueue(ctx, randomDesc(rng, res), 0)
				if err != nil {
					t.Errorf("worker %d op %d: %v", id, op, err)
					break
				}
				u.add(t, tc, l)
				held = append(held, l)
				res += 1 + rng.Uint64N(3)
			}
			if rng.IntN(2) == 0 {
				runtime.Gosched()
			}
			for _, l := range held {
				u.remove(l)
				if rng.IntN(4) == 0 {
					l.ReleaseCancel()
				} else {
					l.Release()
				}
			}
		case k < 17:
			// Record locks: take, test, drop; waiting only while holding
			// nothing else.
			owner := uint64(id)
			fl := Flock{Mode: wire.LockPW, Start: rng.Uint64N(100), PID: uint32(id), Owner: owner}
			fl.End = fl.Start + rng.Uint64N(50)
			if rng.IntN(2) == 0 {
				fl.Mode = wire.LockPR
			}
			cmd := []FlockCmd{FlockSet, FlockWait, FlockTest}[rng.IntN(3)]
			_, err := tc.c.Flock(ctx, resN(40), cmd, fl)
			if err != nil && !errors.Is(err, ErrWouldBlock) {
				t.Errorf("worker %d flock: %v", id, err)
			}
			if cmd != FlockTest {
				fl.Mode = wire.LockNL
				if _, err := tc.c.Flock(ctx, resN(40), FlockSet, fl); err != nil {
					t.Errorf("worker %d unlock: %v", id, err)
				}
			}
		case k < 18:
			tc.c.CancelUnused(ctx, nil)
		default:
			res := resN(1 + rng.Uint64N(9))
			tc.c.CancelUnused(ctx, &res)
		}
		if err := cl.ns.Check(); err != nil {
			t.Errorf("after worker %d op %d: %v", id, op, err)
		}
	}
}

// A randomized mix of requests, holds, releases, cancels and flocks from
// several clients, two goroutines each, finishes (no deadlock), and no
// step breaks an invariant: the server's queues stay consistent and no
// two locks in use conflict.
func TestRandomMix(t *testing.T) {
	seeds := []uint64{1, rand.Uint64(), rand.Uint64()}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkLeaks(t)
			t.Logf("seed %d", seed)
			cl := newCluster(t)
			u := &inUse{held: map[*Lock]int{}, owner: map[*Lock]*tclient{}}
			var clients []*tclient
			for i := 0; i < 4; i++ {
				clients = append(clients, cl.addClient(false, func(c *ClientConfig) { c.LRUSize = 4 }))
			}
			var wg sync.WaitGroup
			done := make(chan struct{})
			for i, tc := range clients {
				for g := 0; g < 2; g++ {
					wg.Add(1)
					go func(id int) {
						defer wg.Done()
						randomWorker(t, cl, tc, u, seed, id, 150)
					}(2*i + g + 1)
				}
			}
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * waitLimit):
				t.Fatal("the mix did not finish: deadlock")
			}
			cl.mustCheck()
			var granted int
			for _, tc := range clients {
				s := tc.c.Stats()
				granted += s.Locks
				if s.Locks > s.Unused {
					// Cancels of released locks may still be in flight.
					waitUntil(t, "cancels done", func() bool { s := tc.c.Stats(); return s.Locks <= s.Unused })
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			for _, tc := range clients {
				tc.c.CancelUnused(ctx, nil)
			}
			waitUntil(t, "every lock gone", func() bool { return cl.ns.Stats().Locks == 0 })
			t.Logf("%d cached locks at the end; server %+v", granted, cl.ns.Stats())
		})
	}
}
