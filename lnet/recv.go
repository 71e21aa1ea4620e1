package lnet

import (
	"fmt"

	"go.uber.org/zap"
)

// Receive implements Host: a message arrived on ns.
func (ns *niState) Receive(_ NI, from NID, hdr *Header, rx Rx) {
	ns.ln.receive(ns, from, hdr, rx)
}

// PeerState implements Host.
func (ns *niState) PeerState(_ NI, nid NID, alive bool, err error) {
	ln := ns.ln
	ln.mu.Lock()
	p := ln.peerLocked(ns, nid)
	changed := p.alive != alive
	p.alive, p.lastErr = alive, err
	ln.mu.Unlock()
	if changed {
		ln.log.Debug("lnet: peer state", zap.Stringer("nid", nid), zap.Bool("alive", alive), zap.Error(err))
	}
}

func noopDone(error) {}

// receive handles one arrived message. It calls rx.Recv exactly once before
// returning (LNDs must not rely on that: Host allows a later call).
func (ln *LNet) receive(ns *niState, from NID, hdr *Header, rx Rx) {
	switch {
	case !ln.up.Load():
		ln.drop(ns, from, hdr, rx, ErrClosed, false)
		return
	case !ln.forUs(ns, hdr):
		ln.drop(ns, from, hdr, rx, fmt.Errorf("%w: for %d-%v", ErrNoRoute, hdr.DestPID, hdr.Dest), true)
		return
	}
	switch hdr.Type {
	case MsgPut:
		ln.recvPut(ns, from, hdr, rx)
	case MsgGet:
		ln.recvGet(ns, from, hdr, rx)
	case MsgAck:
		ln.recvAck(ns, from, hdr, rx)
	case MsgReply:
		ln.recvReply(ns, from, hdr, rx)
	default:
		ln.drop(ns, from, hdr, rx, fmt.Errorf("%w: type %v", ErrBadHeader, hdr.Type), true)
	}
}

// forUs checks the header's destination: one of our NIDs on the NI it came
// in on (LNet does not route), and our PID or PIDAny.
func (ln *LNet) forUs(ns *niState, hdr *Header) bool {
	if hdr.DestPID != ln.pid && hdr.DestPID != PIDAny {
		return false
	}
	if hdr.Portal >= MaxPortal {
		return false
	}
	if ns.lo {
		_, ok := ln.local[hdr.Dest]
		return ok
	}
	return hdr.Dest == ns.nid
}

// drop discards a message LNet will not take: its payload is released
// unread and it is counted on the NI and the peer.
func (ln *LNet) drop(ns *niState, from NID, hdr *Header, rx Rx, why error, count bool) {
	if count {
		ln.mu.Lock()
		ln.dropCountLocked(ns, from)
		ln.mu.Unlock()
	}
	ln.log.Debug("lnet: dropped message", zap.Stringer("nid", from), zap.Stringer("type", hdr.Type),
		zap.Uint32("portal", hdr.Portal), zap.Uint64("match_bits", hdr.MatchBits),
		zap.Uint32("length", hdr.PayloadLen), zap.Error(why))
	rx.Recv(nil, noopDone)
}

func (ln *LNet) dropCountLocked(ns *niState, from NID) {
	ns.drops++
	if !ns.lo {
		ln.peerLocked(ns, from).dropCount++
	}
}

func (ln *LNet) countRecvLocked(ns *niState, from NID) {
	if !ns.lo {
		ln.peerLocked(ns, from).recvCount++
	}
}

// matchLocked matches an incoming PUT or GET. On failure it counts the drop
// and returns the reason.
func (ln *LNet) matchLocked(ns *niState, from NID, hdr *Header, op MDOptions, rlen uint32) (h *MDHandle, off, mlen int, err error) {
	src := ProcessID{NID: hdr.Src, PID: hdr.SrcPID}
	h = ln.portals[hdr.Portal].match(src, hdr.MatchBits, op)
	if h == nil {
		ln.dropCountLocked(ns, from)
		return nil, 0, 0, ErrNoMatch
	}
	off, mlen, ok := h.placeLocked(rlen, hdr.Offset)
	if !ok {
		ln.dropCountLocked(ns, from)
		return nil, 0, 0, fmt.Errorf("%w: %d bytes at offset %d of a %d-byte MD", ErrTooBig, rlen, off, len(h.md.Buf))
	}
	h.startLocked()
	h.afterMatchLocked()
	return h, off, mlen, nil
}

