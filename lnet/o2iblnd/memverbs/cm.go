package memverbs

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// Private data limits of the IB connection manager as seen through rdma_cm.
const (
	MaxConnectPrivate = 56
	MaxAcceptPrivate  = 196
	MaxRejectPrivate  = 148
	listenBacklog     = 64
)

func (c *devctx) Listen(addr netip.AddrPort) (verbs.Listener, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if addr.Addr() != c.d.addr {
		return nil, fmt.Errorf("%w: %v is not device %s's address", verbs.ErrInvalid, addr, c.d.name)
	}
	f := c.d.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.listeners[addr]; busy {
		return nil, fmt.Errorf("%w: %v", verbs.ErrAddrInUse, addr)
	}
	if err := c.count(&c.listeners, 1); err != nil {
		return nil, err
	}
	l := &listener{c: c, addr: addr, queue: make(chan *request, listenBacklog), done: make(chan struct{})}
	f.listeners[addr] = l
	f.nlisteners.Add(1)
	return l, nil
}

func (c *devctx) Dial(ctx context.Context, local netip.Addr, remote netip.AddrPort) (verbs.Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if local.Unmap() != c.d.addr {
		return nil, fmt.Errorf("%w: %v is not device %s's address", verbs.ErrInvalid, local, c.d.name)
	}
	rd := c.d.f.deviceAt(remote.Addr())
	if c.d.linkDown.Load() || rd == nil || rd.linkDown.Load() {
		return nil, fmt.Errorf("%w: %v", verbs.ErrUnreachable, remote)
	}
	f := c.d.f
	f.mu.Lock()
	f.nextPort++
	if f.nextPort == 0 {
		f.nextPort = 49152
	}
	port := f.nextPort
	f.mu.Unlock()
	return &endpoint{
		c:      c,
		active: true,
		local:  netip.AddrPortFrom(c.d.addr, port),
		remote: netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()),
		link:   &link{},
	}, nil
}

// request is one connection request on its way to a listener.
type request struct {
	active *endpoint
	priv   []byte
	reply  chan reply // buffered 1

	mu      sync.Mutex // guards decided
	decided bool
}

type reply struct {
	priv []byte
	err  error
}

// decide records the request's outcome once; it reports false if the
// outcome was already settled (the requester gave up, or a reply went).
func (r *request) decide(rep reply) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.decided {
		return false
	}
	r.decided = true
	r.reply <- rep
	return true
}

type listener struct {
	c     *devctx
	addr  netip.AddrPort
	queue chan *request
	done  chan struct{}
	once  sync.Once
}

func (l *listener) Addr() netip.AddrPort { return l.addr }

