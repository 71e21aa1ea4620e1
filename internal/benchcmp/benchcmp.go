// Package benchcmp measures a benchmark against its ceiling in the same
// run: the raw baseline and our code take turns in chunks, so that both see
// the same machine. On a shared machine the load changes faster than a
// benchmark runs, and ratios taken from separate runs mean little.
package benchcmp

import (
	"net"
	"testing"
	"time"
)

// Interleave runs b.N operations of raw and of ours in alternating chunks
// of at most chunk operations, and reports raw's time over ours as the
// metric unit (e.g. "x-of-raw-tcp"). The benchmark timer runs during ours
// only; it returns the time ours took.
func Interleave(b *testing.B, chunk int, unit string, raw, ours func(n int)) time.Duration {
	chunk = max(chunk, 1)
	b.ReportAllocs()
	b.ResetTimer()
	var rawD, ourD time.Duration
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		b.StopTimer()
		start := time.Now()
		raw(n)
		rawD += time.Since(start)
		b.StartTimer()
		start = time.Now()
		ours(n)
		ourD += time.Since(start)
	}
	b.StopTimer()
	if ourD > 0 {
		b.ReportMetric(float64(rawD)/float64(ourD), unit)
	}
	return ourD
}

// TCPPair returns the two ends of a loopback TCP connection, closed when
// the benchmark ends: the raw baseline of the network benchmarks.
func TCPPair(b testing.TB) (client, server net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			b.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		_ = client.Close()
		b.FailNow()
	}
	b.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}
