package lndtest

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
)

// rawConnector returns the harness as a RawConnector or skips the case.
func (e *env) rawConnector() RawConnector {
	rc, ok := e.h.(RawConnector)
	if !ok {
		e.t.Skip("the harness is not a RawConnector: the LND carries messages, not a byte stream")
	}
	return rc
}

// ExpectClosed reads c until the far end closes it; it fails t if that
// takes longer than Patience.
func ExpectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(Patience))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the NI kept a connection open that it should have closed")
	}
}

// halfClose ends what c sends, so the far end sees the stream end; c stays
// open for reading.
func halfClose(t testing.TB, c net.Conn) {
	t.Helper()
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("raw connection %T cannot half-close", c)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
}

// eventCount returns how many peer events rec has recorded for peer.
func eventCount(rec *Recorder, peer lnet.NID) int {
	n := 0
	rec.View(func(s *Snapshot) {
		for _, ev := range s.Events {
			if ev.Peer == peer {
				n++
			}
		}
	})
	return n
}

// testRawFrame: a stranger that handshakes and sends well-formed frames is
// heard, which shows that the raw tools of the garbage cases work.
func testRawFrame(e *env) {
	t := e.t
	rc := e.rawConnector()
	_, r1 := e.start(1, Policy{})
	c := rc.DialRaw(t, 1)
	defer func() { _ = c.Close() }()
	from := e.h.NID(MaxNodes + 2)
	if err := rc.Handshake(t, c, 1, from); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	var sent []*pending
	for i, size := range []int{0, 5000} {
		p := e.newTx(0, e.h.NID(1), pattern(uint64(i), size), uint64(i), 0)
		p.tx.Hdr.Src = from
		if size == 0 {
			p.tx.Hdr.Type = lnet.MsgGet
		}
		if _, err := c.Write(rc.Frame(p.tx.Hdr, p.tx.Payload)); err != nil {
			t.Fatalf("write: %v", err)
		}
		sent = append(sent, p)
	}
	awaitMsgs(t, r1, "the raw messages", len(sent), func(m *Msg) bool { return m.From == from })
	r1.View(func(s *Snapshot) {
		for _, p := range sent {
			m, _ := find(s, from, p.tx.Hdr.MatchBits)
			expectMsg(t, m, p)
		}
	})
}

// testGarbage: garbage from a stranger, before or after its handshake,
// closes the stranger's connection and nothing else.
func testGarbage(e *env) {
	t := e.t
	rc := e.rawConnector()
	_, r0 := e.start(0, Policy{})
	_, r1 := e.start(1, Policy{})
	e.exchange(0, 1, 0)
	ev0, ev1 := eventCount(r0, e.h.NID(1)), eventCount(r1, e.h.NID(0))
	random := pattern(99, 4096)
	for k, v := range []struct {
		name      string
		handshake bool
		data      []byte
	}{
		{"random bytes after the handshake", true, random},
		{"zeros after the handshake", true, make([]byte, 4096)},
		{"random bytes instead of a handshake", false, random},
		{"an HTTP request instead of a handshake", false, httpRequest()},
	} {
		from := e.h.NID(MaxNodes + 3 + k)
		c := rc.DialRaw(t, 1)
		if v.handshake {
			if err := rc.Handshake(t, c, 1, from); err != nil {
				t.Fatalf("%s: handshake: %v", v.name, err)
			}
		}
		_, _ = c.Write(v.data) // the NI may close before it has read everything
		ExpectClosed(t, c)
		_ = c.Close()
		if n := countMsgs(r1, func(m *Msg) bool { return m.From == from }); n > 0 {
			t.Errorf("%s: %d messages delivered from garbage", v.name, n)
		}
	}
	e.exchange(0, 1, 100)
	if n := eventCount(r0, e.h.NID(1)); n != ev0 {
		t.Errorf("node 0 heard %d peer events for node 1 while strangers sent garbage to node 1", n-ev0)
	}
	if n := eventCount(r1, e.h.NID(0)); n != ev1 {
		t.Errorf("node 1 heard %d peer events for node 0 while strangers sent it garbage", n-ev1)
	}
}

// httpRequest is a stranger speaking the wrong protocol, long enough that no
// handshake can be waiting for more bytes.
func httpRequest() []byte {
	return append([]byte("POST / HTTP/1.1\r\nHost: stria\r\nContent-Length: 4096\r\n\r\n"), make([]byte, 4096)...)
}

// countMsgs counts rec's messages that match f.
func countMsgs(rec *Recorder, f func(m *Msg) bool) int {
	n := 0
	rec.View(func(s *Snapshot) { n = count(s, f) })
	return n
}

// testTruncated: a frame cut short (in its headers or its payload) and
// followed by the end of the stream closes that connection without
// delivering the message, and nothing else.
func testTruncated(e *env) {
	t := e.t
	rc := e.rawConnector()
	_, r0 := e.start(0, Policy{})
	_, r1 := e.start(1, Policy{})
	e.exchange(0, 1, 0)
	ev0, ev1 := eventCount(r0, e.h.NID(1)), eventCount(r1, e.h.NID(0))
	const size = 8192
	for k, cut := range []struct {
		name string
		keep func(frame []byte) int // how many bytes of the frame to send
	}{
		{"ten bytes", func([]byte) int { return 10 }},
		{"headers", func(f []byte) int { return len(f) - size - 1 }},
		{"payload", func(f []byte) int { return len(f) - size/2 }},
		{"last byte", func(f []byte) int { return len(f) - 1 }},
	} {
		from := e.h.NID(MaxNodes + 3 + k)
		c := rc.DialRaw(t, 1)
		if err := rc.Handshake(t, c, 1, from); err != nil {
			t.Fatalf("%s: handshake: %v", cut.name, err)
		}
		hdr := lnet.Header{Dest: e.h.NID(1), Src: from, Type: lnet.MsgPut, PayloadLen: size, MatchBits: uint64(k)}
		frame := rc.Frame(hdr, pattern(uint64(k), size))
		if _, err := c.Write(frame[:cut.keep(frame)]); err != nil {
			t.Fatalf("%s: write: %v", cut.name, err)
		}
		halfClose(t, c)
		ExpectClosed(t, c)
		_ = c.Close()
		if n := countMsgs(r1, func(m *Msg) bool { return m.From == from && m.Err == nil }); n > 0 {
			t.Errorf("truncated %s: %d messages delivered without error", cut.name, n)
		}
	}
	e.exchange(0, 1, 100)
	if n := eventCount(r0, e.h.NID(1)); n != ev0 {
		t.Errorf("node 0 heard %d peer events for node 1 while strangers sent truncated frames to node 1", n-ev0)
	}
	if n := eventCount(r1, e.h.NID(0)); n != ev1 {
		t.Errorf("node 1 heard %d peer events for node 0 while strangers sent it truncated frames", n-ev1)
	}
}
