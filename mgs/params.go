package mgs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/obd"
	"github.com/stria-fs/stria/wire"
)

// Parameter names under Config.Node.
const (
	paramPrefix      = "mgs." + Name
	paramFilesystems = paramPrefix + ".filesystems"
	paramLive        = paramPrefix + ".live."
	// ControlSetParamP is the control command `lctl set_param -P` uses on
	// the MGS's node: args are "key=value" records, or "-d" followed by
	// keys to delete; it answers one "key=value" line per parameter set.
	ControlSetParamP = "set_param_P"
)

// register adds the MGS's device and parameters to the node (once) and a
// live view for each of fss.
func (s *Server) register(fss []string) {
	n := s.cfg.Node
	if n == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if !s.added {
		s.added = true
		n.AddDevice(obd.Device{Type: "mgs", Name: Name, UUID: Name,
			Refs: func() int { return 1 + len(s.tgt.Exports()) }})
		n.Params.Add(paramFilesystems, obd.Param{Get: s.showFilesystems})
		n.Params.Add(paramPrefix+".uuid", obd.Param{Get: func() string { return Name }})
		n.Params.AddUint(paramPrefix+".num_exports", func() uint64 { return uint64(len(s.tgt.Exports())) })
		n.Control.Handle(ControlSetParamP, s.cmdSetParamP)
	}
	for _, fs := range fss {
		if s.live[fs] {
			continue
		}
		s.live[fs] = true
		n.Params.Add(paramLive+fs, obd.Param{Get: func() string { return s.showLive(fs) }})
	}
}

// unregister removes what register added.
func (s *Server) unregister() {
	n := s.cfg.Node
	if n == nil {
		return
	}
	n.Params.Remove(paramPrefix)
	n.RemoveDevice(Name)
}

// showFilesystems renders mgs.MGS.filesystems: one name per line.
func (s *Server) showFilesystems() string {
	fss, err := s.FileSystems()
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var b strings.Builder
	for _, fs := range fss {
		b.WriteString(fs)
		b.WriteByte('\n')
	}
	return b.String()
}

// showLive renders mgs.MGS.live.FSNAME: Lustre's header and target list,
// then the targets with their NIDs and the parameters, in YAML.
func (s *Server) showLive(fs string) string {
	if s.isClosed() {
		return "error: " + ErrClosed.Error() + "\n"
	}
	v, err := s.st.view(fs)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return renderLive(&v)
}

func renderLive(v *fsView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fsname: %s\n", v.Name)
	fmt.Fprintf(&b, "flags: %#x     gen: %d\n", 0, v.Gen)
	for i := range v.Targets {
		b.WriteString(v.Targets[i].Name(v.Name))
		b.WriteByte('\n')
	}
	b.WriteString("\nSecure RPC Config Rules:\n\n")
	b.WriteString("targets:\n")
	for i := range v.Targets {
		t := &v.Targets[i]
		fmt.Fprintf(&b, "  - { name: %s, uuid: %s, index: %d, nids: %q, failover_nids: [", t.Name(v.Name), t.UUID,
			t.Index, nidList(t.Nodes[0].NIDs))
		for j, n := range t.Nodes[1:] {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " %q", nidList(n.NIDs))
		}
		fmt.Fprintf(&b, " ], registered_from: %v, first_registration: %s, last_registration: %s, gen: %d }\n",
			t.From, t.Registered.UTC().Format(time.RFC3339), t.LastSeen.UTC().Format(time.RFC3339), t.Gen)
	}
	b.WriteString("params:\n")
	for _, p := range v.Params {
		fmt.Fprintf(&b, "  - %q\n", p)
	}
	fmt.Fprintf(&b, "imperative_recovery_state:\n    state: disabled\n    nonir_clients: 0\n    nidtbl_version: %d\n", v.Gen)
	return b.String()
}

func nidList(nids []lnet.NID) string {
	parts := make([]string, len(nids))
	for i, n := range nids {
		parts[i] = n.String()
	}
	return strings.Join(parts, ",")
}

// nodesString renders service nodes in mount.lustre's syntax: a node's NIDs
// joined by ',', nodes by ':'.
func nodesString(nodes []wire.ServiceNode) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = nidList(n.NIDs)
	}
	return strings.Join(parts, ":")
}

// cmdSetParamP is the set_param_P control command.
func (s *Server) cmdSetParamP(_ context.Context, args []string) (string, error) {
	del := len(args) > 0 && args[0] == "-d"
	if del {
		args = args[1:]
	}
	if len(args) == 0 {
		return "", fmt.Errorf("%w: set_param -P needs a parameter", ErrBadParam)
	}
	var b strings.Builder
	for _, p := range args {
		if _, err := s.SetParam("", p, del); err != nil {
			s.log.Info("mgs: set_param -P refused", zap.String("param", p), zap.Error(err))
			return b.String(), err
		}
		b.WriteString(p)
		b.WriteByte('\n')
	}
	return b.String(), nil
}
