package mdt

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stria-fs/stria/layout"
	"github.com/stria-fs/stria/mdt/osp"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ptlrpc"
	"github.com/stria-fs/stria/wire"
)

// md_stats counters, in Lustre's order and names.
const (
	statOpen = iota
	statClose
	statMknod
	statLink
	statUnlink
	statMkdir
	statRmdir
	statRename
	statGetattr
	statSetattr
	statGetxattr
	statSetxattr
	statStatfs
	statSync
	statReaddir
	numStats
)

var statNames = [numStats]string{"open", "close", "mknod", "link", "unlink", "mkdir", "rmdir", "rename",
	"getattr", "setattr", "getxattr", "setxattr", "statfs", "sync", "readdir"}

// mdStats counts metadata operations (mdt.*.md_stats).
type mdStats struct {
	n     [numStats]atomic.Uint64
	start atomic.Int64 // ns since the epoch: start or last reset
}

func (m *mdStats) add(i int) { m.n[i].Add(1) }

// Get returns the count of the operation named name (0 for an unknown one).
func (m *mdStats) get(name string) uint64 {
	for i, n := range statNames {
		if n == name {
			return m.n[i].Load()
		}
	}
	return 0
}

// format prints the counters as Lustre's md_stats: a snapshot time and one
// line per operation that happened.
func (m *mdStats) format() string {
	var b strings.Builder
	now := time.Now()
	fmt.Fprintf(&b, "%-25s %d.%09d secs.nsecs\n", "snapshot_time", now.Unix(), now.Nanosecond())
	start := time.Unix(0, m.start.Load())
	fmt.Fprintf(&b, "%-25s %d.%09d secs.nsecs\n", "start_time", start.Unix(), start.Nanosecond())
	for i := range m.n {
		if v := m.n[i].Load(); v > 0 {
			fmt.Fprintf(&b, "%-25s %d samples [reqs]\n", statNames[i], v)
		}
	}
	return b.String()
}

// Stat returns the md_stats count of operation name ("open", "mknod"...).
func (s *Server) Stat(name string) uint64 { return s.stats.get(name) }

// addParams registers the MDT's and the LOD's parameters and devices.
func (s *Server) addParams() {
	s.stats.start.Store(time.Now().UnixNano())
	p := s.node.Params
	mdtName := "mdt." + s.name
	lodName := "lod." + s.lod.Name()
	s.mu.Lock()
	defer s.mu.Unlock()
	add := func(name string, prm obd.Param) {
		p.Add(name, prm)
		s.params = append(s.params, name)
	}
	str := func(f func() string) obd.Param { return obd.Param{Get: f} }
	u64 := func(f func() uint64) obd.Param {
		return obd.Param{Get: func() string { return strconv.FormatUint(f(), 10) }}
	}
	add(mdtName+".uuid", str(func() string { return s.label.UUID }))
	add(mdtName+".md_stats", obd.Param{Get: s.stats.format, Set: func(string) error {
		for i := range s.stats.n {
			s.stats.n[i].Store(0)
		}
		s.stats.start.Store(time.Now().UnixNano())
		return nil
	}})
	add(mdtName+".num_exports", u64(func() uint64 { return uint64(len(s.tgt.Exports())) }))
	add(mdtName+".last_committed", u64(s.store.LastCommitted))
	add(mdtName+".recovery_status", str(func() string { return s.rec.status(s.cfg.RecoveryWindow) }))
	add("mds.MDS."+ServiceName+".stats", str(func() string { return s.svc.Stats().Format() }))
	statfs := func(f func(bs, blocks, bfree, bavail, files, ffree uint64) uint64) obd.Param {
		return u64(func() uint64 {
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			defer cancel()
			st, err := s.mdd.StatFS(ctx)
			if err != nil {
				return 0
			}
			return f(st.BlockSize, st.Blocks, st.Bfree, st.Bavail, st.Files, st.Ffree)
		})
	}
	add(mdtName+".kbytestotal", statfs(func(bs, blocks, _, _, _, _ uint64) uint64 { return blocks * bs >> 10 }))
	add(mdtName+".kbytesfree", statfs(func(bs, _, bfree, _, _, _ uint64) uint64 { return bfree * bs >> 10 }))
	add(mdtName+".kbytesavail", statfs(func(bs, _, _, bavail, _, _ uint64) uint64 { return bavail * bs >> 10 }))
	add(mdtName+".filestotal", statfs(func(_, _, _, _, files, _ uint64) uint64 { return files }))
	add(mdtName+".filesfree", statfs(func(_, _, _, _, _, ffree uint64) uint64 { return ffree }))

	s.addLockParamsLocked(add)

	add(lodName+".uuid", str(func() string { return s.lod.Name() + "_UUID" }))
	add(lodName+".numobd", u64(func() uint64 { return uint64(s.lod.NumOSTs()) }))
	add(lodName+".activeobd", u64(func() uint64 { return uint64(s.lod.ActiveOSTs()) }))
	add(lodName+".target_obd", str(s.targetOBD))
	add(lodName+".stripesize", s.defaultParam(func(st *layout.Stripe) int64 { return int64(st.Size) },
		func(v string) (lovDefault, error) {
			n, err := parseStripeSize(v)
			return lovDefault{size: n}, err
		}))
	add(lodName+".stripecount", s.defaultParam(func(st *layout.Stripe) int64 { return int64(st.Count) },
		func(v string) (lovDefault, error) {
			n, err := parseInt32(v, -1, layout.MaxStripeCount)
			return lovDefault{count: n}, err
		}))
	add(lodName+".stripeoffset", s.defaultParam(func(st *layout.Stripe) int64 { return int64(st.Offset) },
		func(v string) (lovDefault, error) {
			n, err := parseInt32(v, -1, 0xffff)
			return lovDefault{offset: n, offsetSet: true}, err
		}))

	s.node.AddDevice(obd.Device{Type: "mdt", Name: s.name, UUID: s.label.UUID,
		Refs: func() int { return len(s.tgt.Exports()) + 1 }, AbortRecovery: s.EndRecovery,
		Readonly: s.store.Barrier})
	s.node.AddDevice(obd.Device{Type: "lod", Name: s.lod.Name(), UUID: s.lod.Name() + "_UUID"})
	s.devices = append(s.devices, s.name, s.lod.Name())
}

