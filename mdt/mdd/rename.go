package mdd

import (
	"context"
	"errors"
	"fmt"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// Rename flags, as renameat2(2).
const (
	RenameNoReplace uint32 = 1 << 0
	RenameExchange  uint32 = 1 << 1
)

// RenameResult tells what a rename replaced.
type RenameResult struct {
	// Victim is the inode that dstName named before, when it was replaced
	// (not for RENAME_EXCHANGE); it may have been destroyed.
	Victim *Removed
}

// Rename moves srcParent/srcName to dstParent/dstName on this MDT, with
// POSIX overwrite rules: a directory may replace an empty directory
// (ENOTEMPTY otherwise) but not a non-directory (ENOTDIR); a non-directory
// may not replace a directory (EISDIR); a directory may not move into its
// own subtree (EINVAL); two names of the same inode make it a no-op
// (transno 0). RenameNoReplace fails with EEXIST when the target exists;
// RenameExchange swaps two existing names. Objects on another MDT give
// EXDEV.
func (m *MDD) Rename(ctx context.Context, c Creds, srcParent wire.FID, srcName string, dstParent wire.FID, dstName string, flags uint32) (RenameResult, uint64, error) {
	if flags&^(RenameNoReplace|RenameExchange) != 0 || flags == RenameNoReplace|RenameExchange {
		return RenameResult{}, 0, fmt.Errorf("%w: rename flags %#x", ErrInvalid, flags)
	}
	if err := checkName(srcName); err != nil {
		return RenameResult{}, 0, err
	}
	if err := checkName(dstName); err != nil {
		return RenameResult{}, 0, err
	}
	var out RenameResult
	tn, err := m.update(ctx, func(o *op) error {
		out = RenameResult{}
		sp, err := o.dir(srcParent)
		if err != nil {
			return xdev(err)
		}
		dp, err := o.dir(dstParent)
		if err != nil {
			return xdev(err)
		}
		if !permitted(c, sp, mayWrite|mayExec) || !permitted(c, dp, mayWrite|mayExec) {
			return fmt.Errorf("%w: rename from %v to %v", ErrAccess, srcParent, dstParent)
		}
		sd, err := o.lookup(srcParent, srcName)
		if err != nil {
			return err
		}
		src, err := o.inode(sd.FID)
		if err != nil {
			return xdev(err)
		}
		dd, err := o.lookup(dstParent, dstName)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		switch {
		case flags&RenameNoReplace != 0 && exists:
			return fmt.Errorf("%w: %v/%q", ErrExist, dstParent, dstName)
		case flags&RenameExchange != 0 && !exists:
			return fmt.Errorf("%w: %v/%q", ErrNotFound, dstParent, dstName)
		case exists && dd.FID == sd.FID:
			return nil // two names of one inode: nothing to do
		case !stickyAllows(c, sp, src):
			return fmt.Errorf("%w: %v/%q in a sticky directory", ErrPerm, srcParent, srcName)
		}
		var dst *store.Inode
		if exists {
			if dst, err = o.inode(dd.FID); err != nil {
				return xdev(err)
			}
			if !stickyAllows(c, dp, dst) {
				return fmt.Errorf("%w: %v/%q in a sticky directory", ErrPerm, dstParent, dstName)
			}
		}
		moved := srcParent != dstParent
		if src.IsDir() && moved {
			if err := o.canMoveDir(c, sd.FID, src, dstParent); err != nil {
				return err
			}
		}
		if flags&RenameExchange != 0 {
			if dst.IsDir() && moved {
				if err := o.canMoveDir(c, dd.FID, dst, srcParent); err != nil {
					return err
				}
			}
			return o.exchange(srcParent, srcName, sd, dstParent, dstName, dd)
		}
		if exists {
			switch {
			case src.IsDir() && !dst.IsDir():
				return fmt.Errorf("%w: rename directory over %v/%q", ErrNotDir, dstParent, dstName)
			case !src.IsDir() && dst.IsDir():
				return fmt.Errorf("%w: rename over directory %v/%q", ErrIsDir, dstParent, dstName)
			case dst.IsDir() && o.t.HasDirents(dd.FID):
				return fmt.Errorf("%w: %v/%q", ErrNotEmpty, dstParent, dstName)
			}
		}
		if src.IsDir() && moved && !(exists && dst.IsDir()) && dp.Nlink >= MaxLink {
			return fmt.Errorf("%w: directory %v", ErrTooManyLinks, dstParent)
		}
		if exists {
			v, err := o.dropName(dd.FID, dstParent, dstName)
			if err != nil {
				return err
			}
			out.Victim = &v
		}
		if err := o.t.DeleteDirent(srcParent, srcName); err != nil {
			return err
		}
		if err := o.t.PutDirent(dstParent, dstName, sd); err != nil {
			return err
		}
		if err := o.relink(sd.FID, srcParent, srcName, dstParent, dstName); err != nil {
			return err
		}
		if src.IsDir() && moved {
			sp.Nlink--
			dp.Nlink++
		}
		o.touch(srcParent, true)
		o.touch(dstParent, true)
		return o.flush()
	})
	return out, tn, err
}

// canMoveDir checks that directory f may move under newParent: not into
// its own subtree, and (its ".." changes) the caller may write it.
func (o *op) canMoveDir(c Creds, f wire.FID, ino *store.Inode, newParent wire.FID) error {
	inside, err := o.isAncestor(f, newParent)
	if err != nil {
		return err
	}
	if inside {
		return fmt.Errorf("%w: move %v into its own subtree", ErrInvalid, f)
	}
	if !permitted(c, ino, mayWrite) {
		return fmt.Errorf("%w: move directory %v", ErrAccess, f)
	}
	return nil
}

// isAncestor reports whether anc is d or one of d's ancestors.
func (o *op) isAncestor(anc, d wire.FID) (bool, error) {
	for range maxDepth {
		if d == anc {
			return true, nil
		}
		up := o.dotdot(d)
		if up == d {
			return false, nil
		}
		d = up
	}
	return false, fmt.Errorf("%w: directory tree deeper than %d", ErrLoop, maxDepth)
}

// relink moves f's link entry from one name to another and updates its
// ctime.
func (o *op) relink(f, fromParent wire.FID, fromName string, toParent wire.FID, toName string) error {
	if err := o.t.RemoveLink(f, fromParent, fromName); err != nil {
		return err
	}
	if err := o.t.AddLink(f, toParent, toName); err != nil {
		return err
	}
	o.touch(f, false)
	return nil
}

// exchange swaps two existing names (RENAME_EXCHANGE).
func (o *op) exchange(sp wire.FID, sn string, sd store.Dirent, dp wire.FID, dn string, dd store.Dirent) error {
	if err := o.t.PutDirent(sp, sn, dd); err != nil {
		return err
	}
	if err := o.t.PutDirent(dp, dn, sd); err != nil {
		return err
	}
	if err := o.relink(sd.FID, sp, sn, dp, dn); err != nil {
		return err
	}
	if err := o.relink(dd.FID, dp, dn, sp, sn); err != nil {
		return err
	}
	if sp != dp {
		if o.cache[sd.FID].IsDir() {
			o.cache[sp].Nlink--
			o.cache[dp].Nlink++
		}
		if o.cache[dd.FID].IsDir() {
			o.cache[dp].Nlink--
			o.cache[sp].Nlink++
		}
	}
	o.touch(sp, true)
	o.touch(dp, true)
	return o.flush()
}

// xdev turns "on another MDT" into EXDEV for operations that must stay on
// one MDT.
func xdev(err error) error {
	if isRemote(err) {
		return fmt.Errorf("%w: %v", ErrCrossDevice, err)
	}
	return err
}
