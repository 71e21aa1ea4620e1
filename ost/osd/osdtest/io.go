package osdtest

import (
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

func ioCases() []testCase {
	return []testCase{
		{name: "ReadWrite", run: testReadWrite},
		{name: "BadRanges", run: testBadRanges},
		{name: "Holes", run: testHoles},
		{name: "Punch", run: testPunch},
		{name: "PunchToEOF", run: testPunchToEOF},
		{name: "Truncate", run: testTruncate},
	}
}

func testReadWrite(t *testing.T, s osd.Store) {
	f := fid(1)
	create(t, s, f)
	readEOF(t, s, f, 0, 10, 0) // empty object
	model := pattern(100*kib, 1)
	write(t, s, f, model, 0)
	wantBytes(t, "after write", read(t, s, f, 0, len(model)), model)
	over := pattern(10*kib, 2)
	write(t, s, f, over, 5000)
	copy(model[5000:], over)
	wantBytes(t, "after overwrite", read(t, s, f, 0, len(model)), model)
	wantBytes(t, "middle", read(t, s, f, 4000, 20*kib), model[4000:4000+20*kib])
	wantSize(t, s, f, int64(len(model)))

	// Past EOF: short with io.EOF, never an error of another kind.
	got := readEOF(t, s, f, int64(len(model))-100, 4*kib, 100)
	wantBytes(t, "tail", got, model[len(model)-100:])
	readEOF(t, s, f, int64(len(model)), 10, 0)
	readEOF(t, s, f, 10*mib, 10, 0)

	// Empty reads and writes are no-ops.
	if n, err := s.ReadAt(t.Context(), f, nil, 0); n != 0 || err != nil {
		t.Fatalf("empty ReadAt: %d %v", n, err)
	}
	if n, err := s.WriteAt(t.Context(), f, nil, 50*mib); n != 0 || err != nil {
		t.Fatalf("empty WriteAt: %d %v", n, err)
	}
	wantSize(t, s, f, int64(len(model)))

	// Appending grows the object.
	tail := pattern(3000, 3)
	write(t, s, f, tail, int64(len(model)))
	model = append(model, tail...)
	wantSize(t, s, f, int64(len(model)))
	wantBytes(t, "after append", read(t, s, f, 0, len(model)), model)
}

func testBadRanges(t *testing.T, s osd.Store) {
	f := fid(1)
	create(t, s, f)
	ctx := t.Context()
	_, err := s.ReadAt(ctx, f, make([]byte, 1), -1)
	wantErr(t, "ReadAt -1", err, osd.ErrInvalid, syscall.EINVAL)
	_, err = s.WriteAt(ctx, f, make([]byte, 1), -1)
	wantErr(t, "WriteAt -1", err, osd.ErrInvalid, syscall.EINVAL)
	wantErr(t, "Punch -1", s.Punch(ctx, f, -1, 10), osd.ErrInvalid, syscall.EINVAL)
	wantErr(t, "Punch len -1", s.Punch(ctx, f, 0, -1), osd.ErrInvalid, syscall.EINVAL)
	wantErr(t, "Truncate -1", s.Truncate(ctx, f, -1), osd.ErrInvalid, syscall.EINVAL)
	_, err = s.WriteAt(ctx, f, make([]byte, 10), osd.MaxObjectSize-5)
	wantErr(t, "WriteAt past max size", err, osd.ErrTooBig, syscall.EFBIG)
	wantSize(t, s, f, 0)
}

func testHoles(t *testing.T, s osd.Store) {
	f := fid(1)
	create(t, s, f)
	data := pattern(4*kib, 4)
	write(t, s, f, data, mib)
	wantSize(t, s, f, mib+4*kib)
	wantZeros(t, "hole", read(t, s, f, 0, mib))
	wantBytes(t, "data after hole", read(t, s, f, mib, 4*kib), data)
	got := read(t, s, f, mib-10, 20)
	wantZeros(t, "hole edge", got[:10])
	wantBytes(t, "data edge", got[10:], data[:10])
	if a := attr(t, s, f); a.Blocks*osd.BlockSize >= 512*kib {
		t.Fatalf("sparse object holds %d bytes of blocks; the hole was allocated", a.Blocks*osd.BlockSize)
	}

	// A read across a hole to past EOF: zeros, data, then io.EOF.
	p := make([]byte, 2*mib)
	n, err := s.ReadAt(t.Context(), f, p, 0)
	if n != mib+4*kib || !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt across hole: n=%d err=%v", n, err)
	}
	wantZeros(t, "hole in long read", p[:mib])
	wantBytes(t, "data in long read", p[mib:n], data)
}

