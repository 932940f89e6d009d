package vnettap

import (
	"encoding/binary"
	"errors"
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The virtio_net_hdr values this endpoint speaks (Linux's
// include/uapi/linux/virtio_net.h; the virtio 1.x specification, section
// 5.1.6, "Device Operation"). gVisor's header package keeps its own copies
// unexported.
const (
	// flagNeedsCsum: the checksum at CSumStart+CSumOffset holds only the
	// pseudo-header sum; the rest is to be summed from CSumStart on
	// (Linux's CHECKSUM_PARTIAL).
	flagNeedsCsum = 1
	// flagDataValid: the kernel has checked the checksum
	// (CHECKSUM_UNNECESSARY).
	flagDataValid = 2

	gsoNone  = 0
	gsoTCPv4 = 1
	gsoUDP   = 3
	gsoTCPv6 = 4
	gsoUDPL4 = 5
	// gsoECN is or-ed into the GSO type when the segments carry ECN's
	// CWR, which the TSO_ECN offload lets the peer segment correctly.
	gsoECN = 0x80
)

// Errors for a virtio_net_hdr the endpoint refuses. The reader counts
// each and drops the frame: the header comes from the kernel, but it is
// input all the same, and nothing past a refused header is trusted.
var (
	ErrShortFrame    = errors.New("frame shorter than the virtio-net header and an Ethernet header")
	ErrUnknownFlags  = errors.New("virtio-net header: unknown flags")
	ErrGSOType       = errors.New("virtio-net header: GSO type not negotiated")
	ErrGSOFamily     = errors.New("virtio-net header: GSO type does not match the frame's EtherType")
	ErrGSOSize       = errors.New("virtio-net header: GSO frame with a zero segment size")
	ErrCsumRange     = errors.New("virtio-net header: checksum start or offset outside the frame")
	ErrGSONoCsum     = errors.New("gVisor GSO packet without a partial checksum")
	ErrGSOUnknown    = errors.New("gVisor packet with a GSO type a tap cannot take")
	ErrOversizeFrame = errors.New("frame larger than the endpoint's receive buffer")
)

// decodeHeader reads a virtio_net_hdr. The endpoint sets the tap's
// header to little-endian (TUNSETVNETLE), the byte order gVisor's
// header.VirtioNetHeader.Encode writes, so both directions agree on any
// host. (header.VirtioNetHeader's accessors read big-endian, which is
// not what a tap sends, so they are not used here.)
func decodeHeader(b []byte) header.VirtioNetHeaderFields {
	return header.VirtioNetHeaderFields{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.LittleEndian.Uint16(b[2:]),
		GSOSize:    binary.LittleEndian.Uint16(b[4:]),
		CSumStart:  binary.LittleEndian.Uint16(b[6:]),
		CSumOffset: binary.LittleEndian.Uint16(b[8:]),
	}
}

// rxMeta is what a received frame's header says about it.
type rxMeta struct {
	// trusted: the kernel vouches for the transport checksum, either
	// having checked it (DATA_VALID) or having left it partial for a
	// frame it built itself (NEEDS_CSUM; the TCP sender on the Linux side
	// of the tap, which the stack may trust as it would its own NIC).
	trusted bool
	// super: a coalesced TCP frame of several segments of gsoSize.
	super   bool
	gsoSize uint16
}

// checkRx validates the header h of frame (the Ethernet frame after the
// header) and says what it promises. A header that is malformed, names an
// offload that was not negotiated, or points outside the frame is
// refused with an error; nothing here indexes frame beyond its length.
func checkRx(h header.VirtioNetHeaderFields, frame []byte) (rxMeta, error) {
	if len(frame) < header.EthernetMinimumSize {
		return rxMeta{}, ErrShortFrame
	}
	if h.Flags&^(flagNeedsCsum|flagDataValid) != 0 {
		return rxMeta{}, fmt.Errorf("%w: %#x", ErrUnknownFlags, h.Flags)
	}
	m := rxMeta{trusted: h.Flags != 0}
	ethType := header.Ethernet(frame).Type()
	switch h.GSOType &^ gsoECN {
	case gsoNone:
	case gsoTCPv4, gsoTCPv6:
		want := header.IPv4ProtocolNumber
		if h.GSOType&^gsoECN == gsoTCPv6 {
			want = header.IPv6ProtocolNumber
		}
		if ethType != want {
			return rxMeta{}, fmt.Errorf("%w: GSO type %d, EtherType %#04x", ErrGSOFamily, h.GSOType, ethType)
		}
		if h.GSOSize == 0 {
			return rxMeta{}, ErrGSOSize
		}
		m.super, m.gsoSize = true, h.GSOSize
	default:
		// UDP fragmentation and segmentation offloads (gsoUDP, gsoUDPL4)
		// are never negotiated, so the kernel must not send them.
		return rxMeta{}, fmt.Errorf("%w: %d", ErrGSOType, h.GSOType)
	}
	if h.Flags&flagNeedsCsum != 0 {
		// The checksum field is 2 bytes at CSumStart+CSumOffset, after the
		// Ethernet header and a network header at least.
		start, off := int(h.CSumStart), int(h.CSumOffset)
		if start < header.EthernetMinimumSize || start+off+2 > len(frame) {
			return rxMeta{}, fmt.Errorf("%w: start %d offset %d, frame %d bytes", ErrCsumRange, start, off, len(frame))
		}
	}
	return m, nil
}

// txHeader builds the virtio_net_hdr for an outbound frame from gVisor's
// GSO metadata. linkLen, netLen and transLen are the lengths of the
// frame's Ethernet, IP and TCP headers, dataLen its payload's.
//
// A packet gVisor marks for host GSO carries a TCP checksum over the
// pseudo-header only (NeedsCsum), so every such packet is sent with
// NEEDS_CSUM and the checksum's place, whether or not it is larger than
// one segment; only one larger than MSS gets a GSO type, for the kernel
// to segment (or deliver whole to a local socket). Other packets have
// full checksums and an all-zero header.
func txHeader(gso stack.GSO, linkLen, netLen, transLen, dataLen int) (header.VirtioNetHeaderFields, error) {
	var h header.VirtioNetHeaderFields
	var gsoType uint8
	switch gso.Type {
	case stack.GSONone:
		return h, nil
	case stack.GSOTCPv4:
		gsoType = gsoTCPv4
	case stack.GSOTCPv6:
		gsoType = gsoTCPv6
	default:
		// GSOGvisor means the endpoint would segment in software; this
		// endpoint never offers it, so such a packet is a bug upstream.
		return h, fmt.Errorf("%w: %d", ErrGSOUnknown, gso.Type)
	}
	if !gso.NeedsCsum {
		return h, ErrGSONoCsum
	}
	h.Flags = flagNeedsCsum
	h.CSumStart = uint16(linkLen + netLen)
	h.CSumOffset = gso.CsumOffset
	if gso.MSS > 0 && dataLen > int(gso.MSS) {
		h.GSOType = gsoType
		h.GSOSize = gso.MSS
		h.HdrLen = uint16(linkLen + netLen + transLen)
	}
	return h, nil
}
