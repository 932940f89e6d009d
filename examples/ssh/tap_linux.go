//go:build linux

package main

import "github.com/actnet/actnet/device"

func openTap(name string) (device.Device, error) {
	return device.OpenTap(device.TapConfig{Name: name, BringUp: true})
}
