// Package arp is the Address Resolution Protocol for IPv4 over Ethernet
// (RFC 826): the packet format, the RFC 5227 probe and announcement forms,
// and the resolution cache (Cache) that maps next-hop IPv4 addresses to MAC
// addresses and holds packets while a resolution is in flight.
package arp

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/actnet/actnet/layers/ethernet"
)

// Len is the length of an Ethernet/IPv4 ARP packet: the 8-byte fixed part
// plus two (6-byte MAC, 4-byte IPv4) address pairs.
const Len = 28

// Field values for Ethernet/IPv4, the only combination this stack speaks.
const (
	hardwareEthernet = 1      // RFC 826 ar$hrd, IANA hardware type 1
	protocolIPv4     = 0x0800 // ar$pro: the EtherType of IPv4
	hardwareLen      = 6
	protocolLen      = 4
)

// Op is the ARP operation code (ar$op).
type Op uint16

// Operations accepted by NewPacket. RARP and InARP codes are rejected.
const (
	Request Op = 1
	Reply   Op = 2
)

// String names the operation.
func (o Op) String() string {
	switch o {
	case Request:
		return "request"
	case Reply:
		return "reply"
	}
	return "op(" + itoa(int(o)) + ")"
}

// Reasons NewPacket rejects a packet, distinct so callers count drops by
// reason.
var (
	ErrTruncated   = errors.New("arp: packet shorter than 28 bytes")
	ErrUnsupported = errors.New("arp: not Ethernet/IPv4 (hardware type, protocol type or address lengths)")
	ErrOp          = errors.New("arp: operation is neither request nor reply")
)

// Packet is a byte view of an Ethernet/IPv4 ARP packet, obtained only from
// NewPacket, which guarantees the accessors are safe and meaningful.
type Packet []byte

// NewPacket checks that b starts with a complete Ethernet/IPv4 ARP request
// or reply and returns a view of exactly Len bytes (trailing bytes are
// Ethernet padding and are dropped from the view).
func NewPacket(b []byte) (Packet, error) {
	if len(b) < Len {
		return nil, ErrTruncated
	}
	if binary.BigEndian.Uint16(b[0:2]) != hardwareEthernet ||
		binary.BigEndian.Uint16(b[2:4]) != protocolIPv4 ||
		b[4] != hardwareLen || b[5] != protocolLen {
		return nil, ErrUnsupported
	}
	if op := Op(binary.BigEndian.Uint16(b[6:8])); op != Request && op != Reply {
		return nil, ErrOp
	}
	return Packet(b[:Len]), nil
}

// Op returns the operation.
func (p Packet) Op() Op { return Op(binary.BigEndian.Uint16(p[6:8])) }

// SenderHW returns the sender hardware address (ar$sha).
func (p Packet) SenderHW() ethernet.Addr { return ethernet.Addr(p[8:14]) }

// SenderIP returns the sender protocol address (ar$spa).
func (p Packet) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(p[14:18])) }

// TargetHW returns the target hardware address (ar$tha); zero in requests.
func (p Packet) TargetHW() ethernet.Addr { return ethernet.Addr(p[18:24]) }

// TargetIP returns the target protocol address (ar$tpa).
func (p Packet) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(p[24:28])) }

// Repr returns the packet as a representation.
func (p Packet) Repr() Repr {
	return Repr{
		Op:       p.Op(),
		SenderHW: p.SenderHW(),
		SenderIP: p.SenderIP(),
		TargetHW: p.TargetHW(),
		TargetIP: p.TargetIP(),
	}
}

// Repr is the representation of an Ethernet/IPv4 ARP packet.
type Repr struct {
	Op       Op
	SenderHW ethernet.Addr
	SenderIP netip.Addr
	TargetHW ethernet.Addr
	TargetIP netip.Addr
}

// Parse checks b with NewPacket and returns its representation.
func Parse(b []byte) (Repr, error) {
	p, err := NewPacket(b)
	if err != nil {
		return Repr{}, err
	}
	return p.Repr(), nil
}

// Len returns the packet length on the wire, Len.
func (r Repr) Len() int { return Len }

