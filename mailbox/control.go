package mailbox

import "net/netip"

// ControlErrorArrived tells a transport that an ICMP error arrived about a
// datagram it sent (RFC 792, RFC 1122 §3.2.2.1 and §4.2.3.9): the ipv4
// actor validated the message and the datagram it quotes (whose source
// must be one of the stack's addresses), and names the socket or
// connection by the quoted addresses and ports. The udp actor receives it
// for UDP, the tcp actor for TCP.
//
// A fragmentation-needed error (RFC 1191) has not touched the path MTU
// when this arrives: only the transport can tell whether the quoted
// datagram is one of its own (a live connection, a sequence number in
// flight, RFC 5927 §4.3), and only then does it lower the path MTU. A
// forged report quoting a connection that does not exist thus changes
// nothing.
type ControlErrorArrived struct {
	// Protocol is the quoted datagram's IP protocol (6 TCP, 17 UDP).
	Protocol uint8
	// Local is the quoted source (the stack's end), Remote the quoted
	// destination (the peer the datagram was sent to).
	Local, Remote netip.AddrPort
	// Type and Code are the ICMP message's (ICMPv4 values for an IPv4
	// Local; ICMPv6 values once IPv6 lands).
	Type, Code uint8
	// NextHopMTU is the MTU a fragmentation-needed error reports (0 from
	// a router older than RFC 1191), SentLen the quoted datagram's total
	// length, from which the next plateau is guessed when NextHopMTU is 0.
	// Both are 0 for other errors.
	NextHopMTU, SentLen int
	// Quote is a copy of the quoted transport header bytes (at least 8):
	// TCP checks the quoted sequence number against its send window
	// before believing the error (RFC 5927 §4.1).
	Quote []byte
	// From is the address of the host or router that sent the error.
	From netip.Addr
}
