package o2iblnd

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// TestSimultaneousConnect: two fresh NIs send their first messages to each
// other at the same moment, so that each may dial the other while it answers
// the other's request. Every message is delivered, none fails ("replaced by a
// new connection"), and the two end up with one connection between them.
// The race is timing-dependent, so the test runs many rounds on fresh NIs.
func TestSimultaneousConnect(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	for i := range rounds {
		t.Run(fmt.Sprint("round", i), func(t *testing.T) {
			cl := newCluster(t, Config{})
			a, b := cl.start("10.0.0.1", 0), cl.start("10.0.0.2", 0)
			// Small messages go IMMEDIATE, the 64 KiB one by PUT_REQ /
			// PUT_ACK / PUT_DONE.
			sizes := []int{10, 64 << 10, 100}
			start := make(chan struct{})
			errs := make(chan error, 2*len(sizes))
			var wg sync.WaitGroup
			for _, p := range [][2]*node{{a, b}, {b, a}} {
				from, to := p[0], p[1]
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var sent sync.WaitGroup
					for j, size := range sizes {
						tx := putTx(from, to, pattern(size, byte(j)))
						tx.Hdr.MatchBits = uint64(j)
						sent.Add(1)
						tx.OnComplete = func(_ *lnet.Tx, err error) {
							if err != nil {
								errs <- fmt.Errorf("%v -> %v, message %d: %w", from.nid(), to.nid(), j, err)
							}
							sent.Done()
						}
						from.ni.Send(tx)
					}
					sent.Wait()
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			failed := false
			for err := range errs {
				t.Error(err)
				failed = true
			}
			if failed {
				return
			}
			for _, p := range [][2]*node{{a, b}, {b, a}} {
				from, to := p[0], p[1]
				got := map[uint64]bool{}
				for range sizes {
					m := to.host.nextFrom(t, from.nid())
					if m.err != nil {
						t.Fatalf("%v <- %v: %v", to.nid(), from.nid(), m.err)
					}
					j := m.hdr.MatchBits
					if j >= uint64(len(sizes)) || got[j] {
						t.Fatalf("%v <- %v: unexpected message %d", to.nid(), from.nid(), j)
					}
					got[j] = true
					mustEqual(t, m.data, pattern(sizes[j], byte(j)))
				}
			}
			// One connection between them: the two ends of one QP pair,
			// every losing attempt released.
			eventually(t, "one connection", func() bool {
				return a.connTo(b.nid()) != nil && b.connTo(a.nid()) != nil && cl.f.Stats().QPs == 2
			})
		})
	}
}

// TestConnectRaceHigherAnswers: the higher NID has decided to answer the
// lower's connection request when it gets a message of its own to send. It
// must not dial (the lower would take that request, the higher NID's, and
// the two connections would replace each other): the message waits for the
// connection being answered and goes over it.
func TestConnectRaceHigherAnswers(t *testing.T) {
	cl := newCluster(t, Config{})
	ga, gb := &gateProvider{Provider: cl.f}, &gateProvider{Provider: cl.f}
	a := cl.startWith("10.0.0.1", 0, func(c *Config) { c.Provider = ga })
	b := cl.startWith("10.0.0.2", 0, func(c *Config) { c.Provider = gb })
	h := newHold(t)
	gb.setOnAccept(h.hook)
	toB := sendAsync(a, b, pattern(100, 1))
	h.wait(t) // b has decided to accept a's request
	toA := sendAsync(b, a, pattern(64<<10, 2))
	// Whatever b's send started (a connection attempt of its own) runs its
	// course before b's answer goes.
	eventually(t, "b's send settled", func() bool {
		b.ni.mu.Lock()
		defer b.ni.mu.Unlock()
		return !b.ni.peers[a.nid()].connecting
	})
	h.open()
	checkRace(t, a, b, ga, gb, toB, toA)
	if n := gb.dials.Load(); n != 0 {
		t.Errorf("b dialled a %d times while answering a's request", n)
	}
}

// TestConnectRaceLowerAnswers: the lower NID has decided to answer the
// higher's request when it gets a message to send. Its message goes over the
// connection being answered, without a connection attempt of its own.
func TestConnectRaceLowerAnswers(t *testing.T) {
	cl := newCluster(t, Config{})
	ga, gb := &gateProvider{Provider: cl.f}, &gateProvider{Provider: cl.f}
	a := cl.startWith("10.0.0.1", 0, func(c *Config) { c.Provider = ga })
	b := cl.startWith("10.0.0.2", 0, func(c *Config) { c.Provider = gb })
	h := newHold(t)
	ga.setOnAccept(h.hook)
	toA := sendAsync(b, a, pattern(64<<10, 2))
	h.wait(t) // a has decided to accept b's request
	toB := sendAsync(a, b, pattern(100, 1))
	h.open()
	checkRace(t, a, b, ga, gb, toB, toA)
	if n := ga.dials.Load(); n != 0 {
		t.Errorf("a dialled b %d times while answering b's request", n)
	}
}

// TestConnectRaceBothDial: both NIs dial at once. The higher NID rejects the
// lower's request (CONN_RACE), the lower accepts the higher's, and what each
// queued goes over that one connection.
func TestConnectRaceBothDial(t *testing.T) {
	cl := newCluster(t, Config{})
	ga, gb := &gateProvider{Provider: cl.f}, &gateProvider{Provider: cl.f}
	a := cl.startWith("10.0.0.1", 0, func(c *Config) { c.Provider = ga })
	b := cl.startWith("10.0.0.2", 0, func(c *Config) { c.Provider = gb })
	both := newBarrier(t, 2)
	ga.setOnDial(both.hook)
	gb.setOnDial(both.hook)
	toB := sendAsync(a, b, pattern(100, 1))
	toA := sendAsync(b, a, pattern(64<<10, 2))
	checkRace(t, a, b, ga, gb, toB, toA)
	if ga.connected.Load() != 0 {
		t.Error("the lower NID's connection request was accepted")
	}
}

// checkRace checks the end of a connection race between a and b, whose
// messages toB (100 bytes, seed 1, a to b) and toA (64 KiB, seed 2, b to a)
// were sent: both delivered, one connection established, traffic flows.
func checkRace(t *testing.T, a, b *node, ga, gb *gateProvider, toB, toA <-chan error) {
	t.Helper()
	for _, ch := range []<-chan error{toB, toA} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(waitLimit):
			t.Fatal("send did not complete")
		}
	}
	mustEqual(t, b.host.nextFrom(t, a.nid()).data, pattern(100, 1))
	mustEqual(t, a.host.nextFrom(t, b.nid()).data, pattern(64<<10, 2))
	if n := ga.connected.Load() + gb.connected.Load(); n != 1 {
		t.Errorf("%d connections established, want 1", n)
	}
	talk(t, a, b)
	checkIdle(t, a.connTo(b.nid()))
	checkIdle(t, b.connTo(a.nid()))
}

