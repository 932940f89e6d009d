package conformance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv6"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/layers/ndp"
	"github.com/actnet/actnet/layers/tcp"
)

// Option types with each action (RFC 8200 §4.2: the two high bits).
const (
	optSkip    = 0x1e // 00: skip
	optDiscard = 0x5e // 01: discard silently
	optProblem = 0x9e // 10: discard, Parameter Problem code 2
	optProbUni = 0xde // 11: likewise unless the destination is multicast
)

// optsHeader builds a hop-by-hop or destination options header whose
// options are opts, padded with PadN to a multiple of 8.
func optsHeader(next uint8, opts ...byte) []byte {
	h := append([]byte{next, 0}, opts...)
	if pad := (8 - len(h)%8) % 8; pad == 1 {
		h = append(h, 0)
	} else if pad > 1 {
		h = append(h, 1, byte(pad-2))
		h = append(h, make([]byte, pad-2)...)
	}
	h[1] = byte(len(h)/8 - 1)
	return h
}

// option is one TLV option with n zero data bytes.
func option(typ byte, n int) []byte { return append([]byte{typ, byte(n)}, make([]byte, n)...) }

// echoWith returns an echo request (to the stack's global address) behind
// the extension headers ext (whose first Next Header is first), and the
// match for its reply.
func (b *Bench) echoWith(first uint8, ext []byte) Probe {
	b.echoSeq++
	e := Echo6Bytes(b.echoSeq, []byte("ext-chain"), PeerIP6, StackPrefix6.Addr())
	return Probe{Frame: b.Frame6(IP6{Next: first}, append(append([]byte(nil), ext...), e...)), Answer: Echo6Reply{Seq: b.echoSeq}}
}

func TestEcho6Global_RFC4443_4_2(t *testing.T) { New6(t) }

func TestEcho6LinkLocal_RFC4443_4_2(t *testing.T) {
	b := New6(t)
	p := b.EchoRequest6(IP6{Src: PeerLL, Dst: StackLL})
	b.Send(p.Frame)
	f := b.Expect(p.Answer)
	if src := netip.AddrFrom16([16]byte(f.Payload()[8:24])); src != StackLL {
		t.Fatalf("reply from %v, want %v", src, StackLL)
	}
}

func TestEcho6AllNodesAnswered_RFC4443_4_2(t *testing.T) {
	b := New6(t)
	p := b.EchoRequest6(IP6{Src: PeerLL, Dst: ipv6.AllNodes})
	b.Send(p.Frame)
	f := b.Expect(p.Answer)
	if src := netip.AddrFrom16([16]byte(f.Payload()[8:24])); src.IsMulticast() {
		t.Fatalf("reply from multicast %v (RFC 4443 §2.2)", src)
	}
}

func TestEcho6HopLimitOneAnswered_RFC8200_3(t *testing.T) {
	b := New6(t)
	p := b.EchoRequest6(IP6{HopLimit: 1})
	b.Send(p.Frame)
	b.Expect(p.Answer)
}

func TestICMPv6BadChecksumDropped_RFC4443_2_3(t *testing.T) {
	b := New6(t)
	f := b.EchoRequest6(IP6{}).Frame
	f[ethernet.HeaderLen+ipv6.HeaderLen+2] ^= 0xff
	b.Send(f)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().ICMPv6.BadChecksum; got != 1 {
		t.Fatalf("BadChecksum = %d", got)
	}
}

func TestIPv6WrongVersionDropped_RFC8200_3(t *testing.T) {
	b := New6(t)
	f := b.EchoRequest6(IP6{}).Frame
	f[ethernet.HeaderLen] = 0x50
	b.Send(f)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.BadVersion; got != 1 {
		t.Fatalf("BadVersion = %d", got)
	}
}

