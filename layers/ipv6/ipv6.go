// Package ipv6 is the IPv6 header format (RFC 8200): a checked byte view of
// received packets, a header representation for building them, the
// extension-header chain (hop-by-hop, routing, fragment and destination
// options headers, with their options) walked into the upper-layer
// protocol and its offset, the Fragment header, fragmentation on send and
// reassembly on receive (over layers/ipfrag), and the pseudo-header sum
// upper layers fold into their checksums (RFC 8200 §8.1).
//
// Wire formats and protocol logic are kept apart: Packet and Header only
// read and write bytes; Walk applies RFC 8200 §4's processing rules and
// says, for a packet it rejects, which ICMPv6 Parameter Problem to send.
// The actor decides what to send, rate-limits it and counts the reasons.
package ipv6

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/actnet/actnet/layers/checksum"
)

// HeaderLen is the length of the fixed header (RFC 8200 §3).
const HeaderLen = 40

// MinMTU is the link MTU every IPv6 link must have (RFC 8200 §5); a node
// can always send a packet of this size without fragmenting it, and an
// ICMPv6 error is at most this long (RFC 4443 §2.4 (c)).
const MinMTU = 1280

// DefaultHopLimit is the hop limit this stack puts on packets it
// originates, Linux's default; RFC 8200 §3 leaves it to the node, and a
// router advertisement may override it (RFC 4861 §6.3.4).
const DefaultHopLimit = 64

// MaxPayloadLen is the largest payload the 16-bit Payload Length field can
// announce; jumbograms (RFC 2675) are not supported.
const MaxPayloadLen = 0xffff

// Next Header values (IANA "Assigned Internet Protocol Numbers"). The
// extension headers this package walks are HopByHop, Routing, Fragment and
// DestOpts; anything else ends the chain and is the upper-layer protocol
// (RFC 8200 §4; RFC 7045 lets a host treat ESP, AH and the rest so).
const (
	ProtoHopByHop = 0
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoICMPv6   = 58
	ProtoNoNext   = 59
	ProtoDestOpts = 60
)

// Reasons NewPacket rejects a packet, distinct so the caller can count
// drops by reason (Linux: Ip6InHdrErrors, Ip6InTruncatedPkts).
var (
	// ErrTruncated: the buffer is shorter than the fixed header or than
	// the header plus Payload Length.
	ErrTruncated = errors.New("ipv6: packet truncated")
	// ErrVersion: the version field is not 6.
	ErrVersion = errors.New("ipv6: version is not 6")
)

// Packet is a byte view of an IPv6 packet whose fixed header has been
// checked by NewPacket. It spans exactly HeaderLen + Payload Length bytes.
// The extension headers are not checked; Walk does that.
type Packet []byte

// NewPacket validates the fixed header at the start of b (RFC 8200 §3) and
// returns a view cut to HeaderLen + Payload Length, which removes link
// padding. The view aliases b. Checks, in order:
//
//   - at least 40 bytes (ErrTruncated)
//   - version 6 (ErrVersion)
//   - HeaderLen + Payload Length ≤ len(b) (ErrTruncated)
//
// A Payload Length of zero is accepted: it is an empty payload (a packet
// whose Next Header is 59, or one that Walk finds truncated). Jumbograms,
// which announce zero and carry a Jumbo Payload option, are not
// supported; their hop-by-hop option is unknown to Walk and handled by its
// action bits (RFC 2675 §3 makes it "discard and send a Parameter
// Problem").
//
// Address sanity (multicast sources, our own address as source) is policy
// and is left to the caller.
func NewPacket(b []byte) (Packet, error) {
	if len(b) < HeaderLen {
		return nil, ErrTruncated
	}
	if b[0]>>4 != 6 {
		return nil, ErrVersion
	}
	n := HeaderLen + int(binary.BigEndian.Uint16(b[4:6]))
	if n > len(b) {
		return nil, ErrTruncated
	}
	return Packet(b[:n]), nil
}

// TrafficClass returns the traffic class (DSCP and ECN, RFC 2474 /
// RFC 3168).
func (p Packet) TrafficClass() uint8 { return uint8(binary.BigEndian.Uint16(p[0:2]) >> 4) }

// FlowLabel returns the 20-bit flow label (RFC 6437).
func (p Packet) FlowLabel() uint32 { return binary.BigEndian.Uint32(p[0:4]) & 0xfffff }

// PayloadLen returns the Payload Length field, len(p) - HeaderLen.
func (p Packet) PayloadLen() int { return int(binary.BigEndian.Uint16(p[4:6])) }

