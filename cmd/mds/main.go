// Command stria-mds is Stria's metadata server: `stria-mds format` makes an
// MDT directory (as mkfs.lustre --mdt) and `stria-mds start` serves it
// until SIGTERM.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "stria-mds:", err)
		os.Exit(1)
	}
}