func TestIPv6PayloadLengthBeyondFrameDropped_RFC8200_3(t *testing.T) {
	b := New6(t)
	f := b.EchoRequest6(IP6{}).Frame
	binary.BigEndian.PutUint16(f[ethernet.HeaderLen+4:], 1400)
	b.Send(f)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.Truncated; got != 1 {
		t.Fatalf("Truncated = %d", got)
	}
}

func TestIPv6OtherDestinationDropped_RFC8200(t *testing.T) {
	b := New6(t)
	b.Send(b.EchoRequest6(IP6{Dst: netip.MustParseAddr("2001:db8:9::77")}).Frame)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.NotForUs; got != 1 {
		t.Fatalf("NotForUs = %d", got)
	}
}

func TestIPv6MulticastSourceDropped_RFC4291_2_7(t *testing.T) {
	b := New6(t)
	b.Send(b.EchoRequest6(IP6{Src: ipv6.AllNodes}).Frame)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.BadSource; got != 1 {
		t.Fatalf("BadSource = %d", got)
	}
}

// A packet from the wire claiming the stack's own address as source is a
// spoof: answering it would talk to ourselves.
func TestIPv6OwnSourceFromWireDropped(t *testing.T) {
	b := New6(t)
	b.Send(b.EchoRequest6(IP6{Src: StackPrefix6.Addr()}).Frame)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.OwnSource; got != 1 {
		t.Fatalf("OwnSource = %d", got)
	}
}

func TestIPv6UnknownNextHeaderProblem_RFC8200_4(t *testing.T) {
	b := New6(t)
	b.Send(b.Frame6(IP6{Next: 253}, make([]byte, 16)))
	b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeUnrecognizedNextHeader)), Extra: V(uint32(6))})
}

func TestIPv6NoNextHeaderSilent_RFC8200_4_7(t *testing.T) {
	b := New6(t)
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoNoNext}, make([]byte, 8)))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.NoNextHeader; got != 1 {
		t.Fatalf("NoNextHeader = %d", got)
	}
}

func TestIPv6HopByHopNotFirstProblem_RFC8200_4_3(t *testing.T) {
	b := New6(t)
	ext := append(optsHeader(ipv6.ProtoHopByHop), optsHeader(ipv6.ProtoICMPv6)...)
	b.Send(b.echoWith(ipv6.ProtoDestOpts, ext).Frame)
	b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeUnrecognizedNextHeader))})
}

func TestIPv6UnknownOptionActions_RFC8200_4_2(t *testing.T) {
	cases := []struct {
		name    string
		typ     byte
		dst     netip.Addr
		answer  bool // the echo is answered
		problem bool // a Parameter Problem code 2 comes instead
	}{
		{"skip", optSkip, netip.Addr{}, true, false},
		{"discard", optDiscard, netip.Addr{}, false, false},
		{"problem", optProblem, netip.Addr{}, false, true},
		{"problem unless multicast, unicast", optProbUni, netip.Addr{}, false, true},
		{"problem unless multicast, multicast", optProbUni, ipv6.AllNodes, false, false},
		{"problem even to multicast", optProblem, ipv6.AllNodes, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := New6(t)
			b.echoSeq++
			dst := c.dst
			if !dst.IsValid() {
				dst = StackPrefix6.Addr()
			}
			e := Echo6Bytes(b.echoSeq, []byte("opt"), PeerIP6, dst)
			b.Send(b.Frame6(IP6{Dst: dst, Next: ipv6.ProtoDestOpts}, append(optsHeader(ipv6.ProtoICMPv6, option(c.typ, 4)...), e...)))
			switch {
			case c.answer:
				b.Expect(Echo6Reply{Seq: b.echoSeq})
			case c.problem:
				b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeUnrecognizedOption)), Extra: V(uint32(42))})
			default:
				b.ExpectNone(b.EchoRequest6(IP6{}))
			}
		})
	}
}