func (l *listener) Accept(ctx context.Context) (verbs.Endpoint, error) {
	select {
	case r := <-l.queue:
		return &endpoint{
			c:      l.c,
			local:  l.addr,
			remote: r.active.local,
			link:   r.active.link,
			req:    r,
		}, nil
	case <-l.done:
		return nil, verbs.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listener) Close() error {
	l.once.Do(func() {
		f := l.c.d.f
		f.mu.Lock()
		delete(f.listeners, l.addr)
		f.mu.Unlock()
		close(l.done)
		for {
			select {
			case r := <-l.queue:
				r.decide(reply{err: &verbs.RejectError{Status: verbs.RejectInvalidServiceID}})
				continue
			default:
			}
			break
		}
		f.nlisteners.Add(-1)
		_ = l.c.count(&l.c.listeners, -1)
	})
	return nil
}

// endpoint is one side of a connection: verbs.Endpoint.
type endpoint struct {
	c      *devctx
	active bool
	local  netip.AddrPort
	remote netip.AddrPort
	link   *link
	req    *request // passive side: the request being answered

	mu     sync.Mutex // guards qp and closed
	qp     *QP
	closed bool
}

func (e *endpoint) Remote() netip.AddrPort { return e.remote }

func (e *endpoint) PrivateData() []byte {
	if e.req == nil {
		return nil
	}
	return e.req.priv
}

func (e *endpoint) CreateQP(cfg verbs.QPConfig) (verbs.QP, error) {
	p, ok := cfg.PD.(*pd)
	if !ok || p.c.d != e.c.d {
		return nil, fmt.Errorf("%w: PD of another device", verbs.ErrInvalid)
	}
	q, ok := cfg.CQ.(*cq)
	if !ok || q.c.d != e.c.d {
		return nil, fmt.Errorf("%w: CQ of another device", verbs.ErrInvalid)
	}
	if cfg.MaxSendWR <= 0 || cfg.MaxRecvWR <= 0 || cfg.MaxSendSGE <= 0 || cfg.MaxRecvSGE <= 0 ||
		cfg.MaxSendSGE > maxSGE || cfg.MaxRecvSGE > maxSGE {
		return nil, fmt.Errorf("%w: QP sizes %+v", verbs.ErrInvalid, cfg)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.qp != nil {
		return nil, fmt.Errorf("%w: endpoint closed or has a QP", verbs.ErrInvalid)
	}
	f := e.c.d.f
	f.mu.Lock()
	f.nextQPN++
	num := f.nextQPN
	f.mu.Unlock()
	qp := &QP{dev: e.c.d, pd: p, cq: q, num: num, cfg: cfg, link: e.link, local: e.local, remote: e.remote}
	q.attach(1)
	e.c.d.mu.Lock()
	e.c.d.qps[qp] = struct{}{}
	e.c.d.mu.Unlock()
	f.qps.Add(1)
	e.qp = qp
	return qp, nil
}

func (e *endpoint) getQP() *QP {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.qp
}

func (e *endpoint) Connect(ctx context.Context, priv []byte) ([]byte, error) {
	if !e.active {
		return nil, fmt.Errorf("%w: Connect on a passive endpoint", verbs.ErrInvalid)
	}
	if len(priv) > MaxConnectPrivate {
		return nil, fmt.Errorf("%w: %d bytes of private data (max %d)", verbs.ErrInvalid, len(priv), MaxConnectPrivate)
	}
	if e.getQP() == nil {
		return nil, fmt.Errorf("%w: Connect before CreateQP", verbs.ErrInvalid)
	}
	f := e.c.d.f
	r := &request{active: e, priv: append([]byte(nil), priv...), reply: make(chan reply, 1)}
	f.mu.Lock()
	l := f.listeners[e.remote]
	queued := false
	if l != nil {
		select {
		case l.queue <- r:
			queued = true
		default:
		}
	}
	f.mu.Unlock()
	if !queued {
		return nil, &verbs.RejectError{Status: verbs.RejectInvalidServiceID}
	}
	select {
	case rep := <-r.reply:
		return rep.priv, rep.err
	case <-ctx.Done():
		if r.decide(reply{}) {
			return nil, fmt.Errorf("%w: %w", verbs.ErrUnreachable, ctx.Err())
		}
		rep := <-r.reply // the peer answered just now
		return rep.priv, rep.err
	}
}

func (e *endpoint) Accept(ctx context.Context, priv []byte) error {
	if e.req == nil {
		return fmt.Errorf("%w: Accept on an active endpoint", verbs.ErrInvalid)
	}
	if len(priv) > MaxAcceptPrivate {
		return fmt.Errorf("%w: %d bytes of private data (max %d)", verbs.ErrInvalid, len(priv), MaxAcceptPrivate)
	}
	q, aq := e.getQP(), e.req.active.getQP()
	if q == nil {
		return fmt.Errorf("%w: Accept before CreateQP", verbs.ErrInvalid)
	}
	r := e.req
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.decided {
		return fmt.Errorf("%w: the requester gave up", verbs.ErrUnreachable)
	}
	e.link.mu.Lock()
	ok := aq != nil && !aq.destroyed && aq.state == stateInit && !q.destroyed && q.state == stateInit
	if ok {
		q.peer, aq.peer = aq, q
		q.state, aq.state = stateRTS, stateRTS
	}
	e.link.mu.Unlock()
	r.decided = true
	if !ok {
		r.reply <- reply{err: fmt.Errorf("%w: connection torn down while connecting", verbs.ErrUnreachable)}
		return fmt.Errorf("%w: connection torn down while connecting", verbs.ErrUnreachable)
	}
	r.reply <- reply{priv: append([]byte(nil), priv...)}
	return nil
}

func (e *endpoint) Reject(priv []byte) error {
	if e.req == nil {
		return fmt.Errorf("%w: Reject on an active endpoint", verbs.ErrInvalid)
	}
	if len(priv) > MaxRejectPrivate {
		return fmt.Errorf("%w: %d bytes of private data (max %d)", verbs.ErrInvalid, len(priv), MaxRejectPrivate)
	}
	e.req.decide(reply{err: &verbs.RejectError{Status: verbs.RejectConsumer, PrivateData: append([]byte(nil), priv...)}})
	return nil
}

func (e *endpoint) Disconnect() error {
	q := e.getQP()
	if q == nil {
		return nil
	}
	e.link.mu.Lock()
	defer e.link.mu.Unlock()
	q.toError()
	// The disconnect request reaches the peer only over a working link; a
	// peer cut off learns when its own sends fail.
	if p := q.peer; p != nil && !q.dev.linkDown.Load() && !p.dev.linkDown.Load() {
		p.toError()
	}
	return nil
}

func (e *endpoint) Close() error {
	if e.req != nil {
		e.req.decide(reply{err: &verbs.RejectError{Status: verbs.RejectConsumer}})
	}
	if err := e.Disconnect(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if q := e.qp; q != nil {
		e.link.mu.Lock()
		q.destroyed = true
		e.link.mu.Unlock()
		q.cq.attach(-1)
		e.c.d.mu.Lock()
		delete(e.c.d.qps, q)
		e.c.d.mu.Unlock()
		e.c.d.f.qps.Add(-1)
	}
	return nil
}
