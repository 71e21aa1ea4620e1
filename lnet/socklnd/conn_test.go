package socklnd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lndtest"
)

// slotConns returns which of ni's slots to peer hold a connection.
func slotConns(ni *NI, peer lnet.NID) (out []connType) {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	p := ni.peers[peer]
	if p == nil {
		return nil
	}
	for i := range p.slots {
		if p.slots[i].conn != nil {
			out = append(out, connType(i+1))
		}
	}
	return out
}

// TestSmallOvertakesBulk: while a bulk message is stuck at a receiver that
// has not taken it, a small message to the same receiver still arrives,
// because it travels on the CONTROL connection.
func TestSmallOvertakesBulk(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	r1 := lndtest.NewRecorder(lndtest.Policy{Hold: func(hdr *lnet.Header) bool { return hdr.PayloadLen >= DefaultMinBulk }})
	a := h.start(t, 0, lndtest.NewRecorder(lndtest.Policy{}))
	b := h.start(t, 1, r1)
	big := bytes.Repeat([]byte{0xb6}, 32<<20)
	bulk := send(a, b.NID(), big, 1)
	r1.Await(t, "the bulk message's header", func(s *lndtest.Snapshot) bool { return s.Held == 1 })
	if err := send(a, b.NID(), []byte("small"), 2).wait(t); err != nil {
		t.Fatal(err)
	}
	if m := awaitMsg(t, r1, a.NID(), 2); string(m.Payload) != "small" {
		t.Fatalf("small message: %q", m.Payload)
	}
	select {
	case err := <-bulk.done:
		t.Fatalf("32 MiB left for a receiver that took none of it: %v", err)
	default:
	}
	if got := slotConns(a, b.NID()); len(got) != 2 || got[0] != connControl || got[1] != connBulkOut {
		t.Errorf("sender's connections %v, want CONTROL and BULK_OUT", got)
	}
	if got := slotConns(b, a.NID()); len(got) != 2 || got[0] != connControl || got[1] != connBulkIn {
		t.Errorf("receiver's connections %v, want CONTROL and BULK_IN", got)
	}
	if st := a.Status(); st.Peers != 1 {
		t.Errorf("sender status: %d peers, want 1", st.Peers)
	}
	r1.Release()
	if err := bulk.wait(t); err != nil {
		t.Fatal(err)
	}
	if m := awaitMsg(t, r1, a.NID(), 1); !bytes.Equal(m.Payload, big) {
		t.Fatalf("bulk message damaged: %v", m.Err)
	}
}

// TestConnectRace plays the peer in a connect race on the CONTROL slot:
// node 1 dials the peer while the peer dials node 1. The connection
// initiated by the lower NID must win on both sides, and the message node 1
// queued must travel on it.
func TestConnectRace(t *testing.T) {
	for _, tc := range []struct {
		name string
		peer lnet.NID
	}{
		{"peer lower", tcpNID(5)},   // below node 1 (127.0.0.11): the peer's connection wins
		{"peer higher", tcpNID(30)}, // above: node 1's own connection wins
	} {
		t.Run(tc.name, func(t *testing.T) {
			lndtest.CheckLeaks(t)
			h := newHarness(Config{})
			b := h.start(t, 1, lndtest.NewRecorder(lndtest.Policy{}))
			ln, err := net.Listen("tcp", netip.AddrPortFrom(tc.peer.Addr, 0).String())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ln.Close() }()
			h.mu.Lock()
			h.ports[tc.peer] = netip.MustParseAddrPort(ln.Addr().String())
			h.mu.Unlock()

			tx := send(b, tc.peer, []byte("race"), 7)
			in, err := ln.Accept() // node 1's attempt; its hello waits for an answer
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = in.Close() }()
			req := readHello(t, in)
			if req.Src != b.NID() || req.Dst != tc.peer || req.Type != connControl {
				t.Fatalf("node 1's hello %+v", req)
			}
			out := h.DialRaw(t, 1) // our attempt
			writeHello(t, out, hello{Type: connControl, Src: tc.peer, Dst: b.NID(), SrcInc: 42})
			rep := readHello(t, out)
			peerWins := nidLess(tc.peer, b.NID())
			if got := rep.Flags&helloRace != 0; got == peerWins {
				t.Fatalf("node 1 answered race=%v, want %v", got, !peerWins)
			}
			answer := hello{Type: connControl, Src: tc.peer, Dst: b.NID(), SrcInc: 42, DstInc: b.Incarnation()}
			winner, loser := in, out
			if peerWins {
				answer.Flags = helloRace
				winner, loser = out, in
			}
			writeHello(t, in, answer)
			lndtest.ExpectClosed(t, loser)
			_, hdr, payload := readFrame(t, winner)
			if hdr.MatchBits != 7 || string(payload) != "race" {
				t.Fatalf("frame %+v %q", hdr, payload)
			}
			if err := tx.wait(t); err != nil {
				t.Fatal(err)
			}
			if got := slotConns(b, tc.peer); len(got) != 1 || got[0] != connControl {
				t.Errorf("node 1's connections %v, want CONTROL", got)
			}
		})
	}
}

