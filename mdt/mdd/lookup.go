package mdd

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// GetAttr returns the attributes of f. Like Lustre's getattr by FID it
// checks no permission: reaching the FID took a lookup that did.
func (m *MDD) GetAttr(ctx context.Context, f wire.FID) (Attr, error) {
	var a Attr
	err := m.view(ctx, func(o *op) error {
		if _, err := o.inode(f); err != nil {
			return err
		}
		a = o.attr(f)
		return nil
	})
	return a, err
}

// Lookup returns the attributes of name in directory parent; the caller
// needs search (x) permission on parent. "." is parent itself and ".." its
// parent (the root's ".." is the root). A child on another MDT gives
// ErrRemote with the Attr's FID (and type bits) filled in, for the caller
// to ask that MDT.
func (m *MDD) Lookup(ctx context.Context, c Creds, parent wire.FID, name string) (Attr, error) {
	var a Attr
	err := m.view(ctx, func(o *op) error {
		p, err := o.dir(parent)
		if err != nil {
			return err
		}
		if !permitted(c, p, mayExec) {
			return fmt.Errorf("%w: search %v", ErrAccess, parent)
		}
		var child wire.FID
		var typ uint8
		switch name {
		case ".":
			child = parent
		case "..":
			child = o.dotdot(parent)
		default:
			if len(name) > MaxNameLen {
				return fmt.Errorf("%w: name of %d bytes", ErrNameTooLong, len(name))
			}
			if name == "" || strings.ContainsAny(name, "/\x00") {
				return fmt.Errorf("%w: name %q", ErrInvalid, name)
			}
			d, err := o.lookup(parent, name)
			if err != nil {
				return err
			}
			child, typ = d.FID, d.Type
		}
		if _, err := o.inode(child); err != nil {
			a = Attr{FID: child, Inode: store.Inode{Mode: uint32(typ) << 12}}
			return err
		}
		a = o.attr(child)
		return nil
	})
	return a, err
}

// dotdot returns the parent of directory f from its link entry; the root,
// a removed directory and one whose parent is unknown are their own "..".
func (o *op) dotdot(f wire.FID) wire.FID {
	parent := f
	_ = o.t.Links(f, func(p wire.FID, _ string) bool { parent = p; return false })
	return parent
}

// Readlink returns the target of symlink f.
func (m *MDD) Readlink(ctx context.Context, f wire.FID) (string, error) {
	var target string
	err := m.view(ctx, func(o *op) error {
		ino, err := o.inode(f)
		if err != nil {
			return err
		}
		if ino.Type() != store.TypeLink {
			return fmt.Errorf("%w: readlink of %v: not a symlink", ErrInvalid, f)
		}
		target, err = o.t.Symlink(f)
		return err
	})
	return target, err
}

// DirEntry is one entry returned by Readdir.
type DirEntry struct {
	Name string
	FID  wire.FID
	// Type is the d_type (DT_DIR, DT_REG, ...).
	Type uint8
	// Cookie is the offset that resumes the directory after this entry.
	Cookie uint64
}

// dtDir is the d_type of a directory.
const dtDir = uint8(store.TypeDir >> 12)

// Readdir returns up to max entries of directory dir from cookie on, and
// whether the end was reached. Cookie 0 starts with "." and "..", which
// Readdir returns itself (cookies 1 and 2), as FUSE needs them; the other
// entries come in hash order with cookie = their hash position + 1 (see
// store.NamePos), so a cookie stays valid across inserts and deletes: an
// entry present throughout is returned once, whatever changed around it.
// Names of equal position are never split between two calls, so a batch
// may exceed max by the size of a (62-bit) hash collision. The caller needs
// read permission on dir.
func (m *MDD) Readdir(ctx context.Context, c Creds, dir wire.FID, cookie uint64, max int) ([]DirEntry, bool, error) {
	if max <= 0 {
		return nil, false, fmt.Errorf("%w: readdir of %d entries", ErrInvalid, max)
	}
	var out []DirEntry
	eof := true
	err := m.view(ctx, func(o *op) error {
		d, err := o.inode(dir)
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return fmt.Errorf("%w: %v", ErrNotDir, dir)
		}
		if !permitted(c, d, mayRead) {
			return fmt.Errorf("%w: read %v", ErrAccess, dir)
		}
		out, eof = out[:0], true
		if cookie == store.CookieStart {
			out = append(out, DirEntry{Name: ".", FID: dir, Type: dtDir, Cookie: store.CookieDot})
		}
		if cookie <= store.CookieDot && len(out) < max {
			out = append(out, DirEntry{Name: "..", FID: o.dotdot(dir), Type: dtDir, Cookie: store.CookieDotDot})
		}
		if cookie <= store.CookieDot && len(out) >= max {
			eof = false
			return nil
		}
		var lastPos uint64
		return o.t.Dirents(dir, cookie, func(pos uint64, name string, de store.Dirent) bool {
			if len(out) >= max && pos != lastPos {
				eof = false
				return false
			}
			out = append(out, DirEntry{Name: name, FID: de.FID, Type: de.Type, Cookie: pos + 1})
			lastPos = pos
			return true
		})
	})
	if err != nil {
		return nil, false, err
	}
	return out, eof, nil
}

