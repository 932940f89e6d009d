// Package icmpv6 is the ICMPv6 message format (RFC 4443): a checked byte
// view of received messages (the checksum covers the IPv6 pseudo-header,
// RFC 4443 §2.3), builders for echo and error messages, the rules for when
// an error must not be sent (RFC 4443 §2.4 (e)), a token bucket for the
// errors a host originates (§2.4 (f)), a parser for the packet an error
// quotes, and MLDv2 reports (RFC 3810) for the groups a host joins.
// Neighbour discovery lives in layers/ndp.
package icmpv6

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/actnet/actnet/layers/ipv6"
)

// HeaderLen is the fixed part of every message this package handles: type,
// code, checksum and four type-specific bytes (RFC 4443 §2.1, §3, §4).
const HeaderLen = 8

// Message types (IANA "ICMPv6 Parameters"). Types below 128 are errors
// (RFC 4443 §2.1).
const (
	TypeDestUnreachable     = 1
	TypePacketTooBig        = 2
	TypeTimeExceeded        = 3
	TypeParameterProblem    = 4
	TypeEchoRequest         = 128
	TypeEchoReply           = 129
	TypeMLDQuery            = 130 // RFC 2710, RFC 3810 §5.1
	TypeMLDv1Report         = 131
	TypeMLDv1Done           = 132
	TypeRouterSolicitation  = 133 // RFC 4861
	TypeRouterAdvertisement = 134
	TypeNeighborSolicit     = 135
	TypeNeighborAdvert      = 136
	TypeRedirect            = 137
	TypeMLDv2Report         = 143 // RFC 3810 §5.2
)

// Destination-unreachable codes (RFC 4443 §3.1, RFC 6550 §20.18, RFC 8883
// §3).
const (
	CodeNoRoute            = 0
	CodeAdminProhibited    = 1
	CodeBeyondScope        = 2
	CodeAddressUnreachable = 3
	CodePortUnreachable    = 4
	CodeSourcePolicyFailed = 5
	CodeRejectRoute        = 6
	CodeSourceRoutingError = 7
	CodeHeadersTooLong     = 8
)

// Time-exceeded codes (RFC 4443 §3.3).
const (
	CodeHopLimitExceeded      = 0 // hop limit exceeded in transit
	CodeReassemblyTimeExpired = 1 // fragment reassembly time exceeded (RFC 8200 §4.5)
)

// Parameter-problem codes (RFC 4443 §3.4, RFC 7112, RFC 8883): the same
// values layers/ipv6 reports in ipv6.Problem.
const (
	CodeErroneousHeader        = ipv6.CodeErroneousHeader
	CodeUnrecognizedNextHeader = ipv6.CodeUnrecognizedNextHeader
	CodeUnrecognizedOption     = ipv6.CodeUnrecognizedOption
	CodeIncompleteChain        = ipv6.CodeIncompleteChain
	CodeExtHeaderTooBig        = ipv6.CodeExtHeaderTooBig
	CodeChainTooLong           = ipv6.CodeChainTooLong
	CodeTooManyExtHeaders      = ipv6.CodeTooManyExtHeaders
	CodeTooManyOptions         = ipv6.CodeTooManyOptions
	CodeOptionTooBig           = ipv6.CodeOptionTooBig
)

// MaxErrorLen is the longest ICMPv6 error message: the packet carrying it
// must not exceed the minimum IPv6 MTU (RFC 4443 §2.4 (c)).
const MaxErrorLen = ipv6.MinMTU - ipv6.HeaderLen

// Reasons for rejecting messages and quoted packets, distinct so callers
// count drops by reason (Linux: Icmp6InErrors, Icmp6InCsumErrors).
var (
	ErrTruncated = errors.New("icmpv6: message shorter than 8 bytes")
	ErrChecksum  = errors.New("icmpv6: bad checksum")
	// ErrNotError: Invoking was called on an informational message.
	ErrNotError = errors.New("icmpv6: message type is not an error")
	// ErrInvokingTruncated: the quote is shorter than a fixed header.
	ErrInvokingTruncated = errors.New("icmpv6: quoted packet shorter than its fixed header")
	// ErrInvokingHeader: the quote is not IPv6.
	ErrInvokingHeader = errors.New("icmpv6: quoted packet is not IPv6")
)

