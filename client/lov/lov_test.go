package lov

import (
	"bytes"
	"errors"
	"hash/crc32"
	"syscall"
	"testing"
	"time"

	"github.com/stria-fs/stria/layout"
)

// store writes data at file offset off straight into the fake objects.
func store(t *testing.T, ts fakeTargets, l *layout.Layout, data []byte, off uint64) {
	t.Helper()
	chunks, err := l.Split(0, off, uint64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chunks {
		obj, ok := l.Object(ch)
		if !ok {
			t.Fatalf("hole at %d", ch.FileOff)
		}
		f := ts[obj.OSTIndex]
		if _, err := f.Write(ctx(t), obj.FID, ch.ObjOff, data[ch.FileOff-off:ch.FileOff-off+ch.Len],
			crc32.Checksum(data[ch.FileOff-off:ch.FileOff-off+ch.Len], castagnoli), 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range ts {
		f.reset()
	}
}

func TestReadOneRPCPerStripeUnit(t *testing.T) {
	ts := newTargets(4, 4<<20)
	l := plain(t, 4, 1<<20)
	data := pattern(8<<20, 1)
	store(t, ts, l, data, 0)
	p := make([]byte, len(data))
	short, err := Read(ctx(t), ts, l, 0, p, 0)
	if err != nil || short || !bytes.Equal(p, data) {
		t.Fatalf("read: short %v err %v equal %v", short, err, bytes.Equal(p, data))
	}
	for i, f := range ts {
		rs := sortRPCs(f.recorded("read"))
		if len(rs) != 2 || rs[0].off != 0 || rs[0].n != 1<<20 || rs[1].off != 1<<20 || rs[1].n != 1<<20 {
			t.Errorf("OST %d reads %+v, want two of 1 MiB at 0 and 1 MiB", i, rs)
		}
	}
}

func TestReadSingleStripeAlignedRPCs(t *testing.T) {
	ts := newTargets(1, 4<<20)
	l := plain(t, 1, 1<<20)
	data := pattern(11<<20, 2)
	store(t, ts, l, data, 0)
	p := make([]byte, 10<<20)
	if short, err := Read(ctx(t), ts, l, 0, p, 512<<10); err != nil || short {
		t.Fatal(short, err)
	}
	if !bytes.Equal(p, data[512<<10:512<<10+len(p)]) {
		t.Fatal("data differs")
	}
	rs := sortRPCs(ts[0].recorded("read"))
	want := []rpc{{"read", rs[0].fid, 512 << 10, 3<<20 + 512<<10}, {"read", rs[0].fid, 4 << 20, 4 << 20},
		{"read", rs[0].fid, 8 << 20, 2<<20 + 512<<10}}
	if len(rs) != len(want) {
		t.Fatalf("reads %+v, want %+v", rs, want)
	}
	for i := range want {
		if rs[i] != want[i] {
			t.Errorf("read %d: %+v, want %+v", i, rs[i], want[i])
		}
	}
}

func TestReadShortAndHoles(t *testing.T) {
	ts := newTargets(4, 4<<20)
	l := plain(t, 4, 64<<10)
	data := pattern(100, 3)
	store(t, ts, l, data, 0)
	p := bytes.Repeat([]byte{0xee}, 1<<20)
	short, err := Read(ctx(t), ts, l, 0, p, 0)
	if err != nil || !short {
		t.Fatalf("short %v err %v, want short", short, err)
	}
	if !bytes.Equal(p[:100], data) || !bytes.Equal(p[100:], make([]byte, len(p)-100)) {
		t.Fatal("want the data then zeros")
	}
	// A full stripe unit in stripe 1 and nothing in stripe 0: stripe 0's
	// range is a hole inside the file, read as zeros.
	ts2 := newTargets(2, 4<<20)
	l2 := plain(t, 2, 64<<10)
	store(t, ts2, l2, pattern(64<<10, 4), 64<<10)
	p = bytes.Repeat([]byte{0xee}, 128<<10)
	short, err = Read(ctx(t), ts2, l2, 0, p, 0)
	if err != nil || !short {
		t.Fatalf("short %v err %v", short, err)
	}
	if !bytes.Equal(p[:64<<10], make([]byte, 64<<10)) || !bytes.Equal(p[64<<10:], pattern(64<<10, 4)) {
		t.Fatal("want zeros then the second unit")
	}
	// An uninstantiated PFL component reads as zeros and says short.
	ts3 := newTargets(2, 4<<20)
	l3 := pfl(t, 1<<20, 1, 2, 1<<20, false)
	store(t, ts3, l3, pattern(1<<20, 5), 0)
	p = bytes.Repeat([]byte{0xee}, 2<<20)
	short, err = Read(ctx(t), ts3, l3, 0, p, 0)
	if err != nil || !short || !bytes.Equal(p[:1<<20], pattern(1<<20, 5)) || !bytes.Equal(p[1<<20:], make([]byte, 1<<20)) {
		t.Fatalf("pfl read: short %v err %v", short, err)
	}
}

func TestReadGoesToEveryOSTAtOnce(t *testing.T) {
	ts := newTargets(4, 4<<20)
	l := plain(t, 4, 1<<20)
	store(t, ts, l, pattern(4<<20, 6), 0)
	gate := make(chan bool)
	for _, f := range ts {
		f.gate = gate
	}
	done := make(chan error, 1)
	go func() {
		_, err := Read(ctx(t), ts, l, 0, make([]byte, 4<<20), 0)
		done <- err
	}()
	deadline := time.Now().Add(waitLimit)
	for {
		n := 0
		for _, f := range ts {
			f.mu.Lock()
			n += f.now
			f.mu.Unlock()
		}
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 4 reads in flight at once", n)
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReadErrorCancelsTheRest(t *testing.T) {
	ts := newTargets(2, 4<<20)
	l := plain(t, 2, 1<<20)
	ts[1].failNext = func(string) error { return syscall.EIO }
	if _, err := Read(ctx(t), ts, l, 0, make([]byte, 2<<20), 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("err %v, want EIO", err)
	}
}

func TestGlimpse(t *testing.T) {
	ts := newTargets(4, 4<<20)
	l := plain(t, 4, 1<<20)
	// 5.5 MiB: stripe 1 holds the last byte (the spec's worked example).
	store(t, ts, l, pattern(5<<20+512<<10, 7), 0)
	sz, err := Glimpse(ctx(t), ts, l)
	if err != nil || sz.Size != 5<<20+512<<10 {
		t.Fatalf("size %d err %v", sz.Size, err)
	}
	if len(sz.Objects) != 4 || sz.Objects[l.Components[0].Stripe.Objects[1]] != 1<<20+512<<10 {
		t.Fatalf("objects %v", sz.Objects)
	}
	if n := len(ts[3].recorded("getattr")); n != 1 {
		t.Fatalf("%d getattrs on OST 3", n)
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		name        string
		count       int
		size        uint32
		from, to    uint64
		punch, grow int
	}{
		{"shrink", 4, 1 << 20, 10 << 20, 3<<20 + 100, 4, 0},
		{"shrink in the last unit", 4, 1 << 20, 3<<20 + 512<<10, 3<<20 + 100, 1, 0},
		{"shrink to zero", 2, 64 << 10, 1 << 20, 0, 2, 0},
		{"grow", 4, 1 << 20, 100, 5<<20 + 512<<10, 0, 1},
		{"grow within a stripe", 2, 1 << 20, 100, 200, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTargets(c.count, 4<<20)
			l := plain(t, c.count, c.size)
			data := pattern(int(c.from), 8)
			store(t, ts, l, data, 0)
			sz, err := Glimpse(ctx(t), ts, l)
			if err != nil {
				t.Fatal(err)
			}
			if err := Truncate(ctx(t), ts, l, c.to, sz.Objects); err != nil {
				t.Fatal(err)
			}
			punch, grow := 0, 0
			for _, f := range ts {
				punch += len(f.recorded("punch"))
				grow += len(f.recorded("setsize"))
			}
			if punch != c.punch || grow != c.grow {
				t.Errorf("%d punches, %d grows; want %d, %d", punch, grow, c.punch, c.grow)
			}
			if sz, err = Glimpse(ctx(t), ts, l); err != nil || sz.Size != c.to {
				t.Fatalf("size %d after truncate to %d (%v)", sz.Size, c.to, err)
			}
			p := make([]byte, c.to)
			if _, err := Read(ctx(t), ts, l, 0, p, 0); err != nil {
				t.Fatal(err)
			}
			want := make([]byte, c.to)
			copy(want, data)
			if !bytes.Equal(p, want) {
				t.Fatal("content after truncate differs")
			}
		})
	}
}

func TestSetMtime(t *testing.T) {
	ts := newTargets(4, 4<<20)
	l := pfl(t, 1<<20, 2, 2, 64<<10, false) // the second component holds no objects yet
	if err := SetMtime(ctx(t), ts, l, 12345); err != nil {
		t.Fatal(err)
	}
	for _, obj := range l.Components[0].Stripe.Objects {
		if got := ts[obj.OSTIndex].mtimes[obj.FID]; got != 12345 {
			t.Errorf("object on OST %d has mtime %d, want 12345", obj.OSTIndex, got)
		}
	}
	n := 0
	for _, f := range ts {
		n += len(f.recorded("setmtime"))
	}
	if n != 2 {
		t.Errorf("%d setattrs, want one per instantiated object (2)", n)
	}
	sz, err := Glimpse(ctx(t), ts, l)
	if err != nil || sz.Mtime != 12345 {
		t.Errorf("glimpse mtime %d (%v), want 12345", sz.Mtime, err)
	}
}
