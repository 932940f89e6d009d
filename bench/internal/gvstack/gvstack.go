// Package gvstack builds the gVisor netstack both gVisor benchmarks use
// (the tap server and the in-process pair), so that they are configured
// the same way: IPv4 with ARP (and IPv6 with neighbour discovery when
// given an IPv6 address), TCP with SACK and receive-buffer moderation
// on, as gVisor's own runsc enables them, and Nagle off, as Go's net
// package leaves its sockets.
package gvstack

import (
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// NICID is the one NIC each benchmark stack has.
const NICID tcpip.NICID = 1

// New returns a stack with link as its only NIC, addressed with each of
// prefixes. The IPv6 protocol (with neighbour discovery, as
// ipv6.NewProtocol configures it) is there only when one of them is IPv6.
func New(link stack.LinkEndpoint, prefixes ...netip.Prefix) (*stack.Stack, error) {
	protos := []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol}
	for _, p := range prefixes {
		if !p.Addr().Is4() {
			protos = append(protos, ipv6.NewProtocol)
			break
		}
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   protos,
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
	var routes []tcpip.Route
	for _, prefix := range prefixes {
		pa := tcpip.ProtocolAddress{
			Protocol:          Protocol(prefix.Addr()),
			AddressWithPrefix: tcpip.AddressWithPrefix{Address: Addr(prefix.Addr()), PrefixLen: prefix.Bits()},
		}
		if err := s.AddProtocolAddress(NICID, pa, stack.AddressProperties{}); err != nil {
			s.Close()
			return nil, fmt.Errorf("gvisor: adding %s: %s", prefix, err)
		}
		routes = append(routes, tcpip.Route{Destination: pa.AddressWithPrefix.Subnet(), NIC: NICID})
	}
	s.SetRouteTable(routes)
	return s, nil
}

// Addr is addr in gVisor's form.
func Addr(addr netip.Addr) tcpip.Address {
	if addr.Is4() {
		return tcpip.AddrFrom4(addr.As4())
	}
	return tcpip.AddrFrom16(addr.As16())
}

// Protocol is the network protocol of addr, for gonet's Dial and Listen.
func Protocol(addr netip.Addr) tcpip.NetworkProtocolNumber {
	if addr.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

// FullAddress is addr:port on the benchmark NIC, for gonet's Dial and
// Listen.
func FullAddress(addr netip.Addr, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: NICID, Addr: Addr(addr), Port: port}
}
