// Package rdma holds the tests that need a real RDMA device (InfiniBand or
// RoCE): the LND conformance suite and the bulk benchmarks over o2iblnd's
// cgo verbs engine. They build only with the rdma tag and cgo, and run only
// when given the RDMA interfaces to use; run.sh in this directory does both
// (see README.md). On machines without RDMA hardware o2iblnd runs the same
// suite over its in-memory verbs device instead (lnet/o2iblnd).
package rdma
