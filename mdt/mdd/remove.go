package mdd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// Removed describes what became of an inode that lost a name (unlink,
// rmdir, the victim of a rename) or was closed.
type Removed struct {
	// Attr is the inode as it was left (Nlink after the removal).
	Attr Attr
	// Orphan: the last name went while the inode was open; it is kept
	// until its last close (or the orphan sweep after a restart).
	Orphan bool
	// Destroyed: the inode is gone. Layout then holds its lustre.lov blob
	// (nil if it had none), for the caller to destroy the OST objects.
	Destroyed bool
	Layout    []byte
}

// Unlink removes the name name of a non-directory from parent.
func (m *MDD) Unlink(ctx context.Context, c Creds, parent wire.FID, name string) (Removed, uint64, error) {
	return m.remove(ctx, c, parent, name, false)
}

// Rmdir removes the empty directory name from parent.
func (m *MDD) Rmdir(ctx context.Context, c Creds, parent wire.FID, name string) (Removed, uint64, error) {
	return m.remove(ctx, c, parent, name, true)
}

func (m *MDD) remove(ctx context.Context, c Creds, parent wire.FID, name string, dir bool) (Removed, uint64, error) {
	if err := checkName(name); err != nil {
		return Removed{}, 0, err
	}
	var out Removed
	tn, err := m.update(ctx, func(o *op) error {
		p, err := o.dir(parent)
		if err != nil {
			return err
		}
		if !permitted(c, p, mayWrite|mayExec) {
			return fmt.Errorf("%w: remove from %v", ErrAccess, parent)
		}
		d, err := o.lookup(parent, name)
		if err != nil {
			return err
		}
		ino, err := o.inode(d.FID)
		if isRemote(err) {
			return fmt.Errorf("%w: %v/%q is remote", ErrCrossDevice, parent, name)
		}
		if err != nil {
			return err
		}
		switch {
		case dir && !ino.IsDir():
			return fmt.Errorf("%w: rmdir %v/%q", ErrNotDir, parent, name)
		case !dir && ino.IsDir():
			return fmt.Errorf("%w: unlink %v/%q", ErrIsDir, parent, name)
		case dir && o.t.HasDirents(d.FID):
			return fmt.Errorf("%w: %v/%q", ErrNotEmpty, parent, name)
		case !stickyAllows(c, p, ino):
			return fmt.Errorf("%w: %v/%q in a sticky directory", ErrPerm, parent, name)
		}
		if err := o.t.DeleteDirent(parent, name); err != nil {
			return err
		}
		out, err = o.dropName(d.FID, parent, name)
		if err != nil {
			return err
		}
		o.touch(parent, true)
		return o.flush()
	})
	return out, tn, err
}

// dropName removes the name (parent, name) of f, whose directory entry the
// caller removes or replaces: link entry, link count (a directory loses its
// parent's link too), and at the last name the orphan or destroy decision.
func (o *op) dropName(f, parent wire.FID, name string) (Removed, error) {
	ino := o.cache[f]
	if err := o.t.RemoveLink(f, parent, name); err != nil {
		return Removed{}, err
	}
	if ino.IsDir() {
		ino.Nlink = 0
		o.cache[parent].Nlink--
		o.mark(parent)
	} else {
		ino.Nlink--
	}
	o.touch(f, false)
	if ino.Nlink > 0 {
		return Removed{Attr: o.attr(f)}, nil
	}
	return o.lastName(f)
}

// lastName handles an inode left without a name: kept as an orphan while
// open, destroyed otherwise.
func (o *op) lastName(f wire.FID) (Removed, error) {
	r := Removed{Attr: o.attr(f)}
	if o.m.markOrphan(o.t, f) {
		r.Orphan = true
		return r, o.t.AddOrphan(f, store.Orphan{Time: o.now})
	}
	var err error
	r.Layout, err = o.t.Xattr(f, XattrLOV)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Removed{}, err
	}
	if len(r.Layout) > 0 && o.m.cfg.OnDestroy != nil {
		if err := o.m.cfg.OnDestroy(o.t, f, r.Layout); err != nil {
			return Removed{}, err
		}
	}
	r.Destroyed = true
	o.m.forgetOrphan(o.t, f)
	return r, o.destroy(f)
}

// Open opens inode f with open(2) flags: read permission for O_RDONLY and
// O_RDWR, write permission for O_WRONLY, O_RDWR and O_TRUNC; a directory
// opens read-only only. The open count it takes keeps the inode alive past
// its last unlink until Close. An orphan can be opened by FID (for replay).
// O_TRUNC itself is the caller's SetAttr.
func (m *MDD) Open(ctx context.Context, c Creds, f wire.FID, flags int) (Attr, error) {
	var out Attr
	_, err := m.update(ctx, func(o *op) error {
		ino, err := o.inode(f)
		if err != nil {
			return err
		}
		var want uint32
		switch flags & (os.O_WRONLY | os.O_RDWR) {
		case os.O_RDONLY:
			want = mayRead
		case os.O_WRONLY:
			want = mayWrite
		default:
			want = mayRead | mayWrite
		}
		if flags&os.O_TRUNC != 0 {
			want |= mayWrite
		}
		if ino.IsDir() && want&mayWrite != 0 {
			return fmt.Errorf("%w: open %v for writing", ErrIsDir, f)
		}
		if !permitted(c, ino, want) {
			return fmt.Errorf("%w: open %v", ErrAccess, f)
		}
		m.addOpen(o.t, f, 1)
		out = o.attr(f)
		return nil
	})
	return out, err
}

// Close drops one open handle of f. The last close of an orphan destroys
// it (Removed.Destroyed, with its layout); only then does Close write, and
// return a transno. Any other close is a change of the in-memory open
// count only and waits for no group commit (closeLinked).
func (m *MDD) Close(ctx context.Context, f wire.FID) (Removed, uint64, error) {
	if m.closeLinked(f) {
		return Removed{}, 0, nil
	}
	var out Removed
	tn, err := m.update(ctx, func(o *op) error {
		out = Removed{}
		if m.OpenCount(f) == 0 {
			return fmt.Errorf("%w: close of %v", ErrBadHandle, f)
		}
		m.addOpen(o.t, f, -1)
		if m.OpenCount(f) > 0 || !o.t.IsOrphan(f) {
			return nil
		}
		if _, err := o.inode(f); err != nil {
			return err
		}
		var err error
		out, err = o.lastName(f)
		return err
	})
	return out, tn, err
}

// SweepOrphans destroys the orphans nobody holds open: after a restart,
// every orphan of the previous run once recovery (replayed opens) is over.
// It returns what it destroyed, for the caller to destroy OST objects.
func (m *MDD) SweepOrphans(ctx context.Context) ([]Removed, uint64, error) {
	m.sweepM.Lock()
	defer m.sweepM.Unlock()
	var out []Removed
	tn, err := m.update(ctx, func(o *op) error {
		out = out[:0]
		var orphans []wire.FID
		if err := o.t.Orphans(func(f wire.FID, _ store.Orphan) bool {
			if m.OpenCount(f) == 0 {
				orphans = append(orphans, f)
			}
			return true
		}); err != nil {
			return err
		}
		for _, f := range orphans {
			if _, err := o.inode(f); err != nil {
				return err
			}
			r, err := o.lastName(f)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	m.swept = true
	m.mu.Unlock()
	if len(out) > 0 {
		m.log.Info("swept orphans", zap.String("target", m.Label().Name()), zap.Int("count", len(out)))
	}
	return out, tn, nil
}
