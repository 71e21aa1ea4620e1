package layout_test

import (
	"errors"
	"testing"

	"github.com/stria-fs/stria/layout"
)

func TestValidateGood(t *testing.T) {
	for i, l := range samples() {
		err := l.Validate()
		if i == 2 || i == 7 { // the templates
			err = l.ValidateTemplate()
		}
		if err != nil {
			t.Errorf("sample %d: %v", i, err)
		}
	}
}

func TestValidate(t *testing.T) {
	edit := func(base func() *layout.Layout, f func(l *layout.Layout)) *layout.Layout {
		l := base()
		f(l)
		return l
	}
	p := func() *layout.Layout { return plainFile(MiB, 2) }
	tests := []struct {
		name string
		l    *layout.Layout
		want error
	}{
		{"no components", &layout.Layout{}, layout.ErrEmpty},
		{"size not a multiple of 64K", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Size = 100000 }), layout.ErrStripeSize},
		{"size 0 in a file", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Size = 0 }), layout.ErrStripeSize},
		{"size 4G-64K is the largest", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Size = layout.MaxStripeSize }), nil},
		{"count 0 in a file", edit(p, func(l *layout.Layout) {
			l.Components[0].Stripe.Count, l.Components[0].Stripe.Objects, l.Components[0].Flags = 0, nil, 0
		}), layout.ErrStripeCount},
		{"count 2001", edit(p, func(l *layout.Layout) {
			l.Components[0].Stripe.Count, l.Components[0].Stripe.Objects, l.Components[0].Flags = 2001, nil, 0
		}), layout.ErrStripeCount},
		{"count -2", edit(p, func(l *layout.Layout) {
			l.Components[0].Stripe.Count, l.Components[0].Stripe.Objects, l.Components[0].Flags = -2, nil, 0
		}), layout.ErrStripeCount},
		{"offset -2", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Offset = -2 }), layout.ErrStripeOffset},
		{"objects do not match count", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Count = 3 }), layout.ErrObjects},
		{"init without objects", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Objects = nil }), layout.ErrObjects},
		{"objects without init", edit(p, func(l *layout.Layout) { l.Components[0].Flags = 0 }), layout.ErrObjects},
		{"bad pool", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Pool = "no spaces" }), layout.ErrPool},
		{"reserved pool", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Pool = "ignore" }), layout.ErrPool},
		{"unknown pattern", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.Pattern = 7 }), layout.ErrPattern},
		{"unknown flag", edit(p, func(l *layout.Layout) { l.Components[0].Flags |= 0x8000 }), layout.ErrPlain},
		{"plain not at EOF", edit(p, func(l *layout.Layout) { l.Components[0].Extent.End = 64 * MiB }), layout.ErrPlain},
		{"plain with an id", edit(p, func(l *layout.Layout) { l.Components[0].ID = 1 }), layout.ErrPlain},
		{"plain with a state", edit(p, func(l *layout.Layout) { l.State = layout.StateRO }), layout.ErrPlain},
		{"first component not at 0", edit(pflFile, func(l *layout.Layout) { l.Components[0].Extent.Start = 64 * KiB }), layout.ErrExtent},
		{"gap", edit(pflFile, func(l *layout.Layout) { l.Components[2].Extent.Start += 64 * MiB }), layout.ErrExtent},
		{"overlap", edit(pflFile, func(l *layout.Layout) { l.Components[1].Extent.Start -= 4 * MiB }), layout.ErrExtent},
		{"end not above start", edit(pflFile, func(l *layout.Layout) {
			l.Components[1].Extent.End = 64 * MiB
			l.Components[2].Extent.Start = 64 * MiB
		}), layout.ErrExtent},
		{"end not a multiple of 64K", edit(pflFile, func(l *layout.Layout) {
			l.Components[1].Extent.End = GiB + 1
			l.Components[2].Extent.Start = GiB + 1
		}), layout.ErrExtentAlign},
		{"end not a multiple of the stripe size", edit(pflFile, func(l *layout.Layout) {
			l.Components[1].Extent.End = GiB + 64*KiB
			l.Components[2].Extent.Start = GiB + 64*KiB
		}), layout.ErrExtentAlign},
		{"no EOF component is fine", edit(pflFile, func(l *layout.Layout) { l.Components = l.Components[:2] }), nil},
		{"duplicate id", edit(pflFile, func(l *layout.Layout) { l.Components[2].ID = 2 }), layout.ErrComponentID},
		{"id 0 in a composite file", edit(pflFile, func(l *layout.Layout) { l.Components[2].ID = 0 }), layout.ErrComponentID},
		{"id of another mirror", edit(mirrored, func(l *layout.Layout) { l.Components[1].ID = layout.CompID(1, 2) }), layout.ErrComponentID},
		{"extension and init", edit(pflFile, func(l *layout.Layout) { l.Components[0].Flags |= layout.Extension }), layout.ErrFlags},
		{"mirror not at EOF", edit(mirrored, func(l *layout.Layout) { l.Components[0].Extent.End = GiB }), layout.ErrMirror},
		{"last mirror not at EOF", edit(mirrored, func(l *layout.Layout) { l.Components[1].Extent.End = GiB }), layout.ErrMirror},
		{"mirror 0 among mirrors", edit(mirrored, func(l *layout.Layout) {
			l.Components[0].MirrorID, l.Components[0].ID = 0, 1
		}), layout.ErrMirror},
		{"mirror split in two", func() *layout.Layout {
			l := mirrored()
			c := comp(1, 3, 0, layout.EOF, 4*MiB, 5)
			l.Components = append(l.Components, c)
			return l
		}(), layout.ErrMirror},
		{"mirrored file without state", edit(mirrored, func(l *layout.Layout) { l.State = layout.StateNone }), layout.ErrState},
		{"state on a PFL file", edit(pflFile, func(l *layout.Layout) { l.State = layout.StateRO }), layout.ErrState},
		{"unknown state", edit(mirrored, func(l *layout.Layout) { l.State = 9 }), layout.ErrState},
		{"every mirror stale", edit(mirrored, func(l *layout.Layout) {
			l.Components[0].Flags |= layout.Stale
			l.Components[1].Flags |= layout.Stale
		}), layout.ErrAllStale},
		{"DoM not first", func() *layout.Layout {
			l := pflFile()
			l.Components[1].Stripe = layout.Stripe{Pattern: layout.PatternMDT, Size: GiB, Offset: -1}
			return l
		}(), layout.ErrPattern},
		{"DoM with objects", func() *layout.Layout {
			l := pflFile()
			l.Components[0].Stripe.Pattern = layout.PatternMDT
			l.Components[0].Stripe.Size = 64 * MiB
			return l
		}(), layout.ErrObjects},
		{"OST list longer than count", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.OSTs = []uint32{1, 2, 3} }), layout.ErrStripeCount},
		{"OST listed twice", edit(p, func(l *layout.Layout) { l.Components[0].Stripe.OSTs = []uint32{1, 1} }), layout.ErrStripeOffset},
	}
	for _, tt := range tests {
		err := tt.l.Validate()
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestValidateTemplate(t *testing.T) {
	raw := layout.Plain(0, 0, -1, "")
	if err := raw.ValidateTemplate(); err != nil {
		t.Fatalf("unset template: %v", err)
	}
	if err := raw.Validate(); !errors.Is(err, layout.ErrStripeSize) {
		t.Fatalf("unset template as a file: %v", err)
	}
	if err := plainFile(MiB, 1).ValidateTemplate(); !errors.Is(err, layout.ErrFlags) {
		t.Fatalf("template with objects: %v", err)
	}
	withState := pflFile()
	for i := range withState.Components {
		withState.Components[i].Flags, withState.Components[i].Stripe.Objects = 0, nil
	}
	withState.State = layout.StateRO
	if err := withState.ValidateTemplate(); !errors.Is(err, layout.ErrState) {
		t.Fatalf("template with a state: %v", err)
	}
}

func TestCheckOSTCount(t *testing.T) {
	l := pflFile() // component 3 asks for -1: always fits
	if err := l.CheckOSTCount(1); err != nil {
		t.Fatalf("instantiated components are not checked: %v", err)
	}
	l.Components[2].Stripe.Count = 8
	if err := l.CheckOSTCount(8); err != nil {
		t.Fatal(err)
	}
	if err := l.CheckOSTCount(7); !errors.Is(err, layout.ErrTooManyOSTs) {
		t.Fatalf("8 stripes on 7 OSTs: %v", err)
	}
	l.Components[2].Stripe.Count, l.Components[2].Stripe.Offset = 1, 9
	if err := l.CheckOSTCount(8); !errors.Is(err, layout.ErrStripeOffset) {
		t.Fatalf("offset 9 on 8 OSTs: %v", err)
	}
}

func TestFlagsString(t *testing.T) {
	tests := []struct {
		f    layout.Flags
		want string
	}{
		{0, "0"},
		{layout.Init, "init"},
		{layout.Stale | layout.Prefer, "stale,prefer"},
		{layout.Init | layout.Prefer, "init,prefer"},
		{layout.Init | layout.Stale, "init,stale"},
		{layout.PrefRead, "prefrd"},
		{layout.PrefWrite | layout.NoSync, "prefwr,nosync"},
		{layout.Offline | layout.Extension | layout.Parity, "offline,extension,parity"},
		{layout.Init | 0x10000, "init,0x10000"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("%#x: %q, want %q", uint32(tt.f), got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	set, clear, err := layout.ParseFlags("^prefer,stale")
	if err != nil || set != layout.Stale || clear != layout.Prefer {
		t.Fatalf("ParseFlags = %v, %v, %v", set, clear, err)
	}
	for _, bad := range []string{"", "bogus", "init,^init"} {
		if _, _, err := layout.ParseFlags(bad); !errors.Is(err, layout.ErrSyntax) {
			t.Errorf("ParseFlags(%q) = %v", bad, err)
		}
	}
}

func TestPatternAndState(t *testing.T) {
	if s := layout.PatternRAID0.String(); s != "raid0" {
		t.Error(s)
	}
	if s := layout.PatternMDT.String(); s != "mdt" {
		t.Error(s)
	}
	if s := (layout.PatternRAID0 | layout.PatternReleased).String(); s != "released" {
		t.Error(s)
	}
	for _, s := range []layout.State{layout.StateRO, layout.StateWP, layout.StateSP} {
		if got, err := layout.ParseState(s.String()); err != nil || got != s {
			t.Errorf("ParseState(%v) = %v, %v", s, got, err)
		}
	}
	if layout.StateNone.String() != "0" {
		t.Error(layout.StateNone.String())
	}
	if p, err := layout.ParsePattern("mdt"); err != nil || p != layout.PatternMDT {
		t.Errorf("ParsePattern(mdt) = %v, %v", p, err)
	}
	if _, err := layout.ParsePattern("raid6"); !errors.Is(err, layout.ErrSyntax) {
		t.Errorf("ParsePattern(raid6) = %v", err)
	}
}
