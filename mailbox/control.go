package mailbox

import (
	"net/netip"
	"syscall"
)

// ControlErrorArrived tells a transport that an ICMP error arrived about a
// datagram it sent (RFC 792, RFC 4443, RFC 1122 §3.2.2.1 and §4.2.3.9):
// the network layer validated the message and the datagram it quotes
// (whose source must be one of the stack's addresses), and names the
// socket or connection by the quoted addresses and ports. The udp actor
// receives it for UDP, the tcp actor for TCP.
//
// It says what the error means in terms of no family: the errno a socket
// would report, whether the error is hard, whether the packet was too big.
// The transports never see an ICMPv4 or ICMPv6 type or code (the family
// seam, DESIGN.md).
//
// A packet-too-big error (RFC 1191, RFC 8201) has not touched the path MTU
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
	// Err is the errno a socket reports for the error, as Linux's
	// icmp_err_convert maps it (ECONNREFUSED for port unreachable,
	// EHOSTUNREACH, ENETUNREACH, ...). Hard errors end a connection
	// attempt or a connected UDP socket's exchange (RFC 1122 §4.2.3.9);
	// soft ones are only remembered.
	Err  syscall.Errno
	Hard bool
	// TooBig marks fragmentation needed (IPv4) or packet too big (IPv6).
	// NextHopMTU is the MTU it reports (0 from a router older than RFC
	// 1191), SentLen the quoted datagram's length, from which the next
	// plateau is guessed when NextHopMTU is 0.
	TooBig              bool
	NextHopMTU, SentLen int
	// Quote is a copy of the quoted transport header bytes (at least 8):
	// TCP checks the quoted sequence number against its send window
	// before believing the error (RFC 5927 §4.1).
	Quote []byte
	// From is the address of the host or router that sent the error.
	From netip.Addr
}
