package daemon

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stria-fs/stria/lnet"
)

// TargetFlags are mkfs.lustre's options for an MDT or OST.
type TargetFlags struct {
	Dir          string
	FSName       string
	Index        string
	MGSNodes     []string
	ServiceNodes []string
	Params       []string
	Reformat     bool
}

// Register adds the flags to fs.
func (f *TargetFlags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Dir, "dir", "", "the target directory")
	fs.StringVar(&f.FSName, "fsname", "", "file system name (1-8 of [-_a-zA-Z0-9])")
	fs.StringVar(&f.Index, "index", "", "target index (decimal, or hex with 0x)")
	fs.StringArrayVar(&f.MGSNodes, "mgsnode", nil,
		"NIDs of an MGS node, comma-separated; a colon separates failover nodes (repeatable)")
	fs.StringArrayVar(&f.ServiceNodes, "servicenode", nil,
		"NIDs of a server that may run this target, comma-separated (repeatable)")
	fs.StringArrayVar(&f.Params, "param", nil, "parameter KEY=VALUE (repeatable)")
	fs.BoolVar(&f.Reformat, "reformat", false, "format over an existing target (its data is lost)")
}

// Target is TargetFlags checked and parsed.
type Target struct {
	Dir          string
	FSName       string
	Index        uint32
	MGSNodes     [][]lnet.NID
	ServiceNodes [][]lnet.NID
	Params       []string
	Reformat     bool
}

// Parse checks the flags: --dir, --fsname, --index and --mgsnode are
// required; maxIndex bounds --index.
func (f TargetFlags) Parse(maxIndex uint32) (Target, error) {
	switch {
	case f.Dir == "":
		return Target{}, fmt.Errorf("format: --dir is required")
	case f.FSName == "":
		return Target{}, fmt.Errorf("format: --fsname is required")
	case f.Index == "":
		return Target{}, fmt.Errorf("format: --index is required")
	case len(f.MGSNodes) == 0:
		return Target{}, fmt.Errorf("format: --mgsnode is required")
	}
	t := Target{Dir: f.Dir, FSName: f.FSName, Params: f.Params, Reformat: f.Reformat}
	var err error
	if t.Index, err = ParseIndex(f.Index, maxIndex); err != nil {
		return Target{}, err
	}
	if t.MGSNodes, err = ParseNodes("mgsnode", f.MGSNodes); err != nil {
		return Target{}, err
	}
	if t.ServiceNodes, err = ParseNodes("servicenode", f.ServiceNodes); err != nil {
		return Target{}, err
	}
	for _, p := range f.Params {
		if k, _, ok := strings.Cut(p, "="); !ok || k == "" {
			return Target{}, fmt.Errorf("format: --param %q: want KEY=VALUE", p)
		}
	}
	return t, nil
}

// PrintFormatted prints mkfs.lustre's summary of a formatted target.
func PrintFormatted(w io.Writer, name string, t Target, extra ...string) {
	fmt.Fprintf(w, "Formatted %s in %s\n", name, t.Dir)
	fmt.Fprintf(w, "   Target:     %s\n   Index:      %d\n   Fsname:     %s\n", name, t.Index, t.FSName)
	fmt.Fprintf(w, "   MGS nodes:  %s\n", nodesString(t.MGSNodes))
	if len(t.ServiceNodes) > 0 {
		fmt.Fprintf(w, "   Service nodes: %s\n", nodesString(t.ServiceNodes))
	}
	for _, p := range t.Params {
		fmt.Fprintf(w, "   Param:      %s\n", p)
	}
	for _, e := range extra {
		fmt.Fprintf(w, "   %s\n", e)
	}
}

func nodesString(nodes [][]lnet.NID) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		s := make([]string, len(n))
		for j, nid := range n {
			s[j] = nid.String()
		}
		parts[i] = strings.Join(s, ",")
	}
	return strings.Join(parts, ":")
}
