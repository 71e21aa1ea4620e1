package wire

import "github.com/stria-fs/stria/lnet"

// Limits on MGS bodies.
const (
	MaxTargets      = 4096 // targets in one configuration
	MaxServiceNodes = 8    // failover nodes of one target
	MaxNIDsPerNode  = 16   // NIDs (interfaces) of one node
	MaxParams       = 4096 // persistent parameters
	MaxParamLen     = 4096 // one "name=value"
)

// TargetKind is what a target serves.
type TargetKind uint32

// Target kinds.
const (
	KindMDT TargetKind = 1
	KindOST TargetKind = 2
)

func (k TargetKind) String() string {
	switch k {
	case KindMDT:
		return "MDT"
	case KindOST:
		return "OST"
	}
	return "target?"
}

// ServiceNode is one server that may serve a target: the NIDs of its
// interfaces (comma-separated in Lustre's syntax).
type ServiceNode struct {
	NIDs []lnet.NID
}

func encodeNodes(e *Encoder, nodes []ServiceNode) {
	e.U32(uint32(len(nodes)))
	for _, n := range nodes {
		e.U32(uint32(len(n.NIDs)))
		for _, nid := range n.NIDs {
			e.buf = lnet.AppendNID(e.buf, nid)
		}
	}
}

func decodeNodes(d *Decoder) []ServiceNode {
	n := d.Count(4)
	if n > MaxServiceNodes {
		d.Fail("%d service nodes", n)
		return nil
	}
	nodes := make([]ServiceNode, n)
	for i := range nodes {
		m := d.Count(lnet.NIDWireSize)
		if m > MaxNIDsPerNode || (d.Err() == nil && m == 0) {
			d.Fail("service node with %d NIDs", m)
			return nil
		}
		nodes[i].NIDs = make([]lnet.NID, m)
		for j := range nodes[i].NIDs {
			p := d.Raw(lnet.NIDWireSize)
			if p == nil {
				return nil
			}
			nid, err := lnet.DecodeNID(p)
			if err != nil || nid.IsZero() {
				d.Fail("bad NID in service node")
				return nil
			}
			nodes[i].NIDs[j] = nid
		}
	}
	return nodes
}

// TargetRegRequest is MGS_TARGET_REG: a target announces itself when it
// starts. Nodes lists every server that may serve it (--servicenode), the
// one starting it first.
type TargetRegRequest struct {
	FSName string
	Kind   TargetKind
	Index  uint32
	UUID   string
	Nodes  []ServiceNode
	// Params are the target's --param settings ("sys.timeout=40").
	Params []string
}

// Encode implements Body.
func (r *TargetRegRequest) Encode(e *Encoder) {
	e.String(r.FSName)
	e.U32(uint32(r.Kind))
	e.U32(r.Index)
	e.String(r.UUID)
	encodeNodes(e, r.Nodes)
	encodeParams(e, r.Params)
}

// Decode implements Body.
func (r *TargetRegRequest) Decode(d *Decoder) {
	r.FSName = d.String(MaxNameLen)
	r.Kind = TargetKind(d.U32())
	r.Index = d.U32()
	r.UUID = d.String(MaxNameLen)
	r.Nodes = decodeNodes(d)
	r.Params = decodeParams(d)
	if d.Err() == nil && r.Kind != KindMDT && r.Kind != KindOST {
		d.Fail("target kind %d", r.Kind)
	}
	if d.Err() == nil && len(r.Nodes) == 0 {
		d.Fail("target registers without a service node")
	}
}

// TargetRegReply answers MGS_TARGET_REG with the configuration generation
// that includes the target.
type TargetRegReply struct {
	Gen uint64
}

// Encode implements Body.
func (r *TargetRegReply) Encode(e *Encoder) { e.U64(r.Gen) }

// Decode implements Body.
func (r *TargetRegReply) Decode(d *Decoder) { r.Gen = d.U64() }

// ConfigReadRequest is MGS_CONFIG_READ: the configuration of FSName if its
// generation is above SinceGen (0: always).
type ConfigReadRequest struct {
	FSName   string
	SinceGen uint64
}

// Encode implements Body.
func (r *ConfigReadRequest) Encode(e *Encoder) { e.String(r.FSName); e.U64(r.SinceGen) }

// Decode implements Body.
func (r *ConfigReadRequest) Decode(d *Decoder) {
	r.FSName = d.String(MaxNameLen)
	r.SinceGen = d.U64()
}

// TargetEntry is one target in a configuration.
type TargetEntry struct {
	Kind  TargetKind
	Index uint32
	Name  string // "stria-OST0001"
	UUID  string
	Nodes []ServiceNode
}

// ConfigReadReply is a file system's configuration: every registered
// target with its service nodes, and the persistent parameters. Unchanged
// is set (and nothing else) when the generation is not above SinceGen.
type ConfigReadReply struct {
	Gen       uint64
	Unchanged bool
	Targets   []TargetEntry
	Params    []string
}

// Encode implements Body.
func (r *ConfigReadReply) Encode(e *Encoder) {
	e.U64(r.Gen)
	e.Bool(r.Unchanged)
	e.U32(uint32(len(r.Targets)))
	for i := range r.Targets {
		t := &r.Targets[i]
		e.U32(uint32(t.Kind))
		e.U32(t.Index)
		e.String(t.Name)
		e.String(t.UUID)
		encodeNodes(e, t.Nodes)
	}
	encodeParams(e, r.Params)
}

// Decode implements Body.
func (r *ConfigReadReply) Decode(d *Decoder) {
	r.Gen = d.U64()
	r.Unchanged = d.Bool()
	n := d.Count(4 + 4 + 4 + 4 + 4)
	if n > MaxTargets {
		d.Fail("%d targets", n)
		return
	}
	r.Targets = make([]TargetEntry, n)
	for i := range r.Targets {
		t := &r.Targets[i]
		t.Kind = TargetKind(d.U32())
		t.Index = d.U32()
		t.Name = d.String(MaxNameLen)
		t.UUID = d.String(MaxNameLen)
		t.Nodes = decodeNodes(d)
	}
	r.Params = decodeParams(d)
}

func encodeParams(e *Encoder, ps []string) {
	e.U32(uint32(len(ps)))
	for _, p := range ps {
		e.String(p)
	}
}

func decodeParams(d *Decoder) []string {
	n := d.Count(4)
	if n > MaxParams {
		d.Fail("%d params", n)
		return nil
	}
	if n == 0 {
		return nil
	}
	ps := make([]string, n)
	for i := range ps {
		ps[i] = d.String(MaxParamLen)
	}
	return ps
}
