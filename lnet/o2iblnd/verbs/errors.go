package verbs

import (
	"errors"
	"fmt"
)

// Sentinel errors of the verbs engines. Wrap them with %w; test with errors.Is.
var (
	ErrNoDevice    = errors.New("verbs: no RDMA device")
	ErrUnreachable = errors.New("verbs: address or route unreachable")
	ErrRejected    = errors.New("verbs: connection rejected")
	ErrClosed      = errors.New("verbs: closed")
	ErrQueueFull   = errors.New("verbs: work queue full")
	ErrInvalid     = errors.New("verbs: invalid argument")
	ErrNoMemory    = errors.New("verbs: cannot register memory")
	ErrCQOverrun   = errors.New("verbs: completion queue overrun")
	ErrAddrInUse   = errors.New("verbs: address already in use")
)

// RejectError is a connection request's rejection: Status is the connection
// manager's reason (RejectConsumer when the peer's application refused) and
// PrivateData what the peer's application sent with it.
type RejectError struct {
	Status      int
	PrivateData []byte
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("verbs: connection rejected (status %d, %d bytes of private data)", e.Status, len(e.PrivateData))
}

// Unwrap makes a RejectError match ErrRejected.
func (e *RejectError) Unwrap() error { return ErrRejected }