// TestBackoff: after a failed connection attempt, sends to that peer fail
// at once with ErrInBackoff until ReconnectMin has passed.
func TestBackoff(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{ReconnectMin: time.Hour, ReconnectMax: time.Hour})
	rec := lndtest.NewRecorder(lndtest.Policy{})
	a := h.start(t, 0, rec)
	ghost := h.NID(20)
	err := send(a, ghost, nil, 1).wait(t)
	if !errors.Is(err, lnet.ErrPeerDown) || errors.Is(err, ErrInBackoff) {
		t.Fatalf("first send: %v, want lnet.ErrPeerDown from a failed attempt", err)
	}
	err = send(a, ghost, make([]byte, 4096), 2).wait(t)
	if !errors.Is(err, lnet.ErrPeerDown) || !errors.Is(err, ErrInBackoff) {
		t.Fatalf("second send: %v, want lnet.ErrPeerDown and ErrInBackoff", err)
	}
}

// TestDefaultResolve: without Resolve, peers are dialled on Config.Port at
// their NID's address, as daemons on 127.0.0.x sharing one port are.
func TestDefaultResolve(t *testing.T) {
	lndtest.CheckLeaks(t)
	// A port free on both addresses, found the usual way; another process
	// may take it meanwhile, so try a few.
	var a, b *NI
	var ra, rb *lndtest.Recorder
	for try := 0; a == nil && try < 10; try++ {
		ln, err := net.Listen("tcp", "127.0.0.40:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		lnd := New(Config{Port: port})
		ra, rb = lndtest.NewRecorder(lndtest.Policy{}), lndtest.NewRecorder(lndtest.Policy{})
		start := func(x byte, rec *lndtest.Recorder) (*NI, error) {
			nid := tcpNID(x)
			return lnd.start(context.Background(), lnet.NIConfig{Net: nid.Net, Interfaces: []string{nid.Addr.String()},
				Logger: zaptest.NewLogger(t)}, rec)
		}
		na, err := start(40, ra)
		if err != nil {
			continue
		}
		nb, err := start(41, rb)
		if err != nil {
			_ = na.Close()
			continue
		}
		a, b = na, nb
		t.Cleanup(func() { _ = na.Close(); _ = nb.Close() })
	}
	if a == nil {
		t.Fatal("no port free on 127.0.0.40 and 127.0.0.41")
	}
	roundTrip(t, a, b, ra, rb, 0)
}

// TestStartupErrors: configurations that cannot work are refused.
func TestStartupErrors(t *testing.T) {
	lndtest.CheckLeaks(t)
	rec := lndtest.NewRecorder(lndtest.Policy{})
	tcp := lnet.NIConfig{Net: lnet.Net{Type: lnet.SockLND}, Interfaces: []string{"127.0.0.1"}}
	for _, tc := range []struct {
		name string
		cfg  Config
		nc   lnet.NIConfig
		host lnet.Host
		want error
	}{
		{"bad port", Config{Port: 70000}, tcp, rec, ErrBadConfig},
		{"negative min_bulk", Config{MinBulk: -1}, tcp, rec, ErrBadConfig},
		{"back-off upside down", Config{ReconnectMin: time.Minute, ReconnectMax: time.Second}, tcp, rec, ErrBadConfig},
		{"not tcp", Config{}, lnet.NIConfig{Net: lnet.Net{Type: lnet.O2IBLND}, Interfaces: []string{"127.0.0.1"}}, rec, ErrBadConfig},
		{"no host", Config{}, tcp, nil, ErrBadConfig},
		{"no such interface", Config{}, lnet.NIConfig{Net: tcp.Net, Interfaces: []string{"nosuchif0"}}, rec, lnet.ErrBadNetworks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ni, err := New(tc.cfg).Startup(context.Background(), tc.nc, tc.host)
			if !errors.Is(err, tc.want) || ni != nil {
				t.Fatalf("Startup: %v, %v; want %v", ni, err, tc.want)
			}
		})
	}
}

