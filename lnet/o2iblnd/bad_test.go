package o2iblnd

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/memverbs"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

var defaultCP = connParams{QueueDepth: 8, MaxFrags: DefaultMaxFrags, MaxMsgSize: DefaultMaxMsgSize}

// checkMRs checks that n holds exactly one MR per live connection plus the
// bulk cache's registrations, and that no bulk registration is in use.
func checkMRs(t *testing.T, n *node) {
	t.Helper()
	eventually(t, "MRs accounted for", func() bool {
		n.ni.mu.Lock()
		conns := 0
		for _, p := range n.ni.peers {
			if p.conn != nil {
				conns++
			}
		}
		n.ni.mu.Unlock()
		s := n.ni.cache.stats()
		return s.InUse == 0 && n.dev.MRs() == conns+s.Entries
	})
}

// talk checks that a and b still exchange small and bulk messages.
func talk(t *testing.T, a, b *node) {
	t.Helper()
	for _, p := range [][2]*node{{a, b}, {b, a}} {
		for _, size := range []int{10, 100 << 10} {
			data := pattern(size, 9)
			if err := send(t, p[0], putTx(p[0], p[1], data)); err != nil {
				t.Fatalf("%v -> %v after a bad peer: %v", p[0].nid(), p[1].nid(), err)
			}
			mustEqual(t, p[1].host.nextFrom(t, p[0].nid()).data, data)
		}
	}
}

func TestBadHandshake(t *testing.T) {
	cl := newCluster(t, Config{})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	talk(t, a, b)
	cases := []struct {
		name string
		cp   connParams
		mut  func(b []byte)
		why  uint8
	}{
		{"other version", defaultCP, func(b []byte) { binary.LittleEndian.PutUint16(b[4:], 0x11) }, rejectConnUncompat},
		{"bad magic", defaultCP, func(b []byte) { b[0] ^= 0xff }, rejectConnUncompat},
		{"stale incarnation", defaultCP, func(b []byte) { le64(b[40:], 12345) }, rejectConnStale},
		{"for another NID", defaultCP, func(b []byte) { le64(b[32:], a.ni.nidWire+1) }, rejectFatal},
		{"not a CONNREQ", defaultCP, func(b []byte) { b[6] = byte(msgNoop) }, rejectFatal},
		{"truncated", defaultCP, func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 30) }, rejectFatal},
		{"queue too deep", connParams{QueueDepth: 64, MaxFrags: 256, MaxMsgSize: 4096}, nil, rejectMsgQueueSize},
		{"messages too large", connParams{QueueDepth: 8, MaxFrags: 256, MaxMsgSize: 8192}, nil, rejectMsgQueueSize},
		{"too many fragments", connParams{QueueDepth: 8, MaxFrags: 1024, MaxMsgSize: 4096}, nil, rejectRDMAFrags},
		{"nonsense parameters", connParams{QueueDepth: 0, MaxFrags: 1, MaxMsgSize: 4096}, nil, rejectFatal},
	}
	for _, c := range cases {
		rp := newRawPeer(t, cl, "10.0.0.9")
		r := rp.rejected(a, rp.connReq(a, c.cp, c.mut))
		if r.Why != c.why || r.Magic != ibMagic || r.Version != ibVersion || r.Incarnation != a.ni.incarnation || r.CP != a.ni.cp {
			t.Errorf("%s: rejected with %+v (%s), want %s", c.name, r, rejectReason(r.Why), rejectReason(c.why))
		}
		rp.close()
	}
	talk(t, a, b)
	checkMRs(t, a)
	// A request from an earlier incarnation of a peer we know is stale.
	rp := newRawPeer(t, cl, "10.0.0.9")
	rp.connect(a, defaultCP)
	rp.stamp--
	if r := rp.rejected(a, rp.connReq(a, defaultCP, nil)); r.Why != rejectConnStale {
		t.Errorf("request from an older incarnation: %s", rejectReason(r.Why))
	}
}

