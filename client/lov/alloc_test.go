package lov

import (
	"errors"
	"syscall"
	"testing"
)

// TestAllocate: one OST_FALLOCATE per object the range touches, covering
// its part; mode 0 makes the file exactly as long as the range's end.
func TestAllocate(t *testing.T) {
	for _, c := range []struct {
		name     string
		off, n   uint64
		want     map[uint32]rpc // OST → its one fallocate (fid filled in below)
		wantSize uint64
	}{
		{"within a stripe", 1024, 4096, map[uint32]rpc{0: {off: 1024, n: 4096}}, 1024 + 4096},
		{"across stripes", 512 << 10, 2 << 20, map[uint32]rpc{
			0: {off: 512 << 10, n: 512 << 10}, 1: {off: 0, n: 1 << 20}, 2: {off: 0, n: 512 << 10}}, 512<<10 + 2<<20},
		{"several rounds", 0, 10 << 20, map[uint32]rpc{
			0: {off: 0, n: 3 << 20}, 1: {off: 0, n: 3 << 20}, 2: {off: 0, n: 2 << 20}, 3: {off: 0, n: 2 << 20}}, 10 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTargets(4, 4<<20)
			l := plain(t, 4, 1<<20)
			if err := Allocate(ctx(t), ts, l, 0, c.off, c.n, 0); err != nil {
				t.Fatal(err)
			}
			for i, f := range ts {
				got := f.recorded("fallocate")
				w, ok := c.want[i]
				switch {
				case !ok && len(got) != 0:
					t.Errorf("OST %d got %+v, want none", i, got)
				case ok && (len(got) != 1 || got[0].off != w.off || got[0].n != w.n ||
					got[0].fid != l.Components[0].Stripe.Objects[i].FID):
					t.Errorf("OST %d got %+v, want one of %d at %d", i, got, w.n, w.off)
				}
			}
			sz, err := Glimpse(ctx(t), ts, l)
			if err != nil || sz.Size != c.wantSize {
				t.Errorf("size after fallocate %d (%v), want %d", sz.Size, err, c.wantSize)
			}
		})
	}
}

func TestAllocateRefused(t *testing.T) {
	ts := newTargets(4, 4<<20)
	// The second component is not instantiated: as a write, EOPNOTSUPP.
	l := pfl(t, 1<<20, 2, 2, 64<<10, false)
	err := Allocate(ctx(t), ts, l, 0, 512<<10, 1<<20, 0)
	if !errors.Is(err, ErrNeedIntent) || !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("fallocate into an uninstantiated component: %v, want ErrNeedIntent (EOPNOTSUPP)", err)
	}
	// An OST's error reaches the caller.
	l = plain(t, 2, 1<<20)
	ts[1].failNext = func(op string) error { return syscall.ENOSPC }
	if err := Allocate(ctx(t), ts, l, 0, 0, 2<<20, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("fallocate with an OST out of space: %v, want ENOSPC", err)
	}
	if err := Allocate(ctx(t), ts, l, 0, 0, 0, 0); err != nil {
		t.Errorf("fallocate of nothing: %v", err)
	}
}
