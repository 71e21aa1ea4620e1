package lnet

import (
	"fmt"
	"sync/atomic"
)

// MDHandle names an attached or bound MD.
type MDHandle struct {
	ln     *LNet
	md     MD     // the caller's MD; immutable
	cookie uint64 // its name in WireHandle.Object; immutable
	// spare is a message allocated with a bound MD, for the first
	// operation started on it (most bound MDs serve one Put or Get), so
	// that Bind and Put allocate once. Taken once; never reused.
	spare atomic.Pointer[msg]

	// Guarded by ln.mu.
	threshold  int  // operations left, ThresholdInf for never
	offset     int  // the local offset (without MDManageRemote)
	refs       int  // operations under way (their events are still to come)
	unlinking  bool // Unlink or Close was called: no new operations; ends with EventUnlink
	dead       bool // the final event is queued; the cookie no longer resolves
	events     []Event
	evbuf      [1]Event // events' first backing array: most MDs queue one event at a time
	delivering bool     // a goroutine is calling the handler for queued events

	// The match entry, for attached MDs; guarded by ln.mu.
	bucket   meList // storage for the exact-match list this ME started (see portal.insert)
	attached bool
	portal   uint32
	ms       MatchSpec
	seq      int64
	list     *meList
	prev     *MDHandle
	next     *MDHandle
}

// Attach adds a match entry with md to the end (or head) of portal's list.
func (ln *LNet) Attach(portal uint32, ms MatchSpec, md MD, pos Position) (*MDHandle, error) {
	if portal >= MaxPortal {
		return nil, fmt.Errorf("%w: %d", ErrBadPortal, portal)
	}
	if err := checkMD(&md); err != nil {
		return nil, err
	}
	h := newMDHandle(ln, md)
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed {
		return nil, ErrClosed
	}
	ln.registerLocked(h)
	h.attached, h.portal, h.ms = true, portal, ms
	ln.portals[portal].insert(h, pos, ln)
	return h, nil
}

// Bind makes md usable as the source of a Put or the sink of a Get, without a
// match entry.
func (ln *LNet) Bind(md MD) (*MDHandle, error) {
	if err := checkMD(&md); err != nil {
		return nil, err
	}
	b := &boundMD{h: MDHandle{ln: ln, md: md, threshold: md.Threshold}}
	h := &b.h
	h.events = h.evbuf[:0]
	h.spare.Store(&b.m)
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed {
		return nil, ErrClosed
	}
	ln.registerLocked(h)
	return h, nil
}

// boundMD is a bound MD and the message of its first operation, allocated
// together.
type boundMD struct {
	h MDHandle
	m msg
}

func newMDHandle(ln *LNet, md MD) *MDHandle {
	h := &MDHandle{ln: ln, md: md, threshold: md.Threshold}
	h.events = h.evbuf[:0]
	return h
}

func checkMD(md *MD) error {
	switch {
	case md.Threshold == 0 || md.Threshold < ThresholdInf:
		return fmt.Errorf("%w: threshold %d", ErrInvalidMDSpec, md.Threshold)
	case md.Options&MDMaxSize != 0 && (md.MaxSize <= 0 || md.MaxSize > len(md.Buf)):
		return fmt.Errorf("%w: max size %d with a buffer of %d", ErrInvalidMDSpec, md.MaxSize, len(md.Buf))
	case int64(len(md.Buf)) > 1<<32-1:
		return fmt.Errorf("%w: buffer of %d bytes", ErrInvalidMDSpec, len(md.Buf))
	}
	return nil
}

func (ln *LNet) registerLocked(h *MDHandle) {
	ln.nextCookie++
	h.cookie = ln.nextCookie
	ln.mds[h.cookie] = h
}

