// Command stria-oss is Stria's object storage server: `stria-oss format`
// makes an OST directory (as mkfs.lustre --ost) and `stria-oss start`
// serves one or more OSTs until SIGTERM.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "stria-oss:", err)
		os.Exit(1)
	}
}
