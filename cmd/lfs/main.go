// Command lfs is Stria's client utility: file layouts (setstripe,
// getstripe), space usage (df) and FIDs (path2fid, fid2path).
package main

import (
	"os"

	"github.com/stria-fs/stria/tools/lfs"
)

func main() {
	cmd := lfs.NewCommand()
	os.Exit(lfs.Report(cmd.ErrOrStderr(), cmd.Execute()))
}
