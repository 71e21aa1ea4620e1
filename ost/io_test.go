package ost

import (
	"bytes"
	"errors"
	"hash/crc32"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

func TestWriteReadRoundTrip(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	pre := precreate(t, imp, 0, 8)
	for i, tc := range []struct {
		off  uint64
		size int
	}{
		{0, 0}, {0, 1}, {7, 4095}, {4096, 4096}, {1 << 20, 1<<20 + 3}, {3, 16 << 20},
	} {
		fid := pre.First
		fid.Oid += uint32(i)
		data := pattern(tc.size, byte(i))
		rep := mustWrite(t, imp, fid, tc.off, data)
		wantSize := tc.off + uint64(tc.size)
		if tc.size == 0 {
			wantSize = 0
		}
		if rep.Size != wantSize {
			t.Errorf("size %d after writing %d at %d: got %d", tc.size, tc.size, tc.off, rep.Size)
		}
		got, rrep := mustRead(t, imp, fid, tc.off, tc.size)
		if !bytes.Equal(got, data) {
			t.Errorf("%d bytes at %d: read back differs", tc.size, tc.off)
		}
		if rrep.Size != wantSize {
			t.Errorf("read reply size %d, want %d", rrep.Size, wantSize)
		}
	}
	if st := c.param("obdfilter." + ostName(0) + ".stats"); !bytes.Contains([]byte(st), []byte("write_bytes")) {
		t.Errorf("stats lack write_bytes:\n%s", st)
	}
}

func TestSparseAndShortReads(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	data := pattern(1000, 9)
	mustWrite(t, imp, fid, 1<<20, data)

	// [0, 1 MiB) is a hole: zeros; then the data; the read stops at EOF.
	got, rep := mustRead(t, imp, fid, 0, 2<<20)
	if rep.Length != 1<<20+1000 || rep.Size != 1<<20+1000 {
		t.Fatalf("read of 2 MiB: length %d size %d, want %d", rep.Length, rep.Size, 1<<20+1000)
	}
	if !bytes.Equal(got[:1<<20], make([]byte, 1<<20)) {
		t.Error("hole does not read as zeros")
	}
	if !bytes.Equal(got[1<<20:], data) {
		t.Error("data after the hole differs")
	}
	// Entirely past EOF: nothing.
	got, rep = mustRead(t, imp, fid, 4<<20, 4096)
	if len(got) != 0 || rep.Length != 0 || rep.Checksum != 0 {
		t.Errorf("read past EOF: %d bytes, checksum %#x", len(got), rep.Checksum)
	}
	// A read of a missing object is ENOENT.
	missing := fid
	missing.Oid += 100
	if _, _, err := read(t, imp, missing, 0, 10); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("read of a missing object: %v, want ENOENT", err)
	}
	if _, err := write(t, imp, missing, 0, data, 0); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("write to a missing object: %v, want ENOENT", err)
	}
}

func TestChecksumMismatchRefused(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	data := pattern(64<<10, 1)
	bad := crc32.Checksum(data, castagnoli) ^ 1
	if _, err := write(t, imp, fid, 0, data, 0, bad); !errors.Is(err, syscall.EBADMSG) {
		t.Fatalf("write with a bad checksum: %v, want EBADMSG", err)
	}
	a, err := getattr(t, imp, fid)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != 0 || a.Blocks != 0 {
		t.Errorf("a refused write left size %d blocks %d", a.Size, a.Blocks)
	}

	// Data damaged on arrival (fail point) is refused the same way.
	c.srv.SetFailLoc(FailChecksumReceive|FailOnce, 0)
	if _, err := write(t, imp, fid, 0, data, 0); !errors.Is(err, syscall.EBADMSG) {
		t.Fatalf("write damaged in transit: %v, want EBADMSG", err)
	}
	if a, _ := getattr(t, imp, fid); a.Size != 0 {
		t.Errorf("damaged write left size %d", a.Size)
	}
	// FailOnce: the resend goes through.
	mustWrite(t, imp, fid, 0, data)
	if st := c.param("obdfilter." + ostName(0) + ".stats"); !bytes.Contains([]byte(st), []byte("checksum_errors           2 samples")) {
		t.Errorf("stats do not count 2 checksum errors:\n%s", st)
	}

	// Data damaged on the way out: the reply's checksum gives it away.
	c.srv.SetFailLoc(FailChecksumSend|FailOnce, 0)
	got, rep, err := read(t, imp, fid, 0, len(data))
	if err != nil {
		t.Fatal(err)
	}
	if crc32.Checksum(got, castagnoli) == rep.Checksum {
		t.Error("damaged read passed its checksum")
	}
	if got, _ := mustRead(t, imp, fid, 0, len(data)); !bytes.Equal(got, data) {
		t.Error("data on disk damaged by a read fail point")
	}
}

