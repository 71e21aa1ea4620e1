// Package lfs is Stria's lfs, the client utility, as a cobra command tree
// (cmd/lfs is its thin main): setstripe, getstripe, df, path2fid and
// fid2path, with Lustre's syntax, output formats and exit statuses, so
// that admins' scripts keep working.
//
// # How lfs reaches the file system
//
// lfs talks to no server. Everything goes through the Stria client that
// holds the mount, in two ways (the FS interface; SysFS is the real one,
// tests use a fake):
//
//   - Virtual extended attributes on paths in the FUSE mount, as Lustre's
//     own lustre.lov:
//     XattrLOV ("lustre.lov") is a file's layout (layout.Encode) or a
//     directory's default template (ENODATA when it has none; the root's
//     template is the file system default). setstripe on a directory
//     sets it; setstripe -d removes it. setstripe on a new path mknods a
//     regular file (S_IFREG|0666, umask applied) that has no objects yet,
//     then sets XattrLOV to the template, which makes the MDT instantiate
//     the layout; if that fails the file is unlinked again.
//     XattrFID ("lustre.fid") is "[seq:oid:ver]"; XattrLink
//     ("lustre.link") is one "[parent fid]/name" line per link.
//   - The control socket of the client process (package obd), which
//     answers CmdMount (its mount point), CmdDf (a JSON array of Target,
//     MDTs then OSTs) and CmdFid2Path (FID [LINKNO] -> paths relative to
//     the mount root, one per line). lfs picks the client whose mount
//     point holds the absolute, symlink-resolved path, the deepest one
//     when mounts nest.
//
// # Checking before touching
//
// setstripe parses the whole command line itself (its -E groups are
// positional: the options after each -E belong to that component, which
// pflag cannot express), checks every value and builds the template with
// layout.Template before any system call, so a bad command line changes
// nothing. What only the MDT knows (more stripes than OSTs, an unknown
// pool or OST index) comes back as EINVAL from the xattr, and the new
// file is removed again.
//
// # Output
//
// getstripe follows liblustreapi's lov_dump_* functions field by field:
// a bit set (verbose) says which fields print, a field prints with its
// label unless it is the only one asked for, directory templates print on
// one line without the lmm_ prefix and show unset values as the file
// system default (-R: as stored), and a blank line ends each stripe set
// except in YAML. The golden files in testdata/ pin every format,
// including the spec's worked examples; `go test -update` rewrites them.
// df follows lfs's showdf/mntdf (20-column UUID, 11-column numbers,
// 1024- or 1000-based cooking with one decimal).
//
// # Errors and exit status
//
// Commands return errors whose text is the line lfs prints; Report prints
// it (unless the command already printed its per-path messages) and
// returns the exit status: the errno of the failure as Lustre's lfs does
// (17 EEXIST for setstripe on an existing file), 22 EINVAL for bad usage,
// 1 when a client command failed without an errno. Nothing here calls
// os.Exit.
package lfs
