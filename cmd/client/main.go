// Command stria-client mounts Stria file systems through FUSE:
//
//	stria-client mount [-o OPTIONS] MGSNID:/FSNAME MOUNTPOINT
//	stria-client umount MOUNTPOINT
//
// Installed (or linked) as /sbin/mount.stria it is mount(8)'s helper for
// `mount -t stria MGSNID:/FSNAME MOUNTPOINT`.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	var err error
	prog := "stria-client"
	if filepath.Base(os.Args[0]) == helperName {
		prog = helperName
		err = mountHelper(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	} else {
		err = newCommand().Execute()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}
