// Package verbs is the small slice of the RDMA verbs and connection manager
// APIs that o2iblnd needs, as Go interfaces. Two engines implement it:
// lnet/o2iblnd/memverbs, an in-memory fabric that runs anywhere (tests,
// benchmarks, machines without RDMA hardware), and lnet/o2iblnd/ibverbs, cgo
// over rdma-core's libibverbs and librdmacm (build tag rdma).
//
// # Model
//
// The objects are those of libibverbs, with the same meaning:
//
//   - Provider finds the RDMA device behind a network interface (ib0 ->
//     mlx5_0) and opens it: a Device (an ibv_context plus an rdma_cm event
//     channel).
//   - PD, a protection domain: memory registered in it (an MR) can be used
//     by the queue pairs created in it, locally through the MR's LKey and
//     by a connected peer, for RDMA writes, through its RKey.
//   - CQ, a completion queue: every receive and every signalled send
//     produces one WC; every work request that fails produces one too.
//     Poll never blocks; ReqNotify arms the completion channel, whose Notify
//     channel then receives a value at the next completion (the consumer
//     polls once more after arming, to close the race).
//   - Endpoint, one side of a reliable connection being set up through the
//     connection manager (an rdma_cm id): the active side Dials (address and
//     route resolution), creates its QP, posts receives and Connects with
//     private data; the passive side gets the Endpoint from a Listener with
//     the requester's private data, creates its QP, posts receives and
//     Accepts or Rejects, each with private data of its own.
//   - QP, a reliable-connected queue pair: PostRecv hands a buffer to the
//     device; PostSend sends a message into the peer's next receive buffer
//     or RDMA-writes local memory into the peer's registered memory.
//
// # Errors on the data path
//
// As with real hardware, a failed work request is reported by a WC whose
// Status is not Success, and the QP then moves to the error state: every
// work request still posted completes with WRFlushErr. A peer that
// disconnects (or whose QP is destroyed) flushes ours too. The user of a QP
// therefore learns of every connection failure from its CQ.
//
// # Addresses
//
// SGE.Addr and SendWR.RemoteAddr are virtual addresses inside registered
// memory: an MR's Addr is the address of the first byte of the registered
// buffer, and Addr()+i addresses its i-th byte. Both engines use the real
// address of the Go buffer.
package verbs
