package layout_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stria-fs/stria/layout"
)

// allocFrom returns an Allocator handing out objects on consecutive OSTs
// starting at next, and counts its calls.
func allocFrom(next uint32, calls *int) layout.Allocator {
	return func(c *layout.Component) ([]layout.Object, error) {
		*calls++
		if c.IsDoM() {
			return nil, nil
		}
		n := int(c.Stripe.Count)
		if n < 0 {
			n = 8
		}
		osts := make([]uint32, n)
		for i := range osts {
			osts[i] = next
			next++
		}
		return objs(osts...), nil
	}
}

func TestIntentWritePFL(t *testing.T) {
	// The spec's PFL example before the write: only component 1 instantiated.
	l := pflFile()
	l.Gen = 3
	c2 := &l.Components[1]
	c2.Flags, c2.Stripe.Objects, c2.Stripe.Offset = 0, nil, -1
	if _, need := l.WriteMirror(layout.Extent{Start: 0, End: MiB}); need {
		t.Fatal("a write inside component 1 needs no intent")
	}
	if _, need := l.WriteMirror(layout.Extent{Start: 0, End: 100 * MiB}); !need {
		t.Fatal("a write into component 2 needs an intent")
	}
	calls := 0
	m, changed, err := l.IntentWrite(layout.Extent{Start: 0, End: 100 * MiB}, nil, allocFrom(1, &calls))
	if err != nil || m != 0 || !changed {
		t.Fatalf("IntentWrite = %d, %v, %v", m, changed, err)
	}
	// Component 2 instantiated, component 3 not; generation 3 -> 4.
	if calls != 1 || !l.Components[1].IsInit() || l.Components[2].IsInit() || l.Gen != 4 {
		t.Fatalf("after intent: calls %d, flags %v %v, gen %d", calls, l.Components[1].Flags, l.Components[2].Flags, l.Gen)
	}
	if l.Components[1].Stripe.Offset != 1 {
		t.Fatalf("offset %d, want the first object's OST", l.Components[1].Stripe.Offset)
	}
	mustValid(t, l)
	// The same intent again changes nothing.
	if _, changed, err := l.IntentWrite(layout.Extent{Start: 0, End: 100 * MiB}, nil, allocFrom(1, &calls)); changed || err != nil {
		t.Fatalf("repeat: %v, %v", changed, err)
	}
	// A truncate to 2G instantiates the last component.
	if _, changed, err := l.IntentTrunc(2*GiB, nil, allocFrom(20, &calls)); !changed || err != nil || !l.Components[2].IsInit() {
		t.Fatalf("trunc: %v, %v", changed, err)
	}
	if got := l.Components[2].Stripe.Count; got != 8 {
		t.Fatalf("count -1 instantiated as %d", got)
	}
	mustValid(t, l)
}

func TestIntentErrorsLeaveLayout(t *testing.T) {
	l := pflFile()
	l.Components[2].Stripe.Count = 2
	before := l.Clone()
	boom := errors.New("no space")
	fail := func(*layout.Component) ([]layout.Object, error) { return nil, boom }
	if _, _, err := l.IntentWrite(layout.Extent{Start: 0, End: 2 * GiB}, nil, fail); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	tooMany := func(*layout.Component) ([]layout.Object, error) { return objs(1, 2, 3), nil }
	if _, _, err := l.IntentWrite(layout.Extent{Start: 0, End: 2 * GiB}, nil, tooMany); !errors.Is(err, layout.ErrObjects) {
		t.Fatalf("err %v", err)
	}
	short := &layout.Layout{Composite: true, Components: []layout.Component{comp(0, 1, 0, 64*MiB, MiB, 0)}}
	if _, _, err := short.IntentWrite(layout.Extent{Start: 0, End: 65 * MiB}, nil, fail); !errors.Is(err, layout.ErrBeyondLayout) {
		t.Fatalf("err %v", err)
	}
	if _, _, err := l.IntentWrite(layout.Extent{Start: 5, End: 5}, nil, fail); !errors.Is(err, layout.ErrRange) {
		t.Fatalf("err %v", err)
	}
	if !l.Equal(before) {
		t.Fatal("a failed intent changed the layout")
	}
}

