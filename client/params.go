package client

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stria-fs/stria/client/internal/rpcstats"
	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/client/osc"
	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
)

// llite operations counted in llite.*.stats.
const (
	opLookup = iota
	opGetattr
	opSetattr
	opMkdir
	opMknod
	opSymlink
	opReadlink
	opLink
	opUnlink
	opRmdir
	opRename
	opCreate
	opOpen
	opReaddir
	opStatfs
	opGetxattr
	opListxattr
	opSetxattr
	opRemovexattr
	opFlush
	opFsync
	opRelease
	opParkedClose
	opLookupLocal
	numOps
)

var opNames = [numOps]string{"lookup", "getattr", "setattr", "mkdir", "mknod", "symlink", "readlink",
	"link", "unlink", "rmdir", "rename", "create", "open", "readdir", "statfs", "getxattr", "listxattr",
	"setxattr", "removexattr", "flush", "fsync", "close", "close_deferred", "lookup_local"}

// llStats are the mount's operation counters (llite.*.stats).
type llStats struct {
	ops         [numOps]atomic.Uint64
	read, write rpcstats.Sample
}

func (s *llStats) count(op int) { s.ops[op].Add(1) }

func (s *llStats) format(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %d.%09d secs.nsecs\n", "snapshot_time", now.Unix(), now.Nanosecond())
	if n := s.read.Count(); n > 0 {
		fmt.Fprintf(&b, "%-25s %d samples [bytes] %d\n", "read_bytes", n, s.read.Sum())
	}
	if n := s.write.Count(); n > 0 {
		fmt.Fprintf(&b, "%-25s %d samples [bytes] %d\n", "write_bytes", n, s.write.Sum())
	}
	for i := range s.ops {
		if n := s.ops[i].Load(); n > 0 {
			fmt.Fprintf(&b, "%-25s %d samples [reqs]\n", opNames[i], n)
		}
	}
	return b.String()
}

// Device names, as Lustre's: the target and the mount's id.
func (fs *FS) oscName(o *osc.OSC) string { return o.Target() + "-osc-" + fs.id }
func (fs *FS) mdcName(target string) string {
	return target + "-mdc-" + fs.id
}
func (fs *FS) lliteName() string { return fs.cfg.FSName + "-" + fs.id }

// Name is the mount's llite name, "FSNAME-<id>", as in its parameters.
func (fs *FS) Name() string { return fs.lliteName() }

// importYAML prints an import as `lctl get_param *.import` does.
func importYAML(name string, info ptlrpc.ImportInfo) string {
	var b strings.Builder
	nids := make([]string, len(info.FailoverNIDs))
	for i, n := range info.FailoverNIDs {
		nids[i] = n.String()
	}
	cur := "none"
	if info.CurrentNID != (lnet.NID{}) {
		cur = info.CurrentNID.String()
	}
	fmt.Fprintf(&b, "import:\n")
	fmt.Fprintf(&b, "    name: %s\n", name)
	fmt.Fprintf(&b, "    target: %s_UUID\n", info.Target)
	fmt.Fprintf(&b, "    state: %s\n", info.State)
	fmt.Fprintf(&b, "    connection:\n")
	fmt.Fprintf(&b, "       failover_nids: [%s]\n", strings.Join(nids, ", "))
	fmt.Fprintf(&b, "       current_connection: %s\n", cur)
	fmt.Fprintf(&b, "       connection_attempts: %d\n", info.Connects)
	fmt.Fprintf(&b, "       generation: %d\n", info.ConnCnt)
	fmt.Fprintf(&b, "    rpcs:\n")
	fmt.Fprintf(&b, "       inflight: %d\n", info.InFlight)
	fmt.Fprintf(&b, "       timeouts: %d\n", info.Timeouts)
	fmt.Fprintf(&b, "       resends: %d\n", info.Resends)
	fmt.Fprintf(&b, "       replay_queue: %d\n", info.ReplayQueue)
	fmt.Fprintf(&b, "    service_estimates:\n")
	fmt.Fprintf(&b, "       services: %d sec\n", int(info.ServiceEstimate.Round(time.Second)/time.Second))
	fmt.Fprintf(&b, "       network: %d sec\n", int(info.NetworkLatency.Round(time.Second)/time.Second))
	fmt.Fprintf(&b, "    transactions:\n")
	fmt.Fprintf(&b, "       last_committed: %d\n", info.LastCommitted)
	return b.String()
}

// statsParam is a stats file: reading prints it, writing clears it.
func statsParam(s *rpcstats.Stats) obd.Param {
	return obd.Param{
		Get: func() string { return s.Format(time.Now()) },
		Set: func(string) error { s.Clear(); return nil },
	}
}

