// Package memverbs is an in-memory RDMA fabric that implements the verbs
// interfaces of lnet/o2iblnd/verbs, so that o2iblnd's protocol runs, and is
// tested and benchmarked, on machines without RDMA hardware.
//
// # Model
//
// A Fabric is a switch with Devices plugged in; each Device is an RDMA
// device behind one network interface with one address (its IPoIB or RoCE
// address). The Fabric is also the Provider: Open("ib0") or Open("10.0.0.1")
// opens the device behind that interface, and fails with verbs.ErrNoDevice
// when there is none. Several Fabrics are independent worlds.
//
// Everything happens synchronously inside the call that posts it, under the
// lock of the connection's queue-pair pair: a SEND copies straight into the
// peer's oldest posted receive buffer and queues a receive completion on the
// peer's CQ (and a send completion on ours if signalled); an RDMA write
// copies into the peer's registered memory after checking its RKey, its
// access rights and the bounds. Completions of one QP come in posting order.
//
// What real hardware does on errors, memverbs does too:
//
//   - A SEND with no receive posted at the peer waits (receiver not ready,
//     RNR) until one is posted, as an RC QP with infinite RNR retries does;
//     every such wait is counted in Stats.RNR, so a test can check that a
//     flow-control scheme never lets it happen.
//   - A SEND larger than the receive buffer fails with LocLenErr at the
//     receiver and RemInvReqErr at the sender; an RDMA write outside the
//     peer's MR, or through a wrong RKey, fails with RemAccessErr; a local
//     SGE outside its MR fails with LocProtErr. Each moves both QPs (or the
//     local one, for local errors) to the error state, flushing what is
//     posted with WRFlushErr.
//   - Disconnect or Close on either endpoint flushes both QPs, unless either
//     device's link is down: then only the local QP flushes, and the peer
//     learns when its next send fails.
//
// # Fault injection
//
// Device.SetLinkDown cuts a device off the fabric: work requests posted on
// or towards it fail with RetryExcErr, as after a transport timeout, and
// connecting to or from it fails with verbs.ErrUnreachable. QP.Fail puts one
// QP in the error state with a chosen status (an asynchronous QP error).
// Device.SetMRLimit makes registration fail once a device holds that many
// MRs. Fabric.Stats counts live PDs, CQs, QPs, MRs and listeners, so a test
// can check that nothing leaks.
//
// # Locks
//
// Lock order: the connection's lock (shared by the two QPs of a pair, from
// Dial on) before a CQ's lock; the Fabric's lock is taken alone or inside
// the connection's lock for key lookups, never around either.
package memverbs
