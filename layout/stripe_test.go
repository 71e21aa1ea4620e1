package layout_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stria-fs/stria/layout"
)

func TestLocateWorkedExample(t *testing.T) {
	// Spec §3.1: S=1 MiB, C=4, x=5.5 MiB -> chunk 5, stripe 1, 1.5 MiB.
	c := plainFile(MiB, 4).Components[0]
	stripe, off := c.Locate(5*MiB + MiB/2)
	if stripe != 1 || off != MiB+MiB/2 {
		t.Fatalf("Locate(5.5M) = %d, %d; want 1, %d", stripe, off, MiB+MiB/2)
	}
}

func TestLocate(t *testing.T) {
	pfl := pflFile()
	tests := []struct {
		name   string
		c      layout.Component
		off    uint64
		stripe int
		objOff uint64
	}{
		{"zero", plainFile(MiB, 4).Components[0], 0, 0, 0},
		{"last byte of first unit", plainFile(MiB, 4).Components[0], MiB - 1, 0, MiB - 1},
		{"second unit", plainFile(MiB, 4).Components[0], MiB, 1, 0},
		{"second round", plainFile(MiB, 4).Components[0], 4 * MiB, 0, MiB},
		{"second round stripe 3", plainFile(MiB, 4).Components[0], 7*MiB + 5, 3, MiB + 5},
		{"one stripe is identity", plainFile(64*KiB, 1).Components[0], 123456789, 0, 123456789},
		{"3 stripes of 64K", plainFile(64*KiB, 3).Components[0], 200 * KiB, 0, 64*KiB + 8*KiB},
		// Absolute offsets: the second PFL component (S=4M, C=4) starts at
		// 64M = chunk 16 -> stripe 0, object offset 16M: a 16M hole first.
		{"PFL second component start", pfl.Components[1], 64 * MiB, 0, 16 * MiB},
		{"PFL second component 70M", pfl.Components[1], 70 * MiB, 1, 16*MiB + 2*MiB},
		{"top of the space", plainFile(MiB, 2).Components[0], layout.EOF - 1, 1, layout.EOF/2 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, o := tt.c.Locate(tt.off)
			if s != tt.stripe || o != tt.objOff {
				t.Fatalf("Locate(%d) = %d, %d; want %d, %d", tt.off, s, o, tt.stripe, tt.objOff)
			}
			if back := tt.c.FileOffset(s, o); back != tt.off {
				t.Fatalf("FileOffset(%d, %d) = %d, want %d", s, o, back, tt.off)
			}
		})
	}
}

func TestLocatePanicsWithoutGeometry(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Locate on a template component did not panic")
		}
	}()
	c := uninit(0, 1, 0, layout.EOF, 0, 0)
	c.Locate(1)
}

func TestFileSize(t *testing.T) {
	c := plainFile(MiB, 4).Components[0]
	tests := []struct {
		stripe int
		obj    uint64
		want   uint64
	}{
		{0, 0, 0},
		{0, 1, 1},
		{0, MiB, MiB},
		{1, MiB, 2 * MiB},
		{3, MiB, 4 * MiB},
		{0, MiB + 1, 4*MiB + 1},
		{2, 2 * MiB, 7 * MiB},
		{1, MiB + MiB/2, 5*MiB + MiB/2}, // the worked example's byte, +1
		{1, layout.EOF, layout.EOF},     // saturates
	}
	for _, tt := range tests {
		if got := c.FileSize(tt.stripe, tt.obj); got != tt.want {
			t.Errorf("FileSize(%d, %d) = %d, want %d", tt.stripe, tt.obj, got, tt.want)
		}
	}
}

