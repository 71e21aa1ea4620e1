package socklnd

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
)

// TestBadFrames: each malformed frame from a handshaken stranger closes the
// stranger's connection with a logged reason and a PeerState(down) that
// wraps lnet.ErrProtocol; nodes 0 and 1 do not notice.
func TestBadFrames(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	logs := observe(h)
	r0, r1 := lndtest.NewRecorder(lndtest.Policy{}), lndtest.NewRecorder(lndtest.Policy{})
	a, b := h.start(t, 0, r0), h.start(t, 1, r1)
	roundTrip(t, a, b, r0, r1, 0)

	good := func(from lnet.NID) []byte {
		return rawFrame(lnet.Header{Dest: b.NID(), Src: from, Type: lnet.MsgPut, PayloadLen: 10}, make([]byte, 10))
	}
	le := binary.LittleEndian
	for k, tc := range []struct {
		name   string
		mutate func(f []byte)
		want   error
	}{
		{"magic", func(f []byte) { f[0] ^= 0xff }, ErrBadMagic},
		{"version", func(f []byte) { le.PutUint16(f[4:], 99) }, ErrBadVersion},
		{"type", func(f []byte) { f[6] = 0x7f }, ErrBadFrame},
		{"flags", func(f []byte) { f[7] = 0x40 }, ErrBadFrame},
		{"length over MaxPayload", func(f []byte) { le.PutUint32(f[8:], lnet.HeaderSize+MaxPayload+1) }, ErrBadLength},
		{"length under a header", func(f []byte) { le.PutUint32(f[8:], 3) }, ErrBadLength},
		{"length against PayloadLen", func(f []byte) { le.PutUint32(f[FrameHeaderSize+52:], 11) }, ErrBadLength},
		{"LNet header", func(f []byte) { le.PutUint32(f[FrameHeaderSize+88:], lnet.MaxPortal) }, lnet.ErrBadHeader},
		{"checksum", func(f []byte) { f[7] = flagChecksum; le.PutUint32(f[12:], 1) }, ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tcpNID(byte(100 + k))
			c := h.DialRaw(t, 1)
			if err := h.Handshake(t, c, 1, from); err != nil {
				t.Fatal(err)
			}
			f := good(from)
			tc.mutate(f)
			_, _ = c.Write(f)
			lndtest.ExpectClosed(t, c)
			awaitLog(t, logs, from, tc.want)
			r1.Await(t, "PeerState(stranger, down)", func(s *lndtest.Snapshot) bool {
				for _, ev := range s.Events {
					if ev.Peer == from && !ev.Alive {
						if !errors.Is(ev.Err, tc.want) || !errors.Is(ev.Err, lnet.ErrProtocol) {
							t.Errorf("PeerState error %v, want %v and lnet.ErrProtocol", ev.Err, tc.want)
						}
						return true
					}
				}
				return false
			})
		})
	}
	roundTrip(t, a, b, r0, r1, 100)
	for _, rec := range []*lndtest.Recorder{r0, r1} {
		rec.View(func(s *lndtest.Snapshot) {
			for _, ev := range s.Events {
				if (ev.Peer == a.NID() || ev.Peer == b.NID()) && !ev.Alive {
					t.Errorf("nodes 0 and 1 noticed the strangers: %+v", ev)
				}
			}
		})
	}
}

// TestBadHellos: a hello that is malformed or meant for another NI is
// refused with a logged reason; nothing else changes.
func TestBadHellos(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	logs := observe(h)
	r0, r1 := lndtest.NewRecorder(lndtest.Policy{}), lndtest.NewRecorder(lndtest.Policy{})
	a, b := h.start(t, 0, r0), h.start(t, 1, r1)
	roundTrip(t, a, b, r0, r1, 0)
	raw := tcpNID(1) // where raw connections come from
	for k, tc := range []struct {
		name   string
		hello  func(from lnet.NID) hello
		mutate func(b []byte)
		logNID func(from lnet.NID) lnet.NID
		want   error
	}{
		{"for another NID", func(from lnet.NID) hello {
			return hello{Type: connControl, Src: from, Dst: a.NID(), SrcInc: 1}
		}, nil, func(from lnet.NID) lnet.NID { return from }, ErrWrongNID},
		{"magic", nil, func(b []byte) { b[1] ^= 1 }, func(lnet.NID) lnet.NID { return raw }, ErrBadMagic},
		{"version", nil, func(b []byte) { b[4] = 2 }, func(lnet.NID) lnet.NID { return raw }, ErrBadVersion},
		{"other network", func(from lnet.NID) hello {
			n := lnet.Net{Type: lnet.SockLND, Num: 1}
			return hello{Type: connControl, Src: lnet.NID{Addr: from.Addr, Net: n}, Dst: lnet.NID{Addr: b.NID().Addr, Net: n}, SrcInc: 1}
		}, nil, func(from lnet.NID) lnet.NID {
			return lnet.NID{Addr: from.Addr, Net: lnet.Net{Type: lnet.SockLND, Num: 1}}
		}, ErrWrongNID},
		{"race flag in a request", func(from lnet.NID) hello {
			return hello{Type: connControl, Flags: helloRace, Src: from, Dst: b.NID(), SrcInc: 1}
		}, nil, func(from lnet.NID) lnet.NID { return from }, ErrBadHello},
		{"cut short", nil, func([]byte) {}, func(lnet.NID) lnet.NID { return raw }, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tcpNID(byte(100 + k))
			c := h.DialRaw(t, 1)
			hl := hello{Type: connControl, Src: from, Dst: b.NID(), SrcInc: 1}
			if tc.hello != nil {
				hl = tc.hello(from)
			}
			buf := make([]byte, HelloSize)
			hl.encode(buf)
			if tc.mutate != nil {
				tc.mutate(buf)
			}
			if tc.want == io.ErrUnexpectedEOF {
				buf = buf[:HelloSize/2]
			}
			_, _ = c.Write(buf)
			if tc.want == io.ErrUnexpectedEOF {
				if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			lndtest.ExpectClosed(t, c)
			awaitLog(t, logs, tc.logNID(from), tc.want)
		})
	}
	roundTrip(t, a, b, r0, r1, 100)
	r1.View(func(s *lndtest.Snapshot) {
		if len(s.Msgs) != 4 || len(s.Events) != 1 {
			t.Errorf("node 1 heard more than node 0: %d messages, events %+v", len(s.Msgs), s.Events)
		}
	})
}

