package mgs

// Record (value) encodings of the store. Every record is little-endian,
// written with wire's codec toolkit, and starts with a record-format byte; a
// decoder refuses formats it does not know, bounds every count and length
// against wire's limits and the bytes at hand, and reports ErrCorrupt, never
// panics (fuzzed in records_test.go). A new field is appended under a new
// format byte and a migration in schema.go.

import (
	"fmt"
	"time"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/wire"
)

const recV1 = 1

// Target is what the MGS knows of one registered target.
type Target struct {
	Kind  wire.TargetKind
	Index uint32
	UUID  string
	// Nodes are the servers that may serve it, the one that registered it
	// last first (Lustre's primary).
	Nodes []wire.ServiceNode
	// Params are the target's own --param settings as it last registered them.
	Params []string
	// From is the NID the last registration came from.
	From lnet.NID
	// Registered is the first registration, LastSeen the latest.
	Registered, LastSeen time.Time
	// Gen is the configuration generation of the target's last change.
	Gen uint64
}

// Name returns the target's name in file system fs.
func (t *Target) Name(fs string) string { return TargetName(fs, t.Kind, t.Index) }

// appendTarget appends the record form of t.
func appendTarget(b []byte, t *Target) []byte {
	var e wire.Encoder
	e.Reset(b)
	e.U8(recV1)
	e.U32(uint32(t.Kind))
	e.U32(t.Index)
	e.String(t.UUID)
	appendNodes(&e, t.Nodes)
	e.U32(uint32(len(t.Params)))
	for _, p := range t.Params {
		e.String(p)
	}
	appendNID(&e, t.From)
	e.I64(t.Registered.UnixNano())
	e.I64(t.LastSeen.UnixNano())
	e.U64(t.Gen)
	return e.Bytes()
}

// decodeTarget decodes a record written by appendTarget.
func decodeTarget(b []byte) (Target, error) {
	var t Target
	d := wire.NewDecoder(b)
	if v := d.U8(); d.Err() == nil && v != recV1 {
		return t, fmt.Errorf("%w: target record format %d", ErrCorrupt, v)
	}
	t.Kind = wire.TargetKind(d.U32())
	t.Index = d.U32()
	t.UUID = d.String(wire.MaxNameLen)
	t.Nodes = decodeNodes(&d)
	n := d.Count(4)
	if n > wire.MaxParams {
		d.Fail("%d params", n)
	} else if n > 0 {
		t.Params = make([]string, n)
		for i := range t.Params {
			t.Params[i] = d.String(wire.MaxParamLen)
		}
	}
	t.From = decodeNID(&d)
	t.Registered = time.Unix(0, d.I64())
	t.LastSeen = time.Unix(0, d.I64())
	t.Gen = d.U64()
	if err := d.Finish(); err != nil {
		return Target{}, fmt.Errorf("%w: target record: %w", ErrCorrupt, err)
	}
	if t.Kind != wire.KindMDT && t.Kind != wire.KindOST {
		return Target{}, fmt.Errorf("%w: target record of kind %d", ErrCorrupt, t.Kind)
	}
	if t.UUID == "" || len(t.Nodes) == 0 {
		return Target{}, fmt.Errorf("%w: target record without UUID or service node", ErrCorrupt)
	}
	return t, nil
}

func appendNID(e *wire.Encoder, nid lnet.NID) {
	var tmp [lnet.NIDWireSize]byte
	e.Raw(lnet.AppendNID(tmp[:0], nid))
}

func decodeNID(d *wire.Decoder) lnet.NID {
	p := d.Raw(lnet.NIDWireSize)
	if p == nil {
		return lnet.NID{}
	}
	nid, err := lnet.DecodeNID(p)
	if err != nil {
		d.Fail("NID: %v", err)
	}
	return nid
}

func appendNodes(e *wire.Encoder, nodes []wire.ServiceNode) {
	e.U32(uint32(len(nodes)))
	for _, n := range nodes {
		e.U32(uint32(len(n.NIDs)))
		for _, nid := range n.NIDs {
			appendNID(e, nid)
		}
	}
}

func decodeNodes(d *wire.Decoder) []wire.ServiceNode {
	n := d.Count(4)
	if n > wire.MaxServiceNodes {
		d.Fail("%d service nodes", n)
		return nil
	}
	if n == 0 {
		return nil
	}
	nodes := make([]wire.ServiceNode, n)
	for i := range nodes {
		m := d.Count(lnet.NIDWireSize)
		if m > wire.MaxNIDsPerNode || (d.Err() == nil && m == 0) {
			d.Fail("service node with %d NIDs", m)
			return nil
		}
		nodes[i].NIDs = make([]lnet.NID, m)
		for j := range nodes[i].NIDs {
			nodes[i].NIDs[j] = decodeNID(d)
			if d.Err() == nil && nodes[i].NIDs[j].IsZero() {
				d.Fail("zero NID in service node")
			}
		}
		if d.Err() != nil {
			return nil
		}
	}
	return nodes
}

// Param is a stored persistent parameter.
type Param struct {
	// Seq orders parameters: the generation at which it was last set. A
	// configuration lists parameters in Seq order, so the last one set is
	// applied last.
	Seq   uint64
	Value string
}

// appendParam appends the record form of p.
func appendParam(b []byte, p Param) []byte {
	var e wire.Encoder
	e.Reset(b)
	e.U8(recV1)
	e.U64(p.Seq)
	e.String(p.Value)
	return e.Bytes()
}

// decodeParam decodes a record written by appendParam.
func decodeParam(b []byte) (Param, error) {
	var p Param
	d := wire.NewDecoder(b)
	if v := d.U8(); d.Err() == nil && v != recV1 {
		return p, fmt.Errorf("%w: parameter record format %d", ErrCorrupt, v)
	}
	p.Seq = d.U64()
	p.Value = d.String(wire.MaxParamLen)
	if err := d.Finish(); err != nil {
		return Param{}, fmt.Errorf("%w: parameter record: %w", ErrCorrupt, err)
	}
	return p, nil
}