// Emit writes the packet into b[:Len]. b must be at least Len bytes long; a
// shorter buffer is a caller bug and panics. Addresses that are not IPv4
// (or IPv4-mapped IPv6) are written as 0.0.0.0.
func (r Repr) Emit(b []byte) {
	_ = b[Len-1] // one bounds check up front
	binary.BigEndian.PutUint16(b[0:2], hardwareEthernet)
	binary.BigEndian.PutUint16(b[2:4], protocolIPv4)
	b[4] = hardwareLen
	b[5] = protocolLen
	binary.BigEndian.PutUint16(b[6:8], uint16(r.Op))
	copy(b[8:14], r.SenderHW[:])
	putIPv4(b[14:18], r.SenderIP)
	copy(b[18:24], r.TargetHW[:])
	putIPv4(b[24:28], r.TargetIP)
}

func putIPv4(b []byte, ip netip.Addr) {
	ip = ip.Unmap()
	if !ip.Is4() {
		clear(b[:4])
		return
	}
	a := ip.As4()
	copy(b, a[:])
}

// NewRequest asks who has targetIP. The target hardware address is left
// zero (RFC 826 leaves it unspecified; RFC 5227 §2.1.1 zeroes it); the frame goes
// to ethernet.Broadcast, or to the cached address when refreshing an entry
// (RFC 1122 §2.3.2.1 unicast poll).
func NewRequest(senderHW ethernet.Addr, senderIP, targetIP netip.Addr) Repr {
	return Repr{Op: Request, SenderHW: senderHW, SenderIP: senderIP, TargetIP: targetIP}
}

// ReplyTo builds the reply to request, announcing that request.TargetIP is
// at ownHW (RFC 826: swap sender and target, fill in our address). The
// reply is sent unicast to request.SenderHW.
func ReplyTo(request Repr, ownHW ethernet.Addr) Repr {
	return Repr{
		Op:       Reply,
		SenderHW: ownHW,
		SenderIP: request.TargetIP,
		TargetHW: request.SenderHW,
		TargetIP: request.SenderIP,
	}
}

// NewProbe builds an RFC 5227 §2.1.1 probe for candidate: a request whose
// sender IP is 0.0.0.0, so that probing does not pollute other hosts'
// caches, and whose target hardware address is zero. Sent broadcast,
// normally 3 times 1–2 s apart before using the address.
func NewProbe(senderHW ethernet.Addr, candidate netip.Addr) Repr {
	return Repr{
		Op:       Request,
		SenderHW: senderHW,
		SenderIP: netip.IPv4Unspecified(),
		TargetIP: candidate,
	}
}

// NewAnnouncement builds an RFC 5227 §2.3 announcement (a gratuitous ARP
// request): sender and target IP are both ip, target hardware zero. Other
// hosts update existing cache entries for ip to senderHW. Sent broadcast.
func NewAnnouncement(senderHW ethernet.Addr, ip netip.Addr) Repr {
	return Repr{Op: Request, SenderHW: senderHW, SenderIP: ip, TargetIP: ip}
}

// NewGratuitousReply builds the reply form of gratuitous ARP that some
// hosts send (RFC 5944 §4.6): sender and target IP both ip, target hardware
// the broadcast address. RFC 5227 §3 prefers NewAnnouncement; this form is
// for interoperating with devices that only honour replies.
func NewGratuitousReply(senderHW ethernet.Addr, ip netip.Addr) Repr {
	return Repr{Op: Reply, SenderHW: senderHW, SenderIP: ip, TargetHW: ethernet.Broadcast, TargetIP: ip}
}

// IsProbe reports whether r has the form of an RFC 5227 probe (sender IP
// 0.0.0.0). Probes must not create or update cache entries; a probe for one
// of our addresses from another host is a conflict (RFC 5227 §2.1.1).
func (r Repr) IsProbe() bool {
	return r.Op == Request && r.SenderIP == netip.IPv4Unspecified()
}

// IsGratuitous reports whether r announces the sender's own binding (sender
// IP equals target IP), as announcements and gratuitous replies do.
func (r Repr) IsGratuitous() bool {
	return r.SenderIP == r.TargetIP && r.SenderIP.IsValid() && !r.SenderIP.IsUnspecified()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d [20]byte
	i := len(d)
	for ; n > 0; n /= 10 {
		i--
		d[i] = byte('0' + n%10)
	}
	return string(d[i:])
}
