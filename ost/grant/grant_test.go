package grant

import (
	"errors"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
)

const mib = 1 << 20

func newGrants(t *testing.T, cfg Config, avail int64) *Grants {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.SetAvail(avail)
	return g
}

// check verifies the invariants: total is the sum of the clients' grants,
// every grant is positive.
func check(t *testing.T, g *Grants) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	var sum int64
	for c, v := range g.clients {
		if v <= 0 {
			t.Fatalf("client %s holds %d", c, v)
		}
		sum += v
	}
	if sum != g.total {
		t.Fatalf("total %d, clients sum to %d", g.total, sum)
	}
}

func TestGrantBoundedByFreeSpace(t *testing.T) {
	g := newGrants(t, Config{MaxFraction: 1}, mib)
	if got := g.Grant("a", 2*mib); got != mib {
		t.Fatalf("Grant 2 MiB of 1 MiB free = %d", got)
	}
	if got := g.Grant("b", 4096); got != 0 {
		t.Fatalf("Grant with nothing left = %d", got)
	}
	if st := g.Stats(); st.Granted != mib || st.Left != 0 || st.Clients != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Disconnect gives it back.
	if got := g.Release("a"); got != mib {
		t.Fatalf("Release = %d", got)
	}
	if got := g.Grant("b", 4096); got != 4096 {
		t.Fatalf("Grant after release = %d", got)
	}
	check(t, g)
}

func TestGrantFairShare(t *testing.T) {
	g := newGrants(t, Config{}, 8*mib)
	if got := g.Grant("a", 8*mib); got != mib {
		t.Fatalf("first Grant = %d, want 1/8 of 8 MiB", got)
	}
	// Repeated requests converge on all the space, never beyond.
	for range 200 {
		g.Grant("a", 8*mib)
	}
	if got := g.Granted("a"); got != 8*mib {
		t.Fatalf("after many requests a holds %d, want all 8 MiB", got)
	}
	if got := g.Grant("a", 1); got != 0 {
		t.Fatalf("Grant beyond avail = %d", got)
	}
	check(t, g)
}

func TestGrantUnitAndCaps(t *testing.T) {
	g := newGrants(t, Config{Unit: 4096, MaxPerClient: 64 * 1024, Reserve: mib, MaxFraction: 1}, 2*mib)
	if got := g.Grant("a", 5000); got != 4096 {
		t.Fatalf("Grant 5000 = %d, want one unit", got)
	}
	if got := g.Grant("a", mib); got != 60*1024 {
		t.Fatalf("Grant up to the per-client cap = %d", got)
	}
	if got := g.Grant("a", 4096); got != 0 {
		t.Fatalf("Grant past the per-client cap = %d", got)
	}
	if got := g.Grant("b", 4*mib); got != 64*1024 {
		t.Fatalf("b capped by MaxPerClient got %d", got)
	}
	// The reserve is never granted.
	g2 := newGrants(t, Config{Reserve: mib, MaxFraction: 1}, 2*mib)
	if got := g2.Grant("b", 4*mib); got != mib {
		t.Fatalf("Grant with a reserve = %d, want 1 MiB", got)
	}
	if got := g.Grant("a", -5); got != 0 {
		t.Fatalf("negative want granted %d", got)
	}
}

func TestConsume(t *testing.T) {
	g := newGrants(t, Config{MaxFraction: 1}, 4*mib)
	g.Grant("a", mib)
	// Covered by grant.
	if got, err := g.Consume("a", 256*1024); err != nil || got != 256*1024 {
		t.Fatalf("Consume within grant = %d %v", got, err)
	}
	if st := g.Stats(); st.Avail != 4*mib-256*1024 || st.Granted != 768*1024 || st.Left != 3*mib {
		t.Fatalf("stats after covered write %+v", st)
	}
	// Beyond grant: the rest comes out of what is left.
	if got, err := g.Consume("a", mib); err != nil || got != 768*1024 {
		t.Fatalf("Consume past grant = %d %v", got, err)
	}
	if g.Granted("a") != 0 {
		t.Fatalf("grant left after consuming it all: %d", g.Granted("a"))
	}
	// Promise the rest to b; an ungranted write by c no longer fits.
	g.Grant("b", 100*mib)
	before := g.Stats()
	_, err := g.Consume("c", 4096)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, osd.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("ungranted write on a fully granted target: %v", err)
	}
	if g.Stats() != before {
		t.Fatalf("a refused write changed the accounts: %+v -> %+v", before, g.Stats())
	}
	// b's promise holds.
	if got, err := g.Consume("b", before.Granted); err != nil || got != before.Granted {
		t.Fatalf("granted write = %d %v", got, err)
	}
	check(t, g)
}

