package osd

import (
	"context"
	"fmt"

	"github.com/stria-fs/stria/wire"
	"golang.org/x/sys/unix"
)

// initAttr stores a new object's attributes. In AttrsFile mode the sidecar
// is always created, so its directory entry is made durable with the
// object's; in xattr mode an object without stored fields has no xattr.
func (d *Dir) initAttr(fd int, fid wire.FID, a Attr) error {
	if d.xattr {
		if a.Valid&SetMask == 0 {
			return nil
		}
		return pathErr("setxattr", fid, unix.Fsetxattr(fd, xattrName, encodeAttr(nil, a), 0))
	}
	sfd, err := unix.Openat(d.root, objectName(fid)+attrSuffix, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return pathErr("create", fid, err)
	}
	defer unix.Close(sfd)
	return d.writeSidecar(sfd, fid, a)
}

func (d *Dir) writeSidecar(sfd int, fid wire.FID, a Attr) error {
	if a.Valid&SetMask == 0 {
		return nil
	}
	_, err := pwriteFull(sfd, fid, encodeAttr(nil, a), 0)
	return err
}

// readAttr returns the stored fields of fid; an object that never had any
// set has none.
func (d *Dir) readAttr(fd int, fid wire.FID) (Attr, error) {
	var buf [attrRecordSize + 1]byte
	var n int
	var err error
	if d.xattr {
		n, err = unix.Fgetxattr(fd, xattrName, buf[:])
		if err == unix.ENODATA {
			return Attr{}, nil
		}
		if err != nil {
			return Attr{}, pathErr("getxattr", fid, err)
		}
	} else {
		sfd, err := unix.Openat(d.root, objectName(fid)+attrSuffix, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT {
			return Attr{}, nil
		}
		if err != nil {
			return Attr{}, pathErr("open", fid, err)
		}
		n, err = unix.Pread(sfd, buf[:], 0)
		unix.Close(sfd)
		if err != nil {
			return Attr{}, pathErr("read", fid, err)
		}
		if n == 0 {
			return Attr{}, nil
		}
	}
	a, err := decodeAttr(buf[:n])
	if err != nil {
		return Attr{}, fmt.Errorf("%v: %w", fid, err)
	}
	return a, nil
}

// writeAttr replaces fid's stored fields.
func (d *Dir) writeAttr(fd int, fid wire.FID, a Attr) error {
	if d.xattr {
		return pathErr("setxattr", fid, unix.Fsetxattr(fd, xattrName, encodeAttr(nil, a), 0))
	}
	name := objectName(fid) + attrSuffix
	sfd, err := unix.Openat(d.root, name, unix.O_RDWR|unix.O_CLOEXEC, 0)
	created := false
	if err == unix.ENOENT {
		sfd, err = unix.Openat(d.root, name, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		created = true
	}
	if err != nil {
		return pathErr("open", fid, err)
	}
	defer unix.Close(sfd)
	if err := d.writeSidecar(sfd, fid, a); err != nil {
		return err
	}
	if created {
		return syncDir(d.fanPath(fid))
	}
	return nil
}

// GetAttr implements Store.
func (d *Dir) GetAttr(ctx context.Context, fid wire.FID) (Attr, error) {
	if err := d.begin(ctx); err != nil {
		return Attr{}, err
	}
	defer d.end()
	e, unmade, err := d.openRead(fid)
	if unmade {
		return Attr{}, nil // an empty object, no stored fields
	}
	if err != nil {
		return Attr{}, err
	}
	defer d.fds.release(e)
	a, err := d.readAttr(e.fd, fid)
	if err != nil {
		return Attr{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(e.fd, &st); err != nil {
		return Attr{}, pathErr("stat", fid, err)
	}
	a.Size, a.Blocks = st.Size, st.Blocks
	return a, nil
}

// SetAttr implements Store.
func (d *Dir) SetAttr(ctx context.Context, fid wire.FID, a Attr, mask AttrMask) error {
	if err := checkMask(a, mask); err != nil {
		return err
	}
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	e, err := d.openMade(fid)
	if err != nil {
		return err
	}
	defer d.fds.release(e)
	if mask&AttrSize != 0 {
		err := d.accounted(fid, e.fd, 0, 0, func() error {
			return pathErr("truncate", fid, unix.Ftruncate(e.fd, a.Size))
		})
		if err != nil {
			return err
		}
	}
	if mask&SetMask == 0 {
		return nil
	}
	if d.space != nil {
		return d.accounted(fid, e.fd, 0, 0, func() error { return d.setAttr(e.fd, fid, a, mask, false) })
	}
	return d.setAttr(e.fd, fid, a, mask, true)
}

// setAttr is the read-modify-write of the stored fields, under the
// object's lock unless the caller holds it.
func (d *Dir) setAttr(fd int, fid wire.FID, a Attr, mask AttrMask, lock bool) error {
	if lock {
		mu := d.lockFor(fid)
		mu.Lock()
		defer mu.Unlock()
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return pathErr("stat", fid, err)
	}
	if st.Nlink == 0 {
		return fmt.Errorf("%w: %v", ErrNotFound, fid)
	}
	cur, err := d.readAttr(fd, fid)
	if err != nil {
		return err
	}
	before := cur
	applyAttr(&cur, a, mask)
	if cur == before {
		return nil // times that did not move forward: nothing to write
	}
	return d.writeAttr(fd, fid, cur)
}

// SyncObject implements Store: fsync of the object file (data, size and
// xattr) and of its sidecar. Concurrent calls on one object share their
// fsyncs (syncGroup): each is answered by a sync that started after it was
// made.
func (d *Dir) SyncObject(ctx context.Context, fid wire.FID) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	e, unmade, err := d.openRead(fid)
	if unmade {
		return nil // its bit was synced when it was precreated
	}
	if err != nil {
		return err
	}
	defer d.fds.release(e)
	if err := e.syncs.sync(ctx, func() error { return d.syncObject(e.fd, fid) }); err != nil {
		return err
	}
	return d.syncFan(fid) // the entry of a file made since its directory's sync
}

// syncObject fsyncs the object file open as fd and its sidecar.
func (d *Dir) syncObject(fd int, fid wire.FID) error {
	if err := unix.Fsync(fd); err != nil {
		return pathErr("fsync", fid, err)
	}
	if d.xattr {
		return nil
	}
	sfd, err := unix.Openat(d.root, objectName(fid)+attrSuffix, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return pathErr("open", fid, err)
	}
	defer unix.Close(sfd)
	return pathErr("fsync", fid, unix.Fsync(sfd))
}

// Sync implements Store: syncfs of the backing file system, which covers
// every object, sidecar, LAST_ID and directory of the target.
func (d *Dir) Sync(ctx context.Context) error {
	if err := d.begin(ctx); err != nil {
		return err
	}
	defer d.end()
	return mapErrno(unix.Syncfs(d.root))
}
