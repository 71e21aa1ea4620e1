//go:build rdma && cgo

package ibverbs

/*
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

static void stria_sin(struct sockaddr_in *sin, const uint8_t *a4, int port) {
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	memcpy(&sin->sin_addr, a4, 4);
}
static int stria_bind(struct rdma_cm_id *id, const uint8_t *a4, int port) {
	struct sockaddr_in sin;
	stria_sin(&sin, a4, port);
	return rdma_bind_addr(id, (struct sockaddr *)&sin);
}
static int stria_resolve_addr(struct rdma_cm_id *id, const uint8_t *src4, const uint8_t *dst4, int port, int ms) {
	struct sockaddr_in src, dst;
	stria_sin(&src, src4, 0);
	stria_sin(&dst, dst4, port);
	return rdma_resolve_addr(id, (struct sockaddr *)&src, (struct sockaddr *)&dst, ms);
}
static int stria_peer4(struct rdma_cm_id *id, uint8_t *a4) {
	struct sockaddr *sa = rdma_get_peer_addr(id);
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	if (sa->sa_family != AF_INET)
		return -1;
	memcpy(a4, &sin->sin_addr, 4);
	return ntohs(sin->sin_port);
}
static struct ibv_context *stria_id_verbs(struct rdma_cm_id *id) { return id->verbs; }
static struct ibv_qp *stria_id_qp(struct rdma_cm_id *id) { return id->qp; }
static int stria_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_cq *cq,
		int send_wr, int recv_wr, int send_sge, int recv_sge) {
	struct ibv_qp_init_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.send_cq = cq;
	attr.recv_cq = cq;
	attr.cap.max_send_wr = send_wr;
	attr.cap.max_recv_wr = recv_wr;
	attr.cap.max_send_sge = send_sge;
	attr.cap.max_recv_sge = recv_sge;
	attr.qp_type = IBV_QPT_RC;
	attr.sq_sig_all = 0;
	return rdma_create_qp(id, pd, &attr);
}
static int stria_qp_error(struct ibv_qp *qp) {
	struct ibv_qp_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.qp_state = IBV_QPS_ERR;
	return ibv_modify_qp(qp, &attr, IBV_QP_STATE);
}
// o2iblnd never RDMA-reads, so no responder resources or initiator depth;
// retry counts as ko2iblnd's defaults (retry_count 5, rnr_retry_count 6).
static void stria_conn_param(struct rdma_conn_param *p, const void *priv, int len) {
	memset(p, 0, sizeof *p);
	p->private_data = priv;
	p->private_data_len = (uint8_t)len;
	p->flow_control = 1;
	p->retry_count = 5;
	p->rnr_retry_count = 6;
}
static int stria_connect(struct rdma_cm_id *id, const void *priv, int len) {
	struct rdma_conn_param p;
	stria_conn_param(&p, priv, len);
	return rdma_connect(id, &p);
}
static int stria_accept(struct rdma_cm_id *id, const void *priv, int len) {
	struct rdma_conn_param p;
	stria_conn_param(&p, priv, len);
	return rdma_accept(id, &p);
}
static int stria_post_send(struct ibv_qp *qp, uint64_t id, int rdma, int signaled,
		struct ibv_sge *sge, int nsge, uint64_t raddr, uint32_t rkey) {
	struct ibv_send_wr wr, *bad;
	memset(&wr, 0, sizeof wr);
	wr.wr_id = id;
	wr.sg_list = sge;
	wr.num_sge = nsge;
	wr.opcode = rdma ? IBV_WR_RDMA_WRITE : IBV_WR_SEND;
	wr.send_flags = signaled ? IBV_SEND_SIGNALED : 0;
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	return ibv_post_send(qp, &wr, &bad);
}
static int stria_post_recv(struct ibv_qp *qp, uint64_t id, struct ibv_sge *sge, int nsge) {
	struct ibv_recv_wr wr, *bad;
	memset(&wr, 0, sizeof wr);
	wr.wr_id = id;
	wr.sg_list = sge;
	wr.num_sge = nsge;
	return ibv_post_recv(qp, &wr, &bad);
}
*/
import "C"

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

const (
	listenBacklog = 64
	maxSGE        = 4
)

// resolveMillis turns ctx's deadline into rdma_cm's resolution timeout.
func resolveMillis(ctx context.Context) C.int {
	ms := 2000
	if dl, ok := ctx.Deadline(); ok {
		ms = int(time.Until(dl) / time.Millisecond)
	}
	return C.int(min(max(ms, 100), 60000))
}

