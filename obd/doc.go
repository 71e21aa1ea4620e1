// Package obd is what every Stria process has in common, after Lustre's
// obdclass: the list of local devices (`lctl dl`), the tree of tunables and
// statistics (`lctl get_param` / `set_param`, Lustre's lprocfs), and the
// local control socket through which lctl reaches a running daemon or
// client.
//
// # Parameters
//
// A parameter is a dotted name, "ldlm.namespaces.stria-MDT0000.lru_size",
// with a getter, a setter, or both. Patterns use shell globs per component
// ("osc.*.max_dirty_mb"); a pattern that matches the leading components of
// a name selects everything below it ("osc.*"), as lctl does.
//
// # Control socket
//
// Each process listens on a unix socket in a control directory (default
// /run/stria, STRIA_CTL_DIR overrides). The protocol is one JSON request per
// connection, {cmd, args}, answered by one JSON response {out, err, errno}.
// Commands are registered by the process (get_param, set_param,
// list_param, dl, and the LNet ones: list_nids, net_status, ping). lctl asks
// every socket in the directory and merges the answers, so one node running
// several daemons looks like one Lustre node.
//
// The socket is a local administrative interface: it is created mode 0600
// in a directory only root can write, and every request is bounded in size
// and time.
package obd
