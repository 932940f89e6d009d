package vnettap

import (
	"errors"
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

var (
	src4 = tcpip.AddrFrom4([4]byte{10, 0, 0, 1})
	dst4 = tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
	src6 = tcpip.AddrFrom16([16]byte{0xfd, 0, 0, 0x77, 15: 1})
	dst6 = tcpip.AddrFrom16([16]byte{0xfd, 0, 0, 0x77, 15: 2})
)

// tcpFrame builds an Ethernet frame with an IPv4 or IPv6 header and a TCP
// segment carrying payload bytes; full says whether the TCP checksum is
// complete or, as the kernel leaves it with NEEDS_CSUM, only the
// pseudo-header's.
func tcpFrame(v6 bool, payload int, full bool) []byte {
	netLen := header.IPv4MinimumSize
	if v6 {
		netLen = header.IPv6MinimumSize
	}
	segLen := header.TCPMinimumSize + payload
	b := make([]byte, header.EthernetMinimumSize+netLen+segLen)
	eth := header.Ethernet(b)
	fields := header.EthernetFields{SrcAddr: "\x02\x00\x00\x00\x00\x01", DstAddr: "\x02\x00\x00\x00\x00\x02", Type: header.IPv4ProtocolNumber}
	if v6 {
		fields.Type = header.IPv6ProtocolNumber
	}
	eth.Encode(&fields)
	ipb := b[header.EthernetMinimumSize:]
	src, dst := src4, dst4
	if v6 {
		src, dst = src6, dst6
		header.IPv6(ipb).Encode(&header.IPv6Fields{PayloadLength: uint16(segLen), TransportProtocol: header.TCPProtocolNumber, HopLimit: 64, SrcAddr: src, DstAddr: dst})
	} else {
		ip := header.IPv4(ipb)
		ip.Encode(&header.IPv4Fields{TotalLength: uint16(netLen + segLen), TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst})
		ip.SetChecksum(^ip.CalculateChecksum())
	}
	seg := ipb[netLen:]
	for i := range payload {
		seg[header.TCPMinimumSize+i] = byte(i)
	}
	tcp := header.TCP(seg)
	tcp.Encode(&header.TCPFields{SrcPort: 40000, DstPort: 9001, SeqNum: 1, AckNum: 1, DataOffset: header.TCPMinimumSize, Flags: header.TCPFlagAck, WindowSize: 1000})
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(segLen))
	if full {
		tcp.SetChecksum(^checksum.Checksum(seg, xsum))
	} else {
		tcp.SetChecksum(xsum)
	}
	return b
}

func encode(h header.VirtioNetHeaderFields) []byte {
	b := make([]byte, hdrLen)
	header.VirtioNetHeader(b).Encode(&h)
	return b
}

func TestHeaderRoundTrip(t *testing.T) {
	h := header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv6, HdrLen: 74, GSOSize: 1440, CSumStart: 54, CSumOffset: 16}
	if got := decodeHeader(encode(h)); got != h {
		t.Fatalf("decode(encode(%+v)) = %+v", h, got)
	}
}

func TestCheckRxAcceptsSuperFrames(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		frame := tcpFrame(v6, 10*1448, false)
		netLen := header.IPv4MinimumSize
		typ := uint8(gsoTCPv4)
		if v6 {
			netLen, typ = header.IPv6MinimumSize, gsoTCPv6
		}
		start := uint16(header.EthernetMinimumSize + netLen)
		h := header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: typ, HdrLen: start + 20, GSOSize: 1448, CSumStart: start, CSumOffset: 16}
		m, err := checkRx(h, frame)
		if err != nil {
			t.Fatalf("v6=%v: %v", v6, err)
		}
		if !m.trusted || !m.super || m.gsoSize != 1448 {
			t.Errorf("v6=%v: meta %+v, want trusted super frame of 1448-byte segments", v6, m)
		}
		// With ECN's bit the frame is the same kind.
		h.GSOType |= gsoECN
		if _, err := checkRx(h, frame); err != nil {
			t.Errorf("v6=%v with ECN: %v", v6, err)
		}
	}
	// A plain frame with no flags is accepted and not trusted.
	m, err := checkRx(header.VirtioNetHeaderFields{}, tcpFrame(false, 10, true))
	if err != nil || m.trusted || m.super {
		t.Errorf("plain frame: %+v, %v", m, err)
	}
	m, err = checkRx(header.VirtioNetHeaderFields{Flags: flagDataValid}, tcpFrame(false, 10, true))
	if err != nil || !m.trusted {
		t.Errorf("DATA_VALID frame: %+v, %v", m, err)
	}
}