func ip4(a netip.Addr) (*C.uint8_t, error) {
	if !a.Unmap().Is4() {
		return nil, fmt.Errorf("%w: %v: ibverbs supports IPv4 addresses only", verbs.ErrInvalid, a)
	}
	b := a.Unmap().As4()
	return (*C.uint8_t)(C.CBytes(b[:])), nil
}

func (d *device) Listen(addr netip.AddrPort) (verbs.Listener, error) {
	a, err := ip4(addr.Addr())
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(a))
	var id *C.struct_rdma_cm_id
	if rc, err := C.rdma_create_id(d.ch, &id, nil, C.RDMA_PS_TCP); rc != 0 {
		return nil, fmt.Errorf("rdma_create_id: %w", err)
	}
	l := &listener{d: d, id: id, addr: addr, reqs: make(chan *endpoint, listenBacklog), done: make(chan struct{})}
	d.register(id, l)
	if rc, err := C.stria_bind(id, a, C.int(addr.Port())); rc != 0 {
		l.destroy()
		if err == syscall.EADDRINUSE {
			return nil, fmt.Errorf("%w: %v", verbs.ErrAddrInUse, addr)
		}
		return nil, fmt.Errorf("rdma_bind_addr %v: %w", addr, err)
	}
	if rc, err := C.rdma_listen(id, listenBacklog); rc != 0 {
		l.destroy()
		return nil, fmt.Errorf("rdma_listen %v: %w", addr, err)
	}
	return l, nil
}

// listener is verbs.Listener over a listening cm id.
type listener struct {
	d    *device
	id   *C.struct_rdma_cm_id
	addr netip.AddrPort
	reqs chan *endpoint
	done chan struct{}
	once sync.Once
}

func (l *listener) event(ev cmEvent) {
	if ev.typ != C.RDMA_CM_EVENT_CONNECT_REQUEST {
		return
	}
	e := newEndpoint(l.d, ev.id)
	e.priv = ev.priv
	var a [4]byte
	if port := C.stria_peer4(ev.id, (*C.uint8_t)(unsafe.Pointer(&a[0]))); port >= 0 {
		e.remote = netip.AddrPortFrom(netip.AddrFrom4(a), uint16(port))
	}
	select {
	case l.reqs <- e:
	default:
		_ = e.Reject(nil)
		_ = e.Close()
	}
}

func (l *listener) Accept(ctx context.Context) (verbs.Endpoint, error) {
	select {
	case e := <-l.reqs:
		return e, nil
	case <-l.done:
		return nil, verbs.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listener) Addr() netip.AddrPort { return l.addr }

func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.destroy()
		for {
			select {
			case e := <-l.reqs:
				_ = e.Reject(nil)
				_ = e.Close()
				continue
			default:
			}
			break
		}
	})
	return nil
}

func (l *listener) destroy() {
	l.d.unregister(l.id)
	C.rdma_destroy_id(l.id)
}

func (d *device) Dial(ctx context.Context, local netip.Addr, remote netip.AddrPort) (verbs.Endpoint, error) {
	src, err := ip4(local)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(src))
	dst, err := ip4(remote.Addr())
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(dst))
	var id *C.struct_rdma_cm_id
	if rc, err := C.rdma_create_id(d.ch, &id, nil, C.RDMA_PS_TCP); rc != 0 {
		return nil, fmt.Errorf("rdma_create_id: %w", err)
	}
	e := newEndpoint(d, id)
	e.remote = remote
	fail := func(err error) (verbs.Endpoint, error) {
		_ = e.Close()
		return nil, err
	}
	if rc, err := C.stria_resolve_addr(id, src, dst, C.int(remote.Port()), resolveMillis(ctx)); rc != 0 {
		return fail(fmt.Errorf("%w: rdma_resolve_addr %v: %v", verbs.ErrUnreachable, remote, err))
	}
	if _, err := e.wait(ctx, C.RDMA_CM_EVENT_ADDR_RESOLVED); err != nil {
		return fail(err)
	}
	if C.stria_id_verbs(id) != d.ctx {
		return fail(fmt.Errorf("%w: %v is reached through another RDMA device than %s", verbs.ErrUnreachable, remote, d.name))
	}
	if rc, err := C.rdma_resolve_route(id, resolveMillis(ctx)); rc != 0 {
		return fail(fmt.Errorf("%w: rdma_resolve_route %v: %v", verbs.ErrUnreachable, remote, err))
	}
	if _, err := e.wait(ctx, C.RDMA_CM_EVENT_ROUTE_RESOLVED); err != nil {
		return fail(err)
	}
	return e, nil
}