// TestStaleIncarnation: a second hello from a NID with a new incarnation
// closes the connections of the old one and tells the Host.
func TestStaleIncarnation(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	rec := lndtest.NewRecorder(lndtest.Policy{})
	h.start(t, 1, rec)
	peer := tcpNID(50)
	old := h.DialRaw(t, 1)
	if err := rawHello(old, hello{Type: connControl, Src: peer, Dst: h.NID(1), SrcInc: 1}); err != nil {
		t.Fatal(err)
	}
	again := h.DialRaw(t, 1) // the same incarnation opening another slot
	if err := rawHello(again, hello{Type: connBulkOut, Src: peer, Dst: h.NID(1), SrcInc: 1}); err != nil {
		t.Fatal(err)
	}
	restarted := h.DialRaw(t, 1)
	if err := rawHello(restarted, hello{Type: connControl, Src: peer, Dst: h.NID(1), SrcInc: 2}); err != nil {
		t.Fatal(err)
	}
	lndtest.ExpectClosed(t, old)
	lndtest.ExpectClosed(t, again)
	rec.Await(t, "up, down (stale), up", func(s *lndtest.Snapshot) bool { return len(s.Events) >= 3 })
	rec.View(func(s *lndtest.Snapshot) {
		ev := s.Events
		if len(ev) != 3 || !ev[0].Alive || ev[1].Alive || !errors.Is(ev[1].Err, lnet.ErrStalePeer) || !ev[2].Alive {
			t.Errorf("peer events %+v, want up, down with ErrStalePeer, up", ev)
		}
	})
	// The new incarnation's connection works.
	frame := rawFrame(lnet.Header{Dest: h.NID(1), Src: peer, Type: lnet.MsgPut, PayloadLen: 3, MatchBits: 9}, []byte("new"))
	if _, err := restarted.Write(frame); err != nil {
		t.Fatal(err)
	}
	if m := awaitMsg(t, rec, peer, 9); string(m.Payload) != "new" {
		t.Errorf("payload %q", m.Payload)
	}
}

// TestStalledFrame: a frame that starts and stalls is given up after
// Timeout, in its headers or in its payload; an idle connection is not.
func TestStalledFrame(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{Timeout: 100 * time.Millisecond})
	logs := observe(h)
	rec := lndtest.NewRecorder(lndtest.Policy{})
	h.start(t, 1, rec)
	for k, cut := range []int{10, FrameHeaderSize + lnet.HeaderSize + 1000} {
		from := tcpNID(byte(60 + k))
		c := h.DialRaw(t, 1)
		if err := h.Handshake(t, c, 1, from); err != nil {
			t.Fatal(err)
		}
		// Idle for several timeouts: the connection stays.
		time.Sleep(3 * h.lnd.cfg.Timeout)
		whole := rawFrame(lnet.Header{Dest: h.NID(1), Src: from, Type: lnet.MsgPut, PayloadLen: 5000, MatchBits: 1}, make([]byte, 5000))
		if _, err := c.Write(whole); err != nil {
			t.Fatalf("an idle connection was closed: %v", err)
		}
		awaitMsg(t, rec, from, 1)
		if _, err := c.Write(whole[:cut]); err != nil {
			t.Fatal(err)
		}
		lndtest.ExpectClosed(t, c)
		awaitLog(t, logs, from, errors.New("i/o timeout"))
	}
}

// misuser is a Host whose Receive misuses Rx.Recv: a sink longer than the
// payload, then a second Recv.
type misuser struct {
	errs chan error
}

func (m *misuser) Receive(_ lnet.NI, _ lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	if hdr.MatchBits == 0 {
		rx.Recv(make([]byte, hdr.PayloadLen+1), func(err error) { m.errs <- err })
		rx.Recv(nil, func(err error) { m.errs <- err })
		return
	}
	sink := make([]byte, hdr.PayloadLen)
	rx.Recv(sink, func(err error) {
		if err == nil && sink[0] != 'x' {
			err = errors.New("payload out of step")
		}
		m.errs <- err
	})
}

func (m *misuser) PeerState(lnet.NI, lnet.NID, bool, error) {}

// TestRecvMisuse: a Host that misuses Rx.Recv hears ErrRecvMisuse, and the
// stream stays in step.
func TestRecvMisuse(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	host := &misuser{errs: make(chan error, 3)}
	a := h.start(t, 0, lndtest.NewRecorder(lndtest.Policy{}))
	b := h.start(t, 1, host)
	for i := range 2 {
		if err := send(a, b.NID(), []byte("xyz"), uint64(i)).wait(t); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []error{ErrRecvMisuse, ErrRecvMisuse, nil} {
		if err := <-host.errs; !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("done %d: %v, want %v", i, err, want)
		}
	}
}
