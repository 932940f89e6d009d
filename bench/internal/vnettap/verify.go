package vnettap

import (
	"errors"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// The endpoint tells gVisor that it checks received checksums
// (CapabilityRXChecksumOffload, as gVisor's runsc does for its host link
// by default), because a frame with NEEDS_CSUM holds a partial checksum
// that gVisor's own check would reject. So the frames the kernel does not
// vouch for (no NEEDS_CSUM, no DATA_VALID: ICMP, ARP, anything the Linux
// side forwards with a full checksum) are checked here, before gVisor
// sees them.
var (
	ErrBadChecksum  = errors.New("bad IP or transport checksum")
	ErrUnverifiable = errors.New("untrusted frame whose checksum cannot be checked here (IP fragment or truncated header)")
)

// IP protocol numbers whose checksum verifyFrame checks.
const (
	protoICMPv4 = 1
	protoIGMP   = 2
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	// IPv6 extension headers walked over to reach the transport header
	// (RFC 8200, section 4).
	extHopByHop    = 0
	extRouting     = 43
	extFragment    = 44
	extDestination = 60
)

// verifyFrame checks the IPv4 header checksum and the TCP, UDP, ICMP or
// IGMP checksum of an Ethernet frame the kernel did not vouch for. Other
// EtherTypes (ARP) and transport protocols without a checksum pass. A
// fragment cannot be checked before reassembly, and gVisor, told that
// the link checked it, would not check it after; it is refused.
func verifyFrame(frame []byte) error {
	if len(frame) < header.EthernetMinimumSize {
		return ErrShortFrame
	}
	eth := header.Ethernet(frame)
	ip := frame[header.EthernetMinimumSize:]
	switch eth.Type() {
	case header.IPv4ProtocolNumber:
		return verifyIPv4(ip)
	case header.IPv6ProtocolNumber:
		return verifyIPv6(ip)
	}
	return nil
}

func verifyIPv4(b []byte) error {
	if len(b) < header.IPv4MinimumSize {
		return ErrUnverifiable
	}
	h := header.IPv4(b)
	hl, total := int(h.HeaderLength()), int(h.TotalLength())
	if hl < header.IPv4MinimumSize || hl > total || total > len(b) {
		return ErrUnverifiable
	}
	if !h.IsChecksumValid() {
		return ErrBadChecksum
	}
	if h.More() || h.FragmentOffset() != 0 {
		return ErrUnverifiable
	}
	payload := b[hl:total]
	src, dst := h.SourceAddress(), h.DestinationAddress()
	switch h.Protocol() {
	case protoTCP, protoUDP:
		return verifyTransport(tcpip.TransportProtocolNumber(h.Protocol()), src, dst, payload, false)
	case protoICMPv4, protoIGMP:
		// RFC 792, RFC 2236 section 2.3: the checksum covers the message
		// alone.
		if checksum.Checksum(payload, 0) != 0xffff {
			return ErrBadChecksum
		}
	}
	return nil
}

func verifyIPv6(b []byte) error {
	if len(b) < header.IPv6MinimumSize {
		return ErrUnverifiable
	}
	h := header.IPv6(b)
	end := header.IPv6MinimumSize + int(h.PayloadLength())
	if end > len(b) {
		return ErrUnverifiable
	}
	next, off := h.NextHeader(), header.IPv6MinimumSize
	for {
		switch next {
		case extHopByHop, extRouting, extDestination:
			// Next header, then the length in 8-octet units past the
			// first 8 (RFC 8200, section 4.3).
			if off+2 > end {
				return ErrUnverifiable
			}
			n := (int(b[off+1]) + 1) * 8
			if off+n > end {
				return ErrUnverifiable
			}
			next, off = b[off], off+n
			continue
		case extFragment:
			return ErrUnverifiable
		case protoTCP, protoUDP, protoICMPv6:
			// RFC 8200, section 8.1: all three use the pseudo-header, and a
			// zero UDP checksum is not allowed over IPv6.
			return verifyTransport(tcpip.TransportProtocolNumber(next), h.SourceAddress(), h.DestinationAddress(), b[off:end], true)
		}
		return nil
	}
}

// verifyTransport checks a pseudo-header checksum over seg, the whole
// transport segment.
func verifyTransport(proto tcpip.TransportProtocolNumber, src, dst tcpip.Address, seg []byte, v6 bool) error {
	if len(seg) > 0xffff {
		return ErrUnverifiable
	}
	if proto == protoUDP {
		if len(seg) < header.UDPMinimumSize {
			return ErrUnverifiable
		}
		if header.UDP(seg).Checksum() == 0 && !v6 {
			return nil // RFC 768: no checksum was sent
		}
	}
	sum := header.PseudoHeaderChecksum(proto, src, dst, uint16(len(seg)))
	if checksum.Checksum(seg, sum) != 0xffff {
		return ErrBadChecksum
	}
	return nil
}
