package osdtest

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

func concurrentCases() []testCase {
	return []testCase{
		{name: "ConcurrentDistinct", run: testConcurrentDistinct},
		{name: "ConcurrentSame", run: testConcurrentSame},
		{name: "ConcurrentDestroy", opts: osd.Options{MaxOpenFiles: 2}, run: testConcurrentDestroy},
		{name: "ConcurrentPrecreate", run: testConcurrentPrecreate},
		{name: "ManyObjectsSmallCache", opts: osd.Options{MaxOpenFiles: 4}, run: testManyObjects},
	}
}

const workers = 8

func testConcurrentDistinct(t *testing.T, s osd.Store) {
	ctx := t.Context()
	const chunk, chunks = 16 * kib, 16
	var wg sync.WaitGroup
	for w := range workers {
		f := fid(uint32(w + 1))
		create(t, s, f)
		wg.Go(func() {
			data := pattern(chunk*chunks, uint64(100+w))
			for i := range chunks {
				c := (i * 7) % chunks // out of order
				if _, err := s.WriteAt(ctx, f, data[c*chunk:(c+1)*chunk], int64(c*chunk)); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
			got := make([]byte, len(data))
			if n, err := s.ReadAt(ctx, f, got, 0); err != nil || n != len(got) || !bytes.Equal(got, data) {
				t.Errorf("worker %d: read back n=%d err=%v equal=%v", w, n, err, bytes.Equal(got, data))
			}
		})
	}
	wg.Wait()
}

func testConcurrentSame(t *testing.T, s osd.Store) {
	ctx := t.Context()
	const stripe, piece = 64 * kib, 16 * kib
	f := fid(1)
	create(t, s, f)
	model := pattern(workers*stripe, 200)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for off := w * stripe; off < (w+1)*stripe; off += piece {
				if _, err := s.WriteAt(ctx, f, model[off:off+piece], int64(off)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	for r := range 2 {
		wg.Go(func() {
			p := make([]byte, 48*kib)
			for i := range 20 {
				off := int64((i*37 + r*11) % (workers * stripe))
				if _, err := s.ReadAt(ctx, f, p, off); err != nil && !errors.Is(err, io.EOF) {
					t.Errorf("reader %d: %v", r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantBytes(t, "after concurrent writers", read(t, s, f, 0, len(model)), model)
}

// testConcurrentDestroy runs I/O against objects that another goroutine
// keeps destroying and recreating; every error must be "not found", and
// afterwards a recreated object must be empty (no stale open file).
func testConcurrentDestroy(t *testing.T, s osd.Store) {
	ctx := t.Context()
	const objs, rounds = 4, 100
	for i := range objs {
		create(t, s, fid(uint32(i+1)))
	}
	ok := func(err error) bool { return err == nil || errors.Is(err, osd.ErrNotFound) }
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			p := pattern(8*kib, uint64(w))
			for i := range rounds {
				f := fid(uint32((w+i)%objs + 1))
				var err error
				switch i % 5 {
				case 0:
					_, err = s.WriteAt(ctx, f, p, int64(i%4)*4*kib)
				case 1:
					_, err = s.ReadAt(ctx, f, p, 0)
					if errors.Is(err, io.EOF) {
						err = nil
					}
				case 2:
					_, err = s.GetAttr(ctx, f)
				case 3:
					err = s.SetAttr(ctx, f, osd.Attr{UID: uint32(i)}, osd.AttrUID)
				case 4:
					err = s.Punch(ctx, f, 0, 4*kib)
				}
				if !ok(err) {
					t.Errorf("worker %d op %d on %v: %v", w, i%5, f, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range rounds {
			f := fid(uint32(i%objs + 1))
			if err := s.Destroy(ctx, f); !ok(err) {
				t.Errorf("Destroy %v: %v", f, err)
				return
			}
			if err := s.Create(ctx, f, osd.Attr{}); err != nil && !errors.Is(err, osd.ErrExists) {
				t.Errorf("Create %v: %v", f, err)
				return
			}
		}
	})
	wg.Wait()
	for i := range objs {
		f := fid(uint32(i + 1))
		if err := s.Destroy(ctx, f); !ok(err) {
			t.Fatal(err)
		}
		create(t, s, f)
		if a := attr(t, s, f); a.Size != 0 || a.Valid != 0 {
			t.Fatalf("recreated %v: size %d valid %#x", f, a.Size, a.Valid)
		}
		readEOF(t, s, f, 0, 10, 0)
	}
}

func testConcurrentPrecreate(t *testing.T, s osd.Store) {
	ctx := t.Context()
	var mu sync.Mutex
	var got []uint32
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range 5 {
				first, last, err := s.Precreate(ctx, testSeq, 10)
				if err != nil || last.Oid-first.Oid != 9 {
					t.Errorf("worker %d: Precreate %v..%v %v", w, first, last, err)
					return
				}
				mu.Lock()
				for o := first.Oid; o <= last.Oid; o++ {
					got = append(got, o)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	wantOids(t, "ids handed out", got, span(1, 200))
	wantOids(t, "objects", list(t, s, testSeq), span(1, 200))
}

// testManyObjects works on more objects than the store keeps open.
func testManyObjects(t *testing.T, s osd.Store) {
	const n = 40
	fids := make([]wire.FID, n)
	for i := range fids {
		fids[i] = fid(uint32(i + 1))
		create(t, s, fids[i])
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				if _, err := s.WriteAt(t.Context(), fids[i], pattern(kib, uint64(i)), 0); err != nil {
					t.Errorf("write %v: %v", fids[i], err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, f := range fids {
		wantBytes(t, f.String(), read(t, s, f, 0, kib), pattern(kib, uint64(i)))
	}
}
