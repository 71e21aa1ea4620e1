package lov

import (
	"context"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// waitLimit guards against a hung test; nothing measures speed with it.
const waitLimit = 20 * time.Second

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

// rpc is one recorded RPC.
type rpc struct {
	op     string // "read", "write", "getattr", "punch", "setsize", "fallocate", "setmtime"
	fid    wire.FID
	off, n uint64
}

// fakeOST is a Target over in-memory objects that records every RPC.
type fakeOST struct {
	idx      uint32
	rpcSize  int
	noGrant  bool      // EnterCache never grants
	maxDirty int64     // 0: no bound
	gate     chan bool // if set, every read and write takes a value from it first
	failNext func(op string) error

	mu     sync.Mutex
	objs   map[wire.FID][]byte
	mtimes map[wire.FID]int64 // the latest mtime written with each object
	rpcs   []rpc
	now    int // RPCs in flight
	peak   int
	dirty  int64
	kicks  int
	change chan struct{}
}

func newFakeOST(idx uint32, rpcSize int) *fakeOST {
	return &fakeOST{idx: idx, rpcSize: rpcSize, objs: map[wire.FID][]byte{}, change: make(chan struct{})}
}

func (f *fakeOST) begin(op string, fid wire.FID, off, n uint64) error {
	f.mu.Lock()
	f.rpcs = append(f.rpcs, rpc{op, fid, off, n})
	f.now++
	f.peak = max(f.peak, f.now)
	fail := f.failNext
	f.mu.Unlock()
	if f.gate != nil && (op == "read" || op == "write") {
		<-f.gate
	}
	if fail != nil {
		return fail(op)
	}
	return nil
}

func (f *fakeOST) end() {
	f.mu.Lock()
	f.now--
	f.mu.Unlock()
}

func (f *fakeOST) Read(_ context.Context, fid wire.FID, off uint64, p []byte) (int, uint64, error) {
	defer f.end()
	if err := f.begin("read", fid, off, uint64(len(p))); err != nil {
		return 0, 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.objs[fid]
	if off >= uint64(len(o)) {
		return 0, uint64(len(o)), nil
	}
	return copy(p, o[off:]), uint64(len(o)), nil
}

func (f *fakeOST) Write(_ context.Context, fid wire.FID, off uint64, p []byte, sum uint32, mtime int64) (uint64, error) {
	defer f.end()
	if err := f.begin("write", fid, off, uint64(len(p))); err != nil {
		return 0, err
	}
	if crc32.Checksum(p, castagnoli) != sum {
		return 0, fmt.Errorf("fake OST: %v at %d: checksum %#08x of %d bytes is wrong (%w)", fid, off, sum, len(p), syscall.EBADMSG)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mtimes == nil {
		f.mtimes = map[wire.FID]int64{}
	}
	f.mtimes[fid] = max(f.mtimes[fid], mtime)
	o := f.objs[fid]
	if end := off + uint64(len(p)); end > uint64(len(o)) {
		o = append(o, make([]byte, end-uint64(len(o)))...)
	}
	copy(o[off:], p)
	f.objs[fid] = o
	return uint64(len(o)), nil
}

func (f *fakeOST) GetAttr(_ context.Context, fid wire.FID) (wire.Attr, error) {
	defer f.end()
	if err := f.begin("getattr", fid, 0, 0); err != nil {
		return wire.Attr{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := uint64(len(f.objs[fid]))
	a := wire.Attr{Valid: wire.AttrSize | wire.AttrBlocks, Size: n, Blocks: (n + 511) / 512}
	if m, ok := f.mtimes[fid]; ok {
		a.Valid, a.Mtime = a.Valid|wire.AttrMtime, m
	}
	return a, nil
}

func (f *fakeOST) resize(fid wire.FID, size uint64) {
	o := f.objs[fid]
	if size <= uint64(len(o)) {
		f.objs[fid] = o[:size]
	} else {
		f.objs[fid] = append(o, make([]byte, size-uint64(len(o)))...)
	}
}

func (f *fakeOST) Punch(_ context.Context, fid wire.FID, size uint64) error {
	defer f.end()
	if err := f.begin("punch", fid, size, 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if size < uint64(len(f.objs[fid])) {
		f.resize(fid, size)
	}
	return nil
}

func (f *fakeOST) SetSize(_ context.Context, fid wire.FID, size uint64) error {
	defer f.end()
	if err := f.begin("setsize", fid, size, 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resize(fid, size)
	return nil
}

// SetMtime records the call and sets the object's mtime.
func (f *fakeOST) SetMtime(_ context.Context, fid wire.FID, mtime int64) error {
	defer f.end()
	if err := f.begin("setmtime", fid, 0, 0); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mtimes == nil {
		f.mtimes = map[wire.FID]int64{}
	}
	f.mtimes[fid] = mtime
	return nil
}

// Fallocate records the call; mode 0 grows the object to off+n.
func (f *fakeOST) Fallocate(_ context.Context, fid wire.FID, off, n uint64, mode uint32) error {
	defer f.end()
	if err := f.begin("fallocate", fid, off, n); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if mode == 0 && off+n > uint64(len(f.objs[fid])) {
		f.resize(fid, off+n)
	}
	return nil
}

func (f *fakeOST) EnterCache(ctx context.Context, n int64, kick func()) (bool, error) {
	kicked := false
	f.mu.Lock()
	for f.maxDirty > 0 && f.dirty > 0 && f.dirty+n > f.maxDirty {
		ch := f.change
		f.mu.Unlock()
		if !kicked {
			kicked = true
			f.mu.Lock()
			f.kicks++
			f.mu.Unlock()
			kick()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		f.mu.Lock()
	}
	f.dirty += n
	f.mu.Unlock()
	return !f.noGrant, nil
}

func (f *fakeOST) ExitCache(n int64) {
	f.mu.Lock()
	f.dirty -= n
	if f.dirty < 0 {
		panic("dirty below zero")
	}
	close(f.change)
	f.change = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeOST) RPCSize() int { return f.rpcSize }

func (f *fakeOST) recorded(op string) []rpc {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []rpc
	for _, r := range f.rpcs {
		if r.op == op {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeOST) reset() {
	f.mu.Lock()
	f.rpcs, f.peak = nil, 0
	f.mu.Unlock()
}

// fakeTargets maps OST indexes to fakes.
type fakeTargets map[uint32]*fakeOST

func (ts fakeTargets) Target(_ context.Context, ost uint32) (Target, error) {
	if f, ok := ts[ost]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("no OST %d (%w)", ost, syscall.EIO)
}

func newTargets(n int, rpcSize int) fakeTargets {
	ts := fakeTargets{}
	for i := range n {
		ts[uint32(i)] = newFakeOST(uint32(i), rpcSize)
	}
	return ts
}

// objects returns count objects on OSTs 0..count-1 with distinct FIDs.
func objects(count int, seq uint32) []layout.Object {
	var out []layout.Object
	for i := range count {
		out = append(out, layout.Object{OSTIndex: uint32(i), FID: wire.FID{Seq: wire.SeqIDIFBase | uint64(i)<<16, Oid: seq*100 + uint32(i) + 1}})
	}
	return out
}

// plain returns an instantiated plain layout.
func plain(t testing.TB, count int, size uint32) *layout.Layout {
	t.Helper()
	l := layout.Plain(int32(count), size, 0, "")
	if err := l.Instantiate(0, objects(count, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l
}

// pfl returns a two-component layout: [0, end1) over count1 stripes, then
// [end1, EOF) over count2, the second instantiated only if init2.
func pfl(t testing.TB, end1 uint64, count1 int, count2 int, size uint32, init2 bool) *layout.Layout {
	t.Helper()
	l := &layout.Layout{}
	l.AddComponent(layout.Component{Extent: layout.Extent{Start: 0, End: end1},
		Stripe: layout.Stripe{Pattern: layout.PatternRAID0, Count: int32(count1), Size: size, Offset: -1}})
	l.AddComponent(layout.Component{Extent: layout.Extent{Start: end1, End: layout.EOF},
		Stripe: layout.Stripe{Pattern: layout.PatternRAID0, Count: int32(count2), Size: size, Offset: -1}})
	if err := l.Instantiate(0, objects(count1, 1)); err != nil {
		t.Fatal(err)
	}
	if init2 {
		if err := l.Instantiate(1, objects(count2, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l
}

// patternBase is a long run of bytes with no short period; pattern slices
// it (a copy is a memmove, much faster than a byte loop under -race).
var patternBase = sync.OnceValue(func() []byte {
	b := make([]byte, 24<<20+256)
	x := uint32(1)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
})

// pattern returns n bytes that differ for each seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	copy(b, patternBase()[int(seed):])
	return b
}

func sortRPCs(rs []rpc) []rpc {
	slices.SortFunc(rs, func(a, b rpc) int {
		if a.fid != b.fid {
			if a.fid.Oid < b.fid.Oid {
				return -1
			}
			return 1
		}
		return int(a.off) - int(b.off)
	})
	return rs
}