func TestRoutingType0Refused_RFC5095_3(t *testing.T) {
	b := New6(t)
	rh := make([]byte, 24)
	rh[0], rh[1], rh[2], rh[3] = ipv6.ProtoICMPv6, 2, 0, 1
	copy(rh[8:], PeerIP6.AsSlice())
	b.Send(b.echoWith(ipv6.ProtoRouting, rh).Frame)
	b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeErroneousHeader)), Extra: V(uint32(42))})
	if got := b.Stats().IPv6.ExtRouting; got != 1 {
		t.Fatalf("ExtRouting = %d", got)
	}
}

func TestRoutingSegmentsLeftZeroIgnored_RFC8200_4_4(t *testing.T) {
	b := New6(t)
	rh := []byte{ipv6.ProtoICMPv6, 0, 4, 0, 0, 0, 0, 0}
	p := b.echoWith(ipv6.ProtoRouting, rh)
	b.Send(p.Frame)
	b.Expect(p.Answer)
}

// A chain of nine destination options headers, each legal on its own,
// exceeds the walker's bound (RFC 8504 §5.3, RFC 8883 code 8).
func TestExtensionChainTooManyHeaders_RFC8883_2_1_4(t *testing.T) {
	b := New6(t)
	var ext []byte
	for i := 0; i < 9; i++ {
		next := uint8(ipv6.ProtoDestOpts)
		if i == 8 {
			next = ipv6.ProtoICMPv6
		}
		ext = append(ext, optsHeader(next)...)
	}
	b.Send(b.echoWith(ipv6.ProtoDestOpts, ext).Frame)
	b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeTooManyExtHeaders))})
	if got := b.Stats().IPv6.ExtTooMany; got != 1 {
		t.Fatalf("ExtTooMany = %d", got)
	}
}

// Two destination options headers of skippable options, 1,200 bytes in
// all, exceed the chain length bound (RFC 8883 code 7).
func TestExtensionChainTooLong_RFC8883_2_1_3(t *testing.T) {
	b := New6(t)
	big := func(next uint8) []byte {
		var o []byte
		for i := 0; i < 2; i++ {
			o = append(o, option(optSkip, 255)...)
		}
		o = append(o, option(optSkip, 80)...)
		return optsHeader(next, o...)
	}
	ext := append(big(ipv6.ProtoDestOpts), big(ipv6.ProtoICMPv6)...)
	b.Send(b.echoWith(ipv6.ProtoDestOpts, ext).Frame)
	b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeChainTooLong))})
	if got := b.Stats().IPv6.ExtTooLong; got != 1 {
		t.Fatalf("ExtTooLong = %d", got)
	}
}

func TestExtensionTooManyOptions_RFC8883_2_1_5(t *testing.T) {
	b := New6(t)
	var o []byte
	for i := 0; i < 10; i++ {
		o = append(o, option(optSkip, 0)...)
	}
	b.Send(b.echoWith(ipv6.ProtoDestOpts, optsHeader(ipv6.ProtoICMPv6, o...)).Frame)
	b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeTooManyOptions))})
}

func TestExtensionExcessPaddingDropped_RFC4942_2_1_9_5(t *testing.T) {
	b := New6(t)
	h := []byte{ipv6.ProtoICMPv6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b.Send(b.echoWith(ipv6.ProtoDestOpts, h).Frame)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.ExtOption; got != 1 {
		t.Fatalf("ExtOption = %d", got)
	}
}

func TestExtensionTruncatedDropped_RFC8200_4(t *testing.T) {
	b := New6(t)
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoDestOpts}, []byte{ipv6.ProtoICMPv6, 5, 1, 0}))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.ExtTruncated; got != 1 {
		t.Fatalf("ExtTruncated = %d", got)
	}
}