// IsError reports whether typ is an error message type (RFC 4443 §2.1:
// the high bit of the type is clear).
func IsError(typ uint8) bool { return typ < 128 }

// Message is a byte view of an ICMPv6 message whose length and checksum
// have been checked by NewMessage.
type Message []byte

// NewMessage checks that b, the ICMPv6 message of an IPv6 packet from src
// to dst (the upper-layer bytes, after every extension header), holds at
// least the 8-byte header and that its checksum over the pseudo-header
// (RFC 4443 §2.3, RFC 8200 §8.1) verifies. The view aliases b.
func NewMessage(b []byte, src, dst netip.Addr) (Message, error) {
	if len(b) < HeaderLen {
		return nil, ErrTruncated
	}
	if ipv6.UpperChecksum(src, dst, ipv6.ProtoICMPv6, b) != 0 {
		return nil, ErrChecksum
	}
	return Message(b), nil
}

// Type returns the message type.
func (m Message) Type() uint8 { return m[0] }

// Code returns the message code.
func (m Message) Code() uint8 { return m[1] }

// Checksum returns the checksum field as stored.
func (m Message) Checksum() uint16 { return binary.BigEndian.Uint16(m[2:4]) }

// RestOfHeader returns the four type-specific header bytes as one word.
func (m Message) RestOfHeader() uint32 { return binary.BigEndian.Uint32(m[4:8]) }

// ID returns the identifier of an echo request or reply.
func (m Message) ID() uint16 { return binary.BigEndian.Uint16(m[4:6]) }

// Seq returns the sequence number of an echo request or reply.
func (m Message) Seq() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// MTU returns the MTU a Packet Too Big message reports (RFC 4443 §3.2).
// The receiver never lowers a path MTU below 1280 (RFC 8201 §4).
func (m Message) MTU() uint32 { return binary.BigEndian.Uint32(m[4:8]) }

// Pointer returns the offset into the quoted packet a Parameter Problem
// message points at (RFC 4443 §3.4).
func (m Message) Pointer() uint32 { return binary.BigEndian.Uint32(m[4:8]) }

// Body returns the bytes after the 8-byte header: echo data, or the quoted
// packet of an error.
func (m Message) Body() []byte { return m[HeaderLen:] }

// finish writes the checksum of the message b from src to dst.
func finish(b []byte, src, dst netip.Addr) {
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint16(b[2:4], ipv6.UpperChecksum(src, dst, ipv6.ProtoICMPv6, b))
}

// EmitEcho writes an echo request (typ TypeEchoRequest) or reply from src
// to dst with the given identifier, sequence number and data into b and
// returns its length, or 0 if b is too short.
func EmitEcho(b []byte, typ uint8, id, seq uint16, data []byte, src, dst netip.Addr) int {
	n := HeaderLen + len(data)
	if len(b) < n {
		return 0
	}
	b[0], b[1] = typ, 0
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], seq)
	copy(b[HeaderLen:n], data)
	finish(b[:n], src, dst)
	return n
}

// EmitEchoReply writes the reply to an echo request into b, echoing its
// identifier, sequence number and data (RFC 4443 §4.2), from src to dst
// (the request's destination and source; for a request to a multicast
// address src is a unicast address of ours, RFC 4443 §2.2), and returns
// its length. It returns 0 if request is not an echo request or b is
// shorter than it. b may be request itself, to answer in place.
func EmitEchoReply(b []byte, request Message, src, dst netip.Addr) int {
	if len(request) < HeaderLen || request.Type() != TypeEchoRequest || len(b) < len(request) {
		return 0
	}
	n := len(request)
	copy(b[4:n], request[4:n])
	b[0], b[1] = TypeEchoReply, 0
	finish(b[:n], src, dst)
	return n
}

