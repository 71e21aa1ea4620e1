// Command lctl administers Stria's network layer, parameters and devices.
package main

import (
	"fmt"
	"os"

	"github.com/stria-fs/stria/tools/lctl"
)

func main() {
	if err := lctl.NewCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "lctl:", err)
		os.Exit(1)
	}
}