// TestFLRLifecycle follows spec §4.2/§4.3: create, write (ro -> wp, other
// mirror stale), resync (wp -> sp -> ro), generations.
func TestFLRLifecycle(t *testing.T) {
	l := mirrored() // gen 2, ro, mirror 1 preferred
	if m, need := l.WriteMirror(layout.Extent{Start: 0, End: 2 * MiB}); !need {
		t.Fatalf("ro file: write to %d without intent", m)
	}
	calls := 0
	m, changed, err := l.IntentWrite(layout.Extent{Start: 0, End: 2 * MiB}, nil, allocFrom(0, &calls))
	if err != nil || m != 1 || !changed || calls != 0 {
		t.Fatalf("IntentWrite = %d, %v, %v (calls %d)", m, changed, err, calls)
	}
	if l.State != layout.StateWP || l.Gen != 3 || l.Components[1].Flags != layout.Init|layout.Stale {
		t.Fatalf("after write: %v gen %d flags %v", l.State, l.Gen, l.Components[1].Flags)
	}
	mustValid(t, l)
	if m, need := l.WriteMirror(layout.Extent{Start: 0, End: 2 * MiB}); need || m != 1 {
		t.Fatalf("wp file: WriteMirror = %d, %v", m, need)
	}
	if got := l.ReadMirrors(0, 0); !slices.Equal(got, []uint16{1}) {
		t.Fatalf("reads from %v, the stale mirror included", got)
	}
	if err := l.StartResync(); err != nil || l.State != layout.StateSP || l.Gen != 4 {
		t.Fatalf("StartResync: %v %v gen %d", err, l.State, l.Gen)
	}
	if err := l.StartResync(); !errors.Is(err, layout.ErrState) {
		t.Fatalf("second StartResync: %v", err)
	}
	if err := l.ResyncDone([]uint32{999}); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("ResyncDone(999): %v", err)
	}
	if err := l.ResyncDone([]uint32{131074}); err != nil || l.State != layout.StateRO || l.Gen != 5 {
		t.Fatalf("ResyncDone: %v %v gen %d", err, l.State, l.Gen)
	}
	if l.Components[1].Flags&layout.Stale != 0 {
		t.Fatal("stale not cleared")
	}
	mustValid(t, l)
}

func TestWriteDuringResync(t *testing.T) {
	l := mirrored()
	calls := 0
	if _, _, err := l.IntentWrite(layout.Extent{Start: 0, End: MiB}, nil, allocFrom(0, &calls)); err != nil {
		t.Fatal(err)
	}
	if err := l.StartResync(); err != nil {
		t.Fatal(err)
	}
	// A write while sp drops the file back to wp; the resync fails.
	if _, need := l.WriteMirror(layout.Extent{Start: 0, End: MiB}); !need {
		t.Fatal("sp file: no intent")
	}
	if _, _, err := l.IntentWrite(layout.Extent{Start: 0, End: MiB}, nil, allocFrom(0, &calls)); err != nil {
		t.Fatal(err)
	}
	if l.State != layout.StateWP {
		t.Fatalf("state %v", l.State)
	}
	if err := l.ResyncDone([]uint32{131074}); !errors.Is(err, layout.ErrState) {
		t.Fatalf("ResyncDone after a write: %v", err)
	}
}

