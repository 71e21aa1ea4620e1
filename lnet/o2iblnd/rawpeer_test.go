package o2iblnd

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// rawPeer speaks the o2iblnd protocol by hand over the in-memory fabric, so
// that a test can send an NI what no well-behaved peer would.
type rawPeer struct {
	t     *testing.T
	nid   lnet.NID
	wire  uint64
	stamp uint64
	dev   verbs.Device
	pd    verbs.PD
	cq    verbs.CQ
	ep    verbs.Endpoint
	qp    verbs.QP
	slab  []byte // rawRx receive buffers, then rawTx send buffers
	mr    verbs.MR
	wcs   []verbs.WC

	peerWire, peerStamp uint64
	cp                  connParams
	nextTx              int
	flushed             bool
}

const (
	rawRx  = 16
	rawTx  = 16
	rawBuf = DefaultMaxMsgSize
)

func newRawPeer(t *testing.T, cl *cluster, addr string) *rawPeer {
	t.Helper()
	cl.device(addr)
	rp := &rawPeer{t: t, nid: lnet.NID{Addr: netip.MustParseAddr(addr), Net: lnet.Net{Type: lnet.O2IBLND}}, stamp: 4242, wcs: make([]verbs.WC, 16)}
	rp.wire, _ = nidToWire(rp.nid)
	var err error
	if rp.dev, _, err = cl.f.Open(addr); err != nil {
		t.Fatal(err)
	}
	if rp.pd, err = rp.dev.AllocPD(); err != nil {
		t.Fatal(err)
	}
	if rp.cq, err = rp.dev.CreateCQ(128); err != nil {
		t.Fatal(err)
	}
	rp.slab = make([]byte, (rawRx+rawTx)*rawBuf)
	if rp.mr, err = rp.pd.RegMR(rp.slab, verbs.AccessLocalWrite|verbs.AccessRemoteWrite); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rp.close)
	return rp
}

func (rp *rawPeer) close() {
	if rp.ep != nil {
		_ = rp.ep.Close()
		rp.ep = nil
	}
	for _, err := range []error{rp.mr.Close(), rp.cq.Close(), rp.pd.Close(), rp.dev.Close()} {
		if err != nil {
			rp.t.Errorf("raw peer close: %v", err)
		}
	}
}

func (rp *rawPeer) sge(off, n int) []verbs.SGE {
	return []verbs.SGE{{Addr: rp.mr.Addr() + uint64(off), Length: uint32(n), LKey: rp.mr.LKey()}}
}

func (rp *rawPeer) createQP(ep verbs.Endpoint) {
	rp.t.Helper()
	rp.ep = ep
	var err error
	rp.qp, err = ep.CreateQP(verbs.QPConfig{PD: rp.pd, CQ: rp.cq, MaxSendWR: rawTx, MaxRecvWR: rawRx, MaxSendSGE: 1, MaxRecvSGE: 1})
	if err != nil {
		rp.t.Fatal(err)
	}
	for i := 0; i < rawRx; i++ {
		if err := rp.qp.PostRecv(&verbs.RecvWR{ID: uint64(i), SGL: rp.sge(i*rawBuf, rawBuf)}); err != nil {
			rp.t.Fatal(err)
		}
	}
}

// connReq builds a CONNREQ to target; mutate may spoil it.
func (rp *rawPeer) connReq(target *node, cp connParams, mutate func(b []byte)) []byte {
	b := make([]byte, connMsgSize)
	putHead(b, msgHead{Type: msgConnReq, Nob: connMsgSize, SrcNID: rp.wire, SrcStamp: rp.stamp, DstNID: target.ni.nidWire})
	cp.put(b[msgHdrSize:])
	if mutate != nil {
		mutate(b)
	}
	return b
}

// dial connects to target with CONNREQ priv; it returns the error of a
// failed connect (a *verbs.RejectError for a reject).
func (rp *rawPeer) dial(target *node, priv []byte) error {
	rp.t.Helper()
	if rp.ep != nil {
		_ = rp.ep.Close()
		rp.ep, rp.flushed = nil, false
		for n, _ := rp.cq.Poll(rp.wcs); n > 0; n, _ = rp.cq.Poll(rp.wcs) {
		}
	}
	ep, err := rp.dev.Dial(context.Background(), rp.nid.Addr, netip.AddrPortFrom(target.nid().Addr, DefaultPort))
	if err != nil {
		rp.t.Fatal(err)
	}
	rp.createQP(ep)
	ack, err := ep.Connect(context.Background(), priv)
	if err != nil {
		return err
	}
	var m msg
	if err := decodeMsg(ack, &m, 256); err != nil || m.Type != msgConnAck {
		rp.t.Fatalf("CONNACK %+v: %v", m.msgHead, err)
	}
	rp.peerWire, rp.peerStamp, rp.cp = m.SrcNID, m.SrcStamp, m.CP
	return nil
}

// connect dials target with a well-formed request for cp.
func (rp *rawPeer) connect(target *node, cp connParams) {
	rp.t.Helper()
	if err := rp.dial(target, rp.connReq(target, cp, nil)); err != nil {
		rp.t.Fatalf("raw connect: %v", err)
	}
}

// rejected dials with priv and returns the reject the NI answered with.
func (rp *rawPeer) rejected(target *node, priv []byte) rejection {
	rp.t.Helper()
	err := rp.dial(target, priv)
	re, ok := err.(*verbs.RejectError)
	if !ok {
		rp.t.Fatalf("connect with a bad request: %v, want a reject", err)
	}
	r, derr := decodeRejection(re.PrivateData)
	if derr != nil {
		rp.t.Fatalf("reject private data: %v", derr)
	}
	_ = rp.ep.Close()
	rp.ep = nil
	return r
}

