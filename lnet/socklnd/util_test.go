package socklnd

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
)

// tcpNID returns 127.0.0.x@tcp NID.
func tcpNID(x byte) lnet.NID {
	return lnet.NID{Addr: netip.AddrFrom4([4]byte{127, 0, 0, x}), Net: lnet.Net{Type: lnet.SockLND}}
}

// observe makes every node of h log into the returned observer too.
func observe(h *harness) *observer.ObservedLogs {
	core, logs := observer.New(zap.InfoLevel)
	h.logger = func(t *testing.T, i int) *zap.Logger {
		tl := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
		return zap.New(zapcore.NewTee(tl.Core(), core)).Named(h.NID(i).String())
	}
	return logs
}

// awaitLog waits for a log entry whose nid field is nid and whose reason
// mentions want.
func awaitLog(t *testing.T, logs *observer.ObservedLogs, nid lnet.NID, want error) {
	t.Helper()
	deadline := time.Now().Add(lndtest.Patience)
	for {
		for _, e := range logs.All() {
			m := e.ContextMap()
			if m["nid"] == nid.String() && strings.Contains(m["reason"].(string), want.Error()) {
				return
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, e := range logs.All() {
				got = append(got, e.Message+" "+toString(e.ContextMap()))
			}
			t.Fatalf("no log entry with nid %v and reason %q; have:\n%s", nid, want, strings.Join(got, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func toString(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(" ")
	}
	return b.String()
}

// sent is one Tx handed to an NI by a test.
type sent struct {
	tx   *lnet.Tx
	done chan error
}

// send sends a PUT of payload from ni to dest.
func send(ni lnet.NI, dest lnet.NID, payload []byte, match uint64) *sent {
	s := &sent{done: make(chan error, 1)}
	s.tx = &lnet.Tx{
		Dest: dest,
		Hdr: lnet.Header{Dest: dest, Src: ni.NID(), Type: lnet.MsgPut, PayloadLen: uint32(len(payload)),
			MatchBits: match, DestPID: lnet.PIDLustre, SrcPID: lnet.PIDLustre},
		Payload:    payload,
		OnComplete: func(_ *lnet.Tx, err error) { s.done <- err },
	}
	ni.Send(s.tx)
	return s
}

// wait returns the Tx's completion.
func (s *sent) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(lndtest.Patience):
		t.Fatalf("Tx %d never completed", s.tx.Hdr.MatchBits)
		return nil
	}
}

// awaitMsg waits until rec has the message with match bits mb from from and
// returns it.
func awaitMsg(t *testing.T, rec *lndtest.Recorder, from lnet.NID, mb uint64) lndtest.Msg {
	t.Helper()
	var got lndtest.Msg
	rec.Await(t, "a message", func(s *lndtest.Snapshot) bool {
		for _, m := range s.Msgs {
			if m.From == from && m.Hdr.MatchBits == mb {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// roundTrip checks that a and b exchange a small and a bulk message each way.
func roundTrip(t *testing.T, a, b lnet.NI, ra, rb *lndtest.Recorder, seq uint64) {
	t.Helper()
	for _, d := range []struct {
		from, to lnet.NI
		rec      *lndtest.Recorder
	}{{a, b, rb}, {b, a, ra}} {
		for i, size := range []int{64, 64 << 10} {
			payload := bytes.Repeat([]byte{byte(seq) + byte(i)}, size)
			if err := send(d.from, d.to.NID(), payload, seq+uint64(i)).wait(t); err != nil {
				t.Fatalf("send %v -> %v: %v", d.from.NID(), d.to.NID(), err)
			}
			m := awaitMsg(t, d.rec, d.from.NID(), seq+uint64(i))
			if m.Err != nil || !bytes.Equal(m.Payload, payload) {
				t.Fatalf("message %v -> %v: %v, %d bytes", d.from.NID(), d.to.NID(), m.Err, len(m.Payload))
			}
		}
	}
}

// readFrame reads one LNET frame from a raw connection.
func readFrame(t *testing.T, c net.Conn) (frameHeader, lnet.Header, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(lndtest.Patience))
	var b [FrameHeaderSize + lnet.HeaderSize]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	var fh frameHeader
	var hdr lnet.Header
	if err := fh.decode(b[:]); err != nil {
		t.Fatal(err)
	}
	if err := hdr.Decode(b[FrameHeaderSize:]); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, hdr.PayloadLen)
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatalf("reading a payload: %v", err)
	}
	return fh, hdr, payload
}

// readHello reads and decodes one hello from a raw connection.
func readHello(t *testing.T, c net.Conn) hello {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(lndtest.Patience))
	var b [HelloSize]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		t.Fatalf("reading a hello: %v", err)
	}
	var h hello
	if err := h.decode(b[:]); err != nil {
		t.Fatal(err)
	}
	return h
}

// writeHello writes h to a raw connection.
func writeHello(t *testing.T, c net.Conn, h hello) {
	t.Helper()
	var b [HelloSize]byte
	h.encode(b[:])
	if _, err := c.Write(b[:]); err != nil {
		t.Fatalf("writing a hello: %v", err)
	}
}
