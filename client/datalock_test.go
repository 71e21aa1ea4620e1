package client

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// striped is a plain layout of count 64 KiB stripes on OSTs count-1..0
// (objects in descending OST order, to see the lock order sort them).
func striped(count int) *layout.Layout {
	l := layout.Plain(int32(count), 64<<10, 0, "")
	c := &l.Components[0]
	c.Flags |= layout.Init
	for i := range count {
		ost := uint32(count - 1 - i)
		c.Stripe.Objects = append(c.Stripe.Objects, layout.Object{OSTIndex: ost,
			FID: wire.FID{Seq: 0x100000000 | uint64(ost)<<16, Oid: uint32(10 + i)}})
	}
	return l
}

func TestIORanges(t *testing.T) {
	type r struct {
		ost        uint32
		start, end uint64
	}
	got := func(l *layout.Layout, off, n uint64) []r {
		var out []r
		for _, x := range ioRanges(l, 0, off, n) {
			out = append(out, r{x.obj.OSTIndex, x.start, x.end})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		l      *layout.Layout
		off, n uint64
		want   []r
	}{
		{"one byte", striped(1), 5, 1, []r{{0, 0, 4095}}},
		{"pages", striped(1), 4095, 2, []r{{0, 0, 8191}}},
		{"inside a stripe", striped(4), 65536 + 100, 200, []r{{2, 0, 4095}}},
		// Stripe 0 is on OST 3, stripe 1 on OST 2: [64K-100, 64K+100)
		// touches the end of object 0's first unit and the start of
		// object 1's.
		{"across stripes", striped(4), 65536 - 100, 200, []r{{2, 0, 4095}, {3, 61440, 65535}}},
		{"two rounds", striped(2), 0, 3 << 16, []r{{0, 0, 65535}, {1, 0, 131071}}},
		{"every object", striped(3), 0, wire.LockEOF, []r{{0, 0, wire.LockEOF}, {1, 0, wire.LockEOF}, {2, 0, wire.LockEOF}}},
		{"nothing", striped(2), 7, 0, nil},
	} {
		if g := got(tc.l, tc.off, tc.n); !slices.Equal(g, tc.want) {
			t.Errorf("%s: ranges %v, want %v", tc.name, g, tc.want)
		}
	}
}

// waitInvalidatedFile returns only once the file's queued invalidation
// ran, whatever other files have queued, and gives up with its context.
func TestWaitInvalidatedFile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fs := &FS{ctx: ctx, cancel: cancel}
	defer func() { cancel(); fs.wg.Wait() }()
	a, b := wire.FID{Seq: wire.SeqNormalStart, Oid: 1}, wire.FID{Seq: wire.SeqNormalStart, Oid: 2}
	release := make(chan struct{})
	var ran atomic.Bool
	fs.setInvalidator(a, func(int64, int64) { <-release; ran.Store(true) })
	fs.setInvalidator(b, func(int64, int64) {})

	if err := fs.waitInvalidatedFile(ctx, a); err != nil {
		t.Fatalf("nothing queued: %v", err)
	}
	fs.invalidate(a)
	fs.invalidate(b)
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if err := fs.waitInvalidatedFile(short, a); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for a running invalidation: %v, want the context's end", err)
	}
	done := make(chan error, 1)
	go func() { done <- fs.waitInvalidatedFile(ctx, a) }()
	close(release)
	if err := <-done; err != nil || !ran.Load() {
		t.Fatalf("wait returned %v, invalidation ran %v", err, ran.Load())
	}
}