// fragments6 splits an echo request into fragments at the given offsets
// (each a multiple of 8, the last fragment running to the end), with
// extra overriding one fragment's offset.
func (b *Bench) fragments6(id uint32, offsets []int, override map[int]int) ([][]byte, Probe) {
	b.echoSeq++
	e := Echo6Bytes(b.echoSeq, bytes.Repeat([]byte("fragment"), 8), PeerIP6, StackPrefix6.Addr())
	var frames [][]byte
	for i, off := range offsets {
		end := len(e)
		if i+1 < len(offsets) {
			end = offsets[i+1]
		}
		at := off
		if o, ok := override[i]; ok {
			at = o
		}
		fh := make([]byte, ipv6.FragmentHeaderLen)
		ipv6.FragmentHeader{NextHeader: ipv6.ProtoICMPv6, Offset: at, More: i+1 < len(offsets), ID: id}.Emit(fh)
		frames = append(frames, b.Frame6(IP6{Next: ipv6.ProtoFragment}, append(fh, e[off:end]...)))
	}
	return frames, Probe{Answer: Echo6Reply{Seq: b.echoSeq}}
}

func TestFragmentedEchoReassembled_RFC8200_4_5(t *testing.T) {
	b := New6(t)
	fs, p := b.fragments6(7, []int{0, 32, 48}, nil)
	b.Send(fs[2])
	b.Send(fs[0])
	b.Send(fs[1])
	b.Expect(p.Answer)
}

func TestOverlappingFragmentsDropped_RFC5722_4(t *testing.T) {
	b := New6(t)
	fs, _ := b.fragments6(8, []int{0, 32}, map[int]int{1: 24})
	b.Send(fs[0])
	b.Send(fs[1])
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.FragOverlap; got != 1 {
		t.Fatalf("FragOverlap = %d", got)
	}
}

func TestAtomicFragmentProcessed_RFC6946_4(t *testing.T) {
	b := New6(t)
	fh := make([]byte, ipv6.FragmentHeaderLen)
	ipv6.FragmentHeader{NextHeader: ipv6.ProtoICMPv6, ID: 99}.Emit(fh)
	p := b.echoWith(ipv6.ProtoFragment, fh)
	b.Send(p.Frame)
	b.Expect(p.Answer)
}

func TestReassemblyTimeoutReported_RFC8200_4_5(t *testing.T) {
	b := New6(t)
	fs, _ := b.fragments6(9, []int{0, 32}, nil)
	b.Send(fs[0])
	b.ExpectNone(b.EchoRequest6(IP6{}))
	b.AdvanceSettled(61 * time.Second)
	b.Expect(ICMP6M{Type: icmpv6.TypeTimeExceeded, Code: V(uint8(icmpv6.CodeReassemblyTimeExpired))})
}

func TestReassemblyTimeoutWithoutFirstSilent_RFC8200_4_5(t *testing.T) {
	b := New6(t)
	fs, _ := b.fragments6(10, []int{0, 32}, nil)
	b.Send(fs[1])
	b.ExpectNone(b.EchoRequest6(IP6{}))
	b.AdvanceSettled(61 * time.Second)
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.ReassemblyTimedOut; got != 1 {
		t.Fatalf("ReassemblyTimedOut = %d", got)
	}
}

func TestFragmentUnalignedProblem_RFC8200_4_5(t *testing.T) {
	b := New6(t)
	fh := make([]byte, ipv6.FragmentHeaderLen)
	ipv6.FragmentHeader{NextHeader: ipv6.ProtoICMPv6, More: true, ID: 11}.Emit(fh)
	data := make([]byte, 13)
	data[0] = icmpv6.TypeEchoRequest // not an error: one may be sent about it
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoFragment}, append(fh, data...)))
	b.Expect(ICMP6M{Type: icmpv6.TypeParameterProblem, Code: V(uint8(icmpv6.CodeErroneousHeader)), Extra: V(uint32(4))})
}

func TestNeighborSolicitationAnswered_RFC4861_7_2_4(t *testing.T) {
	b := New6(t)
	b.Send(b.NS(IP6{Dst: ipv6.SolicitedNode(StackPrefix6.Addr())}, StackPrefix6.Addr(), true))
	b.Expect(NDPM{Type: ndp.TypeNeighborAdvertisement, Target: StackPrefix6.Addr(), Dst: PeerIP6,
		Check: func(_ ipv6.Packet, r ndp.Repr) error {
			if !r.Solicited || !r.Override || !r.Options.HasTargetLinkAddr || r.Options.TargetLinkAddr != b.MAC {
				return fmt.Errorf("NA %+v", r)
			}
			return nil
		}})
}

