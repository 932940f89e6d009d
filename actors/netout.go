package actors

import (
	"net/netip"

	"github.com/actnet/actnet/mailbox"
)

// The seam between the transports and the network layers (DESIGN.md, "What
// the code taught us"): TCP, UDP and the ICMP errors they hear of see an
// address family's send path through NetOutput and addresses as
// netip.Addr, never an IPv4 or IPv6 header. Each family (ipv4 today, ipv6
// next) brings its own output, picked by the destination's family.

// NetSend describes one packet a transport hands its family's send path.
type NetSend struct {
	Dst netip.Addr
	// Src is the source address; the family's own address for Dst when
	// invalid.
	Src      netip.Addr
	Protocol uint8
	// HopLimit is IPv4's TTL or IPv6's hop limit; DefaultTTL when zero.
	HopLimit uint8
	// TrafficClass is IPv4's TOS byte or IPv6's traffic class.
	TrafficClass uint8
	// DontFragment asks that the packet never be fragmented on its way:
	// IPv4's DF (RFC 1191); IPv6 routers never fragment, so it only
	// stops the sender's own fragmentation there too.
	DontFragment bool
	// Unreachable, when set, is called if the packet is dropped because
	// its next hop cannot be reached: no route, or neighbour resolution
	// gave up (after its retries). It runs in the sender's goroutine or
	// the resolving actor's, so it must only post a message.
	Unreachable func()
}

// NetOutput is one address family's send path. Implementations are safe
// for concurrent use: every actor that originates packets calls them in
// its own goroutine (DESIGN.md, "What the code taught us" 1).
type NetOutput interface {
	// Buffer returns a buffer with room for n payload bytes after
	// mailbox.Headroom; n must be at most MaxPayload.
	Buffer(n int) *mailbox.Buffer
	// MaxPayload is the largest payload Send accepts.
	MaxPayload() int
	// HeaderLen is the family's fixed header length (20 or 40): TCP takes
	// it off the path MTU for its MSS.
	HeaderLen() int
	// LocalAddr is the source address to use towards dst, and whether
	// the family has one.
	LocalAddr(dst netip.Addr) (netip.Addr, bool)
	// IsLocal reports whether a is one of the family's addresses.
	IsLocal(a netip.Addr) bool
	// IsBroadcast reports whether dst is a broadcast address of the
	// family's link (IPv6 has none).
	IsBroadcast(dst netip.Addr) bool
	// ReportPortUnreachable tells the sender of p, a datagram for a port
	// nobody listens on, with the family's ICMP error (RFC 1122 §4.1.3.1,
	// RFC 4443 §3.1), unless the family's rules withhold it.
	ReportPortUnreachable(p *mailbox.Packet)
	// Routable reports whether packets to dst have a next hop (the
	// stack's own address, on-link, or via a router); it does not say
	// the next hop answers neighbour resolution.
	Routable(dst netip.Addr) bool
	// PathMTU is the MTU to use towards dst (RFC 1191, RFC 8201).
	PathMTU(dst netip.Addr) int
	// LowerPathMTU applies a report that a packet of sentLen bytes to dst
	// was too big for a hop of mtu (0: unknown). The caller has matched
	// the report to a connection or socket of its own (RFC 5927 §4.3). It
	// returns the path MTU now in force and whether it changed.
	LowerPathMTU(dst netip.Addr, mtu, sentLen int) (int, bool)
	// Send transmits the n payload bytes at buf.B[mailbox.Headroom:],
	// fragmenting them if they exceed the path MTU (unless DontFragment),
	// and takes buf whatever it returns.
	Send(buf *mailbox.Buffer, n int, p NetSend) error
}

// Outputs are the send paths of the families a stack runs, picked by the
// destination's family.
type Outputs struct {
	V4 NetOutput // nil when IPv4 is off
	V6 NetOutput // nil when IPv6 is off
}

// For returns the send path for packets to dst, and false if the stack
// does not run dst's family.
func (o *Outputs) For(dst netip.Addr) (NetOutput, bool) {
	var out NetOutput
	switch {
	case dst.Is4() || dst.Is4In6():
		out = o.V4
	case dst.Is6():
		out = o.V6
	}
	return out, out != nil
}

// Routable reports whether dst's family runs and has a next hop for it.
func (o *Outputs) Routable(dst netip.Addr) bool {
	out, ok := o.For(dst)
	return ok && out.Routable(dst)
}

// IsLocal reports whether a is an address of the stack, in any family.
func (o *Outputs) IsLocal(a netip.Addr) bool {
	out, ok := o.For(a)
	return ok && out.IsLocal(a.Unmap())
}
