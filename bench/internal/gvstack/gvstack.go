// Package gvstack builds the gVisor netstack both gVisor benchmarks use
// (the tap server and the in-process pair), so that they are configured
// the same way: IPv4 with ARP, TCP with SACK and receive-buffer moderation
// on, as gVisor's own runsc enables them, and Nagle off, as Go's net
// package leaves its sockets.
package gvstack

import (
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// NICID is the one NIC each benchmark stack has.
const NICID tcpip.NICID = 1

// New returns a stack with link as its only NIC, addressed prefix.
func New(link stack.LinkEndpoint, prefix netip.Prefix) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	delay := tcpip.TCPDelayEnabled(false)
	for _, opt := range []tcpip.SettableTransportProtocolOption{&sack, &moderate, &delay} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			s.Close()
			return nil, fmt.Errorf("gvisor: setting %T: %s", opt, err)
		}
	}
	if err := s.CreateNIC(NICID, link); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor: creating the NIC: %s", err)
	}
	addr := tcpip.AddrFrom4(prefix.Addr().As4())
	pa := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr, PrefixLen: prefix.Bits()},
	}
	if err := s.AddProtocolAddress(NICID, pa, stack.AddressProperties{}); err != nil {
		s.Close()
		return nil, fmt.Errorf("gvisor: adding %s: %s", prefix, err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: pa.AddressWithPrefix.Subnet(), NIC: NICID}})
	return s, nil
}

// FullAddress is addr:port on the benchmark NIC, for gonet's Dial and
// Listen.
func FullAddress(addr netip.Addr, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: NICID, Addr: tcpip.AddrFrom4(addr.As4()), Port: port}
}
