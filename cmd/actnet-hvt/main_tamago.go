//go:build tamago && amd64

package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/actnet/actnet/device/hvt"
)

func main() {
	cfg, err := parseConfig(hvt.Cmdline(), os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Printf("actnet-hvt: %v\n", err)
		os.Exit(2)
	}
	dev, err := hvt.OpenNet(cfg.net)
	if err != nil {
		fmt.Printf("actnet-hvt: %v (start the guest with solo5-hvt --net:%s=TAP)\n", err, cfg.net)
		os.Exit(1)
	}
	os.Exit(runGuest(dev, cfg, os.Stdout))
}
