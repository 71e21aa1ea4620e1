package o2iblnd

import (
	"errors"
	"testing"

	"github.com/stria-fs/stria/lnet"
)

func TestImmediateAndBulk(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testImmediateAndBulk(t, Config{}) })
	t.Run("checksummed", func(t *testing.T) { testImmediateAndBulk(t, Config{Checksum: true}) })
}

func testImmediateAndBulk(t *testing.T, cfg Config) {
	cl := newCluster(t, cfg)
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	for _, size := range []int{0, 1, 100, DefaultMaxMsgSize - immHdrSize, DefaultMaxMsgSize - immHdrSize + 1, 64 << 10, 1 << 20} {
		data := pattern(size, byte(size))
		if err := send(t, a, putTx(a, b, data)); err != nil {
			t.Fatalf("PUT of %d bytes: %v", size, err)
		}
		got := b.host.next(t)
		if got.err != nil || got.from != a.nid() || got.hdr.MatchBits != 42 || got.hdr.Type != lnet.MsgPut {
			t.Fatalf("PUT of %d bytes arrived as %+v", size, got)
		}
		mustEqual(t, got.data, data)
	}
	checkIdle(t, a.connTo(b.nid()))
	checkIdle(t, b.connTo(a.nid()))
	if s := a.ni.cache.stats(); s.Regs != 3 || s.InUse != 0 {
		t.Errorf("bulk registrations: %+v, want one per bulk PUT, none in use", s)
	}
	if s := a.ni.Status(); s.SendCount != 7 || s.Peers != 1 || !s.Up {
		t.Fatalf("status %+v", s)
	}
	if s := b.ni.Status(); s.RecvCount != 7 {
		t.Fatalf("status %+v", s)
	}
}

func TestGet(t *testing.T) {
	cl := newCluster(t, Config{})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	src := pattern(1<<20, 3)
	b.host.getData = src

	// Large: GET_REQ carries the sink; b RDMA-writes the REPLY into it.
	sink := make([]byte, 1<<20)
	r := get(t, a, b, sink)
	if r.sent != nil || !r.reply || r.err != nil || r.n != len(sink) {
		t.Fatalf("bulk GET: %+v", r)
	}
	mustEqual(t, sink, src)
	if got := b.host.next(t); got.hdr.Type != lnet.MsgGet || got.err != nil {
		t.Fatalf("target saw %+v", got)
	}

	// Small: IMMEDIATE GET, the REPLY comes back as a message.
	small := make([]byte, 100)
	r = get(t, a, b, small)
	if r.sent != nil || r.reply {
		t.Fatalf("small GET: %+v", r)
	}
	b.host.next(t)
	got := a.host.next(t)
	if got.hdr.Type != lnet.MsgReply || got.hdr.WMD.Object != 7 {
		t.Fatalf("REPLY arrived as %+v", got)
	}
	mustEqual(t, got.data, src[:100])

	// No match: GET_DONE with -ENODATA.
	b.host.mu.Lock()
	b.host.getData = nil
	b.host.mu.Unlock()
	r = get(t, a, b, sink)
	if !r.reply || !errors.Is(r.err, lnet.ErrNoMatch) {
		t.Fatalf("unmatched GET: %+v", r)
	}
	b.host.next(t)
	checkIdle(t, a.connTo(b.nid()))
	checkIdle(t, b.connTo(a.nid()))
}
