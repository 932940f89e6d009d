// Package ethernet is the Ethernet II (DIX) frame format: MAC addresses,
// EtherTypes, a checked byte view of received frames and a header
// representation for building frames. It does not handle the FCS (the NIC or
// tap device strips and adds it) nor 802.1Q tags beyond naming their
// EtherType.
package ethernet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// HeaderLen is the length of an Ethernet II header: destination, source,
// EtherType.
const HeaderLen = 14

// MinFrameLen is the minimum frame length on the wire without FCS (IEEE
// 802.3's 64-byte minimum includes the 4-byte FCS). Shorter payloads are
// padded, which is why upper layers trim to their own length fields.
const MinFrameLen = 60

// ErrTruncated reports a buffer shorter than an Ethernet header.
var ErrTruncated = errors.New("ethernet: frame shorter than header")

// Addr is a 48-bit IEEE 802 MAC address.
type Addr [6]byte

// Broadcast is the all-ones address that every station receives.
var Broadcast = Addr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

const hexDigits = "0123456789abcdef"

// String formats a as six lower-case colon-separated hex pairs.
func (a Addr) String() string {
	var buf [17]byte
	for i, b := range a {
		if i > 0 {
			buf[i*3-1] = ':'
		}
		buf[i*3] = hexDigits[b>>4]
		buf[i*3+1] = hexDigits[b&0xF]
	}
	return string(buf[:])
}

// ErrAddrSyntax reports a string that is not a MAC address.
var ErrAddrSyntax = errors.New("ethernet: invalid MAC address syntax")

// ParseAddr parses six hex pairs separated by ':' or '-' (one separator
// kind throughout), for example "02:00:5e:10:00:01".
func ParseAddr(s string) (Addr, error) {
	var a Addr
	if len(s) != 17 {
		return a, ErrAddrSyntax
	}
	sep := s[2]
	if sep != ':' && sep != '-' {
		return a, ErrAddrSyntax
	}
	for i := range a {
		if i > 0 && s[i*3-1] != sep {
			return Addr{}, ErrAddrSyntax
		}
		hi, ok1 := fromHex(s[i*3])
		lo, ok2 := fromHex(s[i*3+1])
		if !ok1 || !ok2 {
			return Addr{}, ErrAddrSyntax
		}
		a[i] = hi<<4 | lo
	}
	return a, nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// IsBroadcast reports whether a is ff:ff:ff:ff:ff:ff.
func (a Addr) IsBroadcast() bool { return a == Broadcast }

// IsMulticast reports whether a is a group address (the I/G bit, the least
// significant bit of the first octet, is set, per IEEE 802). Broadcast is a
// multicast address too.
func (a Addr) IsMulticast() bool { return a[0]&0x01 != 0 }

// IsUnicast reports whether a is an individual address other than all
// zeros. The zero address never identifies a station, so frames from or to
// it are treated as invalid.
func (a Addr) IsUnicast() bool { return !a.IsMulticast() && a != Addr{} }

// IsZero reports whether a is 00:00:00:00:00:00, the "unknown" address ARP
// requests carry as target (RFC 826).
func (a Addr) IsZero() bool { return a == Addr{} }

// MulticastAddrForIPv6 maps an IPv6 multicast address to its Ethernet group
// address 33:33 followed by the low 32 bits of the IPv6 address (RFC 2464
// §7). It is meaningful only for IPv6 multicast addresses; other inputs are
// mapped the same way without checking.
func MulticastAddrForIPv6(ip netip.Addr) Addr {
	b := ip.As16()
	return Addr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// MulticastAddrForIPv4 maps an IPv4 multicast address to 01:00:5e followed
// by the low 23 bits of the address (RFC 1112 §6.4). Non-IPv4 inputs give
// 01:00:5e:00:00:00.
func MulticastAddrForIPv4(ip netip.Addr) Addr {
	ip = ip.Unmap()
	if !ip.Is4() {
		return Addr{0x01, 0x00, 0x5e}
	}
	b := ip.As4()
	return Addr{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}
}

// EtherType identifies the protocol carried in a frame's payload.
type EtherType uint16

// EtherTypes this stack understands (IEEE registry).
const (
	IPv4 EtherType = 0x0800
	ARP  EtherType = 0x0806
	VLAN EtherType = 0x8100 // IEEE 802.1Q tag; not decoded by this package
	IPv6 EtherType = 0x86DD
)

// String names the well-known EtherTypes and formats others as hex.
func (t EtherType) String() string {
	switch t {
	case IPv4:
		return "IPv4"
	case ARP:
		return "ARP"
	case VLAN:
		return "VLAN"
	case IPv6:
		return "IPv6"
	}
	return "0x" + string([]byte{
		hexDigits[t>>12&0xF], hexDigits[t>>8&0xF], hexDigits[t>>4&0xF], hexDigits[t&0xF],
	})
}

// Frame is a byte view of an Ethernet II frame whose header has been checked
// to be present. Obtain one only through NewFrame; the accessors rely on it.
type Frame []byte

// NewFrame checks that b holds at least an Ethernet header and returns a
// view of it. The view aliases b.
//
// Values of 0x05DC and below in the EtherType position are IEEE 802.3
// lengths, not types; they are not rejected here, they simply match no
// protocol and the caller drops them as unknown.
func NewFrame(b []byte) (Frame, error) {
	if len(b) < HeaderLen {
		return nil, ErrTruncated
	}
	return Frame(b), nil
}

// Dst returns the destination address.
func (f Frame) Dst() Addr { return Addr(f[0:6]) }

// Src returns the source address.
func (f Frame) Src() Addr { return Addr(f[6:12]) }

// EtherType returns the type of the payload.
func (f Frame) EtherType() EtherType { return EtherType(binary.BigEndian.Uint16(f[12:14])) }

// Payload returns the bytes after the header, including any padding the
// sender added to reach the minimum frame size.
func (f Frame) Payload() []byte { return f[HeaderLen:] }

// Header returns the frame's header as a representation.
func (f Frame) Header() Header {
	return Header{Dst: f.Dst(), Src: f.Src(), Type: f.EtherType()}
}

// Header is the representation of an Ethernet II header, used to build
// frames.
type Header struct {
	Dst, Src Addr
	Type     EtherType
}

// Parse checks b with NewFrame and returns its header.
func Parse(b []byte) (Header, error) {
	f, err := NewFrame(b)
	if err != nil {
		return Header{}, err
	}
	return f.Header(), nil
}

// Len returns the header length on the wire, HeaderLen.
func (h Header) Len() int { return HeaderLen }

// Emit writes the header into b[:HeaderLen]. b must be at least HeaderLen
// bytes long; a shorter buffer is a caller bug and panics.
func (h Header) Emit(b []byte) {
	_ = b[HeaderLen-1] // one bounds check up front
	copy(b[0:6], h.Dst[:])
	copy(b[6:12], h.Src[:])
	binary.BigEndian.PutUint16(b[12:14], uint16(h.Type))
}