// endpoint is verbs.Endpoint over one cm id.
type endpoint struct {
	d      *device
	id     *C.struct_rdma_cm_id
	events chan cmEvent
	remote netip.AddrPort
	priv   []byte // passive: the request's private data

	mu       sync.Mutex // guards the fields below
	qp       *queuePair
	answered bool // passive: accepted or rejected
	closed   bool
}

func newEndpoint(d *device, id *C.struct_rdma_cm_id) *endpoint {
	e := &endpoint{d: d, id: id, events: make(chan cmEvent, 16)}
	d.register(id, e)
	return e
}

// event receives the id's events from the device's goroutine. A
// disconnect moves the QP to the error state so that its CQ reports it.
func (e *endpoint) event(ev cmEvent) {
	if ev.typ == C.RDMA_CM_EVENT_DISCONNECTED || ev.typ == C.RDMA_CM_EVENT_DEVICE_REMOVAL {
		e.mu.Lock()
		if e.qp != nil && !e.closed {
			C.stria_qp_error(e.qp.qp)
		}
		e.mu.Unlock()
	}
	select {
	case e.events <- ev:
	default: // nobody waits for late events (TIMEWAIT_EXIT and the like)
	}
}

// wait waits for the event want; any other connection event is a failure.
func (e *endpoint) wait(ctx context.Context, want C.enum_rdma_cm_event_type) (cmEvent, error) {
	for {
		select {
		case ev := <-e.events:
			switch {
			case ev.typ == want:
				return ev, nil
			case ev.typ == C.RDMA_CM_EVENT_REJECTED:
				return ev, &verbs.RejectError{Status: ev.status, PrivateData: ev.priv}
			case ev.typ == C.RDMA_CM_EVENT_ADDR_CHANGE || ev.typ == C.RDMA_CM_EVENT_TIMEWAIT_EXIT:
				continue
			default:
				return ev, fmt.Errorf("%w: %s (status %d) while waiting for %s", verbs.ErrUnreachable,
					C.GoString(C.rdma_event_str(ev.typ)), ev.status, C.GoString(C.rdma_event_str(want)))
			}
		case <-ctx.Done():
			return cmEvent{}, fmt.Errorf("%w: waiting for %s: %w", verbs.ErrUnreachable, C.GoString(C.rdma_event_str(want)), ctx.Err())
		}
	}
}

func (e *endpoint) Remote() netip.AddrPort { return e.remote }
func (e *endpoint) PrivateData() []byte    { return e.priv }

func (e *endpoint) CreateQP(cfg verbs.QPConfig) (verbs.QP, error) {
	pd, ok := cfg.PD.(*protDomain)
	if !ok {
		return nil, fmt.Errorf("%w: PD of another engine", verbs.ErrInvalid)
	}
	cq, ok := cfg.CQ.(*complQueue)
	if !ok {
		return nil, fmt.Errorf("%w: CQ of another engine", verbs.ErrInvalid)
	}
	if cfg.MaxSendSGE > maxSGE || cfg.MaxRecvSGE > maxSGE {
		return nil, fmt.Errorf("%w: at most %d SGEs", verbs.ErrInvalid, maxSGE)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.qp != nil {
		return nil, fmt.Errorf("%w: endpoint closed or has a QP", verbs.ErrInvalid)
	}
	if rc, err := C.stria_create_qp(e.id, pd.pd, cq.cq, C.int(cfg.MaxSendWR), C.int(cfg.MaxRecvWR),
		C.int(cfg.MaxSendSGE), C.int(cfg.MaxRecvSGE)); rc != 0 {
		return nil, fmt.Errorf("rdma_create_qp: %w", err)
	}
	e.qp = &queuePair{qp: C.stria_id_qp(e.id)}
	return e.qp, nil
}

func (e *endpoint) Connect(ctx context.Context, priv []byte) ([]byte, error) {
	p := C.CBytes(priv)
	defer C.free(p)
	if rc, err := C.stria_connect(e.id, p, C.int(len(priv))); rc != 0 {
		return nil, fmt.Errorf("%w: rdma_connect: %v", verbs.ErrUnreachable, err)
	}
	ev, err := e.wait(ctx, C.RDMA_CM_EVENT_ESTABLISHED)
	if err != nil {
		return nil, err
	}
	return ev.priv, nil
}

func (e *endpoint) Accept(ctx context.Context, priv []byte) error {
	e.mu.Lock()
	e.answered = true
	e.mu.Unlock()
	p := C.CBytes(priv)
	defer C.free(p)
	if rc, err := C.stria_accept(e.id, p, C.int(len(priv))); rc != 0 {
		return fmt.Errorf("%w: rdma_accept: %v", verbs.ErrUnreachable, err)
	}
	_, err := e.wait(ctx, C.RDMA_CM_EVENT_ESTABLISHED)
	return err
}

func (e *endpoint) Reject(priv []byte) error {
	e.mu.Lock()
	e.answered = true
	e.mu.Unlock()
	var p unsafe.Pointer
	if len(priv) > 0 {
		p = C.CBytes(priv)
		defer C.free(p)
	}
	if rc, err := C.rdma_reject(e.id, p, C.uint8_t(len(priv))); rc != 0 {
		return fmt.Errorf("rdma_reject: %w", err)
	}
	return nil
}

func (e *endpoint) Disconnect() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.qp == nil {
		return nil
	}
	C.rdma_disconnect(e.id)
	C.stria_qp_error(e.qp.qp)
	return nil
}

