package fusefs

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmarks measure the adapter's overhead: 1 MiB requests through a
// mount of the in-memory backend, against the same I/O on a local file in
// the same run (page cache, the ceiling). They report the mount's MB/s as
// usual, the local file's as local-MB/s, and fuse/local.

const (
	benchIO   = 1 << 20
	benchFile = 64 << 20 // the file wraps around at this size
)

func BenchmarkFUSEWrite1MiB(b *testing.B) {
	tm := mount(b, nil, Options{})
	buf := make([]byte, benchIO)
	write := func(path string, n int) time.Duration {
		fd, err := unix.Open(path, unix.O_CREAT|unix.O_WRONLY, 0644)
		must(b, "open", err)
		defer unix.Close(fd)
		start := time.Now()
		for i := range n {
			if _, err := unix.Pwrite(fd, buf, int64(i*benchIO%benchFile)); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	b.SetBytes(benchIO)
	b.ResetTimer()
	fuse := write(tm.path("f"), b.N)
	b.StopTimer()
	report(b, fuse, write(b.TempDir()+"/f", b.N))
}

func BenchmarkFUSERead1MiB(b *testing.B) {
	tm := mount(b, nil, Options{})
	local := b.TempDir() + "/f"
	data := make([]byte, benchFile)
	must(b, "write", os.WriteFile(tm.path("f"), data, 0644))
	must(b, "write", os.WriteFile(local, data, 0644))
	buf := make([]byte, benchIO)
	// read reads sequentially, opening the file again at every pass: the
	// mount keeps no page cache across opens, so every pass reaches the
	// backend (the local file reads from the page cache).
	read := func(path string, n int) time.Duration {
		start := time.Now()
		for i := 0; i < n; {
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			must(b, "open", err)
			for off := 0; off < benchFile && i < n; off, i = off+benchIO, i+1 {
				if k, err := unix.Read(fd, buf); err != nil || k != benchIO {
					b.Fatalf("read: %d %v", k, err)
				}
			}
			unix.Close(fd)
		}
		return time.Since(start)
	}
	b.SetBytes(benchIO)
	b.ResetTimer()
	fuse := read(tm.path("f"), b.N)
	b.StopTimer()
	report(b, fuse, read(local, b.N))
}

func report(b *testing.B, fuse, local time.Duration) {
	mbps := func(d time.Duration) float64 { return float64(b.N) * benchIO / 1e6 / d.Seconds() }
	b.ReportMetric(mbps(local), "local-MB/s")
	b.ReportMetric(local.Seconds()/fuse.Seconds(), "fuse/local")
}
