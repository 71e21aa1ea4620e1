package osc

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/wire"
)

var fid = wire.FID{Seq: wire.SeqIDIFBase, Oid: 7}

func TestWriteReadBack(t *testing.T) {
	o, ost := setup(t, 0)
	data := bytes.Repeat([]byte("stria"), 50000)
	if size, err := o.Write(ctx(t), fid, 4096, data, sumOf(data), 0); err != nil || size != uint64(4096+len(data)) {
		t.Fatal(size, err)
	}
	p := make([]byte, len(data)+10000)
	n, size, err := o.Read(ctx(t), fid, 4096, p)
	if err != nil || n != len(data) || size != uint64(4096+len(data)) || !bytes.Equal(p[:n], data) {
		t.Fatalf("read: n %d size %d err %v", n, size, err)
	}
	if o.Stats().Count(wire.OSTWrite) != 1 || o.Stats().Count(wire.OSTRead) != 1 {
		t.Fatalf("stats:\n%s", o.Stats().Format(time.Now()))
	}
	io := ost.io.Stats().Requests
	if _, err := o.StatFS(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if io != 2 || ost.io.Stats().Requests != 2 {
		t.Fatalf("ost_io served %d requests, want the read and the write only", ost.io.Stats().Requests)
	}
	if a, err := o.GetAttr(ctx(t), fid); err != nil || a.Size != size {
		t.Fatal(a, err)
	}
	if _, err := o.GetAttr(ctx(t), wire.FID{Seq: 1, Oid: 1}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("getattr of a missing object: %v", err)
	}
}

func TestReadChecksumRetriedThenEIO(t *testing.T) {
	o, ost := setup(t, 0)
	data := bytes.Repeat([]byte{7}, 8192)
	if _, err := o.Write(ctx(t), fid, 0, data, sumOf(data), 0); err != nil {
		t.Fatal(err)
	}
	ost.mu.Lock()
	ost.corruptRead = 1
	ost.mu.Unlock()
	p := make([]byte, 8192)
	if n, _, err := o.Read(ctx(t), fid, 0, p); err != nil || n != 8192 || !bytes.Equal(p, data) {
		t.Fatalf("one bad read is retried: n %d err %v", n, err)
	}
	ost.mu.Lock()
	ost.corruptRead = 2
	ost.mu.Unlock()
	if _, _, err := o.Read(ctx(t), fid, 0, p); !errors.Is(err, ErrChecksum) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("two bad reads: %v, want ErrChecksum and EIO", err)
	}
	if o.ChecksumErrors() != 3 {
		t.Fatalf("%d checksum errors counted, want 3", o.ChecksumErrors())
	}
	// Without verification the corrupted data comes through.
	o.SetChecksums(false)
	ost.mu.Lock()
	ost.corruptRead = 1
	ost.mu.Unlock()
	if _, _, err := o.Read(ctx(t), fid, 0, p); err != nil || bytes.Equal(p, data) {
		t.Fatalf("unverified read: err %v, equal %v", err, bytes.Equal(p, data))
	}
}

func TestWriteResentOnBadChecksum(t *testing.T) {
	o, ost := setup(t, 0)
	ost.mu.Lock()
	ost.badWrites = 3
	ost.mu.Unlock()
	if _, err := o.Write(ctx(t), fid, 0, []byte("hello"), sumOf([]byte("hello")), 0); err != nil {
		t.Fatalf("three refusals then success: %v", err)
	}
	ost.mu.Lock()
	ost.badWrites, ost.writes = 4, 0
	ost.mu.Unlock()
	if _, err := o.Write(ctx(t), fid, 0, []byte("hello"), sumOf([]byte("hello")), 0); !errors.Is(err, ErrChecksum) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("four refusals: %v, want EIO", err)
	}
	if ost.writes != 4 {
		t.Fatalf("%d writes sent, want 4", ost.writes)
	}
}

func TestWriteErrorsPassThrough(t *testing.T) {
	o, ost := setup(t, 0)
	ost.mu.Lock()
	ost.writeErr = syscall.ENOSPC
	ost.grant = 12345
	ost.mu.Unlock()
	if _, err := o.Write(ctx(t), fid, 0, []byte("x"), sumOf([]byte("x")), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err %v, want ENOSPC", err)
	}
	if g := o.Grant(); g != 12345 {
		t.Fatalf("grant %d: an error reply's grant counts too", g)
	}
}

func TestGrantAndCacheAccounting(t *testing.T) {
	o, _ := setup(t, 0)
	if granted, err := o.EnterCache(ctx(t), 4096, nil); err != nil || granted {
		t.Fatalf("no grant yet: granted %v err %v", granted, err)
	}
	o.ExitCache(4096)
	if _, err := o.Write(ctx(t), fid, 0, make([]byte, 4096), sumOf(make([]byte, 4096)), 0); err != nil {
		t.Fatal(err)
	}
	g := o.Grant()
	if g != DefaultMaxDirty/2 {
		t.Fatalf("grant %d after asking for %d", g, DefaultMaxDirty)
	}
	if granted, err := o.EnterCache(ctx(t), g, nil); err != nil || !granted {
		t.Fatalf("within grant: granted %v err %v", granted, err)
	}
	if granted, err := o.EnterCache(ctx(t), 1, nil); err != nil || granted {
		t.Fatalf("beyond grant: granted %v err %v", granted, err)
	}
	if o.Dirty() != g+1 {
		t.Fatalf("dirty %d", o.Dirty())
	}
	o.ExitCache(g + 1)
}

