package lnet

// A portal's match entries live in two lists, both in list order (sequence
// numbers that grow for InsertAfter and shrink for InsertBefore):
//   - exact: MEs without ignore bits, bucketed by their match bits, so that
//     ptlrpc's reply portal (one ME per request in flight) matches in O(1);
//   - wild: MEs with ignore bits, scanned in order.
//
// A message takes the first ME, in list order, that accepts it; it is the
// earlier of the first acceptor in its exact bucket and the first in wild.
type portal struct {
	exact map[uint64]*meList
	wild  meList
}

// meList is an intrusive doubly linked list of MEs (MDHandles), in list order.
type meList struct {
	head, tail *MDHandle
}

func (p *portal) insert(h *MDHandle, pos Position, ln *LNet) {
	l := &p.wild
	if h.ms.IgnoreBits == 0 {
		if p.exact == nil {
			p.exact = map[uint64]*meList{}
		}
		l = p.exact[h.ms.MatchBits]
		if l == nil {
			// The list lives in the ME that starts it, and stays there
			// while later MEs with the same bits remain on it, even
			// after its own ME left: it is dropped from the map once
			// empty, and a new one starts in the next ME.
			l = &h.bucket
			p.exact[h.ms.MatchBits] = l
		}
	}
	h.list = l
	if pos == InsertBefore {
		ln.seqBefore--
		h.seq = ln.seqBefore
		h.next = l.head
		if l.head != nil {
			l.head.prev = h
		} else {
			l.tail = h
		}
		l.head = h
		return
	}
	ln.seqAfter++
	h.seq = ln.seqAfter
	h.prev = l.tail
	if l.tail != nil {
		l.tail.next = h
	} else {
		l.head = h
	}
	l.tail = h
}

// unmatchLocked takes h off its portal, if it is on one.
func (h *MDHandle) unmatchLocked() {
	l := h.list
	if l == nil {
		return
	}
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		l.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		l.tail = h.prev
	}
	h.prev, h.next, h.list = nil, nil, nil
	if l.head == nil && h.ms.IgnoreBits == 0 {
		p := &h.ln.portals[h.portal]
		if p.exact[h.ms.MatchBits] == l {
			delete(p.exact, h.ms.MatchBits)
		}
	}
}

// accepts reports whether h's ME and MD take a message of op from src with bits.
func (h *MDHandle) accepts(src ProcessID, bits uint64, op MDOptions) bool {
	if h.md.Options&op == 0 || !h.usableLocked() {
		return false
	}
	if !h.ms.Source.NID.IsZero() && h.ms.Source.NID != src.NID {
		return false
	}
	if h.ms.Source.PID != 0 && h.ms.Source.PID != src.PID {
		return false
	}
	return (h.ms.MatchBits^bits)&^h.ms.IgnoreBits == 0
}

// match finds the first ME of p that accepts the message.
func (p *portal) match(src ProcessID, bits uint64, op MDOptions) *MDHandle {
	var best *MDHandle
	if l := p.exact[bits]; l != nil {
		for h := l.head; h != nil; h = h.next {
			if h.accepts(src, bits, op) {
				best = h
				break
			}
		}
	}
	for h := p.wild.head; h != nil; h = h.next {
		if best != nil && h.seq > best.seq {
			break
		}
		if h.accepts(src, bits, op) {
			return h
		}
	}
	return best
}

// placeLocked decides where in h a message of rlen bytes at the initiator's
// roffset goes: the offset and the length moved. ok is false when the
// message is too long for the room left and h does not truncate (Lustre
// drops such a message rather than trying the next ME).
func (h *MDHandle) placeLocked(rlen, roffset uint32) (off, mlen int, ok bool) {
	off = h.offset
	if h.md.Options&MDManageRemote != 0 {
		off = int(roffset)
	}
	off = min(off, len(h.md.Buf))
	room := len(h.md.Buf) - off
	if h.md.Options&MDMaxSize != 0 {
		room = min(room, h.md.MaxSize)
	}
	mlen = int(rlen)
	if mlen > room {
		if h.md.Options&MDTruncate == 0 {
			return off, 0, false
		}
		mlen = room
	}
	if h.md.Options&MDManageRemote == 0 {
		h.offset = off + mlen
	}
	return off, mlen, true
}