func testPunch(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	model := pattern(mib, 5)
	write(t, s, f, model, 0)
	before := attr(t, s, f).Blocks

	// An aligned punch frees its blocks and keeps the size.
	if err := s.Punch(ctx, f, 256*kib, 256*kib); err != nil {
		t.Fatal(err)
	}
	clear(model[256*kib : 512*kib])
	wantSize(t, s, f, mib)
	wantBytes(t, "after punch", read(t, s, f, 0, mib), model)
	after := attr(t, s, f).Blocks
	if freed := (before - after) * osd.BlockSize; freed < 256*kib {
		t.Fatalf("punch of 256 KiB freed %d bytes (blocks %d -> %d)", freed, before, after)
	}

	// An unaligned punch zeroes exactly its range.
	if err := s.Punch(ctx, f, 700000, 10001); err != nil {
		t.Fatal(err)
	}
	clear(model[700000:710001])
	wantBytes(t, "after unaligned punch", read(t, s, f, 0, mib), model)

	// A punch running past EOF zeroes the tail and keeps the size.
	if err := s.Punch(ctx, f, mib-1000, mib); err != nil {
		t.Fatal(err)
	}
	clear(model[mib-1000:])
	wantSize(t, s, f, mib)
	wantBytes(t, "after punch past EOF", read(t, s, f, 0, mib), model)

	// Beyond EOF and of length 0: nothing changes.
	if err := s.Punch(ctx, f, 4*mib, mib); err != nil {
		t.Fatal(err)
	}
	if err := s.Punch(ctx, f, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Punch(ctx, f, 1<<60, mib); err != nil {
		t.Fatalf("punch past the largest object: %v", err)
	}
	wantSize(t, s, f, mib)
	wantBytes(t, "after no-op punches", read(t, s, f, 0, mib), model)
}

func testPunchToEOF(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	model := pattern(64*kib, 6)
	write(t, s, f, model, 0)
	if err := s.Punch(ctx, f, 1000, osd.PunchToEOF); err != nil {
		t.Fatal(err)
	}
	wantSize(t, s, f, 1000)
	wantBytes(t, "kept", readEOF(t, s, f, 0, 4*kib, 1000), model[:1000])

	// As OST_PUNCH with end = EOF, it also grows the object.
	if err := s.Punch(ctx, f, 5000, osd.PunchToEOF); err != nil {
		t.Fatal(err)
	}
	wantSize(t, s, f, 5000)
	got := read(t, s, f, 0, 5000)
	wantBytes(t, "kept after growth", got[:1000], model[:1000])
	wantZeros(t, "grown tail", got[1000:])
}

func testTruncate(t *testing.T, s osd.Store) {
	ctx := t.Context()
	f := fid(1)
	create(t, s, f)
	model := pattern(64*kib, 7)
	write(t, s, f, model, 0)
	if err := s.Truncate(ctx, f, 10000); err != nil {
		t.Fatal(err)
	}
	wantSize(t, s, f, 10000)
	wantBytes(t, "after shrink", readEOF(t, s, f, 0, 64*kib, 10000), model[:10000])

	// Growing again must not bring the old bytes back.
	if err := s.Truncate(ctx, f, 64*kib); err != nil {
		t.Fatal(err)
	}
	got := read(t, s, f, 0, 64*kib)
	wantBytes(t, "kept after regrow", got[:10000], model[:10000])
	wantZeros(t, "regrown", got[10000:])

	if err := s.Truncate(ctx, f, 0); err != nil {
		t.Fatal(err)
	}
	if a := attr(t, s, f); a.Size != 0 || a.Blocks != 0 {
		t.Fatalf("after truncate to 0: size %d blocks %d", a.Size, a.Blocks)
	}
}