// listen accepts one connection from an NI on rp's address, in the
// background; wait returns once it is established.
func (rp *rawPeer) listen() (wait func()) {
	rp.t.Helper()
	l, err := rp.dev.Listen(netip.AddrPortFrom(rp.nid.Addr, DefaultPort))
	if err != nil {
		rp.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer l.Close()
		ep, err := l.Accept(context.Background())
		if err != nil {
			done <- err
			return
		}
		var m msg
		if err := decodeMsg(ep.PrivateData(), &m, 256); err != nil {
			done <- err
			return
		}
		rp.peerWire, rp.peerStamp, rp.cp = m.SrcNID, m.SrcStamp, m.CP
		rp.ep = ep
		rp.qp, err = ep.CreateQP(verbs.QPConfig{PD: rp.pd, CQ: rp.cq, MaxSendWR: rawTx, MaxRecvWR: rawRx, MaxSendSGE: 1, MaxRecvSGE: 1})
		if err != nil {
			done <- err
			return
		}
		for i := 0; i < rawRx; i++ {
			if err := rp.qp.PostRecv(&verbs.RecvWR{ID: uint64(i), SGL: rp.sge(i*rawBuf, rawBuf)}); err != nil {
				done <- err
				return
			}
		}
		ack := make([]byte, connMsgSize)
		putHead(ack, msgHead{Type: msgConnAck, Nob: connMsgSize, SrcNID: rp.wire, SrcStamp: rp.stamp, DstNID: m.SrcNID, DstStamp: m.SrcStamp})
		m.CP.put(ack[msgHdrSize:])
		done <- ep.Accept(context.Background(), ack)
	}()
	return func() {
		rp.t.Helper()
		select {
		case err := <-done:
			if err != nil {
				rp.t.Fatalf("raw accept: %v", err)
			}
		case <-time.After(waitLimit):
			rp.t.Fatal("nobody connected to the raw peer")
		}
	}
}

// head is the header of a message from rp to its connected NI.
func (rp *rawPeer) head(typ msgType, credits uint8, nob int) msgHead {
	return msgHead{Type: typ, Credits: credits, Nob: uint32(nob), SrcNID: rp.wire, SrcStamp: rp.stamp, DstNID: rp.peerWire, DstStamp: rp.peerStamp}
}

// send posts the first nob bytes that fill writes.
func (rp *rawPeer) send(fill func(b []byte) int) {
	rp.t.Helper()
	off := (rawRx + rp.nextTx%rawTx) * rawBuf
	rp.nextTx++
	n := fill(rp.slab[off : off+rawBuf])
	if err := rp.qp.PostSend(&verbs.SendWR{ID: 1000, Opcode: verbs.OpSend, SGL: rp.sge(off, n), Signaled: true}); err != nil {
		rp.t.Fatal(err)
	}
}

// sendMsg sends a message of type typ whose body body writes.
func (rp *rawPeer) sendMsg(typ msgType, credits uint8, body func(b []byte) int) {
	rp.send(func(b []byte) int {
		n := msgHdrSize + body(b[msgHdrSize:])
		putHead(b, rp.head(typ, credits, n))
		return n
	})
}

// recv returns the next message the NI sent, decoded, reposting its
// buffer; ok is false once the connection is flushed (the NI closed it).
func (rp *rawPeer) recv() (m msg, ok bool) {
	rp.t.Helper()
	deadline := time.After(waitLimit)
	for {
		n, err := rp.cq.Poll(rp.wcs[:1])
		if err != nil {
			rp.t.Fatal(err)
		}
		if n == 1 {
			wc := rp.wcs[0]
			if wc.Status != verbs.Success {
				rp.flushed = true
				return msg{}, false
			}
			if wc.Opcode != verbs.OpRecv {
				continue
			}
			i := int(wc.ID)
			b := append([]byte(nil), rp.slab[i*rawBuf:i*rawBuf+int(wc.ByteLen)]...)
			if err := decodeMsg(b, &m, 256); err != nil {
				rp.t.Fatalf("raw peer got a bad message: %v", err)
			}
			if err := rp.qp.PostRecv(&verbs.RecvWR{ID: uint64(i), SGL: rp.sge(i*rawBuf, rawBuf)}); err != nil {
				rp.t.Fatal(err)
			}
			return m, true
		}
		select {
		case <-time.After(time.Millisecond):
		case <-deadline:
			rp.t.Fatal("raw peer: nothing arrived")
		}
	}
}

// expectClosed waits until the NI has torn the connection down.
func (rp *rawPeer) expectClosed() {
	rp.t.Helper()
	for !rp.flushed {
		if m, ok := rp.recv(); ok {
			rp.t.Logf("raw peer: %v before the close", m.Type)
		}
	}
}

// immediate writes an IMMEDIATE PUT of payload into b.
func (rp *rawPeer) immediate(payload []byte) func(b []byte) int {
	return func(b []byte) int {
		h := lnet.Header{Dest: nidFromWire(rp.peerWire), Src: rp.nid, Type: lnet.MsgPut, PayloadLen: uint32(len(payload))}
		h.Encode(b)
		return lnet.HeaderSize + copy(b[lnet.HeaderSize:], payload)
	}
}

func le64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }
