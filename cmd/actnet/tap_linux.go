//go:build linux

package main

import (
	"net"

	"github.com/actnet/actnet/device"
)

func openTap(name string, mtu int, mac net.HardwareAddr, offload bool) (device.Device, error) {
	return device.OpenTap(device.TapConfig{Name: name, MTU: mtu, MAC: mac, BringUp: true, Offload: offload})
}
