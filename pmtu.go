package actnet

import "net/netip"

// PathMTU returns the MTU the stack uses for IPv4 packets to dst: the link
// MTU, or less after a router reported a smaller one with ICMP
// fragmentation needed (RFC 1191). Estimates expire after 10 minutes.
//
// For an IPv6 dst it is the MTU from Packet Too Big reports (RFC 8201),
// never below 1280, or 0 when IPv6 is off.
func (s *Stack) PathMTU(dst netip.Addr) int {
	out, ok := s.run.Env.Out.For(dst.Unmap())
	if !ok {
		return 0
	}
	return out.PathMTU(dst.Unmap())
}
