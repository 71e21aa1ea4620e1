package layout_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/stria-fs/stria/layout"
)

// geom is what the inheritance tests look at in each component.
type geom struct {
	start, end uint64
	mirror     uint16
	id         uint32
	count      int32
	size       uint32
	offset     int32
	pool       string
}

func geoms(l *layout.Layout) []geom {
	var g []geom
	for _, c := range l.Components {
		g = append(g, geom{c.Extent.Start, c.Extent.End, c.MirrorID, c.ID, c.Stripe.Count, c.Stripe.Size, c.Stripe.Offset, c.Stripe.Pool})
	}
	return g
}

func opt(f func(o *layout.Options)) layout.Options {
	o := layout.NewOptions()
	f(&o)
	return o
}

func TestEffective(t *testing.T) {
	rootDef := layout.Plain(0, 0, -1, "") // fs default left unset: built-ins apply
	rootWide := layout.Plain(2, MiB, -1, "flash")
	dirDef := layout.Plain(4, 0, 3, "")
	dirPFL, err := layout.Template([]layout.Options{
		opt(func(o *layout.Options) { o.End = 64 * MiB; o.Count = 1 }),
		opt(func(o *layout.Options) { o.End = layout.EOF; o.Count = -1 }),
	})
	if err != nil {
		t.Fatal(err)
	}
	const E = layout.EOF
	tests := []struct {
		name      string
		parent    *layout.Layout
		root      *layout.Layout
		opts      []layout.Options
		composite bool
		want      []geom
	}{
		{"nothing anywhere: built-in defaults", nil, nil, nil, false,
			[]geom{{0, E, 0, 0, 1, 4 * MiB, -1, ""}}},
		{"unset root default", nil, rootDef, nil, false,
			[]geom{{0, E, 0, 0, 1, 4 * MiB, -1, ""}}},
		{"root default", nil, rootWide, nil, false,
			[]geom{{0, E, 0, 0, 2, MiB, -1, "flash"}}},
		{"dir default over root default", dirDef, rootWide, nil, false,
			[]geom{{0, E, 0, 0, 4, MiB, 3, "flash"}}},
		{"explicit -c over dir default", dirDef, rootWide, []layout.Options{opt(func(o *layout.Options) { o.Count = 8 })}, false,
			[]geom{{0, E, 0, 0, 8, MiB, 3, "flash"}}},
		{"explicit -p none drops the pool", nil, rootWide, []layout.Options{opt(func(o *layout.Options) { o.Pool = "none" })}, false,
			[]geom{{0, E, 0, 0, 2, MiB, -1, ""}}},
		{"explicit -S and -i", nil, nil, []layout.Options{opt(func(o *layout.Options) { o.Size = 64 * KiB; o.Offset = 0 })}, false,
			[]geom{{0, E, 0, 0, 1, 64 * KiB, 0, ""}}},
		{"PFL dir default", dirPFL, rootWide, nil, true,
			[]geom{{0, 64 * MiB, 0, 1, 1, MiB, -1, "flash"}, {64 * MiB, E, 0, 2, -1, MiB, -1, "flash"}}},
		{"PFL: later components inherit from the previous one, not the offset", dirDef, nil, []layout.Options{
			opt(func(o *layout.Options) { o.End = 64 * MiB; o.Size = MiB; o.Pool = "ssd" }),
			opt(func(o *layout.Options) { o.End = GiB; o.Count = 2 }),
			opt(func(o *layout.Options) { o.End = layout.EOF; o.Size = 4 * MiB }),
		}, true, []geom{
			{0, 64 * MiB, 0, 1, 4, MiB, 3, "ssd"},
			{64 * MiB, GiB, 0, 2, 2, MiB, -1, "ssd"},
			{GiB, E, 0, 3, 2, 4 * MiB, -1, "ssd"},
		}},
		{"mirrors: ids (mirror<<16)|gen, options flow on", nil, nil, []layout.Options{
			opt(func(o *layout.Options) { o.Mirror = true; o.Size = 4 * MiB; o.Count = 2; o.Pool = "flash" }),
			opt(func(o *layout.Options) { o.Mirror = true; o.Count = -1; o.Pool = "archive" }),
		}, true, []geom{
			{0, E, 1, 65537, 2, 4 * MiB, -1, "flash"},
			{0, E, 2, 131074, -1, 4 * MiB, -1, "archive"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := layout.Effective(tt.parent, tt.root, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := geoms(l); !slices.Equal(got, tt.want) {
				t.Fatalf("\n got %+v\nwant %+v", got, tt.want)
			}
			if l.Composite != tt.composite {
				t.Fatalf("composite %v", l.Composite)
			}
			mustValid(t, l)
			if l.IsFLR() != (l.State == layout.StateRO) {
				t.Fatalf("state %v, FLR %v", l.State, l.IsFLR())
			}
			if l.Composite && l.Gen != uint32(len(l.Components)) {
				t.Fatalf("gen %d after %d components", l.Gen, len(l.Components))
			}
		})
	}
}

func TestEffectiveDoM(t *testing.T) {
	l, err := layout.Effective(nil, layout.Plain(0, 2*MiB, -1, ""), []layout.Options{
		opt(func(o *layout.Options) { o.End = MiB; o.Pattern = layout.PatternMDT }),
		opt(func(o *layout.Options) { o.End = layout.EOF; o.Count = 4 }),
	})
	if err != nil {
		t.Fatal(err)
	}
	dom, rest := l.Components[0], l.Components[1]
	if !dom.IsDoM() || dom.Stripe.Size != MiB || dom.Stripe.Count != 0 {
		t.Fatalf("DoM component %+v", dom)
	}
	// The next component does not inherit the DoM stripe size.
	if rest.Stripe.Size != 2*MiB || rest.Stripe.Count != 4 {
		t.Fatalf("second component %+v", rest.Stripe)
	}
}

func TestEffectiveOSTList(t *testing.T) {
	l, err := layout.Effective(nil, nil, []layout.Options{opt(func(o *layout.Options) {
		o.OSTs = []uint32{1, 2, 3, 4, 7}
		o.Offset = 3
	})})
	if err != nil {
		t.Fatal(err)
	}
	s := l.Components[0].Stripe
	if s.Count != 5 || s.Offset != 3 || !slices.Equal(s.OSTs, []uint32{3, 4, 7, 1, 2}) {
		t.Fatalf("stripe %+v", s)
	}
}

func TestEffectiveErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []layout.Options
		want error
	}{
		{"bad size", []layout.Options{opt(func(o *layout.Options) { o.Size = 1000 })}, layout.ErrStripeSize},
		{"-c disagrees with -o", []layout.Options{opt(func(o *layout.Options) { o.Count = 2; o.OSTs = []uint32{1} })}, layout.ErrStripeCount},
		{"-i not in -o", []layout.Options{opt(func(o *layout.Options) { o.Offset = 5; o.OSTs = []uint32{1} })}, layout.ErrStripeOffset},
		{"two components without -E", []layout.Options{layout.NewOptions(), layout.NewOptions()}, layout.ErrExtent},
		{"-N after the first component", []layout.Options{
			opt(func(o *layout.Options) { o.End = MiB }), opt(func(o *layout.Options) { o.Mirror = true }),
		}, layout.ErrMirror},
		{"extent not increasing", []layout.Options{
			opt(func(o *layout.Options) { o.End = 64 * MiB }), opt(func(o *layout.Options) { o.End = 32 * MiB }),
		}, layout.ErrExtent},
		{"end not aligned to the stripe size", []layout.Options{
			opt(func(o *layout.Options) { o.End = 3 * MiB; o.Size = 2 * MiB }), opt(func(o *layout.Options) { o.End = layout.EOF }),
		}, layout.ErrExtentAlign},
		{"init flag at create", []layout.Options{opt(func(o *layout.Options) { o.Flags = layout.Init })}, layout.ErrFlags},
		{"mirror short of EOF", []layout.Options{
			opt(func(o *layout.Options) { o.Mirror = true; o.End = 64 * MiB }), opt(func(o *layout.Options) { o.Mirror = true }),
		}, layout.ErrMirror},
	}
	for _, tt := range tests {
		if _, err := layout.Effective(nil, nil, tt.opts); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestTemplateKeepsUnset(t *testing.T) {
	tmpl, err := layout.Template([]layout.Options{opt(func(o *layout.Options) { o.Count = 2 })})
	if err != nil {
		t.Fatal(err)
	}
	s := tmpl.Components[0].Stripe
	if tmpl.Composite || s.Count != 2 || s.Size != 0 || s.Offset != -1 {
		t.Fatalf("template %+v", tmpl)
	}
	// A changed root default shows through the template at create time.
	l, err := layout.Effective(tmpl, layout.Plain(0, 8*MiB, -1, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Components[0].Stripe; got.Count != 2 || got.Size != 8*MiB {
		t.Fatalf("effective %+v", got)
	}
	if _, err := layout.Template(nil); !errors.Is(err, layout.ErrEmpty) {
		t.Fatalf("empty template: %v", err)
	}
}

func TestAddComponentIDs(t *testing.T) {
	l := &layout.Layout{}
	if id := l.AddComponent(uninit(1, 0, 0, layout.EOF, MiB, 1)); id != 65537 {
		t.Fatalf("first id %d", id)
	}
	if id := l.AddComponent(uninit(2, 0, 0, layout.EOF, MiB, 1)); id != 131074 {
		t.Fatalf("second id %d", id)
	}
	// A generation whose low 16 bits hit 0 or a used sequence moves on.
	l.Gen = 1<<16 - 1
	if id := l.AddComponent(uninit(1, 0, 0, layout.EOF, MiB, 1)); id != layout.CompID(1, 2) {
		t.Fatalf("wrapped id %#x", id)
	}
	if !l.Composite || len(l.Components) != 3 || l.Components[1].MirrorID != 1 {
		t.Fatalf("components %+v", l.Components)
	}
}
