//go:build !(tamago && amd64)

package main

import (
	"fmt"
	"os"
)

// On any other target the guest only says how to build it.
func main() {
	fmt.Fprintln(os.Stderr, "actnet-hvt runs only as a Solo5 hvt guest: build it with the tamago-go compiler, make hvt TAMAGO=/path/to/tamago-go/bin/go, and boot bin/actnet.hvt with solo5-hvt (README, \"Running as a unikernel\")")
	os.Exit(2)
}
