package lnet

import (
	"fmt"

	"go.uber.org/zap"
)

type msgKind uint8

const (
	kindPut   msgKind = iota + 1 // our Put; md is the source
	kindGet                      // our Get; md is the sink
	kindReply                    // our REPLY to a GET; md is the matched source
	kindAck                      // our ACK to a PUT; no md
)

// msg is one outgoing message and LNet's state for it.
type msg struct {
	ln   *LNet
	kind msgKind
	ns   *niState
	peer *peer // nil on the loopback
	md   *MDHandle
	ev   Event // the event its completion produces, filled at send time

	// Guarded by ln.mu.
	niCredit   bool // holds an NI credit
	peerCredit bool // holds a peer credit
	replied    bool // kindGet: the REPLY event was delivered

	tx Tx
}

func (ln *LNet) newMsg(kind msgKind, ns *niState, h *MDHandle) *msg {
	var m *msg
	if h != nil {
		m = h.spare.Swap(nil)
	}
	if m == nil {
		m = &msg{ln: ln, kind: kind, ns: ns, md: h}
	} else {
		*m = msg{ln: ln, kind: kind, ns: ns, md: h}
	}
	m.tx.m = m
	m.tx.OnComplete = txComplete
	return m
}

// txComplete and txReplyDone are LNet's Tx callbacks; plain functions, so
// that setting them allocates nothing.
func txComplete(tx *Tx, err error) { tx.m.complete(err) }

func txReplyDone(tx *Tx, n int, err error) { tx.m.replyDone(n, err) }

// Put sends md's buffer to a.Target's portal. md's handler hears EventSend,
// then EventAck if a.Ack was set (the ACK may also arrive before the SEND
// event; either way each takes a threshold unit). Put never blocks: a message
// beyond the NI's or the peer's credits waits in LNet.
func (ln *LNet) Put(h *MDHandle, a PutArgs) error {
	if a.Portal >= MaxPortal {
		return fmt.Errorf("%w: %d", ErrBadPortal, a.Portal)
	}
	ns, src, err := ln.route(a.Target.NID)
	if err != nil {
		return err
	}
	m := ln.newMsg(kindPut, ns, h)
	m.tx.Dest = a.Target.NID
	m.tx.Hdr = Header{
		Dest: a.Target.NID, Src: src, DestPID: a.Target.PID, SrcPID: ln.pid,
		Type: MsgPut, PayloadLen: uint32(len(h.md.Buf)),
		MatchBits: a.MatchBits, HdrData: a.HdrData, Portal: a.Portal, Offset: a.Offset,
	}
	if a.Ack {
		m.tx.Hdr.WMD = WireHandle{Interface: ln.incarnation, Object: h.cookie}
	}
	m.tx.Payload = h.md.Buf
	m.ev = Event{
		Type: EventSend, Initiator: ProcessID{NID: src, PID: ln.pid},
		MatchBits: a.MatchBits, HdrData: a.HdrData,
		RLength: uint32(len(h.md.Buf)), MLength: uint32(len(h.md.Buf)), Offset: a.Offset,
	}
	return ln.start(h, m)
}

// Get asks a.Target to send data from a matching MD into md's buffer. md's
// handler hears EventSend, then EventReply (in either order). If the GET
// cannot be sent, EventSend and EventReply both carry the error. If the
// target has no matching MD it sends nothing, as in Lustre: the caller's
// timeout (and Unlink) ends the wait.
func (ln *LNet) Get(h *MDHandle, a GetArgs) error {
	if a.Portal >= MaxPortal {
		return fmt.Errorf("%w: %d", ErrBadPortal, a.Portal)
	}
	ns, src, err := ln.route(a.Target.NID)
	if err != nil {
		return err
	}
	m := ln.newMsg(kindGet, ns, h)
	m.tx.Dest = a.Target.NID
	m.tx.Hdr = Header{
		Dest: a.Target.NID, Src: src, DestPID: a.Target.PID, SrcPID: ln.pid,
		Type: MsgGet, WMD: WireHandle{Interface: ln.incarnation, Object: h.cookie},
		MatchBits: a.MatchBits, Portal: a.Portal, Offset: a.Offset, Length: uint32(len(h.md.Buf)),
	}
	m.tx.ReplySink = h.md.Buf
	m.tx.OnReplyDone = txReplyDone
	m.ev = Event{
		Type: EventSend, Initiator: ProcessID{NID: src, PID: ln.pid},
		MatchBits: a.MatchBits, RLength: uint32(len(h.md.Buf)), Offset: a.Offset,
	}
	return ln.start(h, m)
}

// start begins an operation on h for m and queues m.
func (ln *LNet) start(h *MDHandle, m *msg) error {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return ErrClosed
	}
	if h.ln != ln || !h.usableLocked() {
		ln.mu.Unlock()
		return ErrUnlinked
	}
	h.startLocked()
	ln.dispatchLocked(m)
	ln.mu.Unlock()
	ln.drain()
	return nil
}

