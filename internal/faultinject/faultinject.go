// Package faultinject lets actnet's own tests inject faults into a running
// stack: a panic in a layer actor's packet handler, on packets the test
// picks. Production code only reads the hook, which is nil unless a test
// set it; being internal, it is out of reach of the module's users.
package faultinject

import "sync/atomic"

// PacketFault is called by every supervisor.PacketGuard before its layer
// handles a packet, inside the guard, with the layer's name and the
// packet's bytes (read-only). A panic it raises is a crash of that layer
// on that packet.
type PacketFault func(layer string, packet []byte)

var packetFault atomic.Pointer[PacketFault]

// SetPacketFault installs f for every stack in the process (nil removes
// it) and returns a function that restores the previous hook. Tests that
// use it must not run in parallel with other tests of their package.
func SetPacketFault(f PacketFault) (restore func()) {
	var p *PacketFault
	if f != nil {
		p = &f
	}
	old := packetFault.Swap(p)
	return func() { packetFault.Store(old) }
}

// Packet runs the installed hook, if any, for one packet of layer.
func Packet(layer string, packet []byte) {
	if f := packetFault.Load(); f != nil {
		(*f)(layer, packet)
	}
}
