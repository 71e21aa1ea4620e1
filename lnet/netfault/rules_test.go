package netfault

import (
	"testing"

	"github.com/stria-fs/stria/lnet"
)

// pattern returns which of n PUTs from 1@lo to 2@lo the rules act on.
func pattern(r *Rules, n int) []bool {
	out := make([]bool, n)
	hdr := lnet.Header{Type: lnet.MsgPut}
	for i := range out {
		r.mu.Lock()
		out[i] = r.decideLocked(lnet.LoNID(1), lnet.LoNID(2), &hdr).act
		r.mu.Unlock()
	}
	return out
}

func TestSkipIntervalCount(t *testing.T) {
	r := NewRules(1)
	r.Add(Rule{Skip: 2, Interval: 3, Count: 2})
	got := pattern(r, 12)
	// Matches 3.. count from 1 after the skip; every 3rd fires, twice.
	want := []bool{false, false, false, false, true, false, false, true, false, false, false, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestRateIsSeeded(t *testing.T) {
	mk := func(seed uint64) []bool {
		r := NewRules(seed)
		r.Add(Rule{Rate: 0.5})
		return pattern(r, 200)
	}
	a, b, c := mk(7), mk(7), mk(8)
	fired, same := 0, true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different draw at %d", i)
		}
		if a[i] {
			fired++
		}
		same = same && a[i] == c[i]
	}
	if fired == 0 || fired == len(a) {
		t.Errorf("rate 0.5 fired %d of %d", fired, len(a))
	}
	if same {
		t.Error("different seeds, same draws")
	}
}

func TestFirstFiringRuleDecides(t *testing.T) {
	r := NewRules(1)
	d := r.Add(Rule{Action: Delay, Count: 1})
	r.Add(Rule{Action: Drop})
	hdr := lnet.Header{Type: lnet.MsgGet}
	r.mu.Lock()
	v1 := r.decideLocked(lnet.LoNID(1), lnet.LoNID(2), &hdr)
	v2 := r.decideLocked(lnet.LoNID(1), lnet.LoNID(2), &hdr)
	r.mu.Unlock()
	if !v1.act || v1.action != Delay || v1.rule != d || !v2.act || v2.action != Drop {
		t.Fatalf("%+v %+v", v1, v2)
	}
	if !r.Remove(d) || r.Remove(d) {
		t.Error("Remove")
	}
	if l := r.List(); len(l) != 1 || l[0].Stats.Fired != 1 || l[0].Stats.Matched != 1 {
		t.Errorf("%+v", l)
	}
}
