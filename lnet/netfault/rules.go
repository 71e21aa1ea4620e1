package netfault

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// Action is what a rule does to a message it fires on.
type Action uint8

// Actions.
const (
	Drop  Action = iota // lose the message
	Delay               // hold it for Rule.Latency, or until Release
)

func (a Action) String() string {
	switch a {
	case Drop:
		return "drop"
	case Delay:
		return "delay"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Match selects messages. Every field that is set must agree.
type Match struct {
	Src     lnet.NID          // the sending NI; zero: any
	Dst     lnet.NID          // the receiving NI; zero: any
	Types   []lnet.MsgType    // empty: any
	Portals []uint32          // empty: any (ACK and REPLY carry no portal: portal 0)
	Bits    func(uint64) bool // on the match bits; nil: any
}

func (m *Match) matches(src, dst lnet.NID, hdr *lnet.Header) bool {
	if !m.Src.IsZero() && m.Src != src || !m.Dst.IsZero() && m.Dst != dst {
		return false
	}
	if len(m.Types) > 0 && !slices.Contains(m.Types, hdr.Type) {
		return false
	}
	if len(m.Portals) > 0 && !slices.Contains(m.Portals, hdr.Portal) {
		return false
	}
	return m.Bits == nil || m.Bits(hdr.MatchBits)
}

// Rule is one fault: which messages, what to do, and how often (the knobs
// of Lustre's `lctl net_drop_add` / `net_delay_add`).
type Rule struct {
	Match
	Action Action
	// Skip lets the first Skip matching messages through.
	Skip int
	// Interval fires on every Interval-th matching message after Skip
	// (Lustre's -i); 0 or 1 fires on each.
	Interval int
	// Rate fires with this probability, drawn from the Rules' seeded source
	// (Lustre's -r as a fraction); 0 means always.
	Rate float64
	// Count stops the rule after it fired Count times ("the next N"); 0 for
	// no limit.
	Count int
	// Latency is how long Delay holds a message; 0 holds it until Release.
	Latency time.Duration
}

// RuleID names an added rule.
type RuleID uint64

// RuleStats counts what one rule saw and did.
type RuleStats struct {
	Matched uint64 // messages that matched
	Fired   uint64 // messages it dropped or delayed
}

// Stats counts what all rules and partitions did.
type Stats struct {
	Dropped     uint64 // by drop rules
	Delayed     uint64 // by delay rules
	Partitioned uint64 // by partitions
	Held        int    // delayed messages not yet released
}

// RuleInfo is one rule as List reports it.
type RuleInfo struct {
	ID    RuleID
	Rule  Rule
	Stats RuleStats
}

type rule struct {
	id RuleID
	Rule
	stats RuleStats
}

// Rules is a set of faults shared by every NI wrapped with it. It is safe for
// concurrent use and may change while messages flow.
type Rules struct {
	// mu guards everything below. It is a leaf: never held while calling an
	// LND, a Host, an Rx or Tx.Complete.
	mu      sync.Mutex
	rng     *rand.Rand
	rules   []*rule
	nextID  RuleID
	parts   map[[2]lnet.NID]bool
	wrapped map[lnet.NID]int // NIDs of live NIs wrapped with these rules
	held    []*held
	stats   Stats
}

// NewRules returns an empty rule set whose random draws come from seed.
func NewRules(seed uint64) *Rules {
	return &Rules{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		parts:   map[[2]lnet.NID]bool{},
		wrapped: map[lnet.NID]int{},
	}
}

// Add adds a rule after the existing ones. The first rule that fires on a
// message decides; one that matches but does not fire (Skip, Interval, Rate,
// Count) leaves the message to the next.
func (r *Rules) Add(ru Rule) RuleID {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	r.rules = append(r.rules, &rule{id: r.nextID, Rule: ru})
	return r.nextID
}

// Remove removes a rule; messages it holds stay held until Release or
// their latency. It reports whether the rule existed.
func (r *Rules) Remove(id RuleID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, ru := range r.rules {
		if ru.id == id {
			r.rules = slices.Delete(r.rules, i, i+1)
			return true
		}
	}
	return false
}

// List returns the rules in order with their counters.
func (r *Rules) List() []RuleInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RuleInfo, len(r.rules))
	for i, ru := range r.rules {
		out[i] = RuleInfo{ID: ru.id, Rule: ru.Rule, Stats: ru.stats}
	}
	return out
}

