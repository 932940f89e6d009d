// Package ipv4 is the IPv4 header format (RFC 791): a checked byte view of
// received datagrams, a header representation for building them, and the
// protocol numbers the stack demultiplexes on. Options are carried but not
// interpreted; routing, fragmentation and reassembly policy live elsewhere.
package ipv4

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/actnet/actnet/layers/checksum"
)

// HeaderLen is the length of a header without options (IHL 5).
const HeaderLen = 20

// MaxHeaderLen is the longest header IHL can express (15 words).
const MaxHeaderLen = 60

// MinMTU is the datagram size every host must accept without fragmentation
// (RFC 791 §3.1 "Total Length"; RFC 1122 §3.3.3), also the ICMP error cap.
const MinMTU = 576

// DefaultTTL is the initial TTL recommended in Assigned Numbers (RFC 1700);
// RFC 1122 §3.2.1.7 asks that it be configurable.
const DefaultTTL = 64

// Protocol numbers (IANA "Assigned Internet Protocol Numbers").
const (
	ProtocolICMP = 1
	ProtocolTCP  = 6
	ProtocolUDP  = 17
)

// Reasons NewPacket rejects a datagram. They are distinct so the caller can
// count drops by reason, like Linux's InHdrErrors / InTruncatedPkts /
// InCsumErrors.
var (
	// ErrTruncated: the buffer is shorter than the fixed header, than the
	// header length IHL announces, or than Total Length.
	ErrTruncated = errors.New("ipv4: datagram truncated")
	// ErrVersion: the version field is not 4.
	ErrVersion = errors.New("ipv4: version is not 4")
	// ErrHeaderLength: IHL is below 5 words.
	ErrHeaderLength = errors.New("ipv4: header length below 20 bytes")
	// ErrTotalLength: Total Length is smaller than the header itself.
	ErrTotalLength = errors.New("ipv4: total length smaller than header")
	// ErrChecksum: the header checksum does not verify.
	ErrChecksum = errors.New("ipv4: bad header checksum")
)

// Flag bits in the flags/fragment-offset word (RFC 791 §3.1).
const (
	flagReserved      = 0x8000
	flagDontFragment  = 0x4000
	flagMoreFragments = 0x2000
	fragmentOffsetMsk = 0x1FFF
)

// Packet is a byte view of an IPv4 datagram whose header has been checked by
// NewPacket. It spans exactly Total Length bytes.
type Packet []byte

