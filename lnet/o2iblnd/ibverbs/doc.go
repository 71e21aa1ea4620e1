// Package ibverbs implements lnet/o2iblnd/verbs over rdma-core: libibverbs
// for protection domains, memory registration, completion queues and queue
// pairs, librdmacm for connection set-up. It is built with the rdma tag and
// cgo (Debian packages libibverbs-dev, librdmacm-dev, ibverbs-providers);
// without them only the device mapping (DeviceForInterface) is compiled,
// and o2iblnd reports that the build has no RDMA support.
//
// # Design
//
// NewProvider returns a verbs.Provider. Open maps a network interface to
// its RDMA device with github.com/Mellanox/rdmamap (ib0 -> mlx5_0, through
// sysfs) and opens that device's verbs context as librdmacm knows it
// (rdma_get_devices), so that PDs, CQs and the QPs rdma_cm creates all live
// in one context. Each opened device has one rdma_cm event channel, read by
// one goroutine through Go's poller (the channel's descriptor is made
// non-blocking); it copies each event, acknowledges it at once and hands it
// to the endpoint (cm id) or listener it belongs to. On DISCONNECTED it
// moves the endpoint's QP to the error state, so that a disconnect always
// shows as flushed work requests on the QP's CQ.
//
// Each CQ has its own completion channel, watched by one goroutine the
// same way; Notify receives a value per completion event, each acknowledged
// at once. Poll, PostSend and PostRecv call ibv_poll_cq, ibv_post_send and
// ibv_post_recv through small C wrappers, with work requests and SGEs built
// in C or in per-QP Go arrays that hold no Go pointers, so posting
// allocates nothing.
//
// Registered memory is Go memory: RegMR pins the buffer with a
// runtime.Pinner for the life of the MR, which lets the HCA keep its
// address (cgo's rules allow C to retain pointers to pinned memory).
//
// # Locks
//
// device.mu guards the map from cm ids to endpoints and listeners; an
// endpoint's mu guards its QP and closed state; a QP's mu serialises posts
// on its scratch work requests. No lock is held across a blocking call into
// librdmacm that waits for the event goroutine (rdma_destroy_id waits until
// the id's events are acknowledged).
package ibverbs
