package mdd

import (
	"context"
	"errors"
	"fmt"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// Layout xattrs. Their values are opaque here (package layout encodes them).
const (
	// XattrLOV holds a file's layout; setting it bumps Inode.LayoutGen.
	XattrLOV = "lustre.lov"
	// XattrDefaultLOV holds a directory's default layout; Mkdir copies it
	// from the parent into the new directory.
	XattrDefaultLOV = "lustre.lov.default"
)

// CreateArgs describe a new inode.
type CreateArgs struct {
	// Mode holds the permission bits (the client applied its umask). Create
	// and Mkdir ignore type bits; Mknod needs them; Symlink forces 0777.
	Mode uint32
	// FID is the FID the client allocated from its sequence, as Lustre
	// clients do (stable across replay); zero lets the MDT allocate one.
	FID wire.FID
	// Layout is the lustre.lov blob of a new regular file, from the layout
	// and OST-allocation code; nil creates the file without one.
	Layout []byte
	// Rdev is the device number of a character or block device.
	Rdev uint64
	// Open also opens the new inode in the same operation (open(O_CREAT)),
	// without a permission check, as POSIX has for the creating open.
	Open bool
	// OnCreated, if set, is called with the new inode's FID once the create
	// ran, under the store's apply token: before any later operation
	// of the store (an open of the new inode included) runs.
	OnCreated func(f wire.FID)
	// Early answers once the create ran, before it is committed
	// (store.Apply): for an open(O_CREAT) whose client keeps the request
	// for replay with the FID and layout of the reply.
	Early bool
}

// Create makes a regular file name in directory parent.
func (m *MDD) Create(ctx context.Context, c Creds, parent wire.FID, name string, a CreateArgs) (Attr, uint64, error) {
	return m.create(ctx, c, parent, name, store.TypeReg|a.Mode&modePerm, "", a)
}

// Mkdir makes a directory name in parent.
func (m *MDD) Mkdir(ctx context.Context, c Creds, parent wire.FID, name string, a CreateArgs) (Attr, uint64, error) {
	return m.create(ctx, c, parent, name, store.TypeDir|a.Mode&modePerm, "", a)
}

// Mknod makes a FIFO, socket, character or block device (or a regular
// file) name in parent; a.Mode carries the type. Devices need root.
func (m *MDD) Mknod(ctx context.Context, c Creds, parent wire.FID, name string, a CreateArgs) (Attr, uint64, error) {
	switch a.Mode & store.TypeMask {
	case store.TypeFIFO, store.TypeSock, store.TypeReg:
	case store.TypeChar, store.TypeBlock:
		if !c.IsRoot() {
			return Attr{}, 0, fmt.Errorf("%w: mknod of a device", ErrPerm)
		}
	case 0:
		a.Mode |= store.TypeReg
	default:
		return Attr{}, 0, fmt.Errorf("%w: mknod of type %#o", ErrInvalid, a.Mode&store.TypeMask)
	}
	return m.create(ctx, c, parent, name, a.Mode&(store.TypeMask|modePerm), "", a)
}

// Symlink makes a symbolic link name in parent pointing at target.
func (m *MDD) Symlink(ctx context.Context, c Creds, parent wire.FID, name, target string, a CreateArgs) (Attr, uint64, error) {
	switch {
	case target == "":
		return Attr{}, 0, fmt.Errorf("%w: empty symlink target", ErrNotFound)
	case len(target) > MaxSymlinkLen:
		return Attr{}, 0, fmt.Errorf("%w: symlink target of %d bytes", ErrNameTooLong, len(target))
	}
	return m.create(ctx, c, parent, name, store.TypeLink|0o777, target, a)
}

func (m *MDD) create(ctx context.Context, c Creds, parent wire.FID, name string, mode uint32, target string, a CreateArgs) (Attr, uint64, error) {
	if err := checkName(name); err != nil {
		return Attr{}, 0, err
	}
	var out Attr
	run := m.update
	if a.Early {
		run = m.apply
	}
	tn, err := run(ctx, func(o *op) error {
		p, err := o.dir(parent)
		if err != nil {
			return err
		}
		// As Linux: searching the parent needs x; an existing name is
		// EEXIST before the w check (open(O_CREAT|O_EXCL), mkdir and mknod
		// of an existing name in a read-only directory).
		if !permitted(c, p, mayExec) {
			return fmt.Errorf("%w: create in %v", ErrAccess, parent)
		}
		if _, err := o.lookup(parent, name); err == nil {
			return fmt.Errorf("%w: %v/%q", ErrExist, parent, name)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if !permitted(c, p, mayWrite|mayExec) {
			return fmt.Errorf("%w: create in %v", ErrAccess, parent)
		}
		isDir := mode&store.TypeMask == store.TypeDir
		if isDir && p.Nlink >= MaxLink {
			return fmt.Errorf("%w: directory %v", ErrTooManyLinks, parent)
		}
		f, err := o.newFID(a.FID)
		if err != nil {
			return err
		}
		ino := &store.Inode{Mode: mode, UID: c.UID, GID: c.GID, Nlink: 1,
			Atime: o.now, Mtime: o.now, Ctime: o.now, Btime: o.now}
		if p.Mode&modeSetGID != 0 { // BSD group semantics in a setgid directory
			ino.GID = p.GID
			if isDir {
				ino.Mode |= modeSetGID
			}
		}
		if !isDir && ino.Mode&modeSetGID != 0 && !c.IsRoot() && !c.inGroup(ino.GID) {
			ino.Mode &^= modeSetGID
		}
		switch ino.Type() {
		case store.TypeDir:
			ino.Nlink, ino.Size = 2, DirSize
			p.Nlink++
		case store.TypeLink:
			ino.Size = uint64(len(target))
			if err := o.t.PutSymlink(f, target); err != nil {
				return err
			}
		case store.TypeChar, store.TypeBlock:
			ino.Rdev = a.Rdev
		}
		if len(a.Layout) > 0 && ino.Type() == store.TypeReg {
			if err := o.t.SetXattr(f, XattrLOV, a.Layout); err != nil {
				return err
			}
			if err := o.m.onLayout(o.t, f, a.Layout); err != nil {
				return err
			}
			ino.LayoutGen = 1
		}
		if isDir && parent != wire.RootFID { // the root default is inherited at runtime, never copied
			if def, err := o.t.Xattr(parent, XattrDefaultLOV); err == nil {
				if err := o.t.SetXattr(f, XattrDefaultLOV, def); err != nil {
					return err
				}
			}
		}
		o.put(f, ino)
		if err := o.t.PutDirent(parent, name, store.Dirent{FID: f, Type: store.DirentType(ino.Mode)}); err != nil {
			return err
		}
		if err := o.t.AddLink(f, parent, name); err != nil {
			return err
		}
		o.touch(parent, true)
		if err := o.flush(); err != nil {
			return err
		}
		if a.Open {
			m.addOpen(o.t, f, 1)
		}
		if a.OnCreated != nil {
			o.t.OnApply(func() { a.OnCreated(f) })
		}
		out = o.attr(f)
		return nil
	})
	return out, tn, err
}

// newFID checks a client-chosen FID or allocates one.
func (o *op) newFID(f wire.FID) (wire.FID, error) {
	if f.IsZero() {
		return o.t.AllocFID()
	}
	if o.t.HasInode(f) {
		return wire.FID{}, fmt.Errorf("%w: FID %v in use", ErrExist, f)
	}
	if r, err := o.t.FLDLookup(f.Seq); err == nil && (r.Type != store.FLDMDT || r.Index != o.m.index) {
		return wire.FID{}, fmt.Errorf("%w: FID %v belongs to another target", ErrInvalid, f)
	}
	if f.Seq < wire.SeqNormalStart {
		return wire.FID{}, fmt.Errorf("%w: FID %v in a reserved sequence", ErrInvalid, f)
	}
	return f, o.t.ReserveFID(f)
}

// Link gives inode f the new name name in directory parent.
func (m *MDD) Link(ctx context.Context, c Creds, f, parent wire.FID, name string) (Attr, uint64, error) {
	if err := checkName(name); err != nil {
		return Attr{}, 0, err
	}
	var out Attr
	tn, err := m.update(ctx, func(o *op) error {
		p, err := o.dir(parent)
		if err != nil {
			return err
		}
		ino, err := o.inode(f)
		if isRemote(err) {
			return fmt.Errorf("%w: link %v into %v", ErrCrossDevice, f, parent)
		}
		if err != nil {
			return err
		}
		if !permitted(c, p, mayWrite|mayExec) {
			return fmt.Errorf("%w: link into %v", ErrAccess, parent)
		}
		switch {
		case ino.IsDir():
			return fmt.Errorf("%w: hard link to directory %v", ErrPerm, f)
		case ino.Nlink == 0:
			return fmt.Errorf("%w: %v was unlinked", ErrNotFound, f)
		case ino.Nlink >= MaxLink:
			return fmt.Errorf("%w: %v", ErrTooManyLinks, f)
		}
		if _, err := o.lookup(parent, name); err == nil {
			return fmt.Errorf("%w: %v/%q", ErrExist, parent, name)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := o.t.PutDirent(parent, name, store.Dirent{FID: f, Type: store.DirentType(ino.Mode)}); err != nil {
			return err
		}
		if err := o.t.AddLink(f, parent, name); err != nil {
			return err
		}
		ino.Nlink++
		o.touch(f, false)
		o.touch(parent, true)
		if err := o.flush(); err != nil {
			return err
		}
		out = o.attr(f)
		return nil
	})
	return out, tn, err
}

func isRemote(err error) bool { return errors.Is(err, ErrRemote) }