func TestPickPrimary(t *testing.T) {
	three := func() *layout.Layout {
		l := mirrored()
		l.Components[0].Flags &^= layout.Prefer
		c := comp(3, 3, 0, layout.EOF, 4*MiB, 5)
		c.Flags |= layout.PrefWrite
		l.Components = append(l.Components, c)
		return l
	}
	down := func(osts ...uint32) func(uint32) bool {
		return func(o uint32) bool { return !slices.Contains(osts, o) }
	}
	tests := []struct {
		name  string
		l     *layout.Layout
		avail func(uint32) bool
		want  uint16
	}{
		{"preferred and healthy", three(), nil, 3},
		{"preferred is down: first healthy", three(), down(5), 1},
		{"all down: preferred", three(), down(0, 1, 2, 5), 3},
		{"stale mirrors are skipped", func() *layout.Layout {
			l := three()
			l.Components[2].Flags |= layout.Stale
			return l
		}(), nil, 1},
		{"offline counts as unhealthy", func() *layout.Layout {
			l := three()
			l.Components[2].Flags |= layout.Offline
			return l
		}(), nil, 1},
		{"all down, no preference: first", mirrored(), down(0, 1, 2), 1},
	}
	for _, tt := range tests {
		got, err := tt.l.PickPrimary(tt.avail)
		if err != nil || got != tt.want {
			t.Errorf("%s: PickPrimary = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	if _, err := pflFile().PickPrimary(nil); !errors.Is(err, layout.ErrNotMirrored) {
		t.Errorf("PFL file: %v", err)
	}
}

func TestReadMirrors(t *testing.T) {
	l := mirrored()
	l.Components[0].Flags = layout.Init // no preference
	c := comp(3, 3, 0, layout.EOF, 4*MiB, 5)
	l.Components = append(l.Components, c)
	// Rotation by seed spreads files over mirrors.
	if got := l.ReadMirrors(0, 1); !slices.Equal(got, []uint16{2, 3, 1}) {
		t.Fatalf("seed 1: %v", got)
	}
	l.Components[2].Flags |= layout.PrefRead
	if got := l.ReadMirrors(0, 1); !slices.Equal(got, []uint16{3, 2, 1}) {
		t.Fatalf("preferred first: %v", got)
	}
	if got := plainFile(MiB, 1).ReadMirrors(10, 7); !slices.Equal(got, []uint16{0}) {
		t.Fatalf("plain: %v", got)
	}
}

func TestSetFlags(t *testing.T) {
	l := mirrored()
	if err := l.SetFlags(65537, layout.Stale, 0, 0); err != nil {
		t.Fatal(err)
	}
	if l.Gen != 3 || l.Components[0].Flags&layout.Stale == 0 {
		t.Fatalf("gen %d flags %v", l.Gen, l.Components[0].Flags)
	}
	// Not on the last in-sync mirror.
	if err := l.SetFlags(131074, layout.Stale, 0, 0); !errors.Is(err, layout.ErrAllStale) {
		t.Fatalf("last in-sync mirror: %v", err)
	}
	if l.Components[1].Flags&layout.Stale != 0 || l.Gen != 3 {
		t.Fatal("failed SetFlags changed the layout")
	}
	// stale is cleared only by resync.
	if err := l.SetFlags(65537, 0, layout.Stale, 0); !errors.Is(err, layout.ErrFlags) {
		t.Fatalf("clear stale: %v", err)
	}
	if err := l.SetFlags(131074, layout.NoSync, 0, 1234); err != nil || l.Components[1].Timestamp != 1234 {
		t.Fatalf("nosync: %v, %d", err, l.Components[1].Timestamp)
	}
	if err := l.SetFlags(131074, 0, layout.NoSync, 0); err != nil || l.Components[1].Timestamp != 0 {
		t.Fatalf("^nosync: %v, %d", err, l.Components[1].Timestamp)
	}
	if err := pflFile().SetFlags(1, layout.Prefer, 0, 0); !errors.Is(err, layout.ErrNotMirrored) {
		t.Fatalf("PFL: %v", err)
	}
	if err := l.SetFlags(7, layout.Prefer, 0, 0); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestInstantiate(t *testing.T) {
	l := pflFile()
	if err := l.Instantiate(0, objs(1)); !errors.Is(err, layout.ErrInstantiated) {
		t.Fatalf("again: %v", err)
	}
	if err := l.Instantiate(9, objs(1)); !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("index 9: %v", err)
	}
	if err := l.Instantiate(2, nil); !errors.Is(err, layout.ErrObjects) {
		t.Fatalf("no objects: %v", err)
	}
	if err := l.Instantiate(2, objs(6, 7)); err != nil {
		t.Fatal(err)
	}
	mustValid(t, l)
	if uninit := l.Uninit(0, layout.EOF); len(uninit) != 0 {
		t.Fatalf("still uninit: %v", uninit)
	}
}