func TestNDPHopLimitNot255Ignored_RFC4861_7_1_1(t *testing.T) {
	b := New6(t)
	b.Send(b.NS(IP6{Dst: ipv6.SolicitedNode(StackPrefix6.Addr()), HopLimit: 64}, StackPrefix6.Addr(), true))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.NDPBadHopLimit; got != 1 {
		t.Fatalf("NDPBadHopLimit = %d", got)
	}
}

func TestNAHopLimitNot255Ignored_RFC4861_7_1_2(t *testing.T) {
	b := New6(t)
	na := ndp.Repr{Type: ndp.TypeNeighborAdvertisement, Target: PeerIP6, Override: true}
	na.Options.TargetLinkAddr, na.Options.HasTargetLinkAddr = ethernet.Addr{0x02, 9, 9, 9, 9, 9}, true
	b.Send(b.NDP(IP6{Dst: ipv6.AllNodes, HopLimit: 64}, na))
	b.Ping6() // the reply still goes to the real MAC
	if got := b.Stats().IPv6.NDPBadHopLimit; got != 1 {
		t.Fatalf("NDPBadHopLimit = %d", got)
	}
}

// NDP spoofing: an advertisement claiming the stack's own address, from
// another MAC, must not take it over; the stack keeps answering.
func TestNASpoofingOwnAddressIgnored_RFC4862_5_4_4(t *testing.T) {
	b := New6(t)
	na := ndp.Repr{Type: ndp.TypeNeighborAdvertisement, Target: StackPrefix6.Addr(), Override: true}
	na.Options.TargetLinkAddr, na.Options.HasTargetLinkAddr = b.PeerMAC, true
	b.Send(b.NDP(IP6{Dst: ipv6.AllNodes}, na))
	b.Ping6()
	if got := b.Stats().IPv6.NDPSpoofed; got != 1 {
		t.Fatalf("NDPSpoofed = %d", got)
	}
	if len(b.Stack.IPv6Addrs()) != 2 {
		t.Fatalf("addresses %v after a spoofed NA", b.Stack.IPv6Addrs())
	}
}

func TestNSFromOwnAddressIgnored(t *testing.T) {
	b := New6(t)
	b.Send(b.NS(IP6{Src: StackLL, Dst: ipv6.SolicitedNode(StackPrefix6.Addr())}, StackPrefix6.Addr(), true))
	b.ExpectNone(b.EchoRequest6(IP6{}))
}

// Another node's DAD for an address the stack uses is defended with an
// advertisement to all-nodes (RFC 4862 §5.4.3 with RFC 4861 §7.2.4).
func TestDADForUsedAddressDefended_RFC4862_5_4_3(t *testing.T) {
	b := New6(t)
	b.Send(b.NS(IP6{Src: netip.IPv6Unspecified(), Dst: ipv6.SolicitedNode(StackPrefix6.Addr())}, StackPrefix6.Addr(), false))
	b.Expect(NDPM{Type: ndp.TypeNeighborAdvertisement, Target: StackPrefix6.Addr(), Dst: ipv6.AllNodes})
}

func TestRAFromGlobalSourceIgnored_RFC4861_6_1_2(t *testing.T) {
	b := New6(t)
	ra := ndp.Repr{Type: ndp.TypeRouterAdvertisement, RouterLifetime: 1800}
	b.Send(b.NDP(IP6{Dst: ipv6.AllNodes}, ra))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.NDPInvalid; got != 1 {
		t.Fatalf("NDPInvalid = %d", got)
	}
}

