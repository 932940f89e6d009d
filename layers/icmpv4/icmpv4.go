// Package icmpv4 is the ICMP message format for IPv4 (RFC 792, with the
// host requirements of RFC 1122 §3.2.2): a checked byte view of received
// messages, builders for echo replies and error messages, the rules for when
// an error may be sent, and a parser for the datagram an error quotes.
package icmpv4

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/actnet/actnet/layers/checksum"
	"github.com/actnet/actnet/layers/ipv4"
)

// HeaderLen is the length of the fixed part every message has: type, code,
// checksum and four type-specific bytes.
const HeaderLen = 8

// Message types (IANA "ICMP Type Numbers").
const (
	TypeEchoReply           = 0
	TypeDestUnreachable     = 3
	TypeSourceQuench        = 4 // deprecated by RFC 6633; never sent
	TypeRedirect            = 5
	TypeEchoRequest         = 8
	TypeRouterAdvertisement = 9
	TypeRouterSolicitation  = 10
	TypeTimeExceeded        = 11
	TypeParameterProblem    = 12
	TypeTimestamp           = 13
	TypeTimestampReply      = 14
)

// Destination-unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812
// §5.2.7.1).
const (
	CodeNetUnreachable          = 0
	CodeHostUnreachable         = 1
	CodeProtocolUnreachable     = 2
	CodePortUnreachable         = 3
	CodeFragmentationNeeded     = 4 // "and DF set"; carries the next-hop MTU (RFC 1191 §4)
	CodeSourceRouteFailed       = 5
	CodeDestNetUnknown          = 6
	CodeDestHostUnknown         = 7
	CodeSourceHostIsolated      = 8
	CodeNetProhibited           = 9
	CodeHostProhibited          = 10
	CodeNetUnreachableForTOS    = 11
	CodeHostUnreachableForTOS   = 12
	CodeCommunicationProhibited = 13
	CodeHostPrecedenceViolation = 14
	CodePrecedenceCutoff        = 15
)

// Time-exceeded codes.
const (
	CodeTTLExceeded        = 0 // in transit
	CodeReassemblyExceeded = 1 // fragment reassembly time exceeded (RFC 1122 §3.3.2)
)

// Parameter-problem codes.
const (
	CodePointerIndicatesError = 0
	CodeMissingRequiredOption = 1
	CodeBadLength             = 2
)

// MaxErrorLen caps error messages so that the whole IPv4 datagram carrying
// one stays within 576 bytes (RFC 1812 §4.3.2.3).
const MaxErrorLen = ipv4.MinMTU - ipv4.HeaderLen

// Reasons for rejecting messages and quoted datagrams, distinct so callers
// count drops by reason.
var (
	ErrTruncated         = errors.New("icmpv4: message shorter than 8 bytes")
	ErrChecksum          = errors.New("icmpv4: bad checksum")
	ErrNotError          = errors.New("icmpv4: message type is not an error")
	ErrInvokingTruncated = errors.New("icmpv4: quoted datagram shorter than its header plus 8 bytes")
	ErrInvokingHeader    = errors.New("icmpv4: quoted datagram has a bad version or header length")
)

// IsError reports whether typ is an error message type (destination
// unreachable, source quench, redirect, time exceeded, parameter problem).
// Errors are never sent in response to errors (RFC 1122 §3.2.2).
func IsError(typ uint8) bool {
	switch typ {
	case TypeDestUnreachable, TypeSourceQuench, TypeRedirect, TypeTimeExceeded, TypeParameterProblem:
		return true
	}
	return false
}

// Message is a byte view of an ICMP message whose length and checksum have
// been checked by NewMessage.
type Message []byte

