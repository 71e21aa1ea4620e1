package fusefs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/stria-fs/stria/wire"
)

// fillAttr converts the backend's attributes of fid into the kernel's.
// st_blksize is the mount's MaxWrite (1 MiB), so that stdio and cp move
// data in whole RPCs, as Lustre reports its stripe-sized I/O block.
func (fsys *fileSystem) fillAttr(fid wire.FID, a *wire.Attr, out *fuse.Attr) {
	out.Ino = fid.Ino()
	out.Size = a.Size
	out.Blocks = a.Blocks
	out.Atime, out.Atimensec = splitNs(a.Atime)
	out.Mtime, out.Mtimensec = splitNs(a.Mtime)
	out.Ctime, out.Ctimensec = splitNs(a.Ctime)
	out.Mode = a.Mode
	out.Nlink = a.Nlink
	out.Uid = a.UID
	out.Gid = a.GID
	out.Rdev = a.Rdev
	out.Blksize = uint32(fsys.opts.MaxWrite)
}

// splitNs splits nanoseconds since the epoch into seconds and nanoseconds
// (floored, so times before 1970 keep 0 <= nsec < 1e9).
func splitNs(ns int64) (uint64, uint32) {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return uint64(sec), uint32(nsec)
}

// setAttrIn converts a SETATTR request into the attributes to change.
// UTIME_NOW arrives as FATTR_ATIME|FATTR_ATIME_NOW and becomes
// AttrAtime|AttrAtimeNow (likewise mtime). The file handle, lock owner and
// ctime are not forwarded: the server sets ctime itself.
func setAttrIn(in *fuse.SetAttrIn) wire.Attr {
	var a wire.Attr
	if m, ok := in.GetMode(); ok {
		a.Valid |= wire.AttrMode
		a.Mode = m
	}
	if u, ok := in.GetUID(); ok {
		a.Valid |= wire.AttrUID
		a.UID = u
	}
	if g, ok := in.GetGID(); ok {
		a.Valid |= wire.AttrGID
		a.GID = g
	}
	if s, ok := in.GetSize(); ok {
		a.Valid |= wire.AttrSize
		a.Size = s
	}
	if in.Valid&fuse.FATTR_ATIME != 0 {
		a.Valid |= wire.AttrAtime
		if in.Valid&fuse.FATTR_ATIME_NOW != 0 {
			a.Valid |= wire.AttrAtimeNow
		} else {
			a.Atime = int64(in.Atime)*1e9 + int64(in.Atimensec)
		}
	}
	if in.Valid&fuse.FATTR_MTIME != 0 {
		a.Valid |= wire.AttrMtime
		if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
			a.Valid |= wire.AttrMtimeNow
		} else {
			a.Mtime = int64(in.Mtime)*1e9 + int64(in.Mtimensec)
		}
	}
	return a
}

// fileType returns the S_IFMT bits of mode, for fs.StableAttr.
func fileType(mode uint32) uint32 { return mode & syscall.S_IFMT }
