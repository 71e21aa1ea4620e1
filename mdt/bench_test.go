package mdt

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/wire"
)

// TestConcurrentCreates creates files from many goroutines at once: every
// file gets objects of its own, all on the OSTs, and unlinking them all
// destroys every object.
func TestConcurrentCreates(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, 2)
	d := e.mkdir(wire.RootFID, "d", tmpl(t, -1, 0, -1))
	const workers, each = 8, 25
	var mu sync.Mutex
	seen := map[layout.Object]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rep, err := e.open(rootCreds, d, fmt.Sprintf("f-%d-%d", w, i), syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, nil)
				if err != nil {
					errs <- err
					return
				}
				l, err := layout.Decode(rep.Layout)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, o := range objects(l) {
					if seen[o] {
						mu.Unlock()
						errs <- fmt.Errorf("object %v given twice", o)
						return
					}
					seen[o] = true
				}
				mu.Unlock()
				if _, err := e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: rep.FID, Handle: rep.Handle}, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != 2*workers*each {
		t.Fatalf("%d objects for %d files of 2 stripes", len(seen), workers*each)
	}
	var objs []layout.Object
	for o := range seen {
		if !e.oss.Has(o.OSTIndex, o.FID) {
			t.Fatalf("object %v missing", o)
		}
		objs = append(objs, o)
	}
	for w := range workers {
		for i := range each {
			e.unlink(d, fmt.Sprintf("f-%d-%d", w, i))
		}
	}
	waitFor(t, "every object destroyed", func() bool { return e.gone(objs) })
}

// BenchmarkCreate is mdtest-easy's create phase through the whole stack:
// open(O_CREAT|O_EXCL) and close of empty files in one directory from many
// client threads, each file getting one object from the precreated pools
// of two OSTs, with every create committed (fsync'd, in groups) before its
// reply. It reports creates per second.
func BenchmarkCreate(b *testing.B) {
	e := newBenchEnv(b)
	d := e.mkdir(wire.RootFID, "d", nil)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			rep, err := e.open(rootCreds, d, fmt.Sprintf("f%d", i), syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := e.call(rootCreds, wire.MDSClose, &wire.CloseRequest{FID: rep.FID, Handle: rep.Handle}, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "creates/s")
	b.StopTimer()
}
