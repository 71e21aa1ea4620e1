package client

import (
	"fmt"
	"path"
	"strings"

	"github.com/stria-fs/stria/lnet"
)

// ParseMGSSpec parses a mount spec, Lustre's MGSSPEC:/FSNAME[/SUBDIR]
// (mount.lustre(8)): MGSSPEC is MGSNODE[:MGSNODE...], an MGS node is
// NID[,NID...] — a comma separates the NIDs (interfaces) of one node, a
// colon the nodes of a failover pair. It returns the MGS nodes (each with
// its NIDs), the file system name and the subdirectory to mount ("" for
// the root; cleaned, without leading slash).
//
//	ParseMGSSpec("10.0.0.1@tcp,192.168.1.1@o2ib:10.0.0.2@tcp:/stria/projects")
//	  → [[10.0.0.1@tcp 192.168.1.1@o2ib] [10.0.0.2@tcp]], "stria", "projects"
func ParseMGSSpec(spec string) (nodes [][]lnet.NID, fsname, subdir string, err error) {
	mgs, fspath, ok := strings.Cut(spec, ":/")
	if !ok {
		return nil, "", "", fmt.Errorf("%w: %q: want MGSNID[,NID][:MGSNID...]:/FSNAME[/SUBDIR]", ErrBadSpec, spec)
	}
	if mgs == "" {
		return nil, "", "", fmt.Errorf("%w: %q: no MGS NID", ErrBadSpec, spec)
	}
	for _, node := range strings.Split(mgs, ":") {
		if node == "" {
			return nil, "", "", fmt.Errorf("%w: %q: empty MGS node", ErrBadSpec, spec)
		}
		var nids []lnet.NID
		for _, s := range strings.Split(node, ",") {
			nid, err := lnet.ParseNID(s)
			if err != nil {
				return nil, "", "", fmt.Errorf("%w: %q: %w", ErrBadSpec, spec, err)
			}
			nids = append(nids, nid)
		}
		nodes = append(nodes, nids)
	}
	fsname, subdir, _ = strings.Cut(fspath, "/")
	if err := checkFSName(fsname); err != nil {
		return nil, "", "", fmt.Errorf("%w: %q: %w", ErrBadSpec, spec, err)
	}
	if subdir != "" {
		for _, c := range strings.Split(subdir, "/") {
			if c == ".." {
				return nil, "", "", fmt.Errorf("%w: %q: subdirectory with \"..\"", ErrBadSpec, spec)
			}
		}
		subdir = strings.TrimPrefix(path.Clean("/"+subdir), "/")
	}
	return nodes, fsname, subdir, nil
}

// checkFSName checks a file system name: 1 to 8 of [-_a-zA-Z0-9].
func checkFSName(s string) error {
	if s == "" || len(s) > 8 {
		return fmt.Errorf("file system name %q: 1 to 8 characters", s)
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("file system name %q: only letters, digits, '-' and '_'", s)
		}
	}
	return nil
}