// A host neither joins all-routers nor answers solicitations sent to it.
func TestRouterSolicitationIgnoredByHost_RFC4861_6_2_6(t *testing.T) {
	b := New6(t)
	b.Send(b.NDP(IP6{Src: PeerLL, Dst: ipv6.AllRouters}, ndp.Repr{Type: ndp.TypeRouterSolicitation}))
	b.Send(b.NDP(IP6{Src: PeerLL, Dst: StackLL}, ndp.Repr{Type: ndp.TypeRouterSolicitation}))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	// The one to all-routers does not pass the Ethernet layer.
	if st := b.Stats(); st.IPv6.RouterSolicitsIgnore != 1 || st.Ethernet.NotForUs != 1 {
		t.Fatalf("RouterSolicitsIgnore = %d, Ethernet NotForUs = %d; want 1 and 1", st.IPv6.RouterSolicitsIgnore, st.Ethernet.NotForUs)
	}
}

func TestRedirectFromNonRouterRefused_RFC4861_8_1(t *testing.T) {
	b := New6(t)
	rd := ndp.Repr{Type: ndp.TypeRedirect, Target: PeerLL, Destination: netip.MustParseAddr("2001:db8:77::1")}
	b.Send(b.NDP(IP6{Src: PeerLL}, rd))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().IPv6.NDPRedirectRefused; got != 1 {
		t.Fatalf("NDPRedirectRefused = %d", got)
	}
}

func TestUDP6ClosedPortUnreachable_RFC4443_3_1(t *testing.T) {
	b := New6(t)
	u := UDP6Bytes(5555, 9, []byte("hello"), PeerIP6, StackPrefix6.Addr())
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoUDP}, u))
	b.Expect(ICMP6M{Type: icmpv6.TypeDestUnreachable, Code: V(uint8(icmpv6.CodePortUnreachable))})
}

func TestUDP6ZeroChecksumDropped_RFC8200_8_1(t *testing.T) {
	b := New6(t)
	u := UDP6Bytes(5555, 9, []byte("hello"), PeerIP6, StackPrefix6.Addr())
	u[6], u[7] = 0, 0
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoUDP}, u))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	// The echo's answer says the ipv6 actor is past the datagram, not
	// that the udp actor, which checks the checksum, has counted it.
	b.Settle()
	if got := b.Stats().UDP.BadChecksum; got != 1 {
		t.Fatalf("UDP BadChecksum = %d", got)
	}
}

func TestNoICMPv6ErrorAboutError_RFC4443_2_4_e1(t *testing.T) {
	b := New6(t)
	// A Destination Unreachable quoting a packet to an unknown next
	// header: were it processed as a packet, it would draw an error.
	inner := b.IPv6(IP6{Src: StackPrefix6.Addr(), Dst: PeerIP6, Next: 253}, make([]byte, 8))
	b.Send(b.ICMPv6Error(icmpv6.TypeDestUnreachable, icmpv6.CodeAddressUnreachable, 0, inner))
	b.ExpectNone(b.EchoRequest6(IP6{}))
}

// v6conn opens a TCP connection from the peer to the stack over IPv6 and
// returns the peer's port, the stack's ISS and the accepted socket.
func v6conn(b *Bench, port uint16) (uint16, tcp.Seq, func([]byte) []byte) {
	q := b.Listen(port, 0, tcp.Config{})
	pp := b.NextPort()
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoTCP}, TCPBytes(SYN(pp, port, tcp.Options{HasMSS: true, MSS: 1440}), PeerIP6, StackPrefix6.Addr())))
	f := b.Expect(FrameM(func(_ *Bench, f ethernet.Frame) error {
		_, up, err := ip6Of(f, ipv6.ProtoTCP)
		if err != nil {
			return err
		}
		if up[13]&0x12 != 0x12 {
			return fmt.Errorf("flags %#x, want SYN-ACK", up[13])
		}
		return nil
	}))
	_, up, _ := ip6Of(f, ipv6.ProtoTCP)
	iss := tcp.Seq(binary.BigEndian.Uint32(up[4:]))
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoTCP}, TCPBytes(Seg{SrcPort: pp, DstPort: port, Seq: PeerISS + 1, Ack: iss + 1, Flags: tcp.FlagACK, Win: 64240}, PeerIP6, StackPrefix6.Addr())))
	sock := Accept(b, q)
	// write sends data on the connection and returns the IPv6 packet of
	// the first segment that carries it.
	write := func(data []byte) []byte {
		go sock.Write(data, nil)
		f := b.Expect(FrameM(func(_ *Bench, f ethernet.Frame) error {
			_, up, err := ip6Of(f, ipv6.ProtoTCP)
			if err == nil && len(up) <= int(up[12]>>4)*4 {
				err = fmt.Errorf("no data")
			}
			return err
		}))
		return append([]byte(nil), f.Payload()...)
	}
	return pp, iss, write
}