func (e *endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	if e.priv != nil && !e.answered {
		C.rdma_reject(e.id, nil, 0)
	}
	if e.qp != nil {
		C.rdma_disconnect(e.id)
		C.rdma_destroy_qp(e.id)
	}
	e.closed = true
	e.mu.Unlock()
	e.d.unregister(e.id)
	if rc, err := C.rdma_destroy_id(e.id); rc != 0 {
		return fmt.Errorf("rdma_destroy_id: %w", err)
	}
	return nil
}

// queuePair is verbs.QP.
type queuePair struct {
	qp *C.struct_ibv_qp

	mu  sync.Mutex // serialises posts on sge
	sge [maxSGE]C.struct_ibv_sge
}

func (q *queuePair) fill(sgl []verbs.SGE) error {
	if len(sgl) > maxSGE {
		return fmt.Errorf("%w: %d SGEs", verbs.ErrInvalid, len(sgl))
	}
	for i, s := range sgl {
		q.sge[i] = C.struct_ibv_sge{addr: C.uint64_t(s.Addr), length: C.uint32_t(s.Length), lkey: C.uint32_t(s.LKey)}
	}
	return nil
}

func (q *queuePair) PostSend(wr *verbs.SendWR) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.fill(wr.SGL); err != nil {
		return err
	}
	rdma, sig := C.int(0), C.int(0)
	if wr.Opcode == verbs.OpRDMAWrite {
		rdma = 1
	}
	if wr.Signaled {
		sig = 1
	}
	if rc := C.stria_post_send(q.qp, C.uint64_t(wr.ID), rdma, sig, &q.sge[0], C.int(len(wr.SGL)),
		C.uint64_t(wr.RemoteAddr), C.uint32_t(wr.RKey)); rc != 0 {
		if syscall.Errno(rc) == syscall.ENOMEM {
			return fmt.Errorf("%w: ibv_post_send", verbs.ErrQueueFull)
		}
		return fmt.Errorf("ibv_post_send: %w", syscall.Errno(rc))
	}
	return nil
}

func (q *queuePair) PostRecv(wr *verbs.RecvWR) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.fill(wr.SGL); err != nil {
		return err
	}
	if rc := C.stria_post_recv(q.qp, C.uint64_t(wr.ID), &q.sge[0], C.int(len(wr.SGL))); rc != 0 {
		if syscall.Errno(rc) == syscall.ENOMEM {
			return fmt.Errorf("%w: ibv_post_recv", verbs.ErrQueueFull)
		}
		return fmt.Errorf("ibv_post_recv: %w", syscall.Errno(rc))
	}
	return nil
}

var (
	_ verbs.Device   = (*device)(nil)
	_ verbs.PD       = (*protDomain)(nil)
	_ verbs.MR       = (*memRegion)(nil)
	_ verbs.CQ       = (*complQueue)(nil)
	_ verbs.Listener = (*listener)(nil)
	_ verbs.Endpoint = (*endpoint)(nil)
	_ verbs.QP       = (*queuePair)(nil)
)
