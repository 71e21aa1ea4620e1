package ost

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/ost/osd"
)

// paramTimeout bounds a statfs made for `lctl get_param`.
const paramTimeout = 5 * time.Second

// addParams registers the server's parameters and devices in its obd
// node: per target "obdfilter.NAME.{kbytestotal,kbytesfree,kbytesavail,
// filestotal,filesfree,stats,tot_granted,num_exports,uuid,last_id}", per
// service "ost.OSS.{ost,ost_io}.{threads_max,stats}", the node-wide
// "fail_loc"/"fail_val", and `lctl dl` entries "ost OSS" and
// "obdfilter NAME".
func (s *Server) addParams() {
	tree := s.node.Params
	for _, t := range s.targets {
		p := "obdfilter." + t.name + "."
		space := func(f func(osd.StatFS) int64) func() uint64 {
			return func() uint64 {
				st, err := t.statfsNow()
				if err != nil {
					return 0
				}
				return uint64(max(f(st), 0))
			}
		}
		tree.AddUint(p+"kbytestotal", space(func(st osd.StatFS) int64 { return st.Total >> 10 }))
		tree.AddUint(p+"kbytesfree", space(func(st osd.StatFS) int64 { return st.Free >> 10 }))
		tree.AddUint(p+"kbytesavail", space(func(st osd.StatFS) int64 { return st.Avail >> 10 }))
		tree.AddUint(p+"filestotal", space(func(st osd.StatFS) int64 { return st.Files }))
		tree.AddUint(p+"filesfree", space(func(st osd.StatFS) int64 { return st.FilesFree }))
		tree.Add(p+"stats", obd.Param{
			Get: func() string { return t.stats.format(time.Now()) },
			Set: func(string) error { t.stats.clear(); return nil }, // Lustre: writing clears
		})
		tree.AddUint(p+"tot_granted", func() uint64 { return uint64(max(t.grants.Stats().Granted, 0)) })
		tree.AddUint(p+"num_exports", func() uint64 { return uint64(len(t.ptl.Exports())) })
		tree.Add(p+"uuid", obd.Param{Get: func() string { return t.label.UUID }})
		tree.Add(p+"last_id", obd.Param{Get: t.lastIDs})
		for _, lp := range t.ns.Params() {
			tree.Add("ldlm.namespaces."+t.ns.Name()+"."+lp.Name, obd.Param{Get: lp.Get, Set: lp.Set})
		}
		s.node.AddDevice(obd.Device{Type: "obdfilter", Name: t.name, UUID: t.label.UUID, Status: s.status,
			Refs: func() int { return 2 + len(t.ptl.Exports()) }})
	}
	for i, svc := range s.svcs {
		svc := svc
		p := "ost.OSS." + []string{ServiceOST, ServiceOSTIO}[i] + "."
		tree.AddUint(p+"threads_max", func() uint64 { return uint64(svc.Stats().Threads) })
		tree.Add(p+"stats", obd.Param{Get: func() string { return svc.Stats().Format() }})
	}
	tree.Add("fail_loc", obd.Int(func() int64 { l, _ := s.fail.get(); return int64(l) },
		func(v int64) { _, val := s.fail.get(); s.fail.set(uint32(v), val) }, 0, math.MaxUint32))
	tree.Add("fail_val", obd.Int(func() int64 { _, v := s.fail.get(); return int64(v) },
		func(v int64) { l, _ := s.fail.get(); s.fail.set(l, uint32(v)) }, 0, math.MaxUint32))
	s.node.AddDevice(obd.Device{Type: "ost", Name: "OSS", UUID: "OSS_UUID", Status: s.status})
	s.params = true
}

// removeParams undoes addParams.
func (s *Server) removeParams() {
	if !s.params {
		return
	}
	tree := s.node.Params
	for _, t := range s.targets {
		tree.Remove("obdfilter." + t.name)
		tree.Remove("ldlm.namespaces." + t.ns.Name())
		s.node.RemoveDevice(t.name)
	}
	tree.Remove("ost.OSS")
	tree.Remove("fail_loc")
	tree.Remove("fail_val")
	s.node.RemoveDevice("OSS")
}

func (s *Server) status() string {
	if s.closing.Load() {
		return "ST"
	}
	return "UP"
}

func (t *target) statfsNow() (osd.StatFS, error) {
	ctx, cancel := context.WithTimeout(context.Background(), paramTimeout)
	defer cancel()
	return t.store.StatFS(ctx)
}

// lastIDs prints "SEQ:LAST_ID" for each sequence, as Lustre's
// obdfilter.*.last_id.
func (t *target) lastIDs() string {
	ctx, cancel := context.WithTimeout(context.Background(), paramTimeout)
	defer cancel()
	seqs, err := t.store.Sequences(ctx)
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, seq := range seqs {
		last, err := t.store.LastID(ctx, seq)
		if err != nil {
			return "error: " + err.Error()
		}
		fmt.Fprintf(&b, "%#x:%d\n", seq, last)
	}
	return b.String()
}