// sendAsync sends a PUT of data from one node to another and returns the
// channel its completion arrives on.
func sendAsync(from, to *node, data []byte) <-chan error {
	done := make(chan error, 1)
	tx := putTx(from, to, data)
	tx.OnComplete = func(_ *lnet.Tx, err error) { done <- err }
	from.ni.Send(tx)
	return done
}

// gateProvider wraps the cluster's fabric for one NI, so that a test can
// hold the NI's connection set-up at two points, and counts what it did.
type gateProvider struct {
	verbs.Provider

	dials     atomic.Int32 // connection attempts the NI made
	connected atomic.Int32 // of those, the ones the peer accepted

	mu       sync.Mutex                // guards the hooks
	onDial   func(ctx context.Context) // before the NI dials a peer
	onAccept func(ctx context.Context) // before the NI accepts a request it has decided to accept
}

func (g *gateProvider) setOnDial(f func(context.Context)) {
	g.mu.Lock()
	g.onDial = f
	g.mu.Unlock()
}

func (g *gateProvider) setOnAccept(f func(context.Context)) {
	g.mu.Lock()
	g.onAccept = f
	g.mu.Unlock()
}

func (g *gateProvider) call(ctx context.Context, f *func(context.Context)) {
	g.mu.Lock()
	h := *f
	g.mu.Unlock()
	if h != nil {
		h(ctx)
	}
}

