// Package cluster is Stria's test cluster harness: a whole file system —
// one MGS, one MDS with MDT0000, OSSs with their OSTs, and FUSE clients —
// started for one test, used through its mount points and the real lfs and
// lctl, and taken down when the test ends.
//
//	c := cluster.New(t, cluster.Options{OSSs: 2, OSTsPerOSS: 2, Clients: 2})
//	os.WriteFile(filepath.Join(c.Mount(0), "f"), data, 0o644)
//	out, _, code := c.Lfs(ctx, "getstripe", filepath.Join(c.Mount(1), "f"))
//
// # Runners
//
// Tests are written once against Cluster and run on both runners:
//
//   - Binaries builds stria-mgs, stria-mds, stria-oss, stria-client, lfs
//     and lctl once per test process (go build into a temporary
//     directory, removed by Main) and runs every daemon and client as a
//     separate process, each with its own address on the loopback network,
//     exactly as `make up` does.
//   - InProcess runs the same topology in the test process with the
//     libraries: every server and client on an LNet node of its own (host
//     number N is N@lo) over one lolnd fabric, each with its obd node and
//     control socket, and real FUSE mounts through client/fusefs. It
//     starts in about a second, and under -race the race detector watches
//     the servers and the client serving real system calls. KillOSS cuts
//     the OSS's network and then closes it (a process cannot be killed);
//     KillClient cuts the client's network, and its mount stays until
//     Remount or Close.
//
// KillClient (Binaries) kills a client process with SIGKILL, as a crash
// with its locks held, and detaches its dead mount (fusermount3 -u -z);
// the servers evict it after their lock callback timeout.
//
// Cases that exercise the binaries themselves (mount helpers, command
// lines) check Runner().
//
// # Isolation
//
// Each cluster picks a loopback subnet of its own, 127.X.Y.0/24 with X
// random and never 0 (so never `make up`'s 127.0.0.x), and one free TCP
// port that every node of the cluster listens on (as every Lustre node
// listens on 988): the MGS is .1, the MDS .2, OSS i is .3+i and client i
// .100+i. Targets are formatted under t.TempDir(); the control sockets of
// the cluster's processes share one short directory of their own (unix
// socket paths are limited to 108 bytes), so lctl and lfs see the cluster
// as one node.
//
// # Readiness, never sleeps
//
// A daemon's control socket appears only once it serves, so the harness
// polls the socket (with a deadline, noticing at once a process that
// exits). The cluster is ready when the MDS has an active OST proxy with
// precreated objects for every OST, and each client's df answers for
// every target.
//
// # Teardown
//
// Close (registered with t.Cleanup) first checks cheap invariants of a
// cluster that is still up — lfs df works through every mount, lctl dl
// answers — then unmounts every client (stria-client umount, falling back
// to a lazy unmount), and stops the daemons with SIGTERM by PID, waiting
// for each to exit and requiring a clean exit status; a process still
// there after a bound is killed and reported. Only processes the harness
// started are ever signalled. When the test failed, the tail of every
// process's log is printed.
package cluster
