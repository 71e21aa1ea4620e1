package layout_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stria-fs/stria/layout"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it); got:\n%s", path, got)
	}
}

// TestGoldenStripeMath records, for several geometries, where offsets land,
// the chunks ranges split into, the file size implied by object sizes and
// the object sizes a truncate sets.
func TestGoldenStripeMath(t *testing.T) {
	type rng struct{ off, n uint64 }
	cases := []struct {
		name   string
		l      *layout.Layout
		points []uint64
		ranges []rng
		sizes  []uint64 // file sizes for TruncateSizes
	}{
		{
			name:   "plain S=1M C=4 (the spec's worked example)",
			l:      plainFile(MiB, 4),
			points: []uint64{0, MiB - 1, MiB, 5*MiB + MiB/2, 16 * MiB},
			ranges: []rng{{5*MiB + MiB/2, 3 * MiB}, {0, 8 * MiB}, {3 * MiB / 4, MiB / 2}},
			sizes:  []uint64{0, 1, 5*MiB + MiB/2, 8 * MiB},
		},
		{
			name:   "plain S=64K C=3",
			l:      plainFile(64*KiB, 3),
			points: []uint64{0, 64 * KiB, 192 * KiB, 200 * KiB, 1 << 40},
			ranges: []rng{{100 * KiB, 300 * KiB}, {1<<40 - 10, 20}},
			sizes:  []uint64{64 * KiB, 65 * KiB, 200 * KiB},
		},
		{
			name:   "plain S=4M C=1 (merged chunks)",
			l:      plainFile(4*MiB, 1),
			points: []uint64{0, 4 * MiB, 1 << 50},
			ranges: []rng{{MiB, 20 * MiB}},
			sizes:  []uint64{10 * MiB},
		},
		{
			name:   "PFL [0,64M) c=1 | [64M,1G) c=4 | [1G,EOF) uninstantiated",
			l:      pflFile(),
			points: []uint64{0, 64*MiB - 1, 64 * MiB, 70 * MiB, GiB - 1},
			ranges: []rng{{60 * MiB, 10 * MiB}, {GiB - 6*MiB, 8 * MiB}},
			sizes:  []uint64{10 * MiB, 64 * MiB, 65 * MiB, GiB},
		},
	}
	var b bytes.Buffer
	for _, tc := range cases {
		mustValid(t, tc.l)
		fmt.Fprintf(&b, "== %s\n", tc.name)
		for _, p := range tc.points {
			ci := compAt(tc.l, p)
			c := &tc.l.Components[ci]
			s, o := c.Locate(p)
			fmt.Fprintf(&b, "locate %d -> comp %d stripe %d obj_off %d; object size %d -> file size %d\n",
				p, ci, s, o, o+1, c.FileSize(s, o+1))
		}
		for _, r := range tc.ranges {
			chunks, err := tc.l.Split(0, r.off, r.n)
			fmt.Fprintf(&b, "split [%d, +%d) err=%v\n", r.off, r.n, err)
			for _, ch := range chunks {
				if ch.Hole() {
					fmt.Fprintf(&b, "  comp %d hole file [%d, +%d)\n", ch.Comp, ch.FileOff, ch.Len)
					continue
				}
				o, _ := tc.l.Object(ch)
				fmt.Fprintf(&b, "  comp %d stripe %d ost %d obj [%d, +%d) file [%d, +%d)\n",
					ch.Comp, ch.Stripe, o.OSTIndex, ch.ObjOff, ch.Len, ch.FileOff, ch.Len)
			}
		}
		for _, size := range tc.sizes {
			fmt.Fprintf(&b, "truncate %d:", size)
			for _, tr := range tc.l.TruncateSizes(0, size) {
				fmt.Fprintf(&b, " c%d/s%d=%d", tr.Comp, tr.Stripe, tr.Size)
			}
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	golden(t, "stripe_math.golden", b.Bytes())
}

func compAt(l *layout.Layout, off uint64) int {
	for i := range l.Components {
		if l.Components[i].Extent.Contains(off) {
			return i
		}
	}
	return -1
}
