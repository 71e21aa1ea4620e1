package osd_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

// The I/O benchmarks measure the dir engine and, in the same run on the same
// file system, the same I/O done raw on a plain file, and report the
// engine's throughput as a fraction of raw ("x-of-raw-disk"; 1.0 is no
// overhead). All work on a 64 MiB file written in full first.
//
// A write is durable, as the OST needs it per RPC: WriteAt then SyncObject
// for the engine; for raw the better of pwrite+fsync through the page cache
// and O_DIRECT pwrite+fsync, both measured (raw-buffered-MB/s,
// raw-direct-MB/s), so the engine's choice between them is judged against
// the best the disk offers. A read is pread through the page cache: both
// files are read once first, so both are cached (the engine's large writes
// went past the page cache).

const (
	benchIO   = 1 << 20
	benchSpan = 64 << 20
)

func BenchmarkWrite1MiB(b *testing.B)         { benchRW(b, true, osd.Options{}) }
func BenchmarkWrite1MiBBuffered(b *testing.B) { benchRW(b, true, osd.Options{BufferedWrites: true}) }
func BenchmarkRead1MiB(b *testing.B)          { benchRW(b, false, osd.Options{}) }

func benchRW(b *testing.B, write bool, opts osd.Options) {
	ctx := b.Context()
	dir := b.TempDir()
	if _, err := osd.Format(filepath.Join(dir, "ost"), osd.Label{FSName: "bench"}, false); err != nil {
		b.Fatal(err)
	}
	d, err := osd.OpenDir(filepath.Join(dir, "ost"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	fid := wire.FID{Seq: 0x2c0000400, Oid: 1}
	if err := d.Create(ctx, fid, osd.Attr{}); err != nil {
		b.Fatal(err)
	}
	raw, err := os.Create(filepath.Join(dir, "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	buf := osd.AlignedBuf(benchIO, benchIO) // as the OST's pooled buffers
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for off := int64(0); off < benchSpan; off += benchIO {
		if _, err := raw.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		if _, err := d.WriteAt(ctx, fid, buf, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := raw.Sync(); err != nil {
		b.Fatal(err)
	}
	if !write {
		for off := int64(0); off < benchSpan; off += benchIO {
			if _, err := raw.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
			if _, err := d.ReadAt(ctx, fid, buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
	offset := func(i int) int64 { return int64(i) * benchIO % benchSpan }

	var rawTime time.Duration
	var rawMetrics map[string]float64
	if write {
		rawTime, rawMetrics = rawDurableWrites(b, raw, buf, offset)
	} else {
		start := time.Now()
		for i := range b.N {
			if _, err := raw.ReadAt(buf, offset(i)); err != nil {
				b.Fatal(err)
			}
		}
		rawTime = time.Since(start)
	}

	b.SetBytes(benchIO)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if write {
			if _, err = d.WriteAt(ctx, fid, buf, offset(i)); err == nil {
				err = d.SyncObject(ctx, fid)
			}
		} else {
			_, err = d.ReadAt(ctx, fid, buf, offset(i))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(rawTime.Seconds()/b.Elapsed().Seconds(), "x-of-raw-disk")
	for unit, v := range rawMetrics {
		b.ReportMetric(v, unit)
	}
}

// rawDurableWrites times b.N durable 1 MiB writes to raw both ways and
// returns the faster's time and each one's throughput.
func rawDurableWrites(b *testing.B, raw *os.File, buf []byte, offset func(int) int64) (time.Duration, map[string]float64) {
	mbps := func(d time.Duration) float64 { return float64(b.N) * benchIO / 1e6 / d.Seconds() }
	m := map[string]float64{}
	start := time.Now()
	for i := range b.N {
		if _, err := raw.WriteAt(buf, offset(i)); err != nil {
			b.Fatal(err)
		}
		if err := raw.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	best := time.Since(start)
	m["raw-buffered-MB/s"] = mbps(best)
	direct, err := os.OpenFile(raw.Name(), os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		b.Logf("no O_DIRECT here (%v): the ceiling is buffered", err)
		return best, m
	}
	defer direct.Close()
	start = time.Now()
	for i := range b.N {
		if _, err := direct.WriteAt(buf, offset(i)); err != nil {
			b.Fatal(err)
		}
		if err := direct.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	t := time.Since(start)
	m["raw-direct-MB/s"] = mbps(t)
	return min(best, t), m
}
