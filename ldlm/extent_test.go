package ldlm

import (
	"testing"

	"github.com/stria-fs/stria/wire"
)

const eof = wire.LockEOF

func extLock(cl *client, mode wire.LockMode, s, e uint64, granted bool) *lock {
	d := wire.LockDesc{Type: wire.LockExtent, Mode: mode, Policy: wire.Policy{Start: s, End: e}}
	lk := &lock{cl: cl, req: d, granted: granted}
	if granted {
		lk.mode, lk.policy = mode, d.Policy
	}
	return lk
}

// expandExtent against hand-built queues: Lustre's rules.
func TestExtentExpansion(t *testing.T) {
	a, b := &client{}, &client{}
	const mib = 1 << 20
	type ext struct{ s, e uint64 }
	for _, tc := range []struct {
		name    string
		granted []*lock
		waiting []*lock
		req     *lock
		flags   wire.LockFlags
		want    ext
	}{
		{name: "uncontended", req: extLock(a, wire.LockPW, mib, 2*mib-1, false), want: ext{0, eof}},
		{name: "compatible readers do not limit",
			granted: []*lock{extLock(b, wire.LockPR, 0, eof, true)},
			req:     extLock(a, wire.LockPR, mib, 2*mib-1, false), want: ext{0, eof}},
		{name: "a writer below, aligned to the request's 1 MiB",
			granted: []*lock{extLock(b, wire.LockPW, 0, 4095, true)},
			req:     extLock(a, wire.LockPW, mib, 2*mib-1, false), want: ext{mib, eof}},
		{name: "a writer below, page-aligned request",
			granted: []*lock{extLock(b, wire.LockPW, 0, 4095, true)},
			req:     extLock(a, wire.LockPW, 3*4096, 4*4096-1, false), want: ext{4096, eof}},
		{name: "writers on both sides, aligned to the request",
			granted: []*lock{extLock(b, wire.LockPW, 0, 100*4096+5, true), extLock(b, wire.LockPR, 10*mib+7, eof, true)},
			req:     extLock(a, wire.LockPW, mib, 2*mib-1, false), want: ext{mib, 10*mib - 1}},
		{name: "page alignment",
			granted: []*lock{extLock(b, wire.LockPW, 0, 5000, true), extLock(b, wire.LockPW, 3*mib+100, eof, true)},
			req:     extLock(a, wire.LockPW, 16384, 20479, false), want: ext{8192, 3*mib - 1}},
		{name: "unaligned request is not rounded",
			granted: []*lock{extLock(b, wire.LockPW, 0, 99, true), extLock(b, wire.LockPW, 1000, eof, true)},
			req:     extLock(a, wire.LockPW, 200, 299, false), want: ext{100, 999}},
		{name: "a waiting writer above limits growth",
			waiting: []*lock{extLock(b, wire.LockPW, 8*mib, 9*mib-1, false)},
			req:     extLock(a, wire.LockPR, 0, mib-1, false), want: ext{0, 8*mib - 1}},
		{name: "a waiting request overlapping ours is ignored",
			waiting: []*lock{extLock(b, wire.LockPW, mib/2, 3*mib, false)},
			req:     extLock(a, wire.LockPR, 0, mib-1, false), want: ext{0, eof}},
		{name: "a waiting compatible lock of another client is ignored",
			waiting: []*lock{extLock(b, wire.LockPR, 8*mib, 9*mib-1, false)},
			req:     extLock(a, wire.LockPR, 0, mib-1, false), want: ext{0, eof}},
		{name: "our own waiting compatible lock limits",
			waiting: []*lock{extLock(a, wire.LockPR, 8*mib, 9*mib-1, false)},
			req:     extLock(a, wire.LockPR, 0, mib-1, false), want: ext{0, 8*mib - 1}},
		{name: "no expansion flag", req: extLock(a, wire.LockPW, mib, 2*mib-1, false),
			flags: wire.LockFlagNoExpansion, want: ext{mib, 2*mib - 1}},
		{name: "local lock", req: extLock(nil, wire.LockPW, mib, 2*mib-1, false), want: ext{mib, 2*mib - 1}},
		{name: "group lock", req: func() *lock {
			l := extLock(a, wire.LockGroup, mib, 2*mib-1, false)
			l.req.Policy.GID = 3
			return l
		}(), want: ext{mib, 2*mib - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &resource{typ: wire.LockExtent, granted: tc.granted, waiting: tc.waiting}
			tc.req.flags = tc.flags
			got := r.expandExtent(tc.req)
			if got.Start != tc.want.s || got.End != tc.want.e {
				t.Fatalf("granted [%d, %d], want [%d, %d]", got.Start, got.End, tc.want.s, tc.want.e)
			}
		})
	}
}

// Under contention growth stops: no growing down past 4 conflicting
// locks, at most 32 MiB up past 32.
func TestExtentExpansionContended(t *testing.T) {
	a, b := &client{}, &client{}
	const mib = 1 << 20
	var granted []*lock
	for i := uint64(0); i < 5; i++ {
		granted = append(granted, extLock(b, wire.LockPW, i*4096, i*4096+4095, true))
	}
	r := &resource{typ: wire.LockExtent, granted: granted}
	req := extLock(a, wire.LockPW, 64*mib, 65*mib-1, false)
	if got := r.expandExtent(req); got.Start != 64*mib || got.End != eof {
		t.Fatalf("5 conflicting: [%d, %d]", got.Start, got.End)
	}
	for i := uint64(5); i < 40; i++ {
		r.granted = append(r.granted, extLock(b, wire.LockPR, i*4096, i*4096+4095, true))
	}
	if got := r.expandExtent(req); got.Start != 64*mib || got.End != 64*mib+32*mib-1 {
		t.Fatalf("40 conflicting: [%d, %d]", got.Start, got.End)
	}
	// A reader is not capped (its conflicts are the writers only).
	rd := extLock(a, wire.LockPR, 64*mib, 65*mib-1, false)
	if got := r.expandExtent(rd); got.End != eof {
		t.Fatalf("reader capped at %d", got.End)
	}
	// Near the end of the address space the cap cannot overflow.
	hi := extLock(a, wire.LockPW, eof-4095, eof, false)
	if got := r.expandExtent(hi); got.Start != eof-4095 || got.End != eof {
		t.Fatalf("top of the range: [%d, %d]", got.Start, got.End)
	}
}