// putRecv is an incoming PUT whose payload is being received into an MD.
// They are recycled through LNet.putRecvs, each with its done method value
// made once, so that receiving a PUT allocates nothing.
type putRecv struct {
	ln     *LNet
	doneFn func(error) // pr.done
	ns     *niState
	from   NID
	h      *MDHandle
	hdr    Header
	off    int
	mlen   int
	in     Inliner // the Rx's, when its LND offers it
}

func (ln *LNet) newPutRecv() *putRecv {
	if pr, ok := ln.putRecvs.Get().(*putRecv); ok {
		return pr
	}
	pr := &putRecv{ln: ln}
	pr.doneFn = pr.done
	return pr
}

// release returns pr to its pool; the caller no longer uses it.
func (pr *putRecv) release() {
	ln := pr.ln
	*pr = putRecv{ln: ln, doneFn: pr.doneFn}
	ln.putRecvs.Put(pr)
}

func (ln *LNet) recvPut(ns *niState, from NID, hdr *Header, rx Rx) {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		ln.drop(ns, from, hdr, rx, ErrClosed, false)
		return
	}
	ln.countRecvLocked(ns, from)
	h, off, mlen, err := ln.matchLocked(ns, from, hdr, MDOpPut, hdr.PayloadLen)
	ln.mu.Unlock()
	if err != nil {
		ln.drop(ns, from, hdr, rx, err, false)
		return
	}
	pr := ln.newPutRecv()
	pr.ns, pr.from, pr.h, pr.hdr, pr.off, pr.mlen = ns, from, h, *hdr, off, mlen
	pr.in, _ = rx.(Inliner)
	rx.Recv(h.md.Buf[off:off+mlen:off+mlen], pr.doneFn)
}

func (pr *putRecv) done(err error) {
	ln, h, hdr := pr.ln, pr.h, &pr.hdr
	var ack *msg
	failed := false
	ln.mu.Lock()
	if err == nil && !hdr.WMD.IsNone() && h.md.Options&MDAckDisable == 0 {
		ack = ln.newMsg(kindAck, pr.ns, nil)
		ack.tx.Dest = pr.from
		ack.tx.Hdr = Header{
			Dest: hdr.Src, Src: hdr.Dest, DestPID: hdr.SrcPID, SrcPID: ln.pid,
			Type: MsgAck, WMD: hdr.WMD, MatchBits: hdr.MatchBits, Length: uint32(pr.mlen),
		}
		failed = ln.sendLocked(ack)
	}
	h.endLocked(Event{
		Type: EventPut, Initiator: ProcessID{NID: hdr.Src, PID: hdr.SrcPID},
		MatchBits: hdr.MatchBits, HdrData: hdr.HdrData, RLength: hdr.PayloadLen,
		MLength: uint32(pr.mlen), Offset: uint32(pr.off), Err: err,
	})
	ln.mu.Unlock()
	in := pr.in
	pr.release()
	if failed {
		ack.tx.Complete(ErrClosed)
	}
	ln.drain()
	h.deliverVia(in)
}

