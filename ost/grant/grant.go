package grant

import (
	"fmt"
	"sync"
)

// Config tunes a Grants. The zero value is valid.
type Config struct {
	// Unit is the granularity of grants in bytes (0: DefaultUnit).
	Unit int64
	// MaxPerClient caps one client's outstanding grant (0: no cap).
	MaxPerClient int64
	// Reserve is space never granted, kept for writes without grant.
	Reserve int64
	// MaxFraction: one Grant call gives at most 1/MaxFraction of the space
	// left, so one client cannot take everything at once
	// (0: DefaultMaxFraction; 1: no limit).
	MaxFraction int64
}

// Defaults, as Lustre's: page-sized grants, at most 1/8 of what is left per
// request (tgt_grant_alloc).
const (
	DefaultUnit        = 4096
	DefaultMaxFraction = 8
)

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Unit < 0 || c.MaxPerClient < 0 || c.Reserve < 0 || c.MaxFraction < 0 {
		return fmt.Errorf("%w: negative value in %+v", ErrConfig, c)
	}
	return nil
}

// Grants accounts the space an OST has promised to clients for their
// cached dirty data. It does no I/O: the OST feeds it the target's free
// space (SetAvail, from statfs) and the writes it serves (Consume).
type Grants struct {
	cfg Config

	mu      sync.Mutex // guards the fields below
	avail   int64      // bytes writers may use: last statfs, less writes consumed since
	total   int64      // sum of clients' grants
	clients map[string]int64
}

// New returns an empty Grants with no space until SetAvail.
func New(cfg Config) (*Grants, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Unit == 0 {
		cfg.Unit = DefaultUnit
	}
	if cfg.MaxFraction == 0 {
		cfg.MaxFraction = DefaultMaxFraction
	}
	return &Grants{cfg: cfg, clients: map[string]int64{}}, nil
}

// SetAvail records the target's available bytes (osd.StatFS.Avail).
func (g *Grants) SetAvail(avail int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.avail = max(0, avail)
}

// leftLocked is the space that is neither reserved nor promised.
func (g *Grants) leftLocked() int64 {
	return g.avail - g.cfg.Reserve - g.total
}

// Grant gives client up to want more bytes of grant and returns how many
// it gave (a multiple of Unit, possibly 0). It never promises more than the
// space left: available less reserve less every outstanding grant.
func (g *Grants) Grant(client string, want int64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.clients[client]
	if g.cfg.MaxPerClient > 0 {
		want = min(want, g.cfg.MaxPerClient-cur)
	}
	left := g.leftLocked()
	if want <= 0 || left <= 0 {
		return 0
	}
	give := min(want, left/g.cfg.MaxFraction)
	if g.cfg.MaxFraction > 1 && give < g.cfg.Unit {
		give = min(want, left) // the last crumbs go whole, not in ever smaller fractions
	}
	give = give / g.cfg.Unit * g.cfg.Unit
	if give <= 0 {
		return 0
	}
	g.clients[client] = cur + give
	g.total += give
	return give
}

// Consume accounts a write of n bytes by client: its grant covers what it
// can, the rest must fit in the space left, or nothing is consumed and
// ErrNoSpace is returned (the writer gets ENOSPC). It returns the bytes
// taken from the client's grant.
func (g *Grants) Consume(client string, n int64) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.clients[client]
	covered := min(n, cur)
	if rest := n - covered; rest > 0 && rest > g.leftLocked() {
		return 0, fmt.Errorf("%w: %s writes %d bytes with %d granted, %d left", ErrNoSpace, client, n, cur, max(0, g.leftLocked()))
	}
	if covered > 0 {
		g.setLocked(client, cur-covered)
	}
	g.avail = max(0, g.avail-n)
	return covered, nil
}

// Preallocate accounts a preallocation of n bytes (fallocate) by any
// client: it must fit in the space left, never in a client's grant — the
// grant stays promised to that client's cached data — or nothing is
// taken and ErrNoSpace is returned.
func (g *Grants) Preallocate(n int64) error {
	if n <= 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if left := g.leftLocked(); n > left {
		return fmt.Errorf("%w: preallocation of %d bytes, %d left", ErrNoSpace, n, max(0, left))
	}
	g.avail -= n
	return nil
}

// Shrink takes back up to n bytes of client's grant (the client returned
// unused grant) and returns how many it took.
func (g *Grants) Shrink(client string, n int64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.clients[client]
	n = max(0, min(n, cur))
	g.setLocked(client, cur-n)
	return n
}

// Release drops everything granted to client (disconnect or eviction) and
// returns the amount.
func (g *Grants) Release(client string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.clients[client]
	g.setLocked(client, 0)
	return cur
}

// setLocked sets client's grant to v, keeping total in step.
func (g *Grants) setLocked(client string, v int64) {
	g.total += v - g.clients[client]
	if v == 0 {
		delete(g.clients, client)
	} else {
		g.clients[client] = v
	}
}

// Granted is client's outstanding grant.
func (g *Grants) Granted(client string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.clients[client]
}

// Stats is a snapshot for statistics (lctl get_param obdfilter.*.tot_granted).
type Stats struct {
	Avail   int64 // available bytes as last known
	Granted int64 // outstanding grants, all clients
	Left    int64 // grantable now (may be negative when space shrank under grants)
	Clients int   // clients holding grant
}

// Stats returns the current totals.
func (g *Grants) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Stats{Avail: g.avail, Granted: g.total, Left: g.leftLocked(), Clients: len(g.clients)}
}
