package lfs

import (
	"context"
	"io/fs"

	"github.com/stria-fs/stria/wire"
)

// Virtual extended attributes served by the Stria client through the FUSE
// mount (the contract between lfs and client/fusefs).
const (
	// XattrLOV is the layout: on a regular file its layout encoded with
	// layout.Encode; on a directory its default layout template (ENODATA
	// when it has none). Setting it on a directory sets the template,
	// removing it drops the template; setting it on a regular file created
	// by Mknod (no objects yet) makes the MDT instantiate that layout.
	XattrLOV = "lustre.lov"
	// XattrFID is the file's FID as text, "[0x200000401:0x1:0x0]".
	XattrFID = "lustre.fid"
	// XattrLink lists the file's names, one "[parentfid]/name" per line.
	XattrLink = "lustre.link"
)

// Control commands every Stria client process answers on its control
// socket (package obd).
const (
	// CmdMount answers the mount point (an absolute path).
	CmdMount = "mount"
	// CmdDf answers a JSON array of Target, MDTs then OSTs, by index.
	CmdDf = "df"
	// CmdFid2Path takes FID [LINKNO] and answers one path per line,
	// relative to the mount root: every name of the file, or only link
	// LINKNO when given.
	CmdFid2Path = "fid2path"
)

// FS is how lfs reaches mounted Stria file systems: system calls on paths
// in the mount, and the control sockets of the client processes. Errors
// from the path methods are syscall.Errno values (possibly wrapped), so
// that lfs can report them as Lustre's tools do.
type FS interface {
	Getxattr(path, name string) ([]byte, error)
	Setxattr(path, name string, value []byte) error
	Removexattr(path, name string) error
	// Mknod creates a regular file with mode perm (the umask applies)
	// and no layout.
	Mknod(path string, perm uint32) error
	Unlink(path string) error
	// Stat follows symbolic links.
	Stat(path string) (fs.FileMode, error)
	// ReadDir lists a directory, sorted by name, without . and ..
	ReadDir(path string) ([]fs.DirEntry, error)
	// Control returns the client process whose mount holds path.
	Control(ctx context.Context, path string) (Client, error)
	// Clients returns every mounted Stria client, by mount point.
	Clients(ctx context.Context) ([]Client, error)
}

// Client is one Stria client process (one mount).
type Client interface {
	// Mount is the absolute mount point.
	Mount() string
	// Call sends a control command and returns its answer.
	Call(ctx context.Context, cmd string, args ...string) (string, error)
}

// Target is one entry of the CmdDf answer.
type Target struct {
	UUID   string `json:"uuid"`
	Kind   string `json:"kind"` // "MDT" or "OST"
	Index  int    `json:"index"`
	Active bool   `json:"active"`
	// StatFS is the target's usage (wire.StatFS with Go's field names).
	StatFS wire.StatFS `json:"statfs"`
}