func (ln *LNet) recvGet(ns *niState, from NID, hdr *Header, rx Rx) {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		ln.drop(ns, from, hdr, rx, ErrClosed, false)
		return
	}
	ln.countRecvLocked(ns, from)
	h, off, mlen, err := ln.matchLocked(ns, from, hdr, MDOpGet, hdr.Length)
	ln.mu.Unlock()
	if err != nil {
		// Lustre sends nothing back: the initiator times out.
		ln.drop(ns, from, hdr, rx, err, false)
		return
	}
	m := ln.newMsg(kindReply, ns, h)
	m.tx.Dest = from
	m.tx.Hdr = Header{
		Dest: hdr.Src, Src: hdr.Dest, DestPID: hdr.SrcPID, SrcPID: ln.pid,
		Type: MsgReply, PayloadLen: uint32(mlen), WMD: hdr.WMD,
	}
	m.tx.Payload = h.md.Buf[off : off+mlen : off+mlen]
	m.tx.GetRx = rx
	m.ev = Event{
		Type: EventGet, Initiator: ProcessID{NID: hdr.Src, PID: hdr.SrcPID},
		MatchBits: hdr.MatchBits, RLength: hdr.Length, MLength: uint32(mlen), Offset: uint32(off),
	}
	// The REPLY goes to the LND before the GET's rx is released, and
	// without waiting for credits, as Lustre's lnet_parse_get: an RDMA LND
	// answers a GET by writing into the sink its GET_REQ described, which it
	// can do only while it still holds that rx. Waiting for credits here
	// could also stall the connection's reader behind unrelated traffic.
	ln.mu.Lock()
	closed := ln.closed
	if !closed && !ns.lo {
		m.peer = ln.peerLocked(ns, from)
	}
	ln.mu.Unlock()
	if closed {
		rx.Recv(nil, noopDone)
		m.tx.Complete(ErrClosed)
		return
	}
	ns.ni.Send(&m.tx)
	rx.Recv(nil, noopDone)
}

func (ln *LNet) recvAck(ns *niState, from NID, hdr *Header, rx Rx) {
	ln.mu.Lock()
	ln.countRecvLocked(ns, from)
	h := ln.lookupLocked(hdr.WMD)
	if h == nil {
		ln.dropCountLocked(ns, from)
		ln.mu.Unlock()
		ln.drop(ns, from, hdr, rx, fmt.Errorf("%w: ACK for a stale handle", ErrUnlinked), false)
		return
	}
	h.startLocked()
	h.endLocked(Event{
		Type: EventAck, Initiator: ProcessID{NID: hdr.Src, PID: hdr.SrcPID},
		MatchBits: hdr.MatchBits, RLength: hdr.Length, MLength: hdr.Length,
	})
	ln.mu.Unlock()
	rx.Recv(nil, noopDone)
	h.deliver()
}

// replyRecv is an incoming REPLY whose payload is being received; recycled
// through LNet.replyRecvs as putRecv is.
type replyRecv struct {
	ln     *LNet
	doneFn func(error) // rr.done
	h      *MDHandle
	ev     Event
}

func (ln *LNet) newReplyRecv() *replyRecv {
	if rr, ok := ln.replyRecvs.Get().(*replyRecv); ok {
		return rr
	}
	rr := &replyRecv{ln: ln}
	rr.doneFn = rr.done
	return rr
}

func (ln *LNet) recvReply(ns *niState, from NID, hdr *Header, rx Rx) {
	ln.mu.Lock()
	ln.countRecvLocked(ns, from)
	h := ln.lookupLocked(hdr.WMD)
	if h == nil {
		ln.dropCountLocked(ns, from)
		ln.mu.Unlock()
		ln.drop(ns, from, hdr, rx, fmt.Errorf("%w: REPLY for a stale handle", ErrUnlinked), false)
		return
	}
	h.startLocked()
	ln.mu.Unlock()
	mlen := min(int(hdr.PayloadLen), len(h.md.Buf))
	rr := ln.newReplyRecv()
	rr.h, rr.ev = h, Event{
		Type: EventReply, Initiator: ProcessID{NID: hdr.Src, PID: hdr.SrcPID},
		RLength: hdr.PayloadLen, MLength: uint32(mlen),
	}
	rx.Recv(h.md.Buf[:mlen:mlen], rr.doneFn)
}

func (rr *replyRecv) done(err error) {
	ln, h, ev := rr.ln, rr.h, rr.ev
	*rr = replyRecv{ln: ln, doneFn: rr.doneFn}
	ln.replyRecvs.Put(rr)
	ev.Err = err
	ln.mu.Lock()
	h.endLocked(ev)
	ln.mu.Unlock()
	h.deliver()
}