// register adds the mount's parameters, devices and control commands to
// its node.
func (fs *FS) register() {
	tree := fs.node.Params
	fs.node.AddDevice(obd.Device{Type: "mgc", Name: fs.mgc.Name(), UUID: fs.uuid})
	fs.node.AddDevice(obd.Device{Type: "lov", Name: fs.cfg.FSName + "-clilov-" + fs.id, UUID: fs.uuid})
	fs.node.AddDevice(obd.Device{Type: "lmv", Name: fs.cfg.FSName + "-clilmv-" + fs.id, UUID: fs.uuid})
	mgcInfo := fs.mgc.Info
	tree.Add("mgc."+fs.mgc.Name()+".import", obd.Param{Get: func() string { return importYAML(fs.mgc.Name(), mgcInfo()) }})
	fs.mu.Lock()
	for _, m := range fs.lmv.All() {
		fs.registerMDCLocked(m)
	}
	for _, o := range fs.oscsLocked() {
		fs.registerOSCLocked(o)
	}
	fs.params = true
	fs.mu.Unlock()
	ll := "llite." + fs.lliteName() + "."
	tree.Add(ll+"stats", obd.Param{Get: func() string { return fs.stats.format(time.Now()) }})
	tree.Add(ll+"uuid", obd.Param{Get: func() string { return fs.uuid }})
	tree.Add(ll+"fstype", obd.Param{Get: func() string { return "lustre" }})
	tree.Add(ll+"open_cache", obd.Int(func() int64 {
		if fs.noOpenCache.Load() {
			return 0
		}
		return 1
	}, func(v int64) { fs.noOpenCache.Store(v == 0) }, 0, 1))
	fs.node.Control.Handle(CmdMount, fs.cmdMount)
	fs.node.Control.Handle(CmdDf, fs.cmdDf)
	fs.node.Control.Handle(CmdFid2Path, fs.cmdFid2Path)
}

// registerMDCLocked adds one MDC's parameters and device.
func (fs *FS) registerMDCLocked(m *mdc.MDC) {
	name := fs.mdcName(m.Target())
	fs.node.AddDevice(obd.Device{Type: "mdc", Name: name, UUID: fs.uuid})
	fs.node.Params.Add("mdc."+name+".import", obd.Param{Get: func() string { return importYAML(name, m.Info()) }})
	fs.node.Params.Add("mdc."+name+".stats", statsParam(m.Stats()))
	fs.registerLDLM(m.Locks())
}

// registerOSCLocked adds one OSC's parameters and device.
func (fs *FS) registerOSCLocked(o *osc.OSC) {
	tree := fs.node.Params
	name := fs.oscName(o)
	p := "osc." + name + "."
	fs.node.AddDevice(obd.Device{Type: "osc", Name: name, UUID: fs.uuid})
	tree.Add(p+"import", obd.Param{Get: func() string { return importYAML(name, o.Info()) }})
	tree.Add(p+"stats", statsParam(o.Stats()))
	tree.Add(p+"max_rpcs_in_flight", obd.Int(func() int64 { return int64(o.MaxRPCsInFlight()) },
		func(v int64) { _ = o.SetMaxRPCsInFlight(int(v)) }, 1, osc.MaxRPCsInFlight))
	tree.Add(p+"max_dirty_mb", obd.Int(func() int64 { return o.MaxDirty() >> 20 },
		func(v int64) { _ = o.SetMaxDirty(v << 20) }, 1, osc.MaxDirty>>20))
	tree.Add(p+"max_pages_per_rpc", obd.Int(func() int64 { return int64(o.RPCSize() / 4096) },
		func(v int64) { _ = o.SetRPCSize(int(v) * 4096) }, 1, 4096))
	tree.Add(p+"checksums", obd.Int(func() int64 {
		if o.Checksums() {
			return 1
		}
		return 0
	}, func(v int64) { o.SetChecksums(v != 0) }, 0, 1))
	tree.AddUint(p+"cur_grant_bytes", func() uint64 { return uint64(max(o.Grant(), 0)) })
	tree.AddUint(p+"cur_dirty_bytes", func() uint64 { return uint64(max(o.Dirty(), 0)) })
	tree.AddUint(p+"checksum_errors", o.ChecksumErrors)
	tree.Add(p+"rpcs_in_flight", obd.Param{Get: func() string {
		n, peak := o.RPCsInFlight()
		return strconv.Itoa(n) + " (peak " + strconv.Itoa(peak) + ")"
	}})
	tree.Add(p+"ost_conn_uuid", obd.Param{Get: func() string {
		if nid := o.Info().CurrentNID; nid != (lnet.NID{}) {
			return nid.String()
		}
		return ""
	}})
}

// unregister undoes register (the control commands stay registered on the
// node but answer ErrClosed).
func (fs *FS) unregister() {
	tree := fs.node.Params
	tree.Remove("mgc." + fs.mgc.Name())
	fs.node.RemoveDevice(fs.mgc.Name())
	fs.node.RemoveDevice(fs.cfg.FSName + "-clilov-" + fs.id)
	fs.node.RemoveDevice(fs.cfg.FSName + "-clilmv-" + fs.id)
	for _, m := range fs.lmv.All() {
		name := fs.mdcName(m.Target())
		tree.Remove("mdc." + name)
		fs.unregisterLDLM(m.Locks())
		fs.node.RemoveDevice(name)
	}
	for _, o := range fs.allOSCs() {
		name := fs.oscName(o)
		tree.Remove("osc." + name)
		fs.node.RemoveDevice(name)
	}
	tree.Remove("llite." + fs.lliteName())
}

// Node returns the obd node the mount registers its parameters, devices
// and control commands in.
func (fs *FS) Node() *obd.Node { return fs.node }