// defaultParam is a lod.*.stripe* parameter: it reads the file system
// default (the root's default layout, built-in values where unset) and
// writes one of its fields.
func (s *Server) defaultParam(get func(*layout.Stripe) int64, parse func(string) (lovDefault, error)) obd.Param {
	return obd.Param{
		Get: func() string {
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			defer cancel()
			_, rdef, err := s.defaults(ctx, wire.RootFID)
			if err != nil {
				return "error: " + err.Error()
			}
			l, err := layout.Effective(nil, rdef, nil)
			if err != nil {
				return "error: " + err.Error()
			}
			return strconv.FormatInt(get(&l.Components[0].Stripe), 10)
		},
		Set: func(v string) error {
			d, err := parse(v)
			if err != nil {
				return fmt.Errorf("%w: %w", obd.ErrBadValue, err)
			}
			d.set = true
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			defer cancel()
			return setRootDefault(ctx, s.mdd, d)
		},
	}
}

// targetOBD prints lod.*.target_obd: "0: testfs-OST0000_UUID ACTIVE".
func (s *Server) targetOBD() string {
	var b strings.Builder
	for _, t := range s.lod.OSTs() {
		state := "INACTIVE"
		if t.QOS().Avail {
			state = "ACTIVE"
		}
		fmt.Fprintf(&b, "%d: %s_UUID %s\n", t.Index(), t.Target(), state)
	}
	return b.String()
}

// addOSPParamsLocked registers the parameters and the device of an OST
// proxy. s.mu is held.
func (s *Server) addOSPParamsLocked(d *osp.Device) {
	base := "osp." + d.Name()
	p := s.node.Params
	add := func(name string, f func(in osp.Info) string) {
		p.Add(base+"."+name, obd.Param{Get: func() string { return f(d.Info()) }})
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	add("prealloc_next_id", func(in osp.Info) string { return u(uint64(in.PreallocNextID.Oid)) })
	add("prealloc_last_id", func(in osp.Info) string { return u(uint64(in.PreallocLastID.Oid)) })
	add("prealloc_last_seq", func(in osp.Info) string { return fmt.Sprintf("%#x", in.PreallocLastID.Seq) })
	add("prealloc_status", func(in osp.Info) string { return strconv.Itoa(int(in.PreallocStatus)) })
	add("prealloc_count", func(in osp.Info) string { return strconv.Itoa(in.PreallocCount) })
	add("create_count", func(in osp.Info) string { return strconv.Itoa(in.CreateCount) })
	add("destroys_in_flight", func(in osp.Info) string { return strconv.FormatInt(in.DestroysInFlight, 10) })
	add("destroys_pending", func(in osp.Info) string { return strconv.FormatInt(in.PendingDestroys, 10) })
	add("active", func(in osp.Info) string { return map[bool]string{true: "1", false: "0"}[in.Active] })
	add("kbytestotal", func(in osp.Info) string { return u(in.StatFS.Blocks * uint64(in.StatFS.BSize) >> 10) })
	add("kbytesfree", func(in osp.Info) string { return u(in.StatFS.BFree * uint64(in.StatFS.BSize) >> 10) })
	add("kbytesavail", func(in osp.Info) string { return u(in.StatFS.BAvail * uint64(in.StatFS.BSize) >> 10) })
	add("filestotal", func(in osp.Info) string { return u(in.StatFS.Files) })
	add("filesfree", func(in osp.Info) string { return u(in.StatFS.FFree) })
	add("import", func(in osp.Info) string { return importInfo(d.Import().Info()) })
	s.params = append(s.params, base)
	s.node.AddDevice(obd.Device{Type: "osp", Name: d.Name(), UUID: s.lod.Name() + "_UUID",
		Status: func() string {
			if d.QOS().Avail {
				return "UP"
			}
			return "IN"
		}})
	s.devices = append(s.devices, d.Name())
}

// importInfo prints an import as `lctl get_param osp.*.import` does (a
// subset).
func importInfo(in ptlrpc.ImportInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "import:\n    name: %s\n    target: %s_UUID\n    state: %s\n", in.Target, in.Target, in.State)
	fmt.Fprintf(&b, "    connection:\n       failover_nids: %v\n       current_connection: %s\n", in.FailoverNIDs, in.CurrentNID)
	fmt.Fprintf(&b, "       connection_attempts: %d\n", in.Connects)
	fmt.Fprintf(&b, "    rpcs:\n       inflight: %d\n       timeouts: %d\n", in.InFlight, in.Timeouts)
	return b.String()
}

// cutParam splits "key=value".
func cutParam(p string) (string, string, bool) {
	k, v, ok := strings.Cut(p, "=")
	k = strings.TrimSpace(k)
	return k, v, ok && k != ""
}