func TestObjectSize(t *testing.T) {
	pfl := pflFile()
	tests := []struct {
		name   string
		c      layout.Component
		size   uint64
		stripe int
		want   uint64
	}{
		{"empty", plainFile(MiB, 4).Components[0], 0, 0, 0},
		{"one byte", plainFile(MiB, 4).Components[0], 1, 0, 1},
		{"one byte, other stripe", plainFile(MiB, 4).Components[0], 1, 1, 0},
		{"5.5M stripe 0", plainFile(MiB, 4).Components[0], 5*MiB + MiB/2, 0, 2 * MiB},
		{"5.5M stripe 1", plainFile(MiB, 4).Components[0], 5*MiB + MiB/2, 1, MiB + MiB/2},
		{"5.5M stripe 2", plainFile(MiB, 4).Components[0], 5*MiB + MiB/2, 2, MiB},
		{"below the component", pfl.Components[1], 10 * MiB, 0, 0},
		{"at the component start", pfl.Components[1], 64 * MiB, 0, 0},
		{"inside the component", pfl.Components[1], 65 * MiB, 0, 16*MiB + MiB},
		// Stripe 1 holds nothing of [64M, 65M): 0, not the hole size.
		{"inside, untouched stripe", pfl.Components[1], 65 * MiB, 1, 0},
		{"past the component", pfl.Components[1], 2 * GiB, 3, GiB / 4},
	}
	for _, tt := range tests {
		if got := tt.c.ObjectSize(tt.size, tt.stripe); got != tt.want {
			t.Errorf("%s: ObjectSize(%d, %d) = %d, want %d", tt.name, tt.size, tt.stripe, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	pfl := pflFile()
	tests := []struct {
		name string
		l    *layout.Layout
		off  uint64
		n    uint64
		want []layout.Chunk
	}{
		{"inside one unit", plainFile(MiB, 4), 10, 100, []layout.Chunk{{Comp: 0, Stripe: 0, ObjOff: 10, FileOff: 10, Len: 100}}},
		{"across units", plainFile(MiB, 4), MiB / 2, 2 * MiB, []layout.Chunk{
			{Stripe: 0, ObjOff: MiB / 2, FileOff: MiB / 2, Len: MiB / 2},
			{Stripe: 1, ObjOff: 0, FileOff: MiB, Len: MiB},
			{Stripe: 2, ObjOff: 0, FileOff: 2 * MiB, Len: MiB / 2},
		}},
		{"single stripe merges", plainFile(MiB, 1), MiB / 2, 3 * MiB, []layout.Chunk{
			{Stripe: 0, ObjOff: MiB / 2, FileOff: MiB / 2, Len: 3 * MiB},
		}},
		{"across PFL components into a hole", pfl, 64*MiB - 1, 2, []layout.Chunk{
			{Comp: 0, Stripe: 0, ObjOff: 64*MiB - 1, FileOff: 64*MiB - 1, Len: 1},
			{Comp: 1, Stripe: 0, ObjOff: 16 * MiB, FileOff: 64 * MiB, Len: 1},
		}},
		{"uninstantiated component is a hole", pfl, GiB - 1, 10 * MiB, []layout.Chunk{
			{Comp: 1, Stripe: 3, ObjOff: GiB/4 - 1, FileOff: GiB - 1, Len: 1},
			{Comp: 2, Stripe: -1, ObjOff: 0, FileOff: GiB, Len: 10*MiB - 1},
		}},
		{"empty range", plainFile(MiB, 4), 5, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.l.Split(0, tt.off, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Split(%d, %d):\n got %+v\nwant %+v", tt.off, tt.n, got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	short := &layout.Layout{Composite: true, Components: []layout.Component{comp(0, 1, 0, 64*MiB, MiB, 0)}}
	released := plainFile(MiB, 2)
	released.Components[0].Stripe.Pattern |= layout.PatternReleased
	released.Components[0].Stripe.Objects = nil
	tests := []struct {
		name string
		l    *layout.Layout
		m    uint16
		off  uint64
		n    uint64
		want error
	}{
		{"wraps", plainFile(MiB, 1), 0, layout.EOF, 2, layout.ErrRange},
		{"beyond the last component", short, 0, 64*MiB - 1, 2, layout.ErrBeyondLayout},
		{"past the end", short, 0, 65 * MiB, 1, layout.ErrBeyondLayout},
		{"no such mirror", mirrored(), 3, 0, 1, layout.ErrNoMirror},
		{"released", released, 0, 0, 1, layout.ErrReleased},
	}
	for _, tt := range tests {
		if _, err := tt.l.Split(tt.m, tt.off, tt.n); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSplitMirror(t *testing.T) {
	l := mirrored()
	got, err := l.Split(2, 0, 8*MiB)
	if err != nil {
		t.Fatal(err)
	}
	want := []layout.Chunk{
		{Comp: 1, Stripe: 0, ObjOff: 0, FileOff: 0, Len: 4 * MiB},
		{Comp: 1, Stripe: 1, ObjOff: 0, FileOff: 4 * MiB, Len: 4 * MiB},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if o, ok := l.Object(got[1]); !ok || o.OSTIndex != 2 {
		t.Fatalf("Object(chunk 1) = %v, %v; want OST 2", o, ok)
	}
}

func TestTruncateSizes(t *testing.T) {
	l := pflFile()
	// Truncate to 65 MiB: the first component (ends at 64M, below) keeps
	// its object; the second's objects are cut; stripe 0 holds 1 MiB of the
	// component at object offset 16M.
	got := l.TruncateSizes(0, 65*MiB)
	want := []layout.ObjectTrunc{
		{Comp: 1, Stripe: 0, Size: 17 * MiB},
		{Comp: 1, Stripe: 1, Size: 0},
		{Comp: 1, Stripe: 2, Size: 0},
		{Comp: 1, Stripe: 3, Size: 0},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("TruncateSizes(65M) = %+v, want %+v", got, want)
	}
	// Truncate to 0 empties every object.
	for _, o := range l.TruncateSizes(0, 0) {
		if o.Size != 0 {
			t.Fatalf("TruncateSizes(0): %+v", o)
		}
	}
}

// geometries are random instantiated layouts for property tests: a plain
// file or a PFL file with two or three instantiated components.
func randomLayout(r *rand.Rand) *layout.Layout {
	size := uint32(64*KiB) << r.IntN(3)
	osts := func() []uint32 {
		n := 1 + r.IntN(5)
		o := make([]uint32, n)
		for i := range o {
			o[i] = uint32(i)
		}
		return o
	}
	if r.IntN(3) == 0 {
		return plainFile(size, 1+r.IntN(6))
	}
	// Boundaries multiples of 512 KiB satisfy every stripe size below.
	b1 := uint64(1+r.IntN(8)) * 512 * KiB
	b2 := b1 + uint64(1+r.IntN(8))*512*KiB
	return &layout.Layout{Composite: true, Components: []layout.Component{
		comp(0, 1, 0, b1, size, osts()...),
		comp(0, 2, b1, b2, size<<r.IntN(2), osts()...),
		comp(0, 3, b2, layout.EOF, size, osts()...),
	}}
}

// TestSplitProperties: the chunks of a range tile it in file order, every
// byte maps where Locate says, and no two bytes of the file map to the same
// object byte (checked by collecting object extents per object).
func TestSplitProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		l := randomLayout(r)
		mustValid(t, l)
		off := r.Uint64N(8 * MiB)
		n := 1 + r.Uint64N(6*MiB)
		chunks, err := l.Split(0, off, n)
		if err != nil {
			t.Fatal(err)
		}
		pos := off
		type objKey struct{ comp, stripe int }
		used := map[objKey][][2]uint64{}
		for _, ch := range chunks {
			if ch.FileOff != pos || ch.Len == 0 {
				t.Fatalf("iter %d: chunk %+v does not continue at %d", iter, ch, pos)
			}
			c := &l.Components[ch.Comp]
			if !c.Extent.Contains(ch.FileOff) || !c.Extent.Contains(ch.FileOff+ch.Len-1) {
				t.Fatalf("iter %d: chunk %+v leaves component %v", iter, ch, c.Extent)
			}
			// First, last and a random byte of the chunk map as Locate says.
			for _, d := range []uint64{0, ch.Len - 1, r.Uint64N(ch.Len)} {
				s, o := c.Locate(ch.FileOff + d)
				if s != ch.Stripe || o != ch.ObjOff+d {
					t.Fatalf("iter %d: byte %d of %+v: Locate = %d, %d", iter, d, ch, s, o)
				}
			}
			k := objKey{ch.Comp, ch.Stripe}
			for _, e := range used[k] {
				if ch.ObjOff < e[1] && e[0] < ch.ObjOff+ch.Len {
					t.Fatalf("iter %d: chunk %+v overlaps object range %v", iter, ch, e)
				}
			}
			used[k] = append(used[k], [2]uint64{ch.ObjOff, ch.ObjOff + ch.Len})
			pos += ch.Len
		}
		if pos != off+n {
			t.Fatalf("iter %d: chunks end at %d, want %d", iter, pos, off+n)
		}
	}
}

// TestLocateExhaustive checks byte by byte, on small geometries, that the
// RAID0 map is a bijection between the component's bytes and object bytes.
func TestLocateExhaustive(t *testing.T) {
	for _, count := range []int{1, 2, 3, 5} {
		c := plainFile(64*KiB, count).Components[0]
		span := uint64(64*KiB) * uint64(count) * 3
		seen := map[[2]uint64]bool{}
		for x := uint64(0); x < span; x += 61 { // a prime step visits every offset class
			s, o := c.Locate(x)
			if s < 0 || s >= count {
				t.Fatalf("Locate(%d) stripe %d of %d", x, s, count)
			}
			k := [2]uint64{uint64(s), o}
			if seen[k] {
				t.Fatalf("Locate(%d) = %v twice", x, k)
			}
			seen[k] = true
			if c.FileOffset(s, o) != x {
				t.Fatalf("FileOffset(Locate(%d)) = %d", x, c.FileOffset(s, o))
			}
		}
	}
}

// TestFileSizeRoundTrip: write random ranges, record each object's size as
// an OST would (highest byte written + 1), and the file size computed from
// the object sizes is the highest byte written + 1. Then truncate to a
// random size and check the objects give back exactly that size.
func TestFileSizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := range 300 {
		l := randomLayout(r)
		objSize := map[[2]int]uint64{}
		var end uint64
		for range 1 + r.IntN(4) {
			off, n := r.Uint64N(12*MiB), 1+r.Uint64N(3*MiB)
			end = max(end, off+n)
			chunks, err := l.Split(0, off, n)
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range chunks {
				k := [2]int{ch.Comp, ch.Stripe}
				objSize[k] = max(objSize[k], ch.ObjOff+ch.Len)
			}
		}
		if got := fileSize(l, objSize); got != end {
			t.Fatalf("iter %d: file size from objects %d, want %d", iter, got, end)
		}
		size := r.Uint64N(16 * MiB)
		if l.Composite && r.IntN(4) == 0 {
			size = l.Components[0].Extent.End // a component boundary
		}
		for _, tr := range l.TruncateSizes(0, size) {
			objSize[[2]int{tr.Comp, tr.Stripe}] = tr.Size
		}
		// Objects wholly below the new size keep their sizes, which can
		// only imply sizes up to their component's end, below size.
		if got := fileSize(l, objSize); got != size {
			t.Fatalf("iter %d: after truncate to %d the objects imply %d", iter, size, got)
		}
	}
}

func fileSize(l *layout.Layout, objSize map[[2]int]uint64) uint64 {
	var size uint64
	for k, s := range objSize {
		size = max(size, l.Components[k[0]].FileSize(k[1], s))
	}
	return size
}