func TestCheckRxRefusesBogusHeaders(t *testing.T) {
	frame4 := tcpFrame(false, 3000, false)
	start := uint16(header.EthernetMinimumSize + header.IPv4MinimumSize)
	good := header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv4, GSOSize: 1448, CSumStart: start, CSumOffset: 16}
	for _, c := range []struct {
		name  string
		h     func(h *header.VirtioNetHeaderFields)
		frame []byte
		want  error
	}{
		{"unknown flag", func(h *header.VirtioNetHeaderFields) { h.Flags |= 4 }, frame4, ErrUnknownFlags},
		{"UDP fragmentation offload", func(h *header.VirtioNetHeaderFields) { h.GSOType = gsoUDP }, frame4, ErrGSOType},
		{"UDP segmentation offload", func(h *header.VirtioNetHeaderFields) { h.GSOType = gsoUDPL4 }, frame4, ErrGSOType},
		{"unknown GSO type", func(h *header.VirtioNetHeaderFields) { h.GSOType = 0x7f }, frame4, ErrGSOType},
		{"TCPv6 GSO on an IPv4 frame", func(h *header.VirtioNetHeaderFields) { h.GSOType = gsoTCPv6 }, frame4, ErrGSOFamily},
		{"zero segment size", func(h *header.VirtioNetHeaderFields) { h.GSOSize = 0 }, frame4, ErrGSOSize},
		{"checksum offset past the end", func(h *header.VirtioNetHeaderFields) { h.CSumOffset = 0xffff }, frame4, ErrCsumRange},
		{"checksum start past the end", func(h *header.VirtioNetHeaderFields) { h.CSumStart = uint16(len(frame4)) }, frame4, ErrCsumRange},
		{"checksum start inside the Ethernet header", func(h *header.VirtioNetHeaderFields) { h.CSumStart = 2 }, frame4, ErrCsumRange},
		{"runt frame", func(*header.VirtioNetHeaderFields) {}, frame4[:10], ErrShortFrame},
	} {
		h := good
		c.h(&h)
		if _, err := checkRx(h, c.frame); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestBogusInputNeverPanics feeds random headers and frames, and random
// corruptions of a good frame, through the whole receive check: each is
// accepted or refused, never a panic or an index out of range.
func TestBogusInputNeverPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	good := tcpFrame(true, 2000, true)
	for i := range 20000 {
		var raw [hdrLen]byte
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		var frame []byte
		if i%2 == 0 {
			frame = make([]byte, r.IntN(200))
			for j := range frame {
				frame[j] = byte(r.Uint32())
			}
		} else {
			frame = append([]byte(nil), good[:r.IntN(len(good)+1)]...)
			for range 3 {
				if len(frame) > 0 {
					frame[r.IntN(len(frame))] = byte(r.Uint32())
				}
			}
		}
		checkFrame(t, raw[:], frame)
	}
}

// checkFrame runs what the reader runs on one frame and checks that an
// accepted partial checksum lies inside the frame.
func checkFrame(t *testing.T, raw, frame []byte) {
	h := decodeHeader(raw)
	m, err := checkRx(h, frame)
	if err != nil {
		return
	}
	if h.Flags&flagNeedsCsum != 0 && int(h.CSumStart)+int(h.CSumOffset)+2 > len(frame) {
		t.Fatalf("accepted a checksum at %d+%d in a %d-byte frame", h.CSumStart, h.CSumOffset, len(frame))
	}
	if !m.trusted {
		_ = verifyFrame(frame)
	}
}

func FuzzReceive(f *testing.F) {
	f.Add(encode(header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv4, GSOSize: 1448, CSumStart: 34, CSumOffset: 16}), tcpFrame(false, 3000, false))
	f.Add(make([]byte, hdrLen), tcpFrame(true, 100, true))
	f.Fuzz(func(t *testing.T, raw, frame []byte) {
		if len(raw) < hdrLen {
			return
		}
		checkFrame(t, raw[:hdrLen], frame)
	})
}

