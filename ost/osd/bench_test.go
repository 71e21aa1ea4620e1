package osd_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

// The I/O benchmarks measure the dir engine and, in the same run on the same
// file system, raw pwrite/pread through an os.File, and report the engine's
// throughput as a fraction of raw ("x-of-raw-disk"; 1.0 is no overhead).
// Both work on a 64 MiB file written in full first, so they compare the
// same page-cache-resident overwrite and read paths.

const (
	benchIO   = 1 << 20
	benchSpan = 64 << 20
)

func BenchmarkWrite1MiB(b *testing.B) { benchRW(b, true) }
func BenchmarkRead1MiB(b *testing.B)  { benchRW(b, false) }

func benchRW(b *testing.B, write bool) {
	ctx := b.Context()
	dir := b.TempDir()
	if _, err := osd.Format(filepath.Join(dir, "ost"), osd.Label{FSName: "bench"}, false); err != nil {
		b.Fatal(err)
	}
	d, err := osd.OpenDir(filepath.Join(dir, "ost"), osd.Options{})
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
	buf := make([]byte, benchIO)
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
	offset := func(i int) int64 { return int64(i) * benchIO % benchSpan }

	start := time.Now()
	for i := range b.N {
		if write {
			_, err = raw.WriteAt(buf, offset(i))
		} else {
			_, err = raw.ReadAt(buf, offset(i))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	rawTime := time.Since(start)

	b.SetBytes(benchIO)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if write {
			_, err = d.WriteAt(ctx, fid, buf, offset(i))
		} else {
			_, err = d.ReadAt(ctx, fid, buf, offset(i))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(rawTime.Seconds()/b.Elapsed().Seconds(), "x-of-raw-disk")
}