func TestBadMessages(t *testing.T) {
	cl := newCluster(t, Config{})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	cases := []struct {
		name string
		cp   connParams
		send func(rp *rawPeer)
		want error
	}{
		{"message larger than the negotiated maximum", connParams{8, 256, 1024}, func(rp *rawPeer) {
			rp.sendMsg(msgImmediate, 0, rp.immediate(make([]byte, 2000)))
		}, ErrBadMsg},
		{"stale incarnation", defaultCP, func(rp *rawPeer) {
			rp.send(func(b []byte) int {
				h := rp.head(msgNoop, 0, msgHdrSize)
				h.SrcStamp++
				putHead(b, h)
				return msgHdrSize
			})
		}, ErrStaleMsg},
		{"for another NID", defaultCP, func(rp *rawPeer) {
			rp.send(func(b []byte) int {
				h := rp.head(msgNoop, 0, msgHdrSize)
				h.DstNID++
				putHead(b, h)
				return msgHdrSize
			})
		}, ErrStaleMsg},
		{"completion for an unknown exchange", defaultCP, func(rp *rawPeer) {
			rp.sendMsg(msgPutDone, 0, func(b []byte) int { le64(b, 999); return 12 })
		}, ErrBadMsg},
		{"credits beyond the queue depth", defaultCP, func(rp *rawPeer) {
			rp.sendMsg(msgNoop, 200, func([]byte) int { return 0 })
		}, ErrBadMsg},
		{"garbage", defaultCP, func(rp *rawPeer) {
			rp.send(func(b []byte) int {
				for i := range 64 {
					b[i] = 0xff
				}
				return 64
			})
		}, ErrBadMagic},
		{"bad LNet header", defaultCP, func(rp *rawPeer) {
			rp.sendMsg(msgImmediate, 0, func(b []byte) int {
				n := rp.immediate(nil)(b)
				b[48] = 9 // no such LNet message type
				return n
			})
		}, lnet.ErrBadHeader},
		{"checksum mismatch", defaultCP, func(rp *rawPeer) {
			rp.send(func(b []byte) int {
				n := msgHdrSize + rp.immediate([]byte("data"))(b[msgHdrSize:])
				putHead(b, rp.head(msgImmediate, 0, n))
				seal(b, n, true)
				b[n-1] ^= 1
				return n
			})
		}, ErrChecksum},
		{"descriptor with more fragments than negotiated", connParams{8, 4, 4096}, func(rp *rawPeer) {
			rp.sendMsg(msgGetReq, 0, func(b []byte) int {
				h := lnet.Header{Dest: a.nid(), Src: rp.nid, Type: lnet.MsgGet, Length: 1 << 20}
				h.Encode(b)
				le64(b[lnet.HeaderSize:], 1)
				frags := make([]rdFrag, 5)
				return lnet.HeaderSize + 8 + putRD(b[lnet.HeaderSize+8:], 1, frags)
			})
		}, ErrBadMsg},
		{"CONNREQ on an established connection", defaultCP, func(rp *rawPeer) {
			rp.sendMsg(msgConnReq, 0, func(b []byte) int { defaultCP.put(b); return connParamsSize })
		}, ErrBadMsg},
	}
	talk(t, a, b)
	for i, c := range cases {
		rp := newRawPeer(t, cl, "10.0.0.9")
		rp.stamp += uint64(i) // each connection is a newer incarnation of the raw peer
		rp.connect(a, c.cp)
		a.host.waitEvent(t, rp.nid, true)
		c.send(rp)
		rp.expectClosed()
		ev := a.host.waitEvent(t, rp.nid, false)
		if !errors.Is(ev.err, lnet.ErrProtocol) || !errors.Is(ev.err, c.want) {
			t.Errorf("%s: connection closed with %v, want lnet.ErrProtocol and %v", c.name, ev.err, c.want)
		}
		talk(t, a, b)
		checkMRs(t, a)
		rp.close()
	}
}

