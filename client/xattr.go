package client

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/stria-fs/stria/client/mdc"
	"github.com/stria-fs/stria/wire"
)

// Virtual extended attributes (the contract with tools/lfs).
const (
	// XattrLOV is a regular file's layout (layout.Encode), or a directory's
	// default layout template; the root's is the file system default.
	XattrLOV = "lustre.lov"
	// XattrFID is the FID as text, "[0x200000401:0x1:0x0]".
	XattrFID = "lustre.fid"
	// XattrLink lists the file's names, one "[parentfid]/name" per line.
	XattrLink = "lustre.link"
)

// GetXattr returns an extended attribute's whole value (ENODATA if
// absent). lustre.fid is answered here and lustre.link built here when the
// MDT does not keep it; everything else is the MDT's (MDS_GETXATTR), which
// answers lustre.lov with a file's layout or a directory's default (the
// root's: the file system default).
func (fs *FS) GetXattr(ctx context.Context, fid wire.FID, name string) ([]byte, error) {
	fs.stats.count(opGetxattr)
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return nil, err
	}
	switch name {
	case XattrFID:
		return []byte(fid.String()), nil
	case XattrLink:
		return fs.links(ctx, m, fid)
	case xattrCaps:
		return fs.caps(ctx, m, fid)
	}
	return m.Getxattr(ctx, fid, name)
}

// xattrCaps is the attribute the kernel reads before every write(2).
const xattrCaps = "security.capability"

// caps answers security.capability, remembering on an open file that it
// has none (see inode.noCaps).
func (fs *FS) caps(ctx context.Context, m *mdc.MDC, fid wire.FID) ([]byte, error) {
	in := fs.openedInode(fid)
	if in != nil {
		in.mu.Lock()
		known := in.noCaps
		in.mu.Unlock()
		if known {
			return nil, syscall.ENODATA
		}
	}
	v, err := m.Getxattr(ctx, fid, xattrCaps)
	if in != nil && errors.Is(err, syscall.ENODATA) {
		in.mu.Lock()
		in.noCaps = true
		in.mu.Unlock()
	}
	return v, err
}

// forgetCaps drops what caps remembered about fid.
func (fs *FS) forgetCaps(fid wire.FID, name string) {
	if name != xattrCaps {
		return
	}
	if in := fs.openedInode(fid); in != nil {
		in.mu.Lock()
		in.noCaps = false
		in.mu.Unlock()
	}
}

// links answers lustre.link: from the MDT if it keeps the attribute,
// otherwise built from fid2path, each path's directory looked up from the
// root for its FID.
func (fs *FS) links(ctx context.Context, m *mdc.MDC, fid wire.FID) ([]byte, error) {
	v, err := m.Getxattr(ctx, fid, XattrLink)
	if err == nil || !errors.Is(err, syscall.ENODATA) && !errors.Is(err, syscall.EOPNOTSUPP) {
		return v, err
	}
	paths, err := fs.paths(ctx, fid, -1)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil, syscall.ENODATA
		}
		return nil, err
	}
	var b strings.Builder
	for _, p := range paths {
		if p == "" {
			continue // the root has no name
		}
		dir, base := path.Split(p)
		parent := fs.root
		for _, c := range splitPath(dir) {
			r, err := m.GetattrName(ctx, parent, c)
			if err != nil {
				return nil, err
			}
			parent = r.FID
		}
		fmt.Fprintf(&b, "%v/%s\n", parent, base)
	}
	if b.Len() == 0 {
		return nil, syscall.ENODATA
	}
	return []byte(b.String()), nil
}

// ListXattr lists the names of the MDT's user, security and trusted
// attributes, and lustre.lov when the file has a layout (a directory: a
// default one; the MDT lists it so).
func (fs *FS) ListXattr(ctx context.Context, fid wire.FID) ([]string, error) {
	fs.stats.count(opListxattr)
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return nil, err
	}
	names, err := m.Listxattr(ctx, fid)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range names {
		switch {
		case n == XattrLOV || n == "trusted.lov":
			add(XattrLOV)
		case strings.HasPrefix(n, "user.") || strings.HasPrefix(n, "security.") || strings.HasPrefix(n, "trusted."):
			add(n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// SetXattr sets an extended attribute (REINT_SETXATTR). lustre.lov on a
// regular file without objects makes the MDT instantiate that layout (its
// EINVAL or EEXIST come back as they are), and this client takes the new
// layout if it has the file open; on a directory it sets the default
// layout. lustre.fid and lustre.link cannot be set (EPERM).
func (fs *FS) SetXattr(ctx context.Context, fid wire.FID, name string, value []byte, flags uint32) error {
	fs.stats.count(opSetxattr)
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return err
	}
	if len(value) > wire.MaxXattrLen {
		return syscall.E2BIG
	}
	switch name {
	case XattrFID, XattrLink:
		return syscall.EPERM
	case XattrLOV:
		if err := m.Setxattr(ctx, fid, XattrLOV, value, flags); err != nil {
			return err
		}
		if in := fs.openedInode(fid); in != nil {
			return in.refreshLayout(ctx)
		}
		return nil
	}
	fs.forgetCaps(fid, name)
	return m.Setxattr(ctx, fid, name, value, flags)
}

// RemoveXattr removes an extended attribute. lustre.lov on a directory
// drops its default layout (the MDT decides about a file's); the other
// virtual attributes cannot be removed (EPERM).
func (fs *FS) RemoveXattr(ctx context.Context, fid wire.FID, name string) error {
	fs.stats.count(opRemovexattr)
	ctx, m, err := fs.mdcFor(ctx, fid)
	if err != nil {
		return err
	}
	switch name {
	case XattrFID, XattrLink:
		return syscall.EPERM
	}
	fs.forgetCaps(fid, name)
	return m.Setxattr(ctx, fid, name, nil, wire.XattrRemove)
}
