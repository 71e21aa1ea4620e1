package ost

import (
	"slices"
	"testing"

	"github.com/stria-fs/stria/ost/osd"
)

// FuzzLabelFields checks the decoders of what Format records in a label
// (node lists, the capacity parameter): no input panics, and what parses
// re-encodes to something that parses the same.
func FuzzLabelFields(f *testing.F) {
	f.Add("10.0.0.1@tcp,10.1.0.1@o2ib1", CapacityParam+"=4096")
	f.Add("0@lo", "sys.timeout=40")
	f.Add(",", CapacityParam+"=-1")
	f.Add("1.2.3.4@tcp, 5@lo", CapacityParam+"=x")
	f.Fuzz(func(t *testing.T, node, param string) {
		if nodes, err := parseNodes([]string{node}); err == nil {
			again, err := parseNodes(nodesToStrings(nodes))
			if err != nil || !slices.EqualFunc(again, nodes, slices.Equal) {
				t.Fatalf("%q: %v re-parses as %v (%v)", node, nodes, again, err)
			}
		}
		l := osd.Label{FSName: "fs", Params: []string{"a=b", param}}
		capacity, params, err := labelCapacity(l)
		if err != nil {
			return
		}
		if capacity < 0 || len(params) > 2 || params[0] != "a=b" {
			t.Fatalf("%q: capacity %d params %q", param, capacity, params)
		}
	})
}