// dispatchLocked takes credits for m, in Lustre's order (a peer credit, then
// an NI credit), and puts it on the ready queue, or queues it where a credit
// is missing.
func (ln *LNet) dispatchLocked(m *msg) {
	ns := m.ns
	if ns.lo {
		ln.ready.Push(m)
		return
	}
	p := ln.peerLocked(ns, m.tx.Dest)
	m.peer = p
	p.credits--
	p.minCredits = min(p.minCredits, p.credits)
	if p.credits < 0 {
		p.queue.Push(m)
		return
	}
	m.peerCredit = true
	ln.niCreditLocked(m)
}

func (ln *LNet) niCreditLocked(m *msg) {
	ns := m.ns
	ns.credits--
	ns.minCredits = min(ns.minCredits, ns.credits)
	if ns.credits < 0 {
		ns.queue.Push(m)
		return
	}
	m.niCredit = true
	ln.ready.Push(m)
}

// returnCreditsLocked gives back m's credits and passes them on to waiting
// messages.
func (ln *LNet) returnCreditsLocked(m *msg) {
	// Once Close began it fails the queued messages itself.
	if m.peerCredit {
		m.peerCredit = false
		p := m.peer
		p.credits++
		if !ln.closed && p.queue.Len() > 0 {
			next, _ := p.queue.Pop()
			next.peerCredit = true
			ln.niCreditLocked(next)
		}
	}
	if m.niCredit {
		m.niCredit = false
		ns := m.ns
		ns.credits++
		if !ln.closed && ns.queue.Len() > 0 {
			next, _ := ns.queue.Pop()
			next.niCredit = true
			ln.ready.Push(next)
		}
	}
}

// drain hands ready messages to their LNDs, in queue order, without holding
// mu. One goroutine drains at a time; others leave their messages to it, so
// an LND that completes a Tx inside Send (and so re-enters LNet) does not
// recurse, and messages leave in the order their credits were granted.
func (ln *LNet) drain() {
	ln.mu.Lock()
	if ln.draining {
		ln.mu.Unlock()
		return
	}
	ln.draining = true
	for {
		m, ok := ln.ready.Pop()
		if !ok {
			break
		}
		ln.mu.Unlock()
		m.ns.ni.Send(&m.tx)
		ln.mu.Lock()
	}
	ln.draining = false
	ln.mu.Unlock()
}

// complete is the Tx's OnComplete: the message has left (or failed).
func (m *msg) complete(err error) {
	ln := m.ln
	ln.mu.Lock()
	ln.returnCreditsLocked(m)
	if p := m.peer; p != nil {
		if err != nil {
			p.dropCount++
		} else {
			p.sendCount++
		}
	}
	h := m.md
	switch m.kind {
	case kindPut:
		ev := m.ev
		ev.Err = err
		h.endLocked(ev)
	case kindGet:
		ev := m.ev
		ev.Err = err
		if err != nil && !m.replied {
			m.replied = true
			if h.usableLocked() {
				// The REPLY will not come: tell the waiter now.
				h.emitLocked(ev)
				h.startLocked()
				h.refs-- // the REPLY shares the GET's reference, ended just below
				ev = Event{Type: EventReply, Initiator: ProcessID{NID: m.tx.Dest, PID: m.tx.Hdr.DestPID},
					MatchBits: m.ev.MatchBits, RLength: m.ev.RLength, Err: err}
			}
		}
		h.endLocked(ev)
	case kindReply:
		ev := m.ev
		ev.Err = err
		h.endLocked(ev)
	case kindAck:
	}
	ln.mu.Unlock()
	if err != nil {
		ln.log.Debug("lnet: send failed", zap.Stringer("nid", m.tx.Dest),
			zap.Stringer("type", m.tx.Hdr.Type), zap.Error(err))
	}
	ln.drain()
	if h != nil {
		h.deliver()
	}
}

// replyDone is the Tx's OnReplyDone: an LND placed the REPLY's data straight
// into ReplySink (o2iblnd). LNDs call it before Complete, so the GET still
// holds its reference on the MD.
func (m *msg) replyDone(n int, err error) {
	ln := m.ln
	h := m.md
	ln.mu.Lock()
	if m.replied {
		ln.mu.Unlock()
		return
	}
	m.replied = true
	if !h.usableLocked() {
		ln.mu.Unlock()
		return
	}
	h.startLocked()
	h.endLocked(Event{
		Type: EventReply, Initiator: ProcessID{NID: m.tx.Dest, PID: m.tx.Hdr.DestPID},
		MatchBits: m.ev.MatchBits, RLength: m.ev.RLength, MLength: uint32(n), Err: err,
	})
	ln.mu.Unlock()
	h.deliver()
}

// sendLocked queues an LNet-made message (ACK, REPLY) or fails it when LNet
// is closing. The caller drains after unlocking.
func (ln *LNet) sendLocked(m *msg) (failed bool) {
	if ln.closed {
		return true
	}
	ln.dispatchLocked(m)
	return false
}