func TestTxHeader(t *testing.T) {
	const eth, ip4, ip6, tcp = 14, 20, 40, 32
	gso4 := stack.GSO{Type: stack.GSOTCPv4, NeedsCsum: true, CsumOffset: 16, MSS: 1448, L3HdrLen: ip4, MaxSize: 65536}
	gso6 := gso4
	gso6.Type, gso6.L3HdrLen = stack.GSOTCPv6, ip6
	for _, c := range []struct {
		name    string
		gso     stack.GSO
		netLen  int
		dataLen int
		want    header.VirtioNetHeaderFields
	}{
		{"no GSO: full checksum, empty header", stack.GSO{}, ip4, 100, header.VirtioNetHeaderFields{}},
		{"IPv4 super-segment", gso4, ip4, 40000, header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv4, HdrLen: eth + ip4 + tcp, GSOSize: 1448, CSumStart: eth + ip4, CSumOffset: 16}},
		{"IPv6 super-segment", gso6, ip6, 65000, header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv6, HdrLen: eth + ip6 + tcp, GSOSize: 1448, CSumStart: eth + ip6, CSumOffset: 16}},
		{"one segment: partial checksum, no GSO type", gso4, ip4, 1448, header.VirtioNetHeaderFields{Flags: flagNeedsCsum, CSumStart: eth + ip4, CSumOffset: 16}},
		{"pure ACK", gso6, ip6, 0, header.VirtioNetHeaderFields{Flags: flagNeedsCsum, CSumStart: eth + ip6, CSumOffset: 16}},
	} {
		got, err := txHeader(c.gso, eth, c.netLen, tcp, c.dataLen)
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
		// What the endpoint writes, the receive side reads back.
		if back := decodeHeader(encode(got)); back != got {
			t.Errorf("%s: header does not survive encoding: %+v", c.name, back)
		}
	}
	if _, err := txHeader(stack.GSO{Type: stack.GSOTCPv4, MSS: 1448}, eth, ip4, tcp, 4000); !errors.Is(err, ErrGSONoCsum) {
		t.Errorf("GSO without a partial checksum: %v, want %v", err, ErrGSONoCsum)
	}
	if _, err := txHeader(stack.GSO{Type: stack.GSOGvisor, MSS: 1448}, eth, ip4, tcp, 4000); !errors.Is(err, ErrGSOUnknown) {
		t.Errorf("gVisor software GSO: %v, want %v", err, ErrGSOUnknown)
	}
}

func TestVerifyFrame(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		good := tcpFrame(v6, 500, true)
		if err := verifyFrame(good); err != nil {
			t.Fatalf("v6=%v: good frame refused: %v", v6, err)
		}
		bad := append([]byte(nil), good...)
		bad[len(bad)-1] ^= 0x40
		if err := verifyFrame(bad); !errors.Is(err, ErrBadChecksum) {
			t.Errorf("v6=%v: corrupted payload: %v, want %v", v6, err, ErrBadChecksum)
		}
		partial := tcpFrame(v6, 500, false)
		if err := verifyFrame(partial); !errors.Is(err, ErrBadChecksum) {
			t.Errorf("v6=%v: partial checksum without NEEDS_CSUM: %v, want %v", v6, err, ErrBadChecksum)
		}
		if err := verifyFrame(good[:len(good)-1]); !errors.Is(err, ErrUnverifiable) {
			t.Errorf("v6=%v: truncated: %v, want %v", v6, err, ErrUnverifiable)
		}
	}
	// An IPv4 fragment cannot be checked before reassembly.
	frag := tcpFrame(false, 500, true)
	ip := header.IPv4(frag[header.EthernetMinimumSize:])
	ip.SetFlagsFragmentOffset(header.IPv4FlagMoreFragments, 0)
	ip.SetChecksum(0)
	ip.SetChecksum(^ip.CalculateChecksum())
	if err := verifyFrame(frag); !errors.Is(err, ErrUnverifiable) {
		t.Errorf("fragment: %v, want %v", err, ErrUnverifiable)
	}
	// A bad IPv4 header checksum.
	badIP := tcpFrame(false, 10, true)
	badIP[header.EthernetMinimumSize+8]-- // TTL
	if err := verifyFrame(badIP); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("bad IPv4 header checksum: %v, want %v", err, ErrBadChecksum)
	}
	// ARP has no checksum.
	arp := make([]byte, header.EthernetMinimumSize+header.ARPSize)
	header.Ethernet(arp).Encode(&header.EthernetFields{Type: header.ARPProtocolNumber})
	if err := verifyFrame(arp); err != nil {
		t.Errorf("ARP: %v", err)
	}
}
