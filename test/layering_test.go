package test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/stria-fs/stria"

// rank orders the layers of DESIGN.md §2: a package may import only packages
// of a lower rank, or its own top-level package. Packages of equal rank are
// peers and never import each other (a server talks to another server over
// RPC, not through its package).
var rank = map[string]int{
	"lnet":           0,
	"wire":           1,
	"ptlrpc":         2,
	"ldlm":           3,
	"obd":            3,
	"mgc":            3,
	"layout":         3,
	"mgs":            4,
	"mdt":            4,
	"ost":            4,
	"client":         4,
	"client/fusefs":  5,
	"ha":             6,
	"tools":          7,
	"cmd":            8,
	"test":           9,
	"internal":       -1, // helpers usable by anyone, importing nothing of ours
	"shared/bench":   -1,
	"test/mpi":       9,
	"test/rdma":      9,
	"tools/lfs":      7,
	"tools/lctl":     7,
	"tools/internal": 7,
}

// only lists third-party imports allowed in just some layers.
var only = map[string][]string{
	"go.etcd.io/bbolt":               {"mgs", "mdt", "test"},
	"github.com/hanwen/go-fuse/v2":   {"client/fusefs", "test"},
	"github.com/spf13/cobra":         {"cmd", "tools", "test"},
	"github.com/spf13/pflag":         {"cmd", "tools", "test"},
	"github.com/Mellanox/rdmamap":    {"lnet/o2iblnd"},
	"C":                              {"lnet/o2iblnd"},
	"github.com/stria-fs/stria/test": {"test"},
}

// layer returns the layer key of a repository-relative package path: the
// longest key of rank that is a path prefix.
func layer(rel string) (string, bool) {
	best := ""
	for k := range rank {
		if (rel == k || strings.HasPrefix(rel, k+"/")) && len(k) > len(best) {
			best = k
		}
	}
	return best, best != ""
}

func under(rel, prefix string) bool { return rel == prefix || strings.HasPrefix(rel, prefix+"/") }

// TestLayering enforces DESIGN.md §2: imports run downward only, and bbolt,
// go-fuse, cobra and cgo stay in the layers that own them.
func TestLayering(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "run" || name == "mnt") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		relFile, _ := filepath.Rel(root, path)
		rel := filepath.ToSlash(filepath.Dir(relFile))
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		from, ok := layer(rel)
		if !ok {
			t.Errorf("%s: package %q is in no layer of DESIGN.md §2; add it to rank in test/layering_test.go", relFile, rel)
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			checked++
			for _, v := range checkImport(rel, from, p) {
				t.Errorf("%s: %s", relFile, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no imports checked: the walk found no Go files")
	}
}

// checkImport returns what is wrong with package rel (in layer from)
// importing p.
func checkImport(rel, from, p string) []string {
	var bad []string
	for lib, allowed := range only {
		if p != lib && !strings.HasPrefix(p, lib+"/") {
			continue
		}
		ok := false
		for _, a := range allowed {
			if under(rel, a) {
				ok = true
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("imports %s, which only %v may import", p, allowed))
		}
	}
	if !strings.HasPrefix(p, module+"/") {
		return bad
	}
	target := strings.TrimPrefix(p, module+"/")
	to, ok := layer(target)
	if !ok {
		return append(bad, fmt.Sprintf("imports %s, which is in no layer", p))
	}
	top := func(s string) string { return strings.SplitN(s, "/", 2)[0] }
	if top(target) == top(rel) && rank[to] <= rank[from] {
		return bad // within one top-level package, downward or sideways
	}
	if to == "internal" {
		return bad
	}
	if rank[to] >= rank[from] || rank[from] < 0 {
		bad = append(bad, fmt.Sprintf("(layer %s) imports %s (layer %s): imports must run downward (DESIGN.md §2)", from, p, to))
	}
	return bad
}

// TestLayeringRules checks the checker on made-up imports, so a broken
// checker cannot pass silently.
func TestLayeringRules(t *testing.T) {
	cases := []struct {
		rel, imp string
		bad      bool
	}{
		{"ptlrpc", module + "/lnet", false},
		{"lnet", module + "/ptlrpc", true},
		{"mdt", module + "/ost", true},
		{"mdt/mdd", module + "/mdt/store", false},
		{"client", module + "/client/fusefs", true},
		{"client/fusefs", module + "/client", false},
		{"client", "github.com/hanwen/go-fuse/v2/fs", true},
		{"mdt/store", "go.etcd.io/bbolt", false},
		{"ost/osd", "go.etcd.io/bbolt", true},
		{"ptlrpc", "github.com/spf13/cobra", true},
		{"wire", "C", true},
		{"tools/lfs", module + "/client", false},
	}
	for _, c := range cases {
		from, _ := layer(c.rel)
		got := checkImport(c.rel, from, c.imp)
		if (len(got) > 0) != c.bad {
			t.Errorf("%s importing %s: violations %q, want bad=%v", c.rel, c.imp, got, c.bad)
		}
	}
}