// NextHeader returns the Next Header field of the fixed header: the first
// extension header or the upper-layer protocol.
func (p Packet) NextHeader() uint8 { return p[6] }

// HopLimit returns the hop limit.
func (p Packet) HopLimit() uint8 { return p[7] }

// Src returns the source address.
func (p Packet) Src() netip.Addr { return netip.AddrFrom16([16]byte(p[8:24])) }

// Dst returns the destination address.
func (p Packet) Dst() netip.Addr { return netip.AddrFrom16([16]byte(p[24:40])) }

// Payload returns the bytes after the fixed header: extension headers and
// the upper-layer data.
func (p Packet) Payload() []byte { return p[HeaderLen:] }

// Header returns the fixed header as a representation.
func (p Packet) Header() Header {
	return Header{
		TrafficClass: p.TrafficClass(),
		FlowLabel:    p.FlowLabel(),
		NextHeader:   p.NextHeader(),
		HopLimit:     p.HopLimit(),
		Src:          p.Src(),
		Dst:          p.Dst(),
		PayloadLen:   p.PayloadLen(),
	}
}

// Header is the representation of the fixed IPv6 header, used to build
// packets. Extension headers, if any, are part of the payload.
type Header struct {
	TrafficClass uint8
	FlowLabel    uint32 // low 20 bits
	NextHeader   uint8
	HopLimit     uint8
	Src, Dst     netip.Addr // IPv6; IPv4 addresses are written as IPv4-mapped, the zero Addr as ::
	PayloadLen   int        // bytes after the fixed header, at most MaxPayloadLen
}

// Parse validates b with NewPacket and returns its fixed header.
func Parse(b []byte) (Header, error) {
	p, err := NewPacket(b)
	if err != nil {
		return Header{}, err
	}
	return p.Header(), nil
}

// Len returns the emitted header length, HeaderLen.
func (h Header) Len() int { return HeaderLen }

// TotalLen returns the length of the whole packet, HeaderLen + PayloadLen.
func (h Header) TotalLen() int { return HeaderLen + h.PayloadLen }

// Emit writes the 40-byte fixed header into b[:HeaderLen]. b must be at
// least HeaderLen bytes long; a shorter buffer is a caller bug and panics.
// Fields out of range are truncated to their wire width; callers keep
// PayloadLen within MaxPayloadLen.
func (h Header) Emit(b []byte) {
	_ = b[HeaderLen-1]
	binary.BigEndian.PutUint32(b[0:4], 6<<28|uint32(h.TrafficClass)<<20|h.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[4:6], uint16(h.PayloadLen))
	b[6] = h.NextHeader
	b[7] = h.HopLimit
	putAddr(b[8:24], h.Src)
	putAddr(b[24:40], h.Dst)
}

func putAddr(b []byte, a netip.Addr) {
	s := a.As16() // the zero Addr gives all zeros; IPv4 gives IPv4-mapped
	copy(b, s[:])
}

// PseudoHeaderSum returns the partial checksum of the upper-layer
// pseudo-header of RFC 8200 §8.1 — source, destination, the 32-bit
// upper-layer length and the Next Header value of the upper-layer protocol
// — for TCP, UDP and ICMPv6 (RFC 4443 §2.3). length is the upper-layer
// packet's length (its header and data, not the extension headers before
// it). If the packet carries a Routing header, dst must be the final
// destination (RFC 8200 §8.1); this host never sends one, and a received
// one has Segments Left zero, so the header's Dst is final.
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	return checksum.PseudoHeaderSum(src, dst, proto, length)
}

// UpperChecksum returns the checksum of an upper-layer packet (TCP, UDP,
// ICMPv6) over the pseudo-header: zero when b already holds a correct
// checksum, else the value to store after zeroing the field.
func UpperChecksum(src, dst netip.Addr, proto uint8, b []byte) uint16 {
	return checksum.Fold(checksum.Sum(b, PseudoHeaderSum(src, dst, proto, len(b))))
}

// SolicitedNode returns the solicited-node multicast address of a (RFC 4291
// §2.7.1): ff02::1:ff00:0/104 followed by a's low 24 bits. A host joins
// it for each of its unicast and anycast addresses.
func SolicitedNode(a netip.Addr) netip.Addr {
	s := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: s[13], 14: s[14], 15: s[15]})
}

// AllNodes is the link-local all-nodes multicast address (RFC 4291 §2.7.1).
var AllNodes = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x01})

// AllRouters is the link-local all-routers multicast address.
var AllRouters = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x02})

// AllMLDv2Routers is the address MLDv2 reports go to (RFC 3810 §5.2.14).
var AllMLDv2Routers = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x16})