// TestSendErrors: messages that cannot be sent complete at once.
func TestSendErrors(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	a := h.start(t, 0, lndtest.NewRecorder(lndtest.Policy{}))
	for _, tc := range []struct {
		name string
		tx   func(s *sent)
		want error
	}{
		{"payload disagrees with header", func(s *sent) { s.tx.Hdr.PayloadLen = 5 }, lnet.ErrBadHeader},
		{"to itself", func(s *sent) { s.tx.Dest = a.NID() }, lnet.ErrNoRoute},
		{"other network", func(s *sent) { s.tx.Dest = lnet.MustParseNID("127.0.0.11@tcp1") }, lnet.ErrNoRoute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &sent{done: make(chan error, 1)}
			s.tx = &lnet.Tx{Dest: h.NID(1), Hdr: lnet.Header{Type: lnet.MsgPut}, Payload: []byte("abc"),
				OnComplete: func(_ *lnet.Tx, err error) { s.done <- err }}
			s.tx.Hdr.PayloadLen = 3
			tc.tx(s)
			a.Send(s.tx)
			if err := s.wait(t); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
}

// TestInlineSplit: small messages sent while the receiver reads nothing
// fill the socket, so Send's inline writes are cut short and handed to the
// writer goroutine; once the receiver reads again every message arrives,
// intact and in order.
func TestInlineSplit(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{SndBuf: 4096, RcvBuf: 4096})
	r1 := lndtest.NewRecorder(lndtest.Policy{Hold: func(*lnet.Header) bool { return true }})
	a := h.start(t, 0, lndtest.NewRecorder(lndtest.Policy{}))
	b := h.start(t, 1, r1)
	const n, size = 5000, 1000 // under MinBulk: CONTROL, eligible for inline writes
	// The first message connects, and the receiver holds it.
	sends := []*sent{send(a, b.NID(), bytes.Repeat([]byte{0, 0}, size/2), 0)}
	if err := sends[0].wait(t); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		sends = append(sends, send(a, b.NID(), bytes.Repeat([]byte{byte(i), byte(i >> 8)}, size/2), uint64(i)))
		if a.inlineSplit.Load() > 0 && i > 100 {
			break
		}
	}
	if a.inlineSplit.Load() == 0 {
		t.Fatalf("%d messages to a receiver that reads nothing never filled the socket", len(sends))
	}
	r1.Release()
	for _, s := range sends[1:] {
		if err := s.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	r1.Await(t, "every message", func(s *lndtest.Snapshot) bool { return len(s.Msgs) == len(sends) })
	r1.View(func(s *lndtest.Snapshot) {
		for i, m := range s.Msgs {
			if m.Err != nil || m.Hdr.MatchBits != uint64(i) || !bytes.Equal(m.Payload, sends[i].tx.Payload) {
				t.Fatalf("message %d: match %d, err %v, payload intact %v", i, m.Hdr.MatchBits, m.Err,
					bytes.Equal(m.Payload, sends[i].tx.Payload))
			}
		}
	})
}

// TestWrongNIDAnswers: a listener at a peer's address that answers the
// hello as some other NID is refused: the message fails with ErrPeerDown
// wrapping ErrWrongNID, and the refusal is logged with nid and reason.
func TestWrongNIDAnswers(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	logs := observe(h)
	a := h.start(t, 0, lndtest.NewRecorder(lndtest.Policy{}))
	peer, impostor := tcpNID(70), tcpNID(71)
	ln, err := net.Listen("tcp", netip.AddrPortFrom(peer.Addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	h.mu.Lock()
	h.ports[peer] = netip.MustParseAddrPort(ln.Addr().String())
	h.mu.Unlock()
	tx := send(a, peer, []byte("hi"), 1)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	req := readHello(t, c)
	writeHello(t, c, hello{Type: req.Type.flip(), Src: impostor, Dst: a.NID(), SrcInc: 5})
	err = tx.wait(t)
	if !errors.Is(err, lnet.ErrPeerDown) || !errors.Is(err, ErrWrongNID) || !errors.Is(err, lnet.ErrProtocol) {
		t.Fatalf("send: %v, want lnet.ErrPeerDown, ErrWrongNID and lnet.ErrProtocol", err)
	}
	lndtest.ExpectClosed(t, c)
	awaitLog(t, logs, peer, ErrWrongNID)
}

// TestInlineAfterWriterDeadline: a send that went through the writer
// goroutine (socket full) leaves no write deadline behind; once
// Config.Timeout has passed, an inline send on the same healthy connection
// still goes through. (A stale deadline failed every inline send with an
// i/o timeout and dropped connections every Timeout.)
func TestInlineAfterWriterDeadline(t *testing.T) {
	lndtest.CheckLeaks(t)
	const timeout = time.Second
	h := newHarness(Config{Timeout: timeout})
	r1 := lndtest.NewRecorder(lndtest.Policy{})
	a := h.start(t, 0, lndtest.NewRecorder(lndtest.Policy{}))
	b := h.start(t, 1, r1)
	// Sends made before the connection is up queue for the writer
	// goroutine, which writes them under its deadline.
	var sends []*sent
	for i := 0; i < 50; i++ {
		sends = append(sends, send(a, b.NID(), make([]byte, 1000), uint64(i)))
	}
	for _, s := range sends {
		if err := s.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * timeout) // the writer's deadline, had it stayed, is now past
	last := send(a, b.NID(), []byte("after"), uint64(len(sends)))
	if err := last.wait(t); err != nil {
		t.Fatalf("inline send after the writer's deadline passed: %v", err)
	}
	r1.Await(t, "every message", func(s *lndtest.Snapshot) bool { return len(s.Msgs) == len(sends)+1 })
}

// TestInlineRefusedInBurst: Inline is refused for a message whose
// successor already waits in the read buffer (its work had better start at
// once, elsewhere), and granted for the last message of the burst.
func TestInlineRefusedInBurst(t *testing.T) {
	lndtest.CheckLeaks(t)
	h := newHarness(Config{})
	granted := make(chan bool, 2)
	r := lndtest.NewRecorder(lndtest.Policy{InDone: func(_ *lnet.Header, rx lnet.Rx) {
		granted <- rx.(lnet.Inliner).Inline(func() {})
	}})
	h.start(t, 0, r)
	c := h.DialRaw(t, 0)
	peer := h.NID(9)
	if err := h.Handshake(t, c, 0, peer); err != nil {
		t.Fatal(err)
	}
	var burst []byte
	for i := range 2 {
		hdr := lnet.Header{Dest: h.NID(0), Src: peer, DestPID: lnet.PIDLustre, SrcPID: lnet.PIDLustre,
			Type: lnet.MsgPut, PayloadLen: 8, MatchBits: uint64(i)}
		burst = append(burst, h.Frame(hdr, make([]byte, 8))...)
	}
	if _, err := c.Write(burst); err != nil { // one segment: one read takes both
		t.Fatal(err)
	}
	if first, last := <-granted, <-granted; first || !last {
		t.Fatalf("Inline granted %v for the first message of a burst, %v for the last", first, last)
	}
}
