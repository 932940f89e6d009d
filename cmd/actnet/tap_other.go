//go:build !linux

package main

import (
	"errors"
	"net"

	"github.com/actnet/actnet/device"
)

func openTap(string, int, net.HardwareAddr, bool) (device.Device, error) {
	return nil, errors.New("tap devices are only supported on Linux")
}
