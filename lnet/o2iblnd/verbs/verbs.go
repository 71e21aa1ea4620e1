package verbs

import (
	"context"
	"net/netip"
	"strconv"
	"unsafe"
)

// Provider finds and opens the RDMA devices of one host.
type Provider interface {
	// Open opens the RDMA device behind the network interface ifname (a name
	// such as "ib0", or one of the interface's addresses) and returns it with
	// the interface's address, the one peers reach it on. It returns an error
	// wrapping ErrNoDevice when the interface has no RDMA device.
	Open(ifname string) (Device, netip.Addr, error)
}

// Device is an opened RDMA device.
type Device interface {
	// Name is the device's name, e.g. "mlx5_0".
	Name() string
	// AllocPD allocates a protection domain.
	AllocPD() (PD, error)
	// CreateCQ creates a completion queue with room for entries completions.
	CreateCQ(entries int) (CQ, error)
	// Listen starts accepting connection requests on addr, which must be an
	// address of this device's interface.
	Listen(addr netip.AddrPort) (Listener, error)
	// Dial resolves the address of, and a route to, remote from local (an
	// address of this device's interface), and returns the active Endpoint of
	// a connection not yet requested. It fails with an error wrapping
	// ErrUnreachable when remote cannot be resolved or reached.
	Dial(ctx context.Context, local netip.Addr, remote netip.AddrPort) (Endpoint, error)
	// Close releases the device. Everything created from it must have been
	// closed first.
	Close() error
}

// Access says what an MR may be used for besides local reads.
type Access uint8

// Access flags, as IBV_ACCESS_*.
const (
	AccessLocalWrite Access = 1 << iota
	AccessRemoteWrite
	AccessRemoteRead
)

// PD is a protection domain.
type PD interface {
	// RegMR registers buf, which must not be empty, and pins it until the MR
	// is closed.
	RegMR(buf []byte, access Access) (MR, error)
	// Close deallocates the PD; its MRs and QPs must have been closed first.
	Close() error
}

// MR is a registered memory region.
type MR interface {
	LKey() uint32
	RKey() uint32
	// Addr is the address of the region's first byte.
	Addr() uint64
	// Len is the region's length in bytes.
	Len() int
	// Close deregisters the region.
	Close() error
}

// CQ is a completion queue.
type CQ interface {
	// Poll moves up to len(wc) completions into wc and returns how many. It
	// never blocks. An error means the CQ itself failed (overrun).
	Poll(wc []WC) (int, error)
	// ReqNotify arms the completion channel: Notify receives a value when the
	// next completion arrives after this call.
	ReqNotify() error
	// Notify is the completion channel.
	Notify() <-chan struct{}
	// Close destroys the CQ; its QPs must have been destroyed first.
	Close() error
}

// QPConfig sizes a queue pair.
type QPConfig struct {
	PD         PD
	CQ         CQ // for both send and receive completions
	MaxSendWR  int
	MaxRecvWR  int
	MaxSendSGE int
	MaxRecvSGE int
}

// QP is a reliable-connected queue pair.
type QP interface {
	// PostSend posts one send work request. It fails (without a completion)
	// when the send queue is full or the request is malformed; everything
	// else, including a QP in the error state, is reported through the CQ.
	// wr is not retained.
	PostSend(wr *SendWR) error
	// PostRecv posts one receive buffer. wr is not retained.
	PostRecv(wr *RecvWR) error
}

// Endpoint is one side of a reliable connection set up through the
// connection manager.
type Endpoint interface {
	// Remote is the peer's address.
	Remote() netip.AddrPort
	// PrivateData is, on the passive side, the private data of the
	// connection request.
	PrivateData() []byte
	// CreateQP creates the connection's queue pair, so that receives can be
	// posted before the connection is established.
	CreateQP(cfg QPConfig) (QP, error)
	// Connect (active side) sends the connection request with private data
	// priv and waits until the peer accepts, returning the accept's private
	// data. A rejection returns a *RejectError.
	Connect(ctx context.Context, priv []byte) ([]byte, error)
	// Accept (passive side) accepts the request with private data priv and
	// waits until the connection is established.
	Accept(ctx context.Context, priv []byte) error
	// Reject (passive side) refuses the request with private data priv.
	Reject(priv []byte) error
	// Disconnect tears the connection down: both QPs move to the error state
	// and flush what is posted.
	Disconnect() error
	// Close disconnects if need be, destroys the QP and releases the endpoint.
	Close() error
}

// Listener hands out the passive Endpoints of incoming connection requests.
type Listener interface {
	Accept(ctx context.Context) (Endpoint, error)
	Addr() netip.AddrPort
	Close() error
}

// Opcode says what a work request or completion is.
type Opcode uint8

// Opcodes.
const (
	OpSend Opcode = iota
	OpRDMAWrite
	OpRecv
)

func (o Opcode) String() string {
	switch o {
	case OpSend:
		return "SEND"
	case OpRDMAWrite:
		return "RDMA_WRITE"
	case OpRecv:
		return "RECV"
	}
	return "Opcode(" + strconv.Itoa(int(o)) + ")"
}

// SGE is one piece of local registered memory.
type SGE struct {
	Addr   uint64
	Length uint32
	LKey   uint32
}

// SendWR is a send work request.
type SendWR struct {
	ID     uint64
	Opcode Opcode // OpSend or OpRDMAWrite
	SGL    []SGE
	// Signaled asks for a completion on success; failures always complete.
	Signaled bool
	// RemoteAddr and RKey name the peer's memory an RDMA write lands in.
	RemoteAddr uint64
	RKey       uint32
}

// RecvWR is a receive work request.
type RecvWR struct {
	ID  uint64
	SGL []SGE
}

// WC is a work completion.
type WC struct {
	ID      uint64
	Status  Status
	Opcode  Opcode
	ByteLen uint32 // bytes received (receive completions)
}

// Status is a work completion's status, with ibv_wc_status's values.
type Status uint8

// Work completion statuses.
const (
	Success        Status = 0
	LocLenErr      Status = 1
	LocQPOpErr     Status = 2
	LocProtErr     Status = 4
	WRFlushErr     Status = 5
	RemInvReqErr   Status = 9
	RemAccessErr   Status = 10
	RemOpErr       Status = 11
	RetryExcErr    Status = 12
	RNRRetryExcErr Status = 13
	FatalErr       Status = 19
	GeneralErr     Status = 21
)

var statusNames = [...]string{
	Success: "success", LocLenErr: "local length error", LocQPOpErr: "local QP operation error",
	LocProtErr: "local protection error", WRFlushErr: "work request flushed error",
	RemInvReqErr: "remote invalid request error", RemAccessErr: "remote access error",
	RemOpErr: "remote operation error", RetryExcErr: "transport retry counter exceeded",
	RNRRetryExcErr: "RNR retry counter exceeded", FatalErr: "fatal error", GeneralErr: "general error",
}

func (s Status) String() string {
	if int(s) < len(statusNames) && statusNames[s] != "" {
		return statusNames[s]
	}
	return "status " + strconv.Itoa(int(s))
}

// CM reject statuses that o2iblnd tells apart (IB CM reject reasons).
const (
	RejectInvalidServiceID = 8  // nobody listens on that port
	RejectConsumer         = 28 // the peer's application rejected, see the private data
)

// Addr returns the address of b's first byte, the form SGE.Addr and
// SendWR.RemoteAddr take. b must not be empty.
func Addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