// NewPacket validates the header at the start of b (RFC 1122 §3.2.1.1–2 and
// RFC 791 §3.1) and returns a view truncated to Total Length, which removes
// Ethernet padding. The view aliases b. Checks, in order:
//
//   - at least 20 bytes (ErrTruncated)
//   - version 4 (ErrVersion)
//   - IHL ≥ 5 (ErrHeaderLength)
//   - len(b) ≥ IHL*4 (ErrTruncated)
//   - Total Length ≥ IHL*4 (ErrTotalLength)
//   - Total Length ≤ len(b) (ErrTruncated)
//   - header checksum verifies (ErrChecksum)
//
// Address sanity (martian sources, broadcast destinations) is policy and is
// left to the caller.
func NewPacket(b []byte) (Packet, error) {
	if len(b) < HeaderLen {
		return nil, ErrTruncated
	}
	if b[0]>>4 != 4 {
		return nil, ErrVersion
	}
	hlen := int(b[0]&0x0F) * 4
	if hlen < HeaderLen {
		return nil, ErrHeaderLength
	}
	if len(b) < hlen {
		return nil, ErrTruncated
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total < hlen {
		return nil, ErrTotalLength
	}
	if total > len(b) {
		return nil, ErrTruncated
	}
	if checksum.Checksum(b[:hlen]) != 0 {
		return nil, ErrChecksum
	}
	return Packet(b[:total]), nil
}

// HeaderLen returns the header length in bytes, options included.
func (p Packet) HeaderLen() int { return int(p[0]&0x0F) * 4 }

// TOS returns the type-of-service byte (DSCP and ECN, RFC 2474 / RFC 3168).
func (p Packet) TOS() uint8 { return p[1] }

// TotalLen returns the Total Length field, equal to len(p).
func (p Packet) TotalLen() int { return int(binary.BigEndian.Uint16(p[2:4])) }

// ID returns the identification field used to group fragments.
func (p Packet) ID() uint16 { return binary.BigEndian.Uint16(p[4:6]) }

func (p Packet) flagsFragment() uint16 { return binary.BigEndian.Uint16(p[6:8]) }

// DontFragment reports the DF flag.
func (p Packet) DontFragment() bool { return p.flagsFragment()&flagDontFragment != 0 }

// MoreFragments reports the MF flag.
func (p Packet) MoreFragments() bool { return p.flagsFragment()&flagMoreFragments != 0 }

// FragmentOffset returns the fragment offset in bytes (the field counts
// 8-byte units).
func (p Packet) FragmentOffset() int { return int(p.flagsFragment()&fragmentOffsetMsk) * 8 }

// IsFragment reports whether p is part of a fragmented datagram: MF set or
// a non-zero offset (RFC 791 §2.3).
func (p Packet) IsFragment() bool {
	return p.flagsFragment()&(flagMoreFragments|fragmentOffsetMsk) != 0
}

// ReservedFlag reports the reserved flag bit, which RFC 791 says must be
// zero; it is exposed so callers may count it, not rejected.
func (p Packet) ReservedFlag() bool { return p.flagsFragment()&flagReserved != 0 }

// TTL returns the time-to-live.
func (p Packet) TTL() uint8 { return p[8] }

// Protocol returns the upper-layer protocol number.
func (p Packet) Protocol() uint8 { return p[9] }

// Checksum returns the header checksum field as stored.
func (p Packet) Checksum() uint16 { return binary.BigEndian.Uint16(p[10:12]) }

// Src returns the source address.
func (p Packet) Src() netip.Addr { return netip.AddrFrom4([4]byte(p[12:16])) }

// Dst returns the destination address.
func (p Packet) Dst() netip.Addr { return netip.AddrFrom4([4]byte(p[16:20])) }

// Options returns the raw option bytes between the fixed header and the
// payload, possibly empty. They are not interpreted (RFC 1122 §3.2.1.8
// lets a host ignore options it does not implement).
func (p Packet) Options() []byte { return p[HeaderLen:p.HeaderLen()] }

// HeaderBytes returns the bytes of the header, options included.
func (p Packet) HeaderBytes() []byte { return p[:p.HeaderLen()] }

// Payload returns the bytes after the header, up to Total Length.
func (p Packet) Payload() []byte { return p[p.HeaderLen():] }

// Header returns the header as a representation. Options are not carried
// over: Header describes the option-less header this stack emits.
func (p Packet) Header() Header {
	return Header{
		TOS:            p.TOS(),
		ID:             p.ID(),
		DontFragment:   p.DontFragment(),
		MoreFragments:  p.MoreFragments(),
		FragmentOffset: p.FragmentOffset(),
		TTL:            p.TTL(),
		Protocol:       p.Protocol(),
		Src:            p.Src(),
		Dst:            p.Dst(),
		PayloadLen:     len(p.Payload()),
	}
}

// PseudoHeaderSum returns the partial checksum of the UDP/TCP pseudo-header
// for p's payload (RFC 768, RFC 9293 §3.1).
func (p Packet) PseudoHeaderSum() uint32 {
	return checksum.PseudoHeaderSum(p.Src(), p.Dst(), p.Protocol(), len(p.Payload()))
}

// Header is the representation of an option-less IPv4 header, used to build
// datagrams.
type Header struct {
	TOS            uint8
	ID             uint16
	DontFragment   bool
	MoreFragments  bool
	FragmentOffset int // in bytes; must be a multiple of 8, low bits are dropped
	TTL            uint8
	Protocol       uint8
	Src, Dst       netip.Addr // IPv4; other families are written as 0.0.0.0
	PayloadLen     int        // bytes after the header; Total Length is HeaderLen+PayloadLen
}

// Parse validates b with NewPacket and returns its header representation.
func Parse(b []byte) (Header, error) {
	p, err := NewPacket(b)
	if err != nil {
		return Header{}, err
	}
	return p.Header(), nil
}

// Len returns the emitted header length, HeaderLen.
func (h Header) Len() int { return HeaderLen }

// TotalLen returns the Total Length Emit writes.
func (h Header) TotalLen() int { return HeaderLen + h.PayloadLen }

// Emit writes a 20-byte header with a correct checksum into b[:HeaderLen].
// b must be at least HeaderLen bytes long; a shorter buffer is a caller bug
// and panics. Fields out of range are truncated to their wire width
// (PayloadLen above 65515 or a FragmentOffset above 65528 do not fit);
// callers keep datagrams within 65535 bytes.
func (h Header) Emit(b []byte) {
	_ = b[HeaderLen-1] // one bounds check up front
	b[0] = 4<<4 | HeaderLen/4
	b[1] = h.TOS
	binary.BigEndian.PutUint16(b[2:4], uint16(HeaderLen+h.PayloadLen))
	binary.BigEndian.PutUint16(b[4:6], h.ID)
	ff := uint16(h.FragmentOffset/8) & fragmentOffsetMsk
	if h.DontFragment {
		ff |= flagDontFragment
	}
	if h.MoreFragments {
		ff |= flagMoreFragments
	}
	binary.BigEndian.PutUint16(b[6:8], ff)
	b[8] = h.TTL
	b[9] = h.Protocol
	b[10], b[11] = 0, 0
	putAddr(b[12:16], h.Src)
	putAddr(b[16:20], h.Dst)
	binary.BigEndian.PutUint16(b[10:12], checksum.Checksum(b[:HeaderLen]))
}

// IsFragment reports whether the header describes a fragment.
func (h Header) IsFragment() bool { return h.MoreFragments || h.FragmentOffset != 0 }

// PseudoHeaderSum returns the partial checksum of the UDP/TCP pseudo-header
// for a payload of h.PayloadLen bytes.
func (h Header) PseudoHeaderSum() uint32 {
	return checksum.PseudoHeaderSum(h.Src, h.Dst, h.Protocol, h.PayloadLen)
}

func putAddr(b []byte, ip netip.Addr) {
	ip = ip.Unmap()
	if !ip.Is4() {
		clear(b[:4])
		return
	}
	a := ip.As4()
	copy(b, a[:])
}

// BroadcastAddr returns the directed broadcast address of an IPv4 prefix
// (host bits all ones, RFC 919 / RFC 922), for recognising broadcasts to
// the local subnet. It reports false for non-IPv4 prefixes and for /31 and
// /32, which have no broadcast address (RFC 3021).
func BroadcastAddr(prefix netip.Prefix) (netip.Addr, bool) {
	bits := prefix.Bits()
	if !prefix.Addr().Is4() || bits < 0 || bits > 30 {
		return netip.Addr{}, false
	}
	a := prefix.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-bits) - 1)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a), true
}
