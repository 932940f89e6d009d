package actnet

import "net/netip"

// PathMTU returns the MTU the stack uses for IPv4 packets to dst: the link
// MTU, or less after a router reported a smaller one with ICMP
// fragmentation needed (RFC 1191). Estimates expire after 10 minutes.
func (s *Stack) PathMTU(dst netip.Addr) int { return s.run.Output.PathMTU(dst) }
