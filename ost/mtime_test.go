package ost

import (
	"hash/crc32"
	"testing"

	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// writeAt sends one OST_WRITE carrying mtime.
func writeAt(t *testing.T, imp *ptlrpc.Import, fid wire.FID, off uint64, data []byte, mtime int64) {
	t.Helper()
	req := &wire.IORequest{FID: fid, Offset: off, Length: uint32(len(data)),
		Checksum: crc32.Checksum(data, castagnoli), Mtime: mtime}
	r, err := imp.Call(testCtx(t), &ptlrpc.Req{Opcode: wire.OSTWrite, Encode: req, BulkOut: data})
	r.Release()
	if err != nil {
		t.Fatalf("write with mtime %d: %v", mtime, err)
	}
}

// TestWriteMtime: a write sets the object's mtime and ctime to the time
// the client sends (its time of the write, not the OST's clock), forward
// only, durable with the data; a setattr sets it back (utimes).
func TestWriteMtime(t *testing.T) {
	checkLeaks(t)
	c := newCluster(t, 1, 0, nil)
	imp := c.io()
	fid := precreate(t, imp, 0, 1).First
	wantTimes := func(what string, m, ct int64) {
		t.Helper()
		a, err := getattr(t, imp, fid)
		if err != nil {
			t.Fatal(err)
		}
		if a.Valid&wire.AttrMtime == 0 || a.Mtime != m || (ct != 0 && a.Ctime != ct) {
			t.Errorf("%s: mtime %d ctime %d (valid %#x), want %d and %d", what, a.Mtime, a.Ctime, a.Valid, m, ct)
		}
	}
	const t1, t2 = int64(1_000_000_000_123), int64(2_000_000_000_456)
	writeAt(t, imp, fid, 0, pattern(4096, 1), t2)
	wantTimes("after a write at t2", t2, t2)
	// Data written earlier and sent later does not move it back.
	writeAt(t, imp, fid, 4096, pattern(4096, 2), t1)
	wantTimes("after a write-back of data written at t1", t2, t2)
	// A write without a time leaves it.
	writeAt(t, imp, fid, 0, pattern(10, 3), 0)
	wantTimes("after a write without a time", t2, t2)
	// utimes moves it back.
	var rep wire.ObjectAttrRequest
	call(t, imp, wire.OSTSetattr, &wire.ObjectAttrRequest{FID: fid, Attr: wire.Attr{Valid: wire.AttrMtime, Mtime: t1}}, &rep)
	wantTimes("after a setattr to t1", t1, 0)
	// Durable: a restarted OST has it.
	c.stop()
	c.start(nil)
	imp = c.io()
	wantTimes("after a restart", t1, 0)
}