func TestEnterCacheWaitsForSpace(t *testing.T) {
	o, _ := setup(t, 0)
	if err := o.SetMaxDirty(1 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := o.EnterCache(ctx(t), 1<<20, nil); err != nil {
		t.Fatal(err)
	}
	kicked := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := o.EnterCache(ctx(t), 4096, func() { close(kicked) })
		done <- err
	}()
	<-kicked
	select {
	case err := <-done:
		t.Fatalf("entered a full cache: %v", err)
	default:
	}
	o.ExitCache(1 << 20)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	o.ExitCache(4096)
	// A canceled context ends the wait.
	o.EnterCache(ctx(t), 1<<20, nil)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	if _, err := o.EnterCache(c, 1, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	o.ExitCache(1 << 20)
}

func TestRPCsInFlightBound(t *testing.T) {
	o, ost := setup(t, 2)
	gate := make(chan struct{})
	ost.mu.Lock()
	ost.gate = gate
	ost.mu.Unlock()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := o.Write(ctx(t), wire.FID{Seq: wire.SeqIDIFBase, Oid: uint32(i + 1)}, 0, []byte("x"), sumOf([]byte("x")), 0); err != nil {
				t.Error(err)
			}
		}()
	}
	// Wait until two writes are held by the server, then let one go at a
	// time: never more than two may be in flight.
	for released := 0; released < 6; released++ {
		for {
			ost.mu.Lock()
			now := ost.now
			ost.mu.Unlock()
			if now >= min(2, 6-released) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		gate <- struct{}{}
	}
	wg.Wait()
	if ost.peak != 2 {
		t.Fatalf("%d writes in flight at once, want 2", ost.peak)
	}
	if _, peak := o.RPCsInFlight(); peak != 2 {
		t.Fatalf("OSC peak %d", peak)
	}
	if err := o.SetMaxRPCsInFlight(0); err == nil {
		t.Fatal("max_rpcs_in_flight 0 accepted")
	}
}

func TestStatFS(t *testing.T) {
	o, _ := setup(t, 0)
	s, err := o.StatFS(ctx(t))
	if err != nil || s.Blocks != 100 || s.BSize != 4096 {
		t.Fatal(s, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Target: "x", NIDs: nil},
		{Target: "", NIDs: nil},
		{Target: "x", MaxRPCsInFlight: 300},
		{Target: "x", MaxRPCSize: 1000},
		{Target: "x", MaxDirty: -1},
	} {
		if _, err := New(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", c, err)
		}
	}
}

// TestFallocate: one OST_FALLOCATE on ost_io; the OST's refusal reaches
// the caller with its errno.
func TestFallocate(t *testing.T) {
	o, ost := setup(t, 0)
	if err := o.Fallocate(ctx(t), fid, 1024, 4096, 0); err != nil {
		t.Fatal(err)
	}
	if a, err := o.GetAttr(ctx(t), fid); err != nil || a.Size != 1024+4096 {
		t.Fatalf("size after fallocate: %d %v, want 5120", a.Size, err)
	}
	if n := ost.io.Stats().Requests; n != 1 {
		t.Errorf("ost_io served %d requests, want the fallocate", n)
	}
	if o.Stats().Count(wire.OSTFallocate) != 1 {
		t.Errorf("stats:\n%s", o.Stats().Format(time.Now()))
	}
	if err := o.Fallocate(ctx(t), fid, 0, 10, wire.FallocKeepSize); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("fallocate refused by the OST: %v, want EOPNOTSUPP", err)
	}
}

// TestMtime: a write carries the time it was written at; SetMtime sets it
// (utimes) with one OST_SETATTR.
func TestMtime(t *testing.T) {
	o, ost := setup(t, 0)
	if _, err := o.Write(ctx(t), fid, 0, []byte("data"), sumOf([]byte("data")), 777); err != nil {
		t.Fatal(err)
	}
	mtime := func() int64 {
		ost.mu.Lock()
		defer ost.mu.Unlock()
		return ost.mtimes[fid]
	}
	if m := mtime(); m != 777 {
		t.Errorf("the OST got mtime %d with the write, want 777", m)
	}
	if err := o.SetMtime(ctx(t), fid, 5); err != nil {
		t.Fatal(err)
	}
	if m := mtime(); m != 5 {
		t.Errorf("the OST has mtime %d after SetMtime, want 5", m)
	}
	if o.Stats().Count(wire.OSTSetattr) != 1 {
		t.Errorf("stats:\n%s", o.Stats().Format(time.Now()))
	}
}

// sumOf is p's crc32c, as lov passes it with a write.
func sumOf(p []byte) uint32 { return crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)) }
