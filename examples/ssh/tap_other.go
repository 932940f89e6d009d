//go:build !linux

package main

import (
	"errors"

	"github.com/actnet/actnet/device"
)

func openTap(string) (device.Device, error) {
	return nil, errors.New("tap devices are only supported on Linux")
}