// EmitError writes an error message of the given type and code from src
// to dst into b, quoting the packet that caused it, and returns its
// length, or 0 if b cannot hold the header and the quote's fixed header.
//
// extra fills the four type-specific bytes: zero for destination
// unreachable and time exceeded, the MTU for packet too big, the pointer
// for parameter problem. invoking is the offending packet from its fixed
// header on; as much of it is quoted as fits b and the 1280-byte cap of
// RFC 4443 §2.4 (c) (MaxErrorLen). Whether an error may be sent at all is
// decided by ErrorAllowed, and how often by the send path's token bucket
// (layers/tokenbucket).
func EmitError(b []byte, typ, code uint8, extra uint32, invoking []byte, src, dst netip.Addr) int {
	quoted := min(len(invoking), MaxErrorLen-HeaderLen, len(b)-HeaderLen)
	if quoted < min(len(invoking), ipv6.HeaderLen) {
		return 0
	}
	n := HeaderLen + quoted
	b[0], b[1] = typ, code
	binary.BigEndian.PutUint32(b[4:8], extra)
	copy(b[HeaderLen:n], invoking[:quoted])
	finish(b[:n], src, dst)
	return n
}

// ErrorAllowed applies RFC 4443 §2.4 (e) to an error of type typ and code
// about invoking: none must be sent about a packet that is
//
//   - (e.1) itself an ICMPv6 error message, or a redirect (recognised by
//     skipping its extension headers; a packet whose chain cannot be
//     skipped is not known to be one),
//   - (e.2) addressed to a multicast address,
//   - (e.3, e.4) received as a link-layer multicast or broadcast
//     (linkMulticast),
//   - (e.5) from a source that does not name a single node: unspecified,
//     multicast, or loopback (which never comes from the wire). Anycast
//     sources cannot be recognised without the prefix; the caller checks
//     those it knows.
//
// (e.2)–(e.4) do not apply to Packet Too Big, nor to a Parameter Problem
// code 2 reporting an option whose action bits are 10 (ipv6.Walk sets
// Problem.Send for those whatever the destination). Rate limiting
// (§2.4 (f)) is the caller's concern.
func ErrorAllowed(typ, code uint8, invoking ipv6.Packet, linkMulticast bool) bool {
	src := invoking.Src()
	if src.IsUnspecified() || src.IsMulticast() || src.IsLoopback() {
		return false
	}
	exempt := typ == TypePacketTooBig || (typ == TypeParameterProblem && code == CodeUnrecognizedOption)
	if !exempt && (linkMulticast || invoking.Dst().IsMulticast()) {
		return false
	}
	if proto, off, later, ok := ipv6.UpperLayer(invoking); ok && !later && proto == ipv6.ProtoICMPv6 && off < len(invoking) {
		if t := invoking[off]; IsError(t) || t == TypeRedirect {
			return false
		}
	}
	return true
}

// Invoking is the packet an error message quotes, as returned by
// Message.Invoking: enough to find the connection or socket the error is
// about (RFC 4443 §2.4 (b); RFC 5927 applies to IPv6 too, so a transport
// matches it against its state before acting on it).
type Invoking struct {
	// Packet is the quote from its fixed header on, possibly cut short.
	Packet []byte
	// Proto is the quoted packet's upper-layer protocol and Upper its
	// header and data as far as quoted; Upper is empty when the quoted
	// extension headers run past the quote or it is a fragment other
	// than the first.
	Proto uint8
	Upper []byte
}

// Invoking parses the packet quoted by an error message: at least an IPv6
// fixed header. The quote may be cut anywhere after it (RFC 4443 §2.4
// (c)); its Payload Length is not checked against it.
func (m Message) Invoking() (Invoking, error) {
	if !IsError(m.Type()) {
		return Invoking{}, ErrNotError
	}
	body := m.Body()
	if len(body) < ipv6.HeaderLen {
		return Invoking{}, ErrInvokingTruncated
	}
	if body[0]>>4 != 6 {
		return Invoking{}, ErrInvokingHeader
	}
	// Quotes longer than the original packet carry padding; cut at it.
	if n := ipv6.HeaderLen + int(binary.BigEndian.Uint16(body[4:6])); n < len(body) {
		body = body[:n]
	}
	iv := Invoking{Packet: body}
	proto, off, later, ok := ipv6.UpperLayer(body)
	iv.Proto = proto
	if ok && !later {
		iv.Upper = body[off:]
	}
	return iv, nil
}

// Src returns the quoted packet's source: normally our own address.
func (iv Invoking) Src() netip.Addr { return netip.AddrFrom16([16]byte(iv.Packet[8:24])) }

// Dst returns the quoted packet's destination: the peer.
func (iv Invoking) Dst() netip.Addr { return netip.AddrFrom16([16]byte(iv.Packet[24:40])) }
