package lnet_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/stria-fs/stria/internal/leaktest"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/lolnd"
)

// waitLimit only guards against a hung test; nothing measures speed.
const waitLimit = 20 * time.Second

// node starts an LNet instance on fabric f with the given networks string.
func node(t testing.TB, f *lolnd.Fabric, networks string, lnds ...lnet.LND) *lnet.LNet {
	t.Helper()
	nets, err := lnet.ParseNetworks(networks)
	if err != nil {
		t.Fatal(err)
	}
	lnds = append(lnds, lolnd.New(f))
	ln, err := lnet.New(context.Background(), lnet.Config{Networks: nets, LNDs: lnds, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ln.Close(); err != nil {
			t.Error(err)
		}
	})
	return ln
}

// pair starts 1@lo and 2@lo on a fresh fabric.
func pair(t testing.TB) (a, b *lnet.LNet) {
	t.Helper()
	leaktest.Check(t)
	f := lolnd.NewFabric()
	return node(t, f, "lo(1)"), node(t, f, "lo(2)")
}

func pid(ln *lnet.LNet) lnet.ProcessID {
	return lnet.ProcessID{NID: ln.NIDs()[0], PID: ln.PID()}
}

// recorder collects an MD's events.
type recorder struct{ ch chan lnet.Event }

func newRecorder() *recorder { return &recorder{ch: make(chan lnet.Event, 4096)} }

func (r *recorder) handler(ev lnet.Event) { r.ch <- ev }

func (r *recorder) next(t testing.TB) lnet.Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no event")
		return lnet.Event{}
	}
}

// collect waits for n events and returns them keyed by type (the order of
// SEND against ACK/REPLY is not fixed).
func (r *recorder) collect(t testing.TB, n int) map[lnet.EventType]lnet.Event {
	t.Helper()
	out := map[lnet.EventType]lnet.Event{}
	for range n {
		ev := r.next(t)
		if _, dup := out[ev.Type]; dup {
			t.Fatalf("two events of type %v", ev.Type)
		}
		out[ev.Type] = ev
	}
	return out
}

// none checks that no event is queued now. Events are delivered before the
// operations that cause them complete, so callers check after a later
// synchronising event.
func (r *recorder) none(t testing.TB) {
	t.Helper()
	select {
	case ev := <-r.ch:
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

func mustBind(t testing.TB, ln *lnet.LNet, md lnet.MD) *lnet.MDHandle {
	t.Helper()
	h, err := ln.Bind(md)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustAttach(t testing.TB, ln *lnet.LNet, portal uint32, ms lnet.MatchSpec, md lnet.MD, pos lnet.Position) *lnet.MDHandle {
	t.Helper()
	h, err := ln.Attach(portal, ms, md, pos)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// put sends data from a fresh MD and waits for its SEND event (and its ACK
// when ack is set); it returns the SEND event.
func put(t testing.TB, from *lnet.LNet, data []byte, a lnet.PutArgs) lnet.Event {
	t.Helper()
	r := newRecorder()
	th := 1
	if a.Ack {
		th = 2
	}
	h := mustBind(t, from, lnet.MD{Buf: data, Threshold: th, Handler: r.handler})
	if err := from.Put(h, a); err != nil {
		t.Fatal(err)
	}
	evs := r.collect(t, th)
	return evs[lnet.EventSend]
}

// stuckLND is an LND double on tcp whose NIs keep every Tx until the test
// completes it.
type stuckLND struct {
	mu  sync.Mutex
	nis []*stuckNI
}

func (*stuckLND) Type() lnet.NetType { return lnet.SockLND }

func (l *stuckLND) Startup(_ context.Context, cfg lnet.NIConfig, host lnet.Host) (lnet.NI, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := &stuckNI{
		nid:  lnet.NID{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(len(l.nis) + 1)}), Net: cfg.Net},
		host: host, sent: make(chan *lnet.Tx, 1024),
	}
	l.nis = append(l.nis, n)
	return n, nil
}

type stuckNI struct {
	nid  lnet.NID
	host lnet.Host
	sent chan *lnet.Tx

	mu      sync.Mutex
	held    []*lnet.Tx
	closed  bool
	failNew error // Send completes at once with this, if set
}

func (n *stuckNI) NID() lnet.NID { return n.nid }

func (n *stuckNI) Send(tx *lnet.Tx) {
	n.mu.Lock()
	if n.closed || n.failNew != nil {
		err := n.failNew
		if n.closed {
			err = lnet.ErrClosed
		}
		n.mu.Unlock()
		tx.Complete(err)
		return
	}
	n.held = append(n.held, tx)
	n.mu.Unlock()
	n.sent <- tx
}

func (n *stuckNI) Close() error {
	n.mu.Lock()
	n.closed = true
	held := n.held
	n.held = nil
	n.mu.Unlock()
	for _, tx := range held {
		tx.Complete(fmt.Errorf("%w: stuck NI closed", lnet.ErrClosed))
	}
	return nil
}

func (n *stuckNI) Status() lnet.NIStatus { return lnet.NIStatus{NID: n.nid, Up: true} }

// complete completes tx as sent.
func (n *stuckNI) complete(tx *lnet.Tx) {
	n.mu.Lock()
	for i, h := range n.held {
		if h == tx {
			n.held = append(n.held[:i], n.held[i+1:]...)
			break
		}
	}
	n.mu.Unlock()
	tx.Complete(nil)
}

func (n *stuckNI) nextSent(t testing.TB) *lnet.Tx {
	t.Helper()
	select {
	case tx := <-n.sent:
		return tx
	case <-time.After(waitLimit):
		t.Fatal("nothing sent")
		return nil
	}
}

func (n *stuckNI) noneSent(t testing.TB) {
	t.Helper()
	select {
	case tx := <-n.sent:
		t.Fatalf("unexpected send of %+v", tx.Hdr)
	default:
	}
}
