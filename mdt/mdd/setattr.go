package mdd

import (
	"context"
	"fmt"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// SetAttr.Valid bits: which fields to apply.
const (
	SetMode uint32 = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime    // Atime as given (utimes): owner or root
	SetMtime    // Mtime as given: owner or root
	SetCtime    // Ctime as given (clients send theirs); otherwise now
	SetAtimeNow // atime = now (utimes(NULL)): owner, root or write permission
	SetMtimeNow // mtime = now
	SetFlags    // inode flags: owner or root
	SetBlocks   // lazy block count of a regular file
	// SetFromOpen marks a size change through a file opened for writing
	// (ftruncate): no write-permission check.
	SetFromOpen
)

// SetAttrArgs are the attributes to change.
type SetAttrArgs struct {
	Valid               uint32
	Mode                uint32 // permission bits; type bits are ignored
	UID, GID            uint32
	Size, Blocks        uint64
	Atime, Mtime, Ctime int64 // ns since the epoch
	Flags               uint32
}

// SetAttr changes attributes of f under POSIX rules: chmod needs the owner
// (and drops setgid for a caller outside the file's group); chown of the
// uid needs root, of the gid the owner and membership of the new group,
// and clears setuid (and setgid with group-exec) on non-directories; a
// size change applies to regular files only (EISDIR, EINVAL), needs write
// permission unless SetFromOpen, and sets mtime; times to "now" need write
// permission or ownership, given times ownership. ctime becomes now unless
// given. A time both given and "now" (the wire's AttrMtime|AttrMtimeNow,
// what the kernel sends for UTIME_NOW) is now. For a regular file the
// size recorded here is the MDT's lazy size.
func (m *MDD) SetAttr(ctx context.Context, c Creds, f wire.FID, a SetAttrArgs) (Attr, uint64, error) {
	if a.Valid&SetAtimeNow != 0 {
		a.Valid &^= SetAtime
	}
	if a.Valid&SetMtimeNow != 0 {
		a.Valid &^= SetMtime
	}
	var out Attr
	tn, err := m.update(ctx, func(o *op) error {
		ino, err := o.inode(f)
		if err != nil {
			return err
		}
		if a.Valid == 0 {
			out = o.attr(f)
			return nil
		}
		n := *ino
		owner := ownerOrRoot(c, ino)
		if a.Valid&(SetUID|SetGID) != 0 {
			uidChange := a.Valid&SetUID != 0 && a.UID != ino.UID
			gidChange := a.Valid&SetGID != 0 && a.GID != ino.GID
			if uidChange && !c.IsRoot() {
				return fmt.Errorf("%w: chown %v", ErrPerm, f)
			}
			if gidChange && !c.IsRoot() && (c.UID != ino.UID || !c.inGroup(a.GID)) {
				return fmt.Errorf("%w: chgrp %v", ErrPerm, f)
			}
			if a.Valid&SetUID != 0 {
				n.UID = a.UID
			}
			if a.Valid&SetGID != 0 {
				n.GID = a.GID
			}
			if (uidChange || gidChange) && !ino.IsDir() {
				killPriv(&n)
			}
		}
		if a.Valid&SetMode != 0 {
			if !owner {
				return fmt.Errorf("%w: chmod %v", ErrPerm, f)
			}
			n.Mode = ino.Type() | a.Mode&modePerm
			if !c.IsRoot() && !c.inGroup(n.GID) {
				n.Mode &^= modeSetGID
			}
		}
		if a.Valid&SetSize != 0 {
			switch {
			case ino.IsDir():
				return fmt.Errorf("%w: truncate %v", ErrIsDir, f)
			case ino.Type() != store.TypeReg:
				return fmt.Errorf("%w: truncate of a non-regular file %v", ErrInvalid, f)
			case a.Valid&SetFromOpen == 0 && !permitted(c, ino, mayWrite):
				return fmt.Errorf("%w: truncate %v", ErrAccess, f)
			}
			n.Size = a.Size
			if a.Valid&SetMtime == 0 {
				n.Mtime = o.now
			}
			if !c.IsRoot() {
				killPriv(&n)
			}
		}
		if a.Valid&SetBlocks != 0 {
			if ino.Type() != store.TypeReg {
				return fmt.Errorf("%w: blocks of a non-regular file %v", ErrInvalid, f)
			}
			n.Blocks = a.Blocks
		}
		if a.Valid&(SetAtimeNow|SetMtimeNow) != 0 && !owner && !permitted(c, ino, mayWrite) {
			return fmt.Errorf("%w: utimes %v", ErrAccess, f)
		}
		if a.Valid&(SetAtime|SetMtime) != 0 && !owner {
			return fmt.Errorf("%w: utimes %v", ErrPerm, f)
		}
		if a.Valid&SetFlags != 0 {
			if !owner {
				return fmt.Errorf("%w: set flags of %v", ErrPerm, f)
			}
			n.Flags = a.Flags
		}
		switch {
		case a.Valid&SetAtime != 0:
			n.Atime = a.Atime
		case a.Valid&SetAtimeNow != 0:
			n.Atime = o.now
		}
		switch {
		case a.Valid&SetMtime != 0:
			n.Mtime = a.Mtime
		case a.Valid&SetMtimeNow != 0:
			n.Mtime = o.now
		}
		if a.Valid&SetCtime != 0 {
			n.Ctime = a.Ctime
		} else {
			n.Ctime = o.now
		}
		*ino = n
		o.mark(f)
		if err := o.flush(); err != nil {
			return err
		}
		out = o.attr(f)
		return nil
	})
	return out, tn, err
}

// killPriv clears setuid, and setgid when it means "set group id" (group
// exec set) rather than mandatory locking.
func killPriv(ino *store.Inode) {
	ino.Mode &^= modeSetUID
	if ino.Mode&0o010 != 0 {
		ino.Mode &^= modeSetGID
	}
}
