// Command stria-mgs is Stria's management server: `stria-mgs format` makes
// an MGS directory (as mkfs.lustre --mgs) and `stria-mgs start` serves it
// until SIGTERM.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "stria-mgs:", err)
		os.Exit(1)
	}
}
