package layout_test

import (
	"testing"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// objs returns instantiated objects on the given OSTs with IDIF FIDs.
func objs(osts ...uint32) []layout.Object {
	out := make([]layout.Object, len(osts))
	for i, o := range osts {
		out[i] = layout.Object{OSTIndex: o, FID: wire.IDIF(o, uint64(100+i))}
	}
	return out
}

// comp returns an instantiated RAID0 component over [start, end) of mirror
// m with id (m<<16)|seq, stripe size size and objects on osts.
func comp(m uint16, seq uint16, start, end uint64, size uint32, osts ...uint32) layout.Component {
	c := layout.Component{
		ID: layout.CompID(m, seq), MirrorID: m, Extent: layout.Extent{Start: start, End: end},
		Stripe: layout.Stripe{Pattern: layout.PatternRAID0, Count: int32(len(osts)), Size: size, Offset: -1},
	}
	if len(osts) > 0 {
		c.Flags = layout.Init
		c.Stripe.Objects = objs(osts...)
		c.Stripe.Offset = int32(osts[0])
	}
	return c
}

// uninit returns an uninstantiated component asking for count stripes.
func uninit(m uint16, seq uint16, start, end uint64, size uint32, count int32) layout.Component {
	c := comp(m, seq, start, end, size)
	c.Stripe.Count = count
	return c
}

// plainFile returns a plain layout of count stripes of size bytes on OSTs
// 0..count-1.
func plainFile(size uint32, count int) *layout.Layout {
	osts := make([]uint32, count)
	for i := range osts {
		osts[i] = uint32(i)
	}
	c := comp(0, 0, 0, layout.EOF, size, osts...)
	c.ID = 0
	return &layout.Layout{Components: []layout.Component{c}}
}

// pflFile is the spec's PFL example after a 100 MiB write on 8 OSTs:
// [0, 64M) c=1 on OST 5, [64M, 1G) c=4 on OSTs 1-4, [1G, EOF) c=-1 not
// instantiated.
func pflFile() *layout.Layout {
	return &layout.Layout{Gen: 4, Composite: true, Components: []layout.Component{
		comp(0, 1, 0, 64*MiB, 4*MiB, 5),
		comp(0, 2, 64*MiB, GiB, 4*MiB, 1, 2, 3, 4),
		uninit(0, 3, GiB, layout.EOF, 4*MiB, -1),
	}}
}

// mirrored is the spec's FLR example: two mirrors over [0, EOF), mirror 1
// preferred on OST 0, mirror 2 on OSTs 1 and 2.
func mirrored() *layout.Layout {
	a := comp(1, 1, 0, layout.EOF, 4*MiB, 0)
	a.Flags |= layout.Prefer
	a.Stripe.Pool = "ssd"
	b := comp(2, 2, 0, layout.EOF, 4*MiB, 1, 2)
	b.Stripe.Pool = "hdd"
	return &layout.Layout{Gen: 2, Composite: true, State: layout.StateRO, Components: []layout.Component{a, b}}
}

func mustValid(t *testing.T, l *layout.Layout) {
	t.Helper()
	if err := l.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
