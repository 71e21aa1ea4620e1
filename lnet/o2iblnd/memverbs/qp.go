package memverbs

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// maxSGE bounds the scatter/gather entries of one work request.
const maxSGE = 4

type qpState uint8

const (
	stateInit qpState = iota // receives may be posted; not connected yet
	stateRTS                 // connected
	stateErr                 // failed or disconnected: everything flushes
)

// QP is a reliable-connected queue pair on the in-memory fabric.
type QP struct {
	dev  *Device
	pd   *pd
	cq   *cq
	num  uint32
	cfg  verbs.QPConfig
	link *link // shared with the peer QP

	outstanding atomic.Int32 // send WRs posted and not yet retired by a polled completion

	// Guarded by link.mu.
	state     qpState
	peer      *QP
	local     netip.AddrPort
	remote    netip.AddrPort
	recvs     []recvEntry // posted receives, oldest first
	pending   []verbs.SendWR
	unretired int32 // sends done without a completion since the last one
	destroyed bool
}

// link is the lock of one connection, shared by its two QPs from the moment
// the active side dials.
type link struct {
	mu sync.Mutex
}

type recvEntry struct {
	id  uint64
	sgl [maxSGE]verbs.SGE
	n   int
}

var _ verbs.QP = (*QP)(nil)

// Remote is the address of the QP's peer.
func (q *QP) Remote() netip.AddrPort {
	q.link.mu.Lock()
	defer q.link.mu.Unlock()
	return q.remote
}

// Fail moves the QP to the error state, as an asynchronous QP error does:
// its oldest posted receive completes with st, everything else posted with
// WRFlushErr. The peer QP learns of it only when it next sends.
func (q *QP) Fail(st verbs.Status) {
	q.link.mu.Lock()
	defer q.link.mu.Unlock()
	if q.state == stateErr || q.destroyed {
		return
	}
	if len(q.recvs) > 0 {
		r := q.recvs[0]
		q.recvs = q.recvs[1:]
		q.complete(r.id, verbs.OpRecv, st, 0, false)
	}
	q.toError()
}

func (q *QP) PostRecv(wr *verbs.RecvWR) error {
	q.link.mu.Lock()
	defer q.link.mu.Unlock()
	if q.destroyed {
		return fmt.Errorf("%w: QP destroyed", verbs.ErrInvalid)
	}
	if len(wr.SGL) > q.cfg.MaxRecvSGE || len(wr.SGL) > maxSGE {
		return fmt.Errorf("%w: %d SGEs", verbs.ErrInvalid, len(wr.SGL))
	}
	if len(q.recvs) >= q.cfg.MaxRecvWR {
		return fmt.Errorf("%w: %d receives posted", verbs.ErrQueueFull, len(q.recvs))
	}
	if q.state == stateErr {
		q.complete(wr.ID, verbs.OpRecv, verbs.WRFlushErr, 0, false)
		return nil
	}
	r := recvEntry{id: wr.ID, n: len(wr.SGL)}
	copy(r.sgl[:], wr.SGL)
	q.recvs = append(q.recvs, r)
	if p := q.peer; p != nil {
		for len(p.pending) > 0 && len(q.recvs) > 0 && p.state == stateRTS {
			if p.execute(&p.pending[0]) {
				break
			}
			p.pending[0] = verbs.SendWR{}
			p.pending = p.pending[1:]
		}
	}
	return nil
}

func (q *QP) PostSend(wr *verbs.SendWR) error {
	q.link.mu.Lock()
	defer q.link.mu.Unlock()
	if q.destroyed {
		return fmt.Errorf("%w: QP destroyed", verbs.ErrInvalid)
	}
	if len(wr.SGL) > q.cfg.MaxSendSGE || len(wr.SGL) > maxSGE {
		return fmt.Errorf("%w: %d SGEs", verbs.ErrInvalid, len(wr.SGL))
	}
	if wr.Opcode != verbs.OpSend && wr.Opcode != verbs.OpRDMAWrite {
		return fmt.Errorf("%w: opcode %v", verbs.ErrInvalid, wr.Opcode)
	}
	if q.state == stateInit {
		return fmt.Errorf("%w: QP not connected", verbs.ErrInvalid)
	}
	if int(q.outstanding.Load()) >= q.cfg.MaxSendWR {
		return fmt.Errorf("%w: %d sends outstanding", verbs.ErrQueueFull, q.outstanding.Load())
	}
	q.outstanding.Add(1)
	switch {
	case q.state == stateErr:
		q.complete(wr.ID, wr.Opcode, verbs.WRFlushErr, 0, true)
	case q.dev.linkDown.Load() || q.peer == nil || q.peer.dev.linkDown.Load():
		q.complete(wr.ID, wr.Opcode, verbs.RetryExcErr, 0, true)
		q.toError()
	case len(q.pending) > 0:
		q.pend(wr)
	default:
		if q.execute(wr) {
			q.pend(wr)
		}
	}
	return nil
}