func TestIOLargerThanBulkRefused(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	data := pattern(8192, 3)
	req := &wire.IORequest{FID: fid, Length: 16384, Checksum: crc32.Checksum(data, castagnoli)}
	r, err := imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.OSTWrite, Encode: req, BulkOut: data})
	r.Release()
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("write longer than its bulk: %v, want EINVAL", err)
	}
	r, err = imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.OSTRead, Encode: req, BulkIn: make([]byte, 100)})
	r.Release()
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("read longer than its bulk: %v, want EINVAL", err)
	}
	// Above MaxIOSize the body itself is malformed.
	var e wire.Encoder
	e.FID(fid)
	e.U64(0)
	e.U32(wire.MaxIOSize + 1)
	e.U32(0)
	e.U64(0)
	r, err = imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.OSTWrite, Body: e.Bytes(), BulkOut: data})
	r.Release()
	if !errors.Is(err, syscall.EPROTO) {
		t.Errorf("write above MaxIOSize: %v, want EPROTO", err)
	}
	if a, _ := getattr(t, imp, fid); a.Size != 0 {
		t.Errorf("refused writes left size %d", a.Size)
	}
}

func TestENOSPC(t *testing.T) {
	checkLeaks(t)
	const capacity = 4 << 20
	c := newCluster(t, 1, capacity, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	chunk := pattern(1<<20, 5)
	var off uint64
	var err error
	for i := 0; i < 8; i++ {
		if _, err = write(t, imp, fid, off, chunk, 0); err != nil {
			break
		}
		off += uint64(len(chunk))
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing past a %d-byte capacity: %v, want ENOSPC", capacity, err)
	}
	if off == 0 || off > capacity {
		t.Fatalf("%d bytes fit in a %d-byte target", off, capacity)
	}
	// What was acknowledged reads back; the failed write left no partial data past it.
	got, rep := mustRead(t, imp, fid, 0, int(off)+len(chunk))
	if uint64(len(got)) != off || rep.Size != off {
		t.Errorf("after ENOSPC: read %d bytes, size %d, want %d", len(got), rep.Size, off)
	}
	var st wire.StatFS
	call(t, imp, wire.OSTStatfs, &wire.Empty{}, &st)
	if st.State&wire.StateNoSpace == 0 {
		t.Errorf("full target's statfs state %#x lacks S", st.State)
	}
	if st.Blocks*uint64(st.BSize) != capacity {
		t.Errorf("statfs total %d, want the capacity %d", st.Blocks*uint64(st.BSize), capacity)
	}
}

func TestGrants(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 64<<20, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	rep, err := write(t, imp, fid, 0, pattern(4096, 1), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Grant == 0 || rep.Grant > 1<<20 {
		t.Fatalf("asked for 1 MiB of grant, got %d", rep.Grant)
	}
	granted := rep.Grant
	if got := c.param("obdfilter." + ostName(0) + ".tot_granted"); got != strconv.FormatUint(granted, 10) {
		t.Errorf("tot_granted %s, want %d", got, granted)
	}
	// A write within the grant consumes it.
	rep = mustWrite(t, imp, fid, 4096, pattern(8192, 2))
	if rep.Grant != granted-8192 {
		t.Errorf("grant after an 8 KiB write: %d, want %d", rep.Grant, granted-8192)
	}
	// A read reports the grant and gives none.
	if _, rrep := mustRead(t, imp, fid, 0, 10); rrep.Grant != granted-8192 {
		t.Errorf("read reply grant %d, want %d", rrep.Grant, granted-8192)
	}
	// Disconnecting releases it.
	if err := imp.Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the departed client's grant to be released", func() bool {
		return c.param("obdfilter."+ostName(0)+".tot_granted") == "0"
	})
}

func TestSilentClientEvicted(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 64<<20, func(cfg *Config) { cfg.EvictIdle = 200 * time.Millisecond })
	imp := c.io() // does not ping
	fid := precreate(t, imp, 0, 1).First
	// Get some grant; a slow machine may see the client evicted first, in
	// which case it reconnects and tries again.
	for i := 0; ; i++ {
		rep, err := write(t, imp, fid, 0, pattern(4096, 1), 1<<20)
		if err == nil && rep.Grant > 0 {
			break
		}
		if !errors.Is(err, ptlrpc.ErrEvicted) || i == 5 {
			t.Fatalf("write: grant %d, %v", rep.Grant, err)
		}
	}
	waitUntil(t, "the silent client's eviction", func() bool {
		return c.param("obdfilter."+ostName(0)+".num_exports") == "0" &&
			c.param("obdfilter."+ostName(0)+".tot_granted") == "0"
	})
}
