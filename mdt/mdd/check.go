package mdd

import (
	"context"
	"errors"
	"fmt"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// Check verifies the namespace invariants, after store.Check:
//   - every directory entry lives in an existing directory and names an
//     existing inode of the entry's type (or one the FLD puts on another
//     MDT), and the inode has the matching link entry; every link entry has
//     its directory entry;
//   - a non-directory's nlink is its number of names; a directory has one
//     name (the root none) and nlink 2 + its subdirectories;
//   - nlink 0 if and only if the inode is an orphan; after SweepOrphans
//     every orphan is open; every open inode exists;
//   - a symlink has a target, and the root (on MDT0000) is a directory.
//
// It reads one snapshot; run it with no operations in flight for an exact
// open-count check. Tests run it when they clean up.
func (m *MDD) Check(ctx context.Context) error {
	if err := m.s.Check(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	opens := make(map[wire.FID]int, len(m.opens))
	for f, n := range m.opens {
		opens[f] = n
	}
	swept := m.swept
	m.mu.Unlock()
	return m.s.View(ctx, func(t *store.Tx) error {
		return check(t, m.index, opens, swept)
	})
}

func check(t *store.Tx, index uint32, opens map[wire.FID]int, swept bool) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvariant}, args...)...)
	}
	subdirs := map[wire.FID]uint32{}
	var derr error
	err := t.AllDirents(func(parent wire.FID, name string, d store.Dirent) bool {
		p, err := t.Inode(parent)
		if err != nil || !p.IsDir() {
			derr = bad("entry %v/%q in a missing or non-directory parent (%v)", parent, name, err)
			return false
		}
		if d.Type == dtDir {
			subdirs[parent]++
		}
		child, err := t.Inode(d.FID)
		if errors.Is(err, store.ErrNotFound) {
			if r, ferr := t.FLDLookup(d.FID.Seq); ferr == nil && (r.Type != store.FLDMDT || r.Index != index) {
				return true // remote child: its MDT checks it
			}
			derr = bad("entry %v/%q names missing inode %v", parent, name, d.FID)
			return false
		}
		if err != nil {
			derr = err
			return false
		}
		if store.DirentType(child.Mode) != d.Type {
			derr = bad("entry %v/%q has type %d, inode %v mode %#o", parent, name, d.Type, d.FID, child.Mode)
			return false
		}
		found := false
		_ = t.Links(d.FID, func(p wire.FID, n string) bool {
			found = p == parent && n == name
			return !found
		})
		if !found {
			derr = bad("entry %v/%q has no link entry in %v", parent, name, d.FID)
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	var ierr error
	err = t.Inodes(func(f wire.FID, ino store.Inode) bool {
		ierr = checkInode(t, f, &ino, subdirs[f], index, opens, swept, bad)
		return ierr == nil
	})
	if err != nil {
		return err
	}
	if ierr != nil {
		return ierr
	}
	for f := range opens {
		if !t.HasInode(f) {
			return bad("open count on missing inode %v", f)
		}
	}
	if index == 0 {
		root, err := t.Inode(wire.RootFID)
		if err != nil || !root.IsDir() || root.Nlink == 0 {
			return bad("root %v: %+v, %v", wire.RootFID, root, err)
		}
	}
	return nil
}

func checkInode(t *store.Tx, f wire.FID, ino *store.Inode, subdirs uint32, index uint32,
	opens map[wire.FID]int, swept bool, bad func(string, ...any) error) error {
	var names uint32
	var lerr error
	err := t.Links(f, func(p wire.FID, n string) bool {
		names++
		d, err := t.Dirent(p, n)
		if err != nil || d.FID != f {
			lerr = bad("link %v/%q of %v has no matching entry (%+v, %v)", p, n, f, d, err)
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	if lerr != nil {
		return lerr
	}
	orphan := t.IsOrphan(f)
	switch {
	case (ino.Nlink == 0) != orphan:
		return bad("%v: nlink %d, orphan %v", f, ino.Nlink, orphan)
	case orphan && names != 0:
		return bad("orphan %v has %d names", f, names)
	case orphan && swept && opens[f] == 0:
		return bad("orphan %v is not open after the sweep", f)
	case orphan:
	case ino.IsDir():
		wantNames := uint32(1)
		if f == wire.RootFID && index == 0 {
			wantNames = 0
		}
		if names != wantNames || ino.Nlink != 2+subdirs {
			return bad("directory %v: %d names, nlink %d, %d subdirectories", f, names, ino.Nlink, subdirs)
		}
	default:
		if ino.Nlink != names {
			return bad("%v: nlink %d, %d names", f, ino.Nlink, names)
		}
	}
	if ino.Type() == store.TypeLink {
		if _, err := t.Symlink(f); err != nil {
			return bad("symlink %v without target", f)
		}
	}
	return nil
}