// A Packet Too Big quoting a segment in flight lowers the path MTU, but
// never below 1280 (RFC 8201 §4, RFC 5927 §4.3).
func TestPacketTooBigInFlightLowersPMTU_RFC8201_4(t *testing.T) {
	b := New6(t)
	_, _, write := v6conn(b, 8080)
	pkt := write(bytes.Repeat([]byte("x"), 4000))
	b.Send(b.ICMPv6Error(icmpv6.TypePacketTooBig, 0, 1000, pkt))
	b.Settle()
	if got := b.Stack.Output6.PathMTU(PeerIP6); got != 1280 {
		t.Fatalf("path MTU %d, want 1280 (the floor)", got)
	}
	if got := b.Stats().IPv6.PathMTULowered; got != 1 {
		t.Fatalf("PathMTULowered = %d", got)
	}
	if got := b.Stats().ICMPv6.TooBigReceived; got != 1 {
		t.Fatalf("ICMPv6.TooBigReceived = %d", got)
	}
}

// A forged Packet Too Big quoting a sequence number not in flight
// changes nothing (RFC 5927 §4.1, §4.3).
func TestForgedPacketTooBigNotInFlightIgnored_RFC5927_4_3(t *testing.T) {
	b := New6(t)
	_, _, write := v6conn(b, 8081)
	pkt := write(bytes.Repeat([]byte("y"), 200))
	o := ipv6.HeaderLen
	seq := binary.BigEndian.Uint32(pkt[o+4:])
	binary.BigEndian.PutUint32(pkt[o+4:], seq+1_000_000)
	b.Send(b.ICMPv6Error(icmpv6.TypePacketTooBig, 0, 1280, pkt))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stack.Output6.PathMTU(PeerIP6); got != 1500 {
		t.Fatalf("path MTU %d after a forged report, want 1500", got)
	}
}

// A Packet Too Big quoting no connection of the stack's changes nothing.
func TestForgedPacketTooBigUnknownConnIgnored_RFC5927_4_3(t *testing.T) {
	b := New6(t)
	inner := b.IPv6(IP6{Src: StackPrefix6.Addr(), Dst: PeerIP6, Next: ipv6.ProtoTCP},
		TCPBytes(Seg{SrcPort: 80, DstPort: 33333, Seq: 1, Flags: tcp.FlagACK, Data: make([]byte, 1400)}, StackPrefix6.Addr(), PeerIP6))
	b.Send(b.ICMPv6Error(icmpv6.TypePacketTooBig, 0, 1280, inner))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stack.Output6.PathMTU(PeerIP6); got != 1500 {
		t.Fatalf("path MTU %d, want 1500", got)
	}
}

// A Packet Too Big whose quote is not from the stack's address is not
// ours at all.
func TestPacketTooBigQuotingOthersIgnored_RFC5927_4_1(t *testing.T) {
	b := New6(t)
	inner := b.IPv6(IP6{Src: netip.MustParseAddr("2001:db8:9::99"), Dst: PeerIP6, Next: ipv6.ProtoUDP}, UDP6Bytes(1, 2, nil, PeerIP6, PeerIP6))
	b.Send(b.ICMPv6Error(icmpv6.TypePacketTooBig, 0, 1280, inner))
	b.ExpectNone(b.EchoRequest6(IP6{}))
	if got := b.Stats().ICMPv6.ErrorNotOurs; got != 1 {
		t.Fatalf("ErrorNotOurs = %d", got)
	}
}

