// Package daemon is what the Stria daemons (stria-mgs, stria-mds,
// stria-oss) and the client (stria-client) have in common, so that each
// main stays a thin layer of flags over its server library: the zap
// logger (--log-level, --log-format), the process's LNet (--networks,
// --port; socklnd for tcp, o2iblnd for o2ib, so that
// "o2ib0(ib0),tcp0(eth0)" falls back to tcp on a node without RDMA), the
// obd node with its control socket, signals, and Lustre's spellings of
// mkfs options (--mgsnode, --servicenode, sizes).
//
// # Life of a daemon (Run)
//
//  1. SIGTERM and SIGINT cancel the context of everything that follows.
//  2. LNet and the obd node start; the node answers lctl's LNet commands.
//  3. The role's server starts (mgs.Start, mdt.Start, ost.Start).
//  4. The PID file is written, then the control socket is created: the
//     socket is the readiness signal. It appears only once the daemon
//     serves, so `make up` and the test harness wait for it.
//  5. On a signal: the socket goes first (the daemon no longer looks
//     ready), then the server closes (waiting for its requests), then the
//     node and LNet. The PID file is removed and the process exits 0.
//
// A failure before step 4 is returned to main, which prints one line on
// stderr and exits 1. Nothing here calls os.Exit.
package daemon