// pend keeps a copy of wr until the peer posts a receive.
func (q *QP) pend(wr *verbs.SendWR) {
	c := *wr
	c.SGL = append([]verbs.SGE(nil), wr.SGL...)
	q.pending = append(q.pending, c)
}

// execute carries out one send work request; it returns true when the peer
// has no receive posted (RNR) and the request must wait.
func (q *QP) execute(wr *verbs.SendWR) (rnr bool) {
	p := q.peer
	if p == nil || p.state != stateRTS || p.destroyed {
		// Nobody answers at the other end: the transport retries run out.
		q.complete(wr.ID, wr.Opcode, verbs.RetryExcErr, 0, true)
		q.toError()
		return false
	}
	var total uint64
	for _, s := range wr.SGL {
		if _, ok := q.localMR(s, 0); !ok {
			q.complete(wr.ID, wr.Opcode, verbs.LocProtErr, 0, true)
			q.toError()
			return false
		}
		total += uint64(s.Length)
	}
	f := q.dev.f
	switch wr.Opcode {
	case verbs.OpSend:
		if len(p.recvs) == 0 {
			f.rnr.Add(1)
			return true
		}
		r := p.recvs[0]
		p.recvs = p.recvs[1:]
		var room uint64
		for _, s := range r.sgl[:r.n] {
			if _, ok := p.localMR(s, verbs.AccessLocalWrite); !ok {
				p.complete(r.id, verbs.OpRecv, verbs.LocProtErr, 0, false)
				q.complete(wr.ID, wr.Opcode, verbs.RemOpErr, 0, true)
				p.toError()
				q.toError()
				return false
			}
			room += uint64(s.Length)
		}
		if room < total {
			p.complete(r.id, verbs.OpRecv, verbs.LocLenErr, 0, false)
			q.complete(wr.ID, wr.Opcode, verbs.RemInvReqErr, 0, true)
			p.toError()
			q.toError()
			return false
		}
		di, doff := 0, uint32(0)
		for _, s := range wr.SGL {
			src, _ := q.localMR(s, 0)
			for len(src) > 0 {
				d := r.sgl[di]
				dst, _ := p.localMR(verbs.SGE{Addr: d.Addr + uint64(doff), Length: d.Length - doff, LKey: d.LKey}, verbs.AccessLocalWrite)
				n := copy(dst, src)
				src = src[n:]
				doff += uint32(n)
				if doff == d.Length {
					di, doff = di+1, 0
				}
			}
		}
		p.complete(r.id, verbs.OpRecv, verbs.Success, uint32(total), false)
	case verbs.OpRDMAWrite:
		m := f.lookupMR(wr.RKey)
		var dst []byte
		ok := m != nil && !m.dead.Load() && m.pd == p.pd && m.access&verbs.AccessRemoteWrite != 0
		if ok {
			dst, ok = m.slice(wr.RemoteAddr, uint32(total))
		}
		if !ok {
			q.complete(wr.ID, wr.Opcode, verbs.RemAccessErr, 0, true)
			q.toError()
			p.toError()
			return false
		}
		for _, s := range wr.SGL {
			src, _ := q.localMR(s, 0)
			dst = dst[copy(dst, src):]
		}
	}
	if wr.Signaled {
		q.complete(wr.ID, wr.Opcode, verbs.Success, 0, true)
	} else {
		q.unretired++
	}
	return false
}

// localMR returns the memory an SGE of q names, checking key, PD, access
// and bounds.
func (q *QP) localMR(s verbs.SGE, need verbs.Access) ([]byte, bool) {
	m := q.dev.f.lookupMR(s.LKey)
	if m == nil || m.dead.Load() || m.pd != q.pd || m.access&need != need {
		return nil, false
	}
	return m.slice(s.Addr, s.Length)
}

// complete queues a completion on q's CQ. A send completion retires the
// send queue slots of the unsignalled sends before it.
func (q *QP) complete(id uint64, op verbs.Opcode, st verbs.Status, n uint32, send bool) {
	e := cqe{wc: verbs.WC{ID: id, Status: st, Opcode: op, ByteLen: n}, qp: q}
	if send {
		e.retire = q.unretired + 1
		q.unretired = 0
	}
	q.cq.push(e)
}

// toError moves q to the error state and flushes everything posted on it.
// A peer whose sends wait for q's receives gives up as its retries would.
func (q *QP) toError() {
	if q.state == stateErr {
		return
	}
	q.state = stateErr
	for _, r := range q.recvs {
		q.complete(r.id, verbs.OpRecv, verbs.WRFlushErr, 0, false)
	}
	q.recvs = nil
	for _, w := range q.pending {
		q.complete(w.ID, w.Opcode, verbs.WRFlushErr, 0, true)
	}
	q.pending = nil
	if p := q.peer; p != nil && p.state == stateRTS && len(p.pending) > 0 {
		w := p.pending[0]
		p.pending = p.pending[1:]
		p.complete(w.ID, w.Opcode, verbs.RetryExcErr, 0, true)
		p.toError()
	}
}
