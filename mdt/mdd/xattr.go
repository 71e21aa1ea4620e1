package mdd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stria-fs/stria/mdt/store"
	"github.com/stria-fs/stria/wire"
)

// Extended attribute limits and flags, as Linux.
const (
	MaxXattrName  = 255   // XATTR_NAME_MAX
	MaxXattrValue = 65536 // XATTR_SIZE_MAX
	// XattrCreate fails with EEXIST if the attribute exists.
	XattrCreate = 1
	// XattrReplace fails with ENODATA if the attribute does not exist.
	XattrReplace = 2
)

// xattrNS is the namespace of an attribute name, which sets its rules.
type xattrNS int

const (
	nsUser     xattrNS = iota // user.*: file permissions, regular files and directories only
	nsTrusted                 // trusted.*: root only
	nsSecurity                // security.*: read by all, written by owner or root
	nsLustre                  // lustre.*: read by all (lfs getstripe), written by owner or root
)

// xattrName checks a name and returns its namespace and stored name.
// trusted.lov is Lustre's on-disk name of lustre.lov: both are one
// attribute. Other namespaces (system.* ACLs) are not supported.
func xattrName(name string) (xattrNS, string, error) {
	if name == "" || len(name) > MaxXattrName {
		return 0, "", fmt.Errorf("%w: xattr name of %d bytes", ErrRange, len(name))
	}
	if name == "trusted.lov" {
		return nsLustre, XattrLOV, nil
	}
	prefixes := []struct {
		p  string
		ns xattrNS
	}{{"user.", nsUser}, {"trusted.", nsTrusted}, {"security.", nsSecurity}, {"lustre.", nsLustre}}
	for _, p := range prefixes {
		if strings.HasPrefix(name, p.p) && len(name) > len(p.p) {
			return p.ns, name, nil
		}
	}
	return 0, "", fmt.Errorf("%w: xattr %q", ErrNotSupported, name)
}

// xattrAllowed applies the namespace rules for reading or writing.
func xattrAllowed(c Creds, ino *store.Inode, ns xattrNS, write bool, name string) error {
	switch ns {
	case nsUser:
		if t := ino.Type(); t != store.TypeReg && t != store.TypeDir {
			if write {
				return fmt.Errorf("%w: user xattr %q on a special file", ErrPerm, name)
			}
			return fmt.Errorf("%w: %q", ErrNoData, name)
		}
		want := mayRead
		if write {
			want = mayWrite
		}
		if !permitted(c, ino, want) {
			return fmt.Errorf("%w: xattr %q", ErrAccess, name)
		}
	case nsTrusted:
		if !c.IsRoot() {
			return fmt.Errorf("%w: trusted xattr %q", ErrPerm, name)
		}
	case nsSecurity, nsLustre:
		if write && !ownerOrRoot(c, ino) {
			return fmt.Errorf("%w: xattr %q", ErrPerm, name)
		}
	}
	return nil
}

// GetXattr returns the value of attribute name of f; ENODATA if absent.
// Fitting it into the caller's buffer (ERANGE) is the caller's business.
func (m *MDD) GetXattr(ctx context.Context, c Creds, f wire.FID, name string) ([]byte, error) {
	ns, key, err := xattrName(name)
	if err != nil {
		return nil, err
	}
	var v []byte
	err = m.view(ctx, func(o *op) error {
		ino, err := o.inode(f)
		if err != nil {
			return err
		}
		if err := xattrAllowed(c, ino, ns, false, name); err != nil {
			return err
		}
		v, err = o.t.Xattr(f, key)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %q of %v", ErrNoData, name, f)
		}
		return err
	})
	return v, err
}

// ListXattr returns the attribute names of f; trusted.* only for root.
func (m *MDD) ListXattr(ctx context.Context, c Creds, f wire.FID) ([]string, error) {
	var names []string
	err := m.view(ctx, func(o *op) error {
		names = names[:0]
		if _, err := o.inode(f); err != nil {
			return err
		}
		return o.t.Xattrs(f, func(name string, _ []byte) bool {
			if strings.HasPrefix(name, "trusted.") && !c.IsRoot() {
				return true
			}
			names = append(names, name)
			return true
		})
	})
	return names, err
}

// SetXattr sets attribute name of f. flags: XattrCreate, XattrReplace.
// Setting the layout (lustre.lov) bumps the layout generation.
func (m *MDD) SetXattr(ctx context.Context, c Creds, f wire.FID, name string, value []byte, flags int) (uint64, error) {
	ns, key, err := xattrName(name)
	if err != nil {
		return 0, err
	}
	switch {
	case flags&^(XattrCreate|XattrReplace) != 0 || flags == XattrCreate|XattrReplace:
		return 0, fmt.Errorf("%w: xattr flags %#x", ErrInvalid, flags)
	case len(value) > MaxXattrValue:
		return 0, fmt.Errorf("%w: xattr value of %d bytes", ErrTooBig, len(value))
	}
	return m.update(ctx, func(o *op) error {
		ino, err := o.inode(f)
		if err != nil {
			return err
		}
		if err := xattrAllowed(c, ino, ns, true, name); err != nil {
			return err
		}
		_, err = o.t.Xattr(f, key)
		exists := err == nil
		switch {
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		case flags&XattrCreate != 0 && exists:
			return fmt.Errorf("%w: xattr %q of %v", ErrExist, name, f)
		case flags&XattrReplace != 0 && !exists:
			return fmt.Errorf("%w: xattr %q of %v", ErrNoData, name, f)
		}
		if err := o.t.SetXattr(f, key, value); err != nil {
			return err
		}
		if key == XattrLOV {
			ino.LayoutGen++
			if err := m.onLayout(o.t, f, value); err != nil {
				return err
			}
		}
		o.touch(f, false)
		return o.flush()
	})
}

func (m *MDD) onLayout(t *store.Tx, f wire.FID, layout []byte) error {
	if m.cfg.OnLayout == nil {
		return nil
	}
	return m.cfg.OnLayout(t, f, layout)
}

// RemoveXattr removes attribute name of f; ENODATA if absent.
func (m *MDD) RemoveXattr(ctx context.Context, c Creds, f wire.FID, name string) (uint64, error) {
	ns, key, err := xattrName(name)
	if err != nil {
		return 0, err
	}
	return m.update(ctx, func(o *op) error {
		ino, err := o.inode(f)
		if err != nil {
			return err
		}
		if err := xattrAllowed(c, ino, ns, true, name); err != nil {
			return err
		}
		if err := o.t.RemoveXattr(f, key); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: xattr %q of %v", ErrNoData, name, f)
			}
			return err
		}
		if key == XattrLOV {
			ino.LayoutGen++
		}
		o.touch(f, false)
		return o.flush()
	})
}
