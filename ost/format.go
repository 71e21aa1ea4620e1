package ost

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stria-fs/stria/lnet"
	"github.com/stria-fs/stria/ost/osd"
	"github.com/stria-fs/stria/wire"
)

// FormatOptions are mkfs.lustre's options for an OST.
type FormatOptions struct {
	// FSName is the file system's name: 1-8 characters of [-_a-zA-Z0-9].
	FSName string
	// Index is the OST index (--index), 0..0xfffe.
	Index uint32
	// MGSNodes is the --mgsnode failover list: each element one MGS node's
	// NIDs. Empty: the target never registers (a test, or a file system
	// configured by hand).
	MGSNodes [][]lnet.NID
	// ServiceNodes are the --servicenode entries: every server that may run
	// this target, each with its NIDs. Empty: the NIDs of whichever process
	// starts it.
	ServiceNodes [][]lnet.NID
	// Params are --param KEY=VALUE settings, sent to the MGS at
	// registration.
	Params []string
	// Reformat allows formatting over an existing target (its objects are
	// lost).
	Reformat bool
	// Capacity caps the target's space in bytes (0: the backing file
	// system's). It is meant for tests that fill a target; it is recorded
	// in the label as the parameter CapacityParam and applied at every
	// Start unless Config.Capacity overrides it.
	Capacity int64
}

// CapacityParam is the label parameter that records FormatOptions.Capacity.
// It is Stria's own and never sent to the MGS.
const CapacityParam = "stria.capacity"

// Validate reports options that cannot work.
func (o FormatOptions) Validate() error {
	if o.Capacity < 0 {
		return fmt.Errorf("%w: negative capacity %d", ErrConfig, o.Capacity)
	}
	if err := checkNodes("mgsnode", o.MGSNodes); err != nil {
		return err
	}
	if err := checkNodes("servicenode", o.ServiceNodes); err != nil {
		return err
	}
	for _, p := range o.Params {
		k, _, ok := strings.Cut(p, "=")
		if !ok || k == "" || len(p) > wire.MaxParamLen || strings.ContainsAny(p, "\n\x00") {
			return fmt.Errorf("%w: --param %q: want KEY=VALUE", ErrConfig, p)
		}
		if k == CapacityParam {
			return fmt.Errorf("%w: --param %s is set through Capacity", ErrConfig, k)
		}
	}
	if len(o.Params) > wire.MaxParams {
		return fmt.Errorf("%w: %d params", ErrConfig, len(o.Params))
	}
	return nil
}

func checkNodes(what string, nodes [][]lnet.NID) error {
	if len(nodes) > wire.MaxServiceNodes {
		return fmt.Errorf("%w: %d --%s entries (at most %d)", ErrConfig, len(nodes), what, wire.MaxServiceNodes)
	}
	for _, n := range nodes {
		if len(n) == 0 || len(n) > wire.MaxNIDsPerNode {
			return fmt.Errorf("%w: --%s with %d NIDs", ErrConfig, what, len(n))
		}
		for _, nid := range n {
			if nid.IsZero() {
				return fmt.Errorf("%w: --%s with an empty NID", ErrConfig, what)
			}
		}
	}
	return nil
}

// Format makes dir an empty OST of file system o.FSName with index
// o.Index, as mkfs.lustre --ost does, and returns its label. It refuses a
// directory already formatted (osd.ErrFormatted) or holding other files
// (osd.ErrNotEmpty) unless o.Reformat is set.
func Format(dir string, o FormatOptions) (osd.Label, error) {
	if err := o.Validate(); err != nil {
		return osd.Label{}, err
	}
	l := osd.Label{
		FSName:       o.FSName,
		Index:        o.Index,
		MGSNodes:     nodesToStrings(o.MGSNodes),
		ServiceNodes: nodesToStrings(o.ServiceNodes),
		Params:       append([]string(nil), o.Params...),
	}
	if o.Capacity > 0 {
		l.Params = append(l.Params, CapacityParam+"="+strconv.FormatInt(o.Capacity, 10))
	}
	return osd.Format(dir, l, o.Reformat)
}

// nodesToStrings writes each node as Lustre's NID list of one node:
// "192.168.1.2@tcp,10.0.0.2@o2ib".
func nodesToStrings(nodes [][]lnet.NID) []string {
	if len(nodes) == 0 {
		return nil
	}
	out := make([]string, len(nodes))
	for i, n := range nodes {
		s := make([]string, len(n))
		for j, nid := range n {
			s[j] = nid.String()
		}
		out[i] = strings.Join(s, ",")
	}
	return out
}

// parseNodes reads what nodesToStrings wrote.
func parseNodes(ss []string) ([][]lnet.NID, error) {
	var out [][]lnet.NID
	for _, s := range ss {
		var node []lnet.NID
		for _, f := range strings.Split(s, ",") {
			nid, err := lnet.ParseNID(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("%w: node %q: %w", ErrConfig, s, err)
			}
			node = append(node, nid)
		}
		out = append(out, node)
	}
	return out, nil
}

// labelCapacity returns the capacity recorded in l (0: none) and l's
// other parameters.
func labelCapacity(l osd.Label) (int64, []string, error) {
	var capacity int64
	var params []string
	for _, p := range l.Params {
		k, v, _ := strings.Cut(p, "=")
		if k != CapacityParam {
			params = append(params, p)
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, nil, fmt.Errorf("%w: %s: label parameter %q", ErrConfig, l.Name(), p)
		}
		capacity = n
	}
	return capacity, params, nil
}