func TestTCP6SynAckMSS_RFC8200_8_3(t *testing.T) {
	b := New6(t)
	b.Listen(8082, 0, tcp.Config{})
	b.Send(b.Frame6(IP6{Next: ipv6.ProtoTCP}, TCPBytes(SYN(b.NextPort(), 8082, tcp.Options{HasMSS: true, MSS: 1440}), PeerIP6, StackPrefix6.Addr())))
	b.Expect(FrameM(func(_ *Bench, f ethernet.Frame) error {
		_, up, err := ip6Of(f, ipv6.ProtoTCP)
		if err != nil {
			return err
		}
		seg, err := tcp.NewSegment(up)
		if err != nil {
			return err
		}
		if o := seg.Header().Options; !o.HasMSS || o.MSS != 1440 {
			return fmt.Errorf("SYN-ACK MSS %+v, want 1440 (1500 - 60)", o)
		}
		return nil
	}))
}

// dadBench starts a stack whose static address is still tentative, and
// returns once its DAD solicitation for that address went out.
func dadBench(t *testing.T) *Bench {
	b := newBench(t, device6(), staticOpts())
	b.WatchIPv6Start = true
	for i := 0; i < 40; i++ {
		select {
		case f := <-b.frames:
			fr, _ := ethernet.NewFrame(f)
			if fr.EtherType() != ethernet.IPv6 {
				continue
			}
			if (NDPM{Type: ndp.TypeNeighborSolicitation, Target: StackPrefix6.Addr()}).match(b, fr) == nil {
				b.WatchIPv6Start = false
				return b
			}
		case <-time.After(20 * time.Millisecond):
			b.AdvanceSettled(100 * time.Millisecond)
		}
	}
	t.Fatal("no DAD solicitation for the static address")
	return nil
}

func checkDuplicate(t *testing.T, b *Bench) {
	b.AdvanceSettled(3 * time.Second)
	b.waitAddrs(1)
	for _, p := range b.Stack.IPv6Addrs() {
		if p.Addr() == StackPrefix6.Addr() {
			t.Fatalf("duplicate address %v in use", p)
		}
	}
	if got := b.Stats().IPv6.DADConflicts; got != 1 {
		t.Fatalf("DADConflicts = %d", got)
	}
	// Packets to the duplicate are not ours.
	b.Send(b.EchoRequest6(IP6{}).Frame)
	b.ExpectNone(b.EchoRequest6(IP6{Src: PeerLL, Dst: StackLL}))
}

// A neighbour answering the stack's DAD with an advertisement keeps the
// stack from using the address (RFC 4862 §5.4.4).
func TestDADConflictByAdvertisement_RFC4862_5_4_4(t *testing.T) {
	b := dadBench(t)
	na := ndp.Repr{Type: ndp.TypeNeighborAdvertisement, Target: StackPrefix6.Addr(), Override: true}
	na.Options.TargetLinkAddr, na.Options.HasTargetLinkAddr = b.PeerMAC, true
	b.Send(b.NDP(IP6{Src: PeerLL, Dst: ipv6.AllNodes}, na))
	checkDuplicate(t, b)
}

// A neighbour running its own DAD for the tentative address makes it a
// duplicate too (RFC 4862 §5.4.3).
func TestDADConflictBySolicitation_RFC4862_5_4_3(t *testing.T) {
	b := dadBench(t)
	b.Send(b.NS(IP6{Src: netip.IPv6Unspecified(), Dst: ipv6.SolicitedNode(StackPrefix6.Addr())}, StackPrefix6.Addr(), false))
	checkDuplicate(t, b)
}