// Unlink removes the MD; its handler gets EventUnlink once every operation
// in progress on it has finished. ACKs and REPLYs arriving after Unlink are
// dropped. Unlink of an MD that is already unlinked (by its threshold, or an
// earlier Unlink) does nothing. Safe to call from the MD's own handler.
func (h *MDHandle) Unlink() {
	ln := h.ln
	ln.mu.Lock()
	if h.dead || h.unlinking {
		ln.mu.Unlock()
		return
	}
	h.unlinking = true
	h.unmatchLocked()
	if h.refs == 0 {
		h.finishLocked()
	}
	ln.mu.Unlock()
	h.deliver()
}

// exhaustedLocked reports whether the MD can take no more operations.
func (h *MDHandle) exhaustedLocked() bool {
	if h.threshold == 0 {
		return true
	}
	return h.md.Options&MDMaxSize != 0 && len(h.md.Buf)-h.offset < h.md.MaxSize
}

// usableLocked reports whether a new operation may use the MD.
func (h *MDHandle) usableLocked() bool {
	return !h.dead && !h.unlinking && !h.exhaustedLocked()
}

// startLocked begins an operation on h: it takes a threshold unit and a
// reference. The operation ends with endLocked.
func (h *MDHandle) startLocked() {
	if h.threshold > 0 {
		h.threshold--
	}
	h.refs++
}

// afterMatchLocked takes h off its portal once it can match no more.
func (h *MDHandle) afterMatchLocked() {
	if h.exhaustedLocked() {
		h.unmatchLocked()
	}
}

// endLocked ends an operation started by startLocked and queues its event.
// The event carries Unlinked when it is the MD's last: the threshold ran out
// and no other operation is under way. After an explicit Unlink the last
// operation's event is followed by EventUnlink instead.
func (h *MDHandle) endLocked(ev Event) {
	h.refs--
	h.emitLocked(ev)
	if h.refs > 0 || h.dead {
		return
	}
	switch {
	case h.unlinking:
		h.finishLocked()
	case h.exhaustedLocked():
		h.unmatchLocked()
		h.dead = true
		delete(h.ln.mds, h.cookie)
		h.events[len(h.events)-1].Unlinked = true
	}
}

// emitLocked queues an event without ending an operation.
func (h *MDHandle) emitLocked(ev Event) {
	ev.MD = h
	ev.UserData = h.md.UserData
	h.events = append(h.events, ev)
}

// finishLocked kills an unlinked MD with no operation under way and queues
// its EventUnlink.
func (h *MDHandle) finishLocked() {
	h.dead = true
	delete(h.ln.mds, h.cookie)
	h.emitLocked(Event{Type: EventUnlink, Unlinked: true, Initiator: ProcessID{PID: h.ln.pid}})
}

// deliver calls the handler for every queued event, in order. At most one
// goroutine delivers an MD's events at a time; a goroutine that finds another
// delivering leaves its events to it. So a handler never runs concurrently
// with itself for one MD, sees events in the order LNet decided them, and may
// call back into LNet (Put, Get, Unlink) without deadlock.
func (h *MDHandle) deliver() { h.deliverVia(nil) }

// deliverVia is deliver on an LND goroutine that received a message: in
// lets the handler of a PUT event run its work on this goroutine
// (Event.Inline).
func (h *MDHandle) deliverVia(in Inliner) {
	ln := h.ln
	ln.mu.Lock()
	if h.delivering || len(h.events) == 0 {
		ln.mu.Unlock()
		return
	}
	h.delivering = true
	for i := 0; i < len(h.events); i++ {
		ev := h.events[i]
		h.events[i] = Event{}
		ln.mu.Unlock()
		if h.md.Handler != nil {
			if in != nil && ev.Type == EventPut {
				ev.Inline = in
			}
			h.md.Handler(ev)
		}
		ln.mu.Lock()
	}
	h.events = h.events[:0]
	h.delivering = false
	ln.mu.Unlock()
}

// lookupLocked resolves a wire handle to a live MD that can take an ACK or
// REPLY.
func (ln *LNet) lookupLocked(wh WireHandle) *MDHandle {
	if wh.Interface != ln.incarnation {
		return nil
	}
	h := ln.mds[wh.Object]
	if h == nil || !h.usableLocked() {
		return nil
	}
	return h
}
