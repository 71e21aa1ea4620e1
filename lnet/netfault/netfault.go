package netfault

import (
	"context"
	"fmt"
	"sync"

	"github.com/stria-fs/stria/lnet"
)

// Wrap returns an LND that starts inner's NIs and applies rules to what they
// send and receive.
func Wrap(inner lnet.LND, rules *Rules) lnet.LND {
	return &lnd{inner: inner, rules: rules}
}

type lnd struct {
	inner lnet.LND
	rules *Rules
}

func (l *lnd) Type() lnet.NetType { return l.inner.Type() }

func (l *lnd) Startup(ctx context.Context, cfg lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	w := &ni{rules: l.rules, host: host}
	inner, err := l.inner.Startup(ctx, cfg, (*hostOf)(w))
	if err != nil {
		return nil, err
	}
	w.inner = inner
	r := l.rules
	r.mu.Lock()
	w.nid = inner.NID()
	r.wrapped[w.nid]++
	r.mu.Unlock()
	return w, nil
}

// ni wraps one NI of the inner LND.
type ni struct {
	rules *Rules
	host  lnet.Host
	inner lnet.NI
	wg    sync.WaitGroup // latency timers of its held messages

	// Guarded by rules.mu.
	nid    lnet.NID // set once the inner NI started
	closed bool
	drops  uint64
}

func (w *ni) NID() lnet.NID { return w.inner.NID() }

// Send applies the rules on the sending side: a dropped Tx completes
// without error, as a message lost in the network.
func (w *ni) Send(tx *lnet.Tx) {
	r := w.rules
	r.mu.Lock()
	v := r.decideLocked(w.nid, tx.Dest, &tx.Hdr)
	switch {
	case !v.act || w.closed:
		r.mu.Unlock()
		w.inner.Send(tx)
	case v.action == Drop:
		w.drops++
		r.mu.Unlock()
		tx.Complete(nil)
	default:
		r.holdLocked(&held{w: w, rule: v.rule, tx: tx}, v.latency)
		r.mu.Unlock()
	}
}

// receive applies the rules on the receiving side, to messages from NIs not
// wrapped with the same rules (those were judged when they were sent).
func (w *ni) receive(from lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	r := w.rules
	r.mu.Lock()
	if r.wrapped[from] > 0 || w.closed {
		r.mu.Unlock()
		w.host.Receive(w, from, hdr, rx)
		return
	}
	v := r.decideLocked(from, w.nid, hdr)
	switch {
	case !v.act:
		r.mu.Unlock()
		w.host.Receive(w, from, hdr, rx)
	case v.action == Drop:
		w.drops++
		r.mu.Unlock()
		rx.Recv(nil, func(error) {})
	default:
		r.holdLocked(&held{w: w, rule: v.rule, from: from, hdr: *hdr, rx: rx}, v.latency)
		r.mu.Unlock()
	}
}

// Close fails the messages it holds (a held Tx completes with ErrClosed, a
// held received message is dropped), then closes the inner NI.
func (w *ni) Close() error {
	r := w.rules
	r.mu.Lock()
	if w.closed {
		r.mu.Unlock()
		return w.inner.Close()
	}
	w.closed = true
	if r.wrapped[w.nid]--; r.wrapped[w.nid] <= 0 {
		delete(r.wrapped, w.nid)
	}
	var mine []*held
	for _, h := range append([]*held(nil), r.held...) {
		if h.w == w && r.takeLocked(h) {
			mine = append(mine, h)
		}
	}
	r.mu.Unlock()
	for _, h := range mine {
		h.fail()
	}
	w.wg.Wait()
	return w.inner.Close()
}

// Status adds the messages the rules dropped to the inner NI's DropCount.
func (w *ni) Status() lnet.NIStatus {
	st := w.inner.Status()
	w.rules.mu.Lock()
	st.DropCount += w.drops
	w.rules.mu.Unlock()
	return st
}

func (w *ni) String() string { return fmt.Sprintf("netfault(%v)", w.nid) }

// hostOf is the Host the inner NI sees.
type hostOf ni

func (h *hostOf) Receive(_ lnet.NI, from lnet.NID, hdr *lnet.Header, rx lnet.Rx) {
	(*ni)(h).receive(from, hdr, rx)
}

func (h *hostOf) PeerState(_ lnet.NI, peer lnet.NID, alive bool, err error) {
	h.host.PeerState((*ni)(h), peer, alive, err)
}
