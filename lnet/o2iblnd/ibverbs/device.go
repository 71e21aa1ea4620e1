//go:build rdma && cgo

package ibverbs

/*
#cgo LDFLAGS: -libverbs -lrdmacm
#include <stdlib.h>
#include <string.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

static struct ibv_mr *stria_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access) {
	return ibv_reg_mr(pd, addr, len, access);
}
static int stria_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc) {
	return ibv_poll_cq(cq, n, wc);
}
static int stria_req_notify(struct ibv_cq *cq) {
	return ibv_req_notify_cq(cq, 0);
}
static const char *stria_dev_name(struct ibv_context *ctx) {
	return ibv_get_device_name(ctx->device);
}
static struct ibv_context *stria_dev_at(struct ibv_context **list, int i) {
	return list[i];
}
static int stria_comp_fd(struct ibv_comp_channel *ch) { return ch->fd; }
static int stria_cm_fd(struct rdma_event_channel *ch) { return ch->fd; }
static const void *stria_event_priv(struct rdma_cm_event *e, int *n) {
	*n = e->param.conn.private_data_len;
	return e->param.conn.private_data;
}
static int stria_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq *want) {
	struct ibv_cq *cq;
	void *ctx;
	int rc = ibv_get_cq_event(ch, &cq, &ctx);
	if (rc == 0)
		ibv_ack_cq_events(cq, 1);
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/stria-fs/stria/lnet/o2iblnd/verbs"
)

// NewProvider returns a verbs.Provider over the host's RDMA devices.
func NewProvider(log *zap.Logger) verbs.Provider {
	if log == nil {
		log = zap.NewNop()
	}
	return &provider{log: log}
}

type provider struct {
	log *zap.Logger
}

func (p *provider) Open(ifname string) (verbs.Device, netip.Addr, error) {
	name, addr, err := DeviceForInterface(ifname)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	var n C.int
	list, err := C.rdma_get_devices(&n)
	if list == nil {
		return nil, netip.Addr{}, fmt.Errorf("%w: rdma_get_devices: %v", verbs.ErrNoDevice, err)
	}
	var ctx *C.struct_ibv_context
	for i := 0; i < int(n); i++ {
		c := C.stria_dev_at(list, C.int(i))
		if C.GoString(C.stria_dev_name(c)) == name {
			ctx = c
			break
		}
	}
	if ctx == nil {
		C.rdma_free_devices(list)
		return nil, netip.Addr{}, fmt.Errorf("%w: %s (behind %s) is not among rdma_cm's devices", verbs.ErrNoDevice, name, ifname)
	}
	ch, err := C.rdma_create_event_channel()
	if ch == nil {
		C.rdma_free_devices(list)
		return nil, netip.Addr{}, fmt.Errorf("rdma_create_event_channel: %w", err)
	}
	d := &device{
		name: name,
		ctx:  ctx,
		list: list,
		ch:   ch,
		log:  p.log.With(zap.String("device", name)),
		ids:  map[uintptr]cmTarget{},
	}
	f, err := pollable(int(C.stria_cm_fd(ch)), "rdma_cm:"+name)
	if err != nil {
		C.rdma_destroy_event_channel(ch)
		C.rdma_free_devices(list)
		return nil, netip.Addr{}, err
	}
	d.chFile = f
	d.wg.Add(1)
	go d.dispatch()
	return d, addr, nil
}

// pollable returns a File on a duplicate of fd, made non-blocking so that
// Go's poller waits on it; the original descriptor shares the flag.
func pollable(fd int, name string) (*os.File, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("dup %s: %w", name, err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		_ = unix.Close(dup)
		return nil, fmt.Errorf("set %s non-blocking: %w", name, err)
	}
	return os.NewFile(uintptr(dup), name), nil
}

// device is an opened RDMA device: verbs.Device.
type device struct {
	name   string
	ctx    *C.struct_ibv_context
	list   **C.struct_ibv_context
	ch     *C.struct_rdma_event_channel
	chFile *os.File
	log    *zap.Logger
	wg     sync.WaitGroup // the event goroutine

	mu     sync.Mutex // guards ids and closed
	ids    map[uintptr]cmTarget
	closed bool
}

// cmTarget receives the rdma_cm events of one id.
type cmTarget interface {
	event(ev cmEvent)
}

func (d *device) Name() string { return d.name }

func (d *device) register(id *C.struct_rdma_cm_id, t cmTarget) {
	d.mu.Lock()
	d.ids[uintptr(unsafe.Pointer(id))] = t
	d.mu.Unlock()
}

func (d *device) unregister(id *C.struct_rdma_cm_id) {
	d.mu.Lock()
	delete(d.ids, uintptr(unsafe.Pointer(id)))
	d.mu.Unlock()
}

func (d *device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	n := len(d.ids)
	d.mu.Unlock()
	if n != 0 {
		d.log.Error("ibverbs: closing a device with live rdma_cm ids", zap.Int("ids", n))
	}
	err := d.chFile.Close()
	d.wg.Wait()
	C.rdma_destroy_event_channel(d.ch)
	C.rdma_free_devices(d.list)
	return err
}

// cmEvent is a copied rdma_cm event.
type cmEvent struct {
	typ    C.enum_rdma_cm_event_type
	status int
	priv   []byte
	id     *C.struct_rdma_cm_id // CONNECT_REQUEST: the new id
}

// dispatch reads the device's rdma_cm events until the channel closes.
func (d *device) dispatch() {
	defer d.wg.Done()
	rc, err := d.chFile.SyscallConn()
	if err != nil {
		d.log.Error("ibverbs: rdma_cm channel", zap.Error(err))
		return
	}
	for {
		var ev cmEvent
		var target cmTarget
		var cmErr error
		rerr := rc.Read(func(uintptr) bool {
			var e *C.struct_rdma_cm_event
			ret, err := C.rdma_get_cm_event(d.ch, &e)
			if ret != 0 {
				if errors.Is(err, syscall.EAGAIN) {
					return false
				}
				cmErr = fmt.Errorf("rdma_get_cm_event: %w", err)
				return true
			}
			ev = copyEvent(e)
			key := uintptr(unsafe.Pointer(e.id))
			if e.event == C.RDMA_CM_EVENT_CONNECT_REQUEST {
				key = uintptr(unsafe.Pointer(e.listen_id))
			}
			d.mu.Lock()
			target = d.ids[key]
			d.mu.Unlock()
			C.rdma_ack_cm_event(e)
			return true
		})
		if rerr != nil {
			return
		}
		if cmErr != nil {
			d.log.Error("ibverbs: rdma_cm event channel failed; no more connection events", zap.Error(cmErr))
			return
		}
		switch {
		case target != nil:
			target.event(ev)
		case ev.typ == C.RDMA_CM_EVENT_CONNECT_REQUEST:
			// Nobody listens any more: refuse and forget the new id.
			C.rdma_reject(ev.id, nil, 0)
			C.rdma_destroy_id(ev.id)
		}
	}
}

func (d *device) AllocPD() (verbs.PD, error) {
	pd, err := C.ibv_alloc_pd(d.ctx)
	if pd == nil {
		return nil, fmt.Errorf("ibv_alloc_pd: %w", err)
	}
	return &protDomain{pd: pd}, nil
}

// protDomain is verbs.PD.
type protDomain struct {
	pd *C.struct_ibv_pd
}

func (p *protDomain) RegMR(buf []byte, access verbs.Access) (verbs.MR, error) {
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: empty buffer", verbs.ErrInvalid)
	}
	flags := C.int(0)
	if access&verbs.AccessLocalWrite != 0 {
		flags |= C.IBV_ACCESS_LOCAL_WRITE
	}
	if access&verbs.AccessRemoteWrite != 0 {
		flags |= C.IBV_ACCESS_REMOTE_WRITE | C.IBV_ACCESS_LOCAL_WRITE
	}
	if access&verbs.AccessRemoteRead != 0 {
		flags |= C.IBV_ACCESS_REMOTE_READ
	}
	m := &memRegion{buf: buf}
	m.pin.Pin(&buf[0])
	mr, err := C.stria_reg_mr(p.pd, unsafe.Pointer(&buf[0]), C.size_t(len(buf)), flags)
	if mr == nil {
		m.pin.Unpin()
		return nil, fmt.Errorf("%w: ibv_reg_mr of %d bytes: %v", verbs.ErrNoMemory, len(buf), err)
	}
	m.mr = mr
	return m, nil
}

func (p *protDomain) Close() error {
	if p.pd == nil {
		return nil
	}
	if rc := C.ibv_dealloc_pd(p.pd); rc != 0 {
		return fmt.Errorf("ibv_dealloc_pd: %w", syscall.Errno(rc))
	}
	p.pd = nil
	return nil
}

// memRegion is verbs.MR: a pinned Go buffer.
type memRegion struct {
	buf []byte
	mr  *C.struct_ibv_mr
	pin runtime.Pinner
}

func (m *memRegion) LKey() uint32 { return uint32(m.mr.lkey) }
func (m *memRegion) RKey() uint32 { return uint32(m.mr.rkey) }
func (m *memRegion) Addr() uint64 { return uint64(uintptr(m.mr.addr)) }
func (m *memRegion) Len() int     { return len(m.buf) }

func (m *memRegion) Close() error {
	if m.mr == nil {
		return nil
	}
	if rc := C.ibv_dereg_mr(m.mr); rc != 0 {
		return fmt.Errorf("ibv_dereg_mr: %w", syscall.Errno(rc))
	}
	m.mr = nil
	m.pin.Unpin()
	return nil
}

// maxPoll is how many completions one Poll call takes from the device.
const maxPoll = 32

func (d *device) CreateCQ(entries int) (verbs.CQ, error) {
	ch, err := C.ibv_create_comp_channel(d.ctx)
	if ch == nil {
		return nil, fmt.Errorf("ibv_create_comp_channel: %w", err)
	}
	cq, err := C.ibv_create_cq(d.ctx, C.int(entries), nil, ch, 0)
	if cq == nil {
		C.ibv_destroy_comp_channel(ch)
		return nil, fmt.Errorf("ibv_create_cq(%d): %w", entries, err)
	}
	f, err := pollable(int(C.stria_comp_fd(ch)), "cq:"+d.name)
	if err != nil {
		C.ibv_destroy_cq(cq)
		C.ibv_destroy_comp_channel(ch)
		return nil, err
	}
	q := &complQueue{cq: cq, ch: ch, file: f, notify: make(chan struct{}, 1), log: d.log}
	q.wg.Add(1)
	go q.watch()
	return q, nil
}

// complQueue is verbs.CQ.
type complQueue struct {
	cq     *C.struct_ibv_cq
	ch     *C.struct_ibv_comp_channel
	file   *os.File
	notify chan struct{}
	log    *zap.Logger
	wg     sync.WaitGroup // the watch goroutine

	mu     sync.Mutex // serialises Poll on wcs; guards failed
	wcs    [maxPoll]C.struct_ibv_wc
	failed error // the completion channel broke
}

// watch turns completion events into values on notify.
func (q *complQueue) watch() {
	defer q.wg.Done()
	rc, err := q.file.SyscallConn()
	if err != nil {
		q.log.Error("ibverbs: completion channel", zap.Error(err))
		return
	}
	for {
		var cqErr error
		rerr := rc.Read(func(uintptr) bool {
			ret, err := C.stria_get_cq_event(q.ch, q.cq)
			if ret != 0 && errors.Is(err, syscall.EAGAIN) {
				return false
			}
			if ret != 0 {
				cqErr = fmt.Errorf("ibv_get_cq_event: %w", err)
			}
			return true
		})
		if rerr != nil {
			return
		}
		if cqErr != nil {
			// Without events the owner would sleep through completions: fail
			// the CQ, so that its next Poll reports it, and wake the owner.
			q.log.Error("ibverbs: completion channel failed", zap.Error(cqErr))
			q.mu.Lock()
			q.failed = cqErr
			q.mu.Unlock()
			select {
			case q.notify <- struct{}{}:
			default:
			}
			return
		}
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
}

func (q *complQueue) Poll(wc []verbs.WC) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failed != nil {
		return 0, q.failed
	}
	n := C.stria_poll_cq(q.cq, C.int(min(len(wc), maxPoll)), &q.wcs[0])
	if n < 0 {
		return 0, fmt.Errorf("%w: ibv_poll_cq returned %d", verbs.ErrCQOverrun, int(n))
	}
	for i := 0; i < int(n); i++ {
		w := &q.wcs[i]
		op := verbs.OpSend
		switch {
		case w.opcode&C.IBV_WC_RECV != 0:
			op = verbs.OpRecv
		case w.opcode == C.IBV_WC_RDMA_WRITE:
			op = verbs.OpRDMAWrite
		}
		wc[i] = verbs.WC{ID: uint64(w.wr_id), Status: verbs.Status(w.status), Opcode: op, ByteLen: uint32(w.byte_len)}
	}
	return int(n), nil
}

func (q *complQueue) ReqNotify() error {
	if rc := C.stria_req_notify(q.cq); rc != 0 {
		return fmt.Errorf("ibv_req_notify_cq: %w", syscall.Errno(rc))
	}
	return nil
}

func (q *complQueue) Notify() <-chan struct{} { return q.notify }

func (q *complQueue) Close() error {
	if q.cq == nil {
		return nil
	}
	err := q.file.Close()
	q.wg.Wait()
	if rc := C.ibv_destroy_cq(q.cq); rc != 0 {
		return fmt.Errorf("ibv_destroy_cq: %w", syscall.Errno(rc))
	}
	q.cq = nil
	if rc := C.ibv_destroy_comp_channel(q.ch); rc != 0 {
		return fmt.Errorf("ibv_destroy_comp_channel: %w", syscall.Errno(rc))
	}
	return err
}

// copyEvent copies what o2iblnd needs out of an rdma_cm event.
func copyEvent(e *C.struct_rdma_cm_event) cmEvent {
	ev := cmEvent{typ: e.event, status: int(e.status), id: e.id}
	var n C.int
	p := C.stria_event_priv(e, &n)
	if p != nil && n > 0 {
		ev.priv = C.GoBytes(p, n)
	}
	return ev
}