// PathInfo is one path of an inode, for fid2path.
type PathInfo struct {
	// Path is "/"-separated from the root ("/" for the root itself), or,
	// when Parent is not zero, from Parent.
	Path string
	// Parent, when not zero, is a directory on another MDT where the walk
	// stopped; the caller continues there.
	Parent wire.FID
}

// maxDepth bounds a path walk (a cycle is a broken invariant).
const maxDepth = 4096

// Paths returns one path per name of f, built from link entries up to the
// root. An orphan has none (ErrNotFound).
func (m *MDD) Paths(ctx context.Context, f wire.FID) ([]PathInfo, error) {
	var out []PathInfo
	err := m.view(ctx, func(o *op) error {
		out = out[:0]
		if _, err := o.inode(f); err != nil {
			return err
		}
		if f == wire.RootFID {
			out = append(out, PathInfo{Path: "/"})
			return nil
		}
		var names []struct {
			parent wire.FID
			name   string
		}
		if err := o.t.Links(f, func(p wire.FID, name string) bool {
			names = append(names, struct {
				parent wire.FID
				name   string
			}{p, name})
			return true
		}); err != nil {
			return err
		}
		if len(names) == 0 {
			return fmt.Errorf("%w: %v has no name", ErrNotFound, f)
		}
		for _, n := range names {
			pi, err := o.walkUp(n.parent, []string{n.name})
			if err != nil {
				return err
			}
			out = append(out, pi)
		}
		return nil
	})
	return out, err
}

// walkUp prepends the names of dir and its ancestors to elems.
func (o *op) walkUp(dir wire.FID, elems []string) (PathInfo, error) {
	for range maxDepth {
		if dir == wire.RootFID {
			slices.Reverse(elems)
			return PathInfo{Path: "/" + path.Join(elems...)}, nil
		}
		if !o.t.HasInode(dir) {
			if err := o.m.missing(o.t, dir); !isRemote(err) {
				return PathInfo{}, err
			}
			slices.Reverse(elems)
			return PathInfo{Path: path.Join(elems...), Parent: dir}, nil
		}
		next, name := dir, ""
		_ = o.t.Links(dir, func(p wire.FID, n string) bool { next, name = p, n; return false })
		if name == "" {
			return PathInfo{}, fmt.Errorf("%w: directory %v has no name", ErrNotFound, dir)
		}
		elems = append(elems, name)
		dir = next
	}
	return PathInfo{}, fmt.Errorf("%w: path deeper than %d", ErrLoop, maxDepth)
}

// StatFS is the MDT's statfs: space of the file system under the store,
// and inode counts.
type StatFS struct {
	BlockSize             uint64
	Blocks, Bfree, Bavail uint64
	Files, Ffree          uint64
	NameLen               uint32
}

// StatFS reports space and inodes. Free inodes are estimated as available
// bytes / Config.InodeBytes, as bbolt has no inode table.
func (m *MDD) StatFS(ctx context.Context) (StatFS, error) {
	var used uint64
	if err := m.s.View(ctx, func(t *store.Tx) error { used = t.InodeCount(); return nil }); err != nil {
		return StatFS{}, err
	}
	u, err := m.s.Usage()
	if err != nil {
		return StatFS{}, err
	}
	free := u.Bavail * u.BlockSize / m.cfg.InodeBytes
	return StatFS{BlockSize: u.BlockSize, Blocks: u.Blocks, Bfree: u.Bfree, Bavail: u.Bavail,
		Files: used + free, Ffree: free, NameLen: MaxNameLen}, nil
}