func (g *gateProvider) Open(ifname string) (verbs.Device, netip.Addr, error) {
	d, a, err := g.Provider.Open(ifname)
	if err != nil {
		return nil, a, err
	}
	return &gateDevice{Device: d, g: g}, a, nil
}

type gateDevice struct {
	verbs.Device
	g *gateProvider
}

func (d *gateDevice) Listen(addr netip.AddrPort) (verbs.Listener, error) {
	l, err := d.Device.Listen(addr)
	if err != nil {
		return nil, err
	}
	return &gateListener{Listener: l, g: d.g}, nil
}

func (d *gateDevice) Dial(ctx context.Context, local netip.Addr, remote netip.AddrPort) (verbs.Endpoint, error) {
	d.g.dials.Add(1)
	d.g.call(ctx, &d.g.onDial)
	ep, err := d.Device.Dial(ctx, local, remote)
	if err != nil {
		return nil, err
	}
	return &gateEndpoint{Endpoint: ep, g: d.g}, nil
}

type gateListener struct {
	verbs.Listener
	g *gateProvider
}

func (l *gateListener) Accept(ctx context.Context) (verbs.Endpoint, error) {
	ep, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &gateEndpoint{Endpoint: ep, g: l.g}, nil
}

type gateEndpoint struct {
	verbs.Endpoint
	g *gateProvider
}

func (e *gateEndpoint) Connect(ctx context.Context, priv []byte) ([]byte, error) {
	b, err := e.Endpoint.Connect(ctx, priv)
	if err == nil {
		e.g.connected.Add(1)
	}
	return b, err
}

func (e *gateEndpoint) Accept(ctx context.Context, priv []byte) error {
	e.g.call(ctx, &e.g.onAccept)
	return e.Endpoint.Accept(ctx, priv)
}

// hold is a hook that holds its first caller until the test opens it.
type hold struct {
	held, release   chan struct{}
	first, openOnce sync.Once
}

// newHold returns a closed hold, opened at the latest when t cleans up.
func newHold(t *testing.T) *hold {
	h := &hold{held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(h.open)
	return h
}

func (h *hold) hook(ctx context.Context) {
	first := false
	h.first.Do(func() { first = true })
	if !first {
		return
	}
	close(h.held)
	select {
	case <-h.release:
	case <-ctx.Done():
	}
}

// wait waits until the first caller is held.
func (h *hold) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.held:
	case <-time.After(waitLimit):
		t.Fatal("nothing reached the hold")
	}
}

func (h *hold) open() { h.openOnce.Do(func() { close(h.release) }) }

// barrier is a hook that holds the first n calls until all n have arrived.
type barrier struct {
	mu   sync.Mutex
	left int
	all  chan struct{}
}

// newBarrier returns a barrier for n callers, opened at the latest when t
// cleans up.
func newBarrier(t *testing.T, n int) *barrier {
	b := &barrier{left: n, all: make(chan struct{})}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.left > 0 {
			b.left = 0
			close(b.all)
		}
	})
	return b
}

// hook holds its caller until n calls have arrived; later calls pass.
func (b *barrier) hook(ctx context.Context) {
	b.mu.Lock()
	if b.left > 0 {
		b.left--
		if b.left == 0 {
			close(b.all)
		}
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-ctx.Done():
	}
}
