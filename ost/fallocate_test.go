package ost

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// fallocate sends OST_FALLOCATE and returns the object's attributes after.
func fallocate(t testing.TB, imp *ptlrpc.Import, fid wire.FID, off, length uint64, mode uint32) (wire.Attr, error) {
	t.Helper()
	var rep wire.ObjectAttrRequest
	err := try(t, imp, wire.OSTFallocate, &wire.FallocateRequest{FID: fid, Offset: off, Length: length, Mode: mode}, &rep)
	return rep.Attr, err
}

func TestFallocate(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	data := pattern(100, 3)
	mustWrite(t, imp, fid, 0, data)

	// KEEP_SIZE allocates without moving the size; the data stays.
	a, err := fallocate(t, imp, fid, 50, 1<<20, wire.FallocKeepSize)
	if err != nil {
		t.Fatalf("fallocate KEEP_SIZE: %v", err)
	}
	if a.Size != 100 || a.Blocks*512 < 1<<20 {
		t.Errorf("after fallocate KEEP_SIZE of 1 MiB: size %d blocks %d, want 100 and >= 2048", a.Size, a.Blocks)
	}
	if got, _ := mustRead(t, imp, fid, 0, 200); !bytes.Equal(got, data) {
		t.Error("data changed under a KEEP_SIZE fallocate")
	}

	// Mode 0 grows the object to the end of the range; it reads as zeros.
	if a, err = fallocate(t, imp, fid, 1024, 4096, 0); err != nil {
		t.Fatalf("fallocate: %v", err)
	}
	if a.Size != 1024+4096 {
		t.Errorf("after fallocate of [1024, 5120): size %d, want 5120", a.Size)
	}
	got, _ := mustRead(t, imp, fid, 0, 8192)
	if len(got) != 5120 || !bytes.Equal(got[:100], data) || !bytes.Equal(got[100:], make([]byte, 5020)) {
		t.Errorf("after fallocate read %d bytes, want the data then zeros up to 5120", len(got))
	}

	// PUNCH_HOLE|KEEP_SIZE deallocates and keeps the size.
	if a, err = fallocate(t, imp, fid, 0, 50, wire.FallocPunchHole|wire.FallocKeepSize); err != nil {
		t.Fatalf("fallocate PUNCH_HOLE: %v", err)
	}
	if a.Size != 5120 {
		t.Errorf("punch changed the size to %d", a.Size)
	}
	got, _ = mustRead(t, imp, fid, 0, 100)
	if !bytes.Equal(got[:50], make([]byte, 50)) || !bytes.Equal(got[50:], data[50:]) {
		t.Error("punched range does not read as zeros, or the rest changed")
	}

	// Refusals: unserved modes, empty ranges, missing objects.
	for _, mode := range []uint32{wire.FallocPunchHole, 0x10 /* ZERO_RANGE */, 0x08 /* COLLAPSE_RANGE */} {
		if _, err := fallocate(t, imp, fid, 0, 10, mode); !errors.Is(err, syscall.EOPNOTSUPP) {
			t.Errorf("fallocate mode %#x: %v, want EOPNOTSUPP", mode, err)
		}
	}
	if _, err := fallocate(t, imp, fid, 0, 0, 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("fallocate of 0 bytes: %v, want EINVAL", err)
	}
	if _, err := fallocate(t, imp, fid, 1<<62, 1<<20, 0); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("fallocate past the largest object: %v, want EFBIG", err)
	}
	missing := fid
	missing.Oid += 100
	if _, err := fallocate(t, imp, missing, 0, 10, 0); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("fallocate of a missing object: %v, want ENOENT", err)
	}
	if a, _ := getattr(t, imp, fid); a.Size != 5120 {
		t.Errorf("refused fallocates left size %d", a.Size)
	}
}

// TestFallocateENOSPC: a preallocation that does not fit is refused with
// ENOSPC and changes nothing; one that fit holds: writes into it go
// through when the target is full.
func TestFallocateENOSPC(t *testing.T) {
	checkLeaks(t)
	const capacity = 4 << 20
	c := newCluster(t, 1, capacity, nil)
	imp := c.io()
	pre := precreate(t, imp, 0, 2)
	f, g := pre.First, pre.First
	g.Oid++
	if _, err := fallocate(t, imp, f, 0, 2*capacity, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("fallocate of twice the capacity: %v, want ENOSPC", err)
	}
	if a, _ := getattr(t, imp, f); a.Size != 0 {
		t.Errorf("a refused fallocate left size %d", a.Size)
	}
	if _, err := fallocate(t, imp, f, 0, 1<<20, 0); err != nil {
		t.Fatalf("fallocate of a quarter of the target: %v", err)
	}
	chunk := pattern(1<<20, 7)
	var err error
	for off := uint64(0); off < 2*capacity && err == nil; off += 1 << 20 {
		_, err = write(t, imp, g, off, chunk, 0)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the target: %v, want ENOSPC", err)
	}
	mustWrite(t, imp, f, 0, chunk)
	if got, _ := mustRead(t, imp, f, 0, len(chunk)); !bytes.Equal(got, chunk) {
		t.Error("the write into preallocated space on a full target reads back differently")
	}
	// Under fail_loc OBD_FAIL_OST_ENOSPC a preallocation fails too.
	c.srv.SetFailLoc(FailENOSPC|FailOnce, 0)
	if _, err := fallocate(t, imp, f, 0, 4096, wire.FallocKeepSize); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("fallocate under fail_loc 0x215: %v, want ENOSPC", err)
	}
}