// Partition drops every message between a and b, both ways, until Heal.
func (r *Rules) Partition(a, b lnet.NID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parts[pairKey(a, b)] = true
}

// Heal ends the partition between a and b.
func (r *Rules) Heal(a, b lnet.NID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.parts, pairKey(a, b))
}

// HealAll ends every partition.
func (r *Rules) HealAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.parts)
}

func pairKey(a, b lnet.NID) [2]lnet.NID {
	if b.String() < a.String() {
		a, b = b, a
	}
	return [2]lnet.NID{a, b}
}

// Stats returns the counters.
func (r *Rules) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Held = len(r.held)
	return s
}

// verdict is what decide says about one message.
type verdict struct {
	action  Action
	act     bool // false: let it through
	rule    RuleID
	latency time.Duration
}

// decideLocked applies the partitions and rules to a message from src to dst.
func (r *Rules) decideLocked(src, dst lnet.NID, hdr *lnet.Header) verdict {
	if r.parts[pairKey(src, dst)] {
		r.stats.Partitioned++
		return verdict{action: Drop, act: true}
	}
	for _, ru := range r.rules {
		if !ru.matches(src, dst, hdr) {
			continue
		}
		ru.stats.Matched++
		n := int(ru.stats.Matched) - ru.Skip
		switch {
		case n <= 0:
			continue
		case ru.Interval > 1 && n%ru.Interval != 0:
			continue
		case ru.Count > 0 && ru.stats.Fired >= uint64(ru.Count):
			continue
		case ru.Rate > 0 && ru.Rate < 1 && r.rng.Float64() >= ru.Rate:
			continue
		}
		ru.stats.Fired++
		if ru.Action == Delay {
			r.stats.Delayed++
		} else {
			r.stats.Dropped++
		}
		return verdict{action: ru.Action, act: true, rule: ru.id, latency: ru.Latency}
	}
	return verdict{}
}

// held is a delayed message: a Tx not yet handed to the inner NI, or a
// received message not yet handed to the host.
type held struct {
	w     *ni
	rule  RuleID
	tx    *lnet.Tx // send side
	from  lnet.NID // receive side: from, hdr, rx
	hdr   lnet.Header
	rx    lnet.Rx
	timer *time.Timer
	done  bool // released, expired or failed; guarded by Rules.mu
}

// holdLocked keeps h until its latency passes or Release.
func (r *Rules) holdLocked(h *held, latency time.Duration) {
	r.held = append(r.held, h)
	if latency > 0 {
		h.w.wg.Add(1)
		h.timer = time.AfterFunc(latency, func() {
			defer h.w.wg.Done()
			if r.take(h) {
				h.forward()
			}
		})
	}
}

// take claims h for whoever forwards or fails it; false if already claimed.
func (r *Rules) take(h *held) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.takeLocked(h)
}

func (r *Rules) takeLocked(h *held) bool {
	if h.done {
		return false
	}
	h.done = true
	if i := slices.Index(r.held, h); i >= 0 {
		r.held = slices.Delete(r.held, i, i+1)
	}
	if h.timer != nil && h.timer.Stop() {
		h.w.wg.Done() // its callback will not run
	}
	return true
}

// Release lets the messages that rule id holds go on, in the order they
// were held, and returns how many.
func (r *Rules) Release(id RuleID) int {
	return r.release(func(h *held) bool { return h.rule == id })
}

// ReleaseAll lets every held message go on.
func (r *Rules) ReleaseAll() int {
	return r.release(func(*held) bool { return true })
}

func (r *Rules) release(which func(*held) bool) int {
	r.mu.Lock()
	var out []*held
	for _, h := range slices.Clone(r.held) {
		if which(h) && r.takeLocked(h) {
			out = append(out, h)
		}
	}
	r.mu.Unlock()
	for _, h := range out {
		h.forward()
	}
	return len(out)
}

// forward sends on a released message.
func (h *held) forward() {
	if h.tx != nil {
		h.w.inner.Send(h.tx)
		return
	}
	h.w.host.Receive(h.w, h.from, &h.hdr, h.rx)
}

// fail ends a held message whose NI closed.
func (h *held) fail() {
	if h.tx != nil {
		h.tx.Complete(fmt.Errorf("%w: delayed message on a closed NI", lnet.ErrClosed))
		return
	}
	h.rx.Recv(nil, func(error) {})
}
