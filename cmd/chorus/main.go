// Command chorus is the one binary of Chorus: it runs every node role and
// every administrative task. The commands here are thin: they parse flags
// and call into internal packages, which hold all the logic.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
