package ptlrpc

import (
	"sync"
	"time"
)

// ATConfig are the adaptive timeout tunables (Lustre's at_min, at_max,
// at_history, at_early_margin, at_extra).
type ATConfig struct {
	// Min and Max bound every estimate (at_min, at_max).
	Min, Max time.Duration
	// History is how long a measurement counts (at_history); it is kept in
	// four bins, and the estimate is the worst of them.
	History time.Duration
	// EarlyMargin: a server sends an early reply this long before a
	// request's deadline (at_early_margin).
	EarlyMargin time.Duration
	// Extra is how much more time an early reply asks for (at_extra).
	Extra time.Duration
}

// DefaultAT returns Lustre's defaults.
func DefaultAT() ATConfig {
	return ATConfig{Min: 5 * time.Second, Max: 600 * time.Second, History: 600 * time.Second,
		EarlyMargin: 5 * time.Second, Extra: 30 * time.Second}
}

func (c *ATConfig) fill() {
	d := DefaultAT()
	if c.Max <= 0 {
		c.Max = d.Max
	}
	if c.Min <= 0 {
		c.Min = min(d.Min, c.Max)
	}
	if c.Min > c.Max {
		c.Min = c.Max
	}
	if c.History <= 0 {
		c.History = d.History
	}
	if c.EarlyMargin <= 0 {
		c.EarlyMargin = min(d.EarlyMargin, c.Min)
	}
	if c.Extra <= 0 {
		c.Extra = min(d.Extra, c.Max)
	}
}

const atBins = 4

// atEstimate tracks the worst value measured over History, in four bins
// (Lustre's struct adaptive_timeout): a rise counts at once, a fall only
// once the bins holding the higher values have aged out.
type atEstimate struct {
	mu       sync.Mutex
	binLen   time.Duration
	binStart time.Time
	bins     [atBins]time.Duration
	worst    time.Duration
	worstAt  time.Time
	min, max time.Duration
}

func newATEstimate(c ATConfig, initial time.Duration) *atEstimate {
	a := &atEstimate{binLen: max(c.History/atBins, time.Millisecond), min: c.Min, max: c.Max}
	a.bins[0] = initial
	return a
}

// add records one measurement taken at now.
func (a *atEstimate) add(v time.Duration, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ageLocked(now)
	if v > a.bins[0] {
		a.bins[0] = v
	}
	if v > a.worst {
		a.worst, a.worstAt = v, now
	}
}

func (a *atEstimate) ageLocked(now time.Time) {
	if a.binStart.IsZero() {
		a.binStart = now
		return
	}
	shift := int(now.Sub(a.binStart) / a.binLen)
	if shift <= 0 {
		return
	}
	if shift >= atBins {
		a.bins = [atBins]time.Duration{}
	} else {
		copy(a.bins[shift:], a.bins[:atBins-shift])
		for i := 0; i < shift; i++ {
			a.bins[i] = 0
		}
	}
	a.binStart = a.binStart.Add(time.Duration(shift) * a.binLen)
}

// get returns the current estimate, clamped to [min, max].
func (a *atEstimate) get(now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ageLocked(now)
	var v time.Duration
	for _, b := range a.bins {
		v = max(v, b)
	}
	return min(max(v, a.min), a.max)
}

// ATSnapshot is one estimate for `lctl get_param *.timeouts`.
type ATSnapshot struct {
	Current time.Duration
	Worst   time.Duration
	WorstAt time.Time
	Bins    [atBins]time.Duration // newest first
}

func (a *atEstimate) snapshot(now time.Time) ATSnapshot {
	cur := a.get(now)
	a.mu.Lock()
	defer a.mu.Unlock()
	return ATSnapshot{Current: cur, Worst: a.worst, WorstAt: a.worstAt, Bins: a.bins}
}

func durMS(d time.Duration) uint32 {
	ms := d.Milliseconds()
	switch {
	case ms < 0:
		return 0
	case ms > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(ms)
}

func msDur(ms uint32) time.Duration { return time.Duration(ms) * time.Millisecond }