// NewMessage checks that b (an IPv4 payload, already trimmed to Total
// Length) holds at least the 8-byte header and that the checksum over the
// whole message verifies (RFC 792). The view aliases b.
func NewMessage(b []byte) (Message, error) {
	if len(b) < HeaderLen {
		return nil, ErrTruncated
	}
	if checksum.Checksum(b) != 0 {
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

// ID returns the identifier of an echo, timestamp or information message.
func (m Message) ID() uint16 { return binary.BigEndian.Uint16(m[4:6]) }

// Seq returns the sequence number of an echo, timestamp or information
// message.
func (m Message) Seq() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// NextHopMTU returns the MTU a "fragmentation needed" message reports (RFC
// 1191 §4); zero from routers predating RFC 1191.
func (m Message) NextHopMTU() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// Pointer returns the octet offset a parameter-problem message points at.
func (m Message) Pointer() uint8 { return m[4] }

// Gateway returns the gateway a redirect message names.
func (m Message) Gateway() netip.Addr { return netip.AddrFrom4([4]byte(m[4:8])) }

// Body returns the bytes after the 8-byte header: echo data, or the quoted
// datagram of an error.
func (m Message) Body() []byte { return m[HeaderLen:] }

// EmitEcho writes an echo request (typ TypeEchoRequest) or reply with the
// given identifier, sequence number and data into dst and returns its
// length, or 0 if dst is too short.
func EmitEcho(dst []byte, typ uint8, id, seq uint16, data []byte) int {
	n := HeaderLen + len(data)
	if len(dst) < n {
		return 0
	}
	dst[0], dst[1] = typ, 0
	dst[2], dst[3] = 0, 0
	binary.BigEndian.PutUint16(dst[4:6], id)
	binary.BigEndian.PutUint16(dst[6:8], seq)
	copy(dst[HeaderLen:n], data)
	binary.BigEndian.PutUint16(dst[2:4], checksum.Checksum(dst[:n]))
	return n
}

// EmitEchoReply writes the reply to an echo request into dst, echoing its
// identifier, sequence number and data (RFC 792; RFC 1122 §3.2.2.6), and
// returns the reply's length. It returns 0 if request is not an echo
// request or dst is shorter than request. dst may be request itself, to
// answer in place.
func EmitEchoReply(dst []byte, request Message) int {
	if len(request) < HeaderLen || request.Type() != TypeEchoRequest || len(dst) < len(request) {
		return 0
	}
	n := len(request)
	copy(dst[4:n], request[4:n])
	dst[0], dst[1] = TypeEchoReply, 0
	dst[2], dst[3] = 0, 0
	binary.BigEndian.PutUint16(dst[2:4], checksum.Checksum(dst[:n]))
	return n
}

// EmitError writes an error message of the given type and code into dst,
// quoting the datagram that caused it, and returns its length, or 0 if dst
// cannot hold the header plus the quoted IP header and 8 payload bytes.
//
// extra fills the four type-specific bytes: zero for most errors, the
// next-hop MTU for fragmentation needed (uint32(mtu)), the pointer for
// parameter problem (uint32(ptr) << 24), the gateway for redirect.
//
// invoking is the offending datagram from its IP header on. RFC 792 asks
// for the IP header plus the first 8 payload bytes; RFC 1812 §4.3.2.3
// allows more, and quoting more helps the receiver (the whole TCP header,
// for instance), so as much is quoted as fits both dst and the 576-byte
// datagram cap (MaxErrorLen). Whether an error may be sent at all is
// decided by ErrorAllowed.
func EmitError(dst []byte, typ, code uint8, extra uint32, invoking []byte) int {
	minimum := len(invoking)
	if len(invoking) > 0 {
		if m := int(invoking[0]&0x0F)*4 + 8; m < minimum {
			minimum = m
		}
	}
	quoted := min(len(invoking), MaxErrorLen-HeaderLen, len(dst)-HeaderLen)
	if quoted < minimum {
		return 0
	}
	n := HeaderLen + quoted
	dst[0], dst[1] = typ, code
	dst[2], dst[3] = 0, 0
	binary.BigEndian.PutUint32(dst[4:8], extra)
	copy(dst[HeaderLen:n], invoking[:quoted])
	binary.BigEndian.PutUint16(dst[2:4], checksum.Checksum(dst[:n]))
	return n
}

// ErrorAllowed applies RFC 1122 §3.2.2: an ICMP error must not be sent
// about a datagram that
//
//   - is itself an ICMP error (or too short to tell),
//   - was sent to an IP broadcast or multicast address (only the limited
//     broadcast 255.255.255.255 is recognised here; directed subnet
//     broadcasts need the interface's prefix, so the caller checks them),
//   - arrived as a link-layer broadcast or multicast (linkMulticast),
//   - is a fragment other than the first,
//   - has a source that does not name a single host: unspecified,
//     loopback, broadcast, multicast or class E (240.0.0.0/4).
//
// Rate limiting (RFC 1812 §4.3.2.8) is the caller's concern.
func ErrorAllowed(invoking ipv4.Packet, linkMulticast bool) bool {
	if linkMulticast || invoking.FragmentOffset() != 0 {
		return false
	}
	dst := invoking.Dst()
	if dst == limitedBroadcast || dst.IsMulticast() {
		return false
	}
	src := invoking.Src()
	if src.IsUnspecified() || src.IsLoopback() || src.IsMulticast() || classE.Contains(src) {
		return false
	}
	if invoking.Protocol() == ipv4.ProtocolICMP {
		payload := invoking.Payload()
		if len(payload) < 1 || IsError(payload[0]) {
			return false
		}
	}
	return true
}

var (
	limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	classE           = netip.PrefixFrom(netip.AddrFrom4([4]byte{240, 0, 0, 0}), 4)
)

// Invoking is the datagram an error message quotes, as returned by
// Message.Invoking: enough to find the socket the error is about.
type Invoking struct {
	// Header is the quoted IPv4 header, options included.
	Header []byte
	// Payload is the quoted start of the original payload: at least 8
	// bytes (the UDP header, or TCP ports and sequence number), at most
	// the original payload length.
	Payload []byte
}

// Invoking parses the datagram quoted by an error message. It checks that
// m is an error type, that the quote has version 4, a header length of at
// least 20 bytes, and at least 8 payload bytes. The quoted header's checksum
// is not checked: routers quote what they received and some rewrite it.
func (m Message) Invoking() (Invoking, error) {
	if !IsError(m.Type()) {
		return Invoking{}, ErrNotError
	}
	body := m.Body()
	if len(body) < ipv4.HeaderLen {
		return Invoking{}, ErrInvokingTruncated
	}
	hlen := int(body[0]&0x0F) * 4
	if body[0]>>4 != 4 || hlen < ipv4.HeaderLen {
		return Invoking{}, ErrInvokingHeader
	}
	if len(body) < hlen+8 {
		return Invoking{}, ErrInvokingTruncated
	}
	// Quotes longer than the original datagram carry padding (RFC 4884
	// extensions pad to 128 bytes); cut at the original Total Length when
	// that still leaves the 8 bytes we need.
	end := len(body)
	if total := int(binary.BigEndian.Uint16(body[2:4])); total >= hlen+8 && total < end {
		end = total
	}
	return Invoking{Header: body[:hlen], Payload: body[hlen:end]}, nil
}

// Src returns the quoted datagram's source: normally our own address.
func (iv Invoking) Src() netip.Addr { return netip.AddrFrom4([4]byte(iv.Header[12:16])) }

// Dst returns the quoted datagram's destination: the peer.
func (iv Invoking) Dst() netip.Addr { return netip.AddrFrom4([4]byte(iv.Header[16:20])) }

// Protocol returns the quoted datagram's protocol number.
func (iv Invoking) Protocol() uint8 { return iv.Header[9] }

// ID returns the quoted datagram's identification field.
func (iv Invoking) ID() uint16 { return binary.BigEndian.Uint16(iv.Header[4:6]) }