// TestBadRDMADescriptor: a peer whose descriptor points outside its
// registered memory makes our RDMA write fail; that connection closes and
// the transfer fails, nothing else.
func TestBadRDMADescriptor(t *testing.T) {
	cl := newCluster(t, Config{})
	a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
	talk(t, a, b)

	t.Run("PUT_ACK", func(t *testing.T) {
		rp := newRawPeer(t, cl, "10.0.0.9")
		established := rp.listen()
		tx := &lnet.Tx{
			Dest:    rp.nid,
			Hdr:     lnet.Header{Dest: rp.nid, Src: a.nid(), Type: lnet.MsgPut, PayloadLen: 64 << 10},
			Payload: pattern(64<<10, 1),
		}
		done := make(chan error, 1)
		tx.OnComplete = func(_ *lnet.Tx, err error) { done <- err }
		a.ni.Send(tx)
		established()
		m, ok := rp.recv()
		if !ok || m.Type != msgPutReq {
			t.Fatalf("raw peer got %v", m.Type)
		}
		rp.sendMsg(msgPutAck, 0, func(b []byte) int {
			le64(b, m.Cookie)
			le64(b[8:], 5)
			outside := rp.mr.Addr() + uint64(len(rp.slab)) - 100
			return 16 + putRD1(b[16:], rp.mr.RKey(), 64<<10, outside)
		})
		if err := <-done; !errors.Is(err, lnet.ErrPeerDown) || !errors.Is(err, ErrCompletion) {
			t.Fatalf("PUT into a bad descriptor: %v", err)
		}
		ev := a.host.waitEvent(t, rp.nid, false)
		if !errors.Is(ev.err, ErrCompletion) {
			t.Errorf("closed with %v", ev.err)
		}
		rp.expectClosed()
		talk(t, a, b)
		checkMRs(t, a)
		rp.close()
	})

	t.Run("GET_REQ", func(t *testing.T) {
		a.host.mu.Lock()
		a.host.getData = pattern(64<<10, 2)
		a.host.mu.Unlock()
		rp := newRawPeer(t, cl, "10.0.0.9")
		rp.stamp += 100
		rp.connect(a, defaultCP)
		rp.sendMsg(msgGetReq, 0, func(b []byte) int {
			h := lnet.Header{Dest: a.nid(), Src: rp.nid, Type: lnet.MsgGet, Length: 64 << 10}
			h.Encode(b)
			le64(b[lnet.HeaderSize:], 7)
			return lnet.HeaderSize + 8 + putRD1(b[lnet.HeaderSize+8:], 0xdead, 64<<10, rp.mr.Addr())
		})
		ev := a.host.waitEvent(t, rp.nid, false)
		if !errors.Is(ev.err, ErrCompletion) || !errors.Is(ev.err, lnet.ErrPeerDown) {
			t.Errorf("closed with %v", ev.err)
		}
		rp.expectClosed()
		talk(t, a, b)
		checkMRs(t, a)
		rp.close()
	})
}

// TestCompletionError: an error completion on one connection (an
// asynchronous QP error) closes that connection only; the next message
// reconnects.
func TestCompletionError(t *testing.T) {
	cl := newCluster(t, Config{})
	a, b, c := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0), cl.start("10.0.0.3", 0)
	talk(t, a, b)
	talk(t, a, c)
	for len(c.host.events) > 0 {
		<-c.host.events
	}
	var qp *memverbs.QP
	for _, q := range a.dev.QPs() {
		if q.Remote().Addr() == b.nid().Addr {
			qp = q
		}
	}
	if qp == nil {
		t.Fatal("no QP to b")
	}
	qp.Fail(verbs.FatalErr)
	ev := a.host.waitEvent(t, b.nid(), false)
	if !errors.Is(ev.err, ErrCompletion) || !errors.Is(ev.err, lnet.ErrPeerDown) {
		t.Errorf("closed with %v", ev.err)
	}
	b.host.waitEvent(t, a.nid(), false) // a's disconnect reaches b
	talk(t, a, c)
	checkMRs(t, a)
	talk(t, a, b) // reconnects
	checkMRs(t, a)
	select {
	case e := <-c.host.events:
		t.Errorf("c heard %+v while a's connection to b failed", e)
	default:
	}
}
