package daemon

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stria-fs/stria/lnet"
)

// ParseNodes reads repeated --mgsnode or --servicenode values as Lustre
// does: within one value a comma separates the NIDs of one node and a colon
// separates nodes (a failover list), so "10.0.0.1@tcp,10.1.0.1@o2ib:10.0.0.2@tcp"
// is two nodes; every repetition of the flag adds nodes.
func ParseNodes(flag string, values []string) ([][]lnet.NID, error) {
	var out [][]lnet.NID
	for _, v := range values {
		for _, node := range strings.Split(v, ":") {
			node = strings.TrimSpace(node)
			if node == "" {
				return nil, fmt.Errorf("%w: --%s %q: empty node", ErrBadNodes, flag, v)
			}
			var nids []lnet.NID
			for _, s := range strings.Split(node, ",") {
				nid, err := lnet.ParseNID(strings.TrimSpace(s))
				if err != nil {
					return nil, fmt.Errorf("%w: --%s %q: %w", ErrBadNodes, flag, v, err)
				}
				nids = append(nids, nid)
			}
			out = append(out, nids)
		}
	}
	return out, nil
}

// ParseSize reads a size in bytes: a number with an optional binary suffix
// K, M, G or T (case-insensitive, an optional trailing B or iB).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("%w: %q: want a number of bytes with an optional K, M, G or T suffix", ErrBadSize, s)
	}
	return v * mult, nil
}

// ParseIndex reads a target index (--index): decimal, or hexadecimal with
// 0x, at most max.
func ParseIndex(s string, max uint32) (uint32, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
	if err != nil || v > uint64(max) {
		return 0, fmt.Errorf("%w: --index %q: want a number from 0 to %d", ErrBadIndex, s, max)
	}
	return uint32(v), nil
}
