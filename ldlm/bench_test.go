package ldlm

import (
	"context"
	"testing"
	"time"

	"github.com/stria-fs/stria/wire"
)

func reportOps(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// BenchmarkEnqueueCancel: one lock taken from the server and given back,
// LDLM_ENQUEUE and LDLM_CANCEL round trips over lolnd.
func BenchmarkEnqueueCancel(b *testing.B) {
	cl := newCluster(b)
	a := cl.addClient(false, func(c *ClientConfig) { c.NoEarlyCancel = true })
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		d := plain(uint64(i%64), wire.LockPW)
		l, err := a.c.Enqueue(ctx, d, 0)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
		if a.c.CancelUnused(ctx, &d.Res) != 1 {
			b.Fatal("lock not cached")
		}
	}
	reportOps(b, start)
}

// BenchmarkMatch: a request served from the client's cache.
func BenchmarkMatch(b *testing.B) {
	cl := newCluster(b)
	a := cl.addClient(false)
	ctx := context.Background()
	a.enqueue(extent(1, wire.LockPW, 0, wire.LockEOF)).Release()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		l, err := a.c.Enqueue(ctx, extent(1, wire.LockPR, uint64(i)*4096, uint64(i)*4096+4095), 0)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
	reportOps(b, start)
}

// BenchmarkPingPong: two clients take turns with an EX lock on one
// resource; each turn is an enqueue, a blocking callback, the other's
// cancel and a completion callback.
func BenchmarkPingPong(b *testing.B) {
	cl := newCluster(b)
	cs := []*tclient{cl.addClient(false), cl.addClient(false)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		l, err := cs[i%2].c.Enqueue(ctx, plain(1, wire.LockEX), 0)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
	reportOps(b, start)
}