func TestShrink(t *testing.T) {
	g := newGrants(t, Config{MaxFraction: 1}, 4*mib)
	g.Grant("a", mib)
	if got := g.Shrink("a", 256*1024); got != 256*1024 || g.Granted("a") != 768*1024 {
		t.Fatalf("Shrink = %d, left %d", got, g.Granted("a"))
	}
	if got := g.Shrink("a", 10*mib); got != 768*1024 || g.Granted("a") != 0 {
		t.Fatalf("Shrink past the grant = %d", got)
	}
	if g.Stats().Clients != 0 {
		t.Fatal("client with no grant still counted")
	}
	check(t, g)
}

func TestSpaceShrinksUnderGrants(t *testing.T) {
	g := newGrants(t, Config{MaxFraction: 1}, 4*mib)
	g.Grant("a", 4*mib)
	g.SetAvail(mib) // someone else filled the disk
	if st := g.Stats(); st.Left >= 0 {
		t.Fatalf("left %d after avail shrank under grants", st.Left)
	}
	if got := g.Grant("b", 4096); got != 0 {
		t.Fatalf("Grant while overcommitted = %d", got)
	}
	if _, err := g.Consume("b", 4096); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("ungranted write while overcommitted: %v", err)
	}
	g.SetAvail(-5)
	if g.Stats().Avail != 0 {
		t.Fatal("negative avail kept")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Unit: -1}, {MaxPerClient: -1}, {Reserve: -1}, {MaxFraction: -1}} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
}

// TestRandomOps drives random operations from several goroutines and checks
// after each that the promises never exceed the space (left >= 0).
func TestRandomOps(t *testing.T) {
	g := newGrants(t, Config{Reserve: 64 * 1024}, 16*mib)
	clients := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 2000 {
				c := clients[r.IntN(len(clients))]
				switch r.IntN(5) {
				case 0, 1:
					if got := g.Grant(c, r.Int64N(2*mib)); got%DefaultUnit != 0 || got < 0 {
						t.Errorf("grant %d not in units", got)
						return
					}
				case 2:
					g.Consume(c, r.Int64N(256*1024))
				case 3:
					g.Shrink(c, r.Int64N(mib))
				case 4:
					if r.IntN(20) == 0 {
						g.Release(c)
					}
				}
				g.mu.Lock()
				over := g.total > 0 && g.leftLocked() < 0
				g.mu.Unlock()
				if over {
					t.Errorf("grants exceed available space: %+v", g.Stats())
					return
				}
			}
		})
	}
	wg.Wait()
	check(t, g)
}

func TestPreallocate(t *testing.T) {
	g := newGrants(t, Config{MaxFraction: 1}, 4*mib)
	g.Grant("a", 3*mib)
	// What is left unpromised can be preallocated, a's grant cannot.
	if err := g.Preallocate(512 * 1024); err != nil {
		t.Fatalf("Preallocate within the space left: %v", err)
	}
	if st := g.Stats(); st.Avail != 4*mib-512*1024 || st.Granted != 3*mib || st.Left != 512*1024 {
		t.Fatalf("stats after a preallocation %+v", st)
	}
	before := g.Stats()
	err := g.Preallocate(mib)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Preallocate into a's grant: %v", err)
	}
	if g.Stats() != before {
		t.Fatalf("a refused preallocation changed the accounts: %+v -> %+v", before, g.Stats())
	}
	// a's promise holds.
	if got, err := g.Consume("a", 3*mib); err != nil || got != 3*mib {
		t.Fatalf("granted write after a preallocation = %d %v", got, err)
	}
	if err := g.Preallocate(0); err != nil {
		t.Fatalf("Preallocate(0): %v", err)
	}
}
