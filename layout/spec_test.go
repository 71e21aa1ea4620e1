package layout_test

import (
	"testing"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/layout/qos"
)

// create plays the MDT's part at create: Effective, then objects for the
// initial components, picked by qos over n equal OSTs.
func create(t *testing.T, n int, opts []layout.Options) (*layout.Layout, layout.Allocator) {
	t.Helper()
	l, err := layout.Effective(nil, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CheckOSTCount(n); err != nil {
		t.Fatal(err)
	}
	osts := make([]qos.OST, n)
	for i := range osts {
		osts[i] = qos.OST{Index: uint32(i), Free: 1 << 40, Total: 2 << 40, Avail: true}
	}
	var rr qos.RoundRobin // nil Rand: any start is fine here
	alloc := func(c *layout.Component) ([]layout.Object, error) {
		if c.IsDoM() {
			return nil, nil
		}
		idx, err := qos.Pick(osts, int(c.Stripe.Count), int(c.Stripe.Offset), "", &rr)
		if err != nil {
			return nil, err
		}
		return objs(idx...), nil
	}
	for _, i := range l.InitialComponents() {
		o, err := alloc(&l.Components[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Instantiate(i, o); err != nil {
			t.Fatal(err)
		}
	}
	mustValid(t, l)
	return l, alloc
}

// TestSpecPFLExample: `lfs setstripe -E 64M -c 1 -E 1G -c 4 -E eof -c -1 g`
// and a 100 MiB write on an 8-OST file system (spec §3.5): generation 4,
// components 1 and 2 init, component 3 left with count -1, offset -1.
func TestSpecPFLExample(t *testing.T) {
	l, alloc := create(t, 8, []layout.Options{
		opt(func(o *layout.Options) { o.End = 64 * MiB; o.Count = 1 }),
		opt(func(o *layout.Options) { o.End = GiB; o.Count = 4 }),
		opt(func(o *layout.Options) { o.End = layout.EOF; o.Count = -1 }),
	})
	if l.Gen != 3 {
		t.Fatalf("gen after create %d, want 3", l.Gen)
	}
	if _, need := l.WriteMirror(layout.Extent{Start: 0, End: 100 * MiB}); !need {
		t.Fatal("the write needs an intent")
	}
	if _, _, err := l.IntentWrite(layout.Extent{Start: 0, End: 100 * MiB}, nil, alloc); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id     uint32
		flags  string
		end    string
		count  int32
		offset bool // a concrete offset
	}{
		{1, "init", "67108864", 1, true},
		{2, "init", "1073741824", 4, true},
		{3, "0", "EOF", -1, false},
	}
	if l.Gen != 4 || l.MirrorCount() != 1 || len(l.Components) != 3 {
		t.Fatalf("gen %d, mirrors %d, entries %d", l.Gen, l.MirrorCount(), len(l.Components))
	}
	for i, w := range want {
		c := l.Components[i]
		if c.ID != w.id || c.Flags.String() != w.flags || layout.FormatEnd(c.Extent.End) != w.end ||
			c.Stripe.Count != w.count || (c.Stripe.Offset >= 0) != w.offset || c.Stripe.Size != 4*MiB {
			t.Errorf("component %d: %+v", i, c)
		}
	}
	// Objects of the second component do not repeat an OST.
	seen := map[uint32]bool{}
	for _, o := range l.Components[1].Stripe.Objects {
		if seen[o.OSTIndex] {
			t.Fatalf("OST %d twice in %+v", o.OSTIndex, l.Components[1].Stripe.Objects)
		}
		seen[o.OSTIndex] = true
	}
}

// TestSpecFLRExample: `lfs mirror create -N -c 1 -p ssd --flags=prefer -N
// -c 2 -p hdd m` then a 2 MiB write (spec §4.3): generation 3, ids 65537
// and 131074, flags init,prefer and init,stale, state wp; a resync then
// adds two generations and returns to ro.
func TestSpecFLRExample(t *testing.T) {
	l, alloc := create(t, 4, []layout.Options{
		opt(func(o *layout.Options) { o.Mirror = true; o.Count = 1; o.Pool = "ssd"; o.Flags = layout.Prefer }),
		opt(func(o *layout.Options) { o.Mirror = true; o.Count = 2; o.Pool = "hdd" }),
	})
	if l.State != layout.StateRO || l.MirrorCount() != 2 {
		t.Fatalf("after create: %v, %d mirrors", l.State, l.MirrorCount())
	}
	m, _, err := l.IntentWrite(layout.Extent{Start: 0, End: 2 * MiB}, nil, alloc)
	if err != nil || m != 1 {
		t.Fatalf("primary %d, %v", m, err)
	}
	a, b := l.Components[0], l.Components[1]
	if l.Gen != 3 || l.State.String() != "wp" ||
		a.ID != 65537 || a.MirrorID != 1 || a.Flags.String() != "init,prefer" || a.Stripe.Pool != "ssd" ||
		b.ID != 131074 || b.MirrorID != 2 || b.Flags.String() != "init,stale" || len(b.Stripe.Objects) != 2 {
		t.Fatalf("after write: gen %d state %v\n%+v\n%+v", l.Gen, l.State, a, b)
	}
	if err := l.StartResync(); err != nil {
		t.Fatal(err)
	}
	if err := l.ResyncDone([]uint32{b.ID}); err != nil {
		t.Fatal(err)
	}
	if l.Gen != 5 || l.State != layout.StateRO || l.Components[1].Flags.String() != "init" {
		t.Fatalf("after resync: gen %d %v %v", l.Gen, l.State, l.Components[1].Flags)
	}
}

func BenchmarkSplit4x1M(b *testing.B) {
	l := plainFile(MiB, 4)
	var buf []layout.Chunk
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var err error
		buf, err = l.AppendSplit(buf[:0], 0, uint64(i%1024)*MiB, 16*MiB)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	enc, err := layout.Encode(pflFile())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := layout.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
