package ldlm

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stria-fs/stria/wire"
)

// A client flooding one resource with requests is bounded by its share of
// the waiting queue (EBUSY, retried), and another client's request on the
// same resource waits behind at most that share; on other resources it is
// served at once.
func TestFloodFairness(t *testing.T) {
	checkLeaks(t)
	const share = 8
	cl := newCluster(t, func(c *Config) { c.MaxWaitingPerClient = share })
	h, a, b := cl.addClient(false), cl.addClient(false), cl.addClient(false)
	r := plain(50, wire.LockEX)
	held := h.enqueue(r)

	var seq atomic.Int64
	var wg sync.WaitGroup
	const flood = 40
	for i := 0; i < flood; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := a.c.Enqueue(testCtx(t), r, 0)
			if err != nil {
				t.Error(err)
				return
			}
			seq.Add(1)
			l.ReleaseCancel()
		}()
	}
	waitUntil(t, "the flooder refused", func() bool {
		s := cl.ns.Stats()
		return s.Busy > 0 && s.Waiting == share
	})
	// Others are served on other resources...
	b.enqueue(plain(51, wire.LockEX)).Release()
	// ...and queued, not refused, on the flooded one.
	bseq := make(chan int64, 1)
	go func() {
		l, err := b.c.Enqueue(testCtx(t), r, 0)
		if err != nil {
			t.Error(err)
			bseq <- -1
			return
		}
		bseq <- seq.Add(1)
		l.ReleaseCancel()
	}()
	waitUntil(t, "b queued", func() bool { return cl.ns.Stats().Waiting == share+1 })
	cl.mustCheck()
	held.ReleaseCancel()
	if got := <-bseq; got < 1 || got > share+1 {
		t.Fatalf("b was granted %dth, after more than the flooder's share of %d", got, share)
	}
	wg.Wait()
	if seq.Load() != flood+1 {
		t.Fatalf("%d grants", seq.Load())
	}
	cl.mustCheck()
}
