package conformance

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/tcp"
)

// --- IPv4 header ---

// mangledEcho returns an echo request whose IP header f has rewritten
// (checksum left as f leaves it).
func mangledEcho(b *Bench, f func(ip []byte) []byte) []byte {
	p := b.EchoRequest()
	ip := f(append([]byte(nil), p.Frame[ethernet.HeaderLen:]...))
	return b.Frame(ethernet.IPv4, ip)
}

// RFC 1122 §3.2.1.1 / RFC 791 §3.1: a header length below 5 words is
// invalid and the datagram is discarded.
func TestBadIHLDropped_RFC791_3_1(t *testing.T) {
	b := New(t)
	b.Send(mangledEcho(b, func(ip []byte) []byte { ip[0] = 0x44; fixIPChecksum(ip); return ip }))
	b.ExpectNone(b.EchoRequest())
}

// RFC 791 §3.1: a header length beyond the total length is invalid.
func TestIHLBeyondTotalLengthDropped_RFC791_3_1(t *testing.T) {
	b := New(t)
	b.Send(mangledEcho(b, func(ip []byte) []byte {
		ip[0] = 0x4f
		binary.BigEndian.PutUint16(ip[2:], 40)
		fixIPChecksum(append(ip, make([]byte, 60)...))
		return ip
	}))
	b.ExpectNone(b.EchoRequest())
}

// RFC 791 §3.1 / RFC 1122 §3.2.1: a total length beyond the bytes
// received is a truncated datagram, discarded.
func TestTotalLengthBeyondFrameDropped_RFC1122_3_2_1(t *testing.T) {
	b := New(t)
	b.Send(mangledEcho(b, func(ip []byte) []byte {
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+100))
		fixIPChecksum(ip)
		return ip
	}))
	b.ExpectNone(b.EchoRequest())
}

// RFC 791 §3.1: a total length shorter than the header is invalid.
func TestTotalLengthBelowHeaderDropped_RFC791_3_1(t *testing.T) {
	b := New(t)
	b.Send(mangledEcho(b, func(ip []byte) []byte {
		binary.BigEndian.PutUint16(ip[2:], 16)
		fixIPChecksum(ip)
		return ip
	}))
	b.ExpectNone(b.EchoRequest())
}

// RFC 894 / RFC 1122 §3.2.1: bytes after Total Length (Ethernet padding)
// are not part of the datagram: the echo is answered with exactly the
// request's data.
func TestTrailingPaddingIgnored_RFC894(t *testing.T) {
	b := New(t)
	p := b.EchoRequest()
	want := len(p.Frame) - ethernet.HeaderLen
	b.Send(append(append([]byte(nil), p.Frame...), 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0))
	b.Expect(All{p.Answer, ipHeaderM(func(ip ipv4.Packet) error {
		if ip.TotalLen() != want {
			return fmt.Errorf("reply total length %d, want %d", ip.TotalLen(), want)
		}
		return nil
	})})
}

// RFC 1122 §3.2.1.2: a host MUST verify the header checksum and discard
// a datagram whose checksum is wrong.
func TestBadIPChecksumDropped_RFC1122_3_2_1_2(t *testing.T) {
	b := New(t)
	b.Send(mangledEcho(b, func(ip []byte) []byte { ip[10] ^= 0x5a; return ip }))
	b.ExpectNone(b.EchoRequest())
}

// RFC 1122 §3.2.1.1: a datagram whose version is not 4 is discarded.
func TestWrongIPVersionDropped_RFC1122_3_2_1_1(t *testing.T) {
	b := New(t)
	b.Send(mangledEcho(b, func(ip []byte) []byte { ip[0] = 0x65; fixIPChecksum(ip); return ip }))
	b.ExpectNone(b.EchoRequest())
}

// RFC 1122 §3.2.1.7: a host must not discard a datagram for its TTL (even
// 0: TTL is for routers), and must never send one with TTL 0.
func TestTTLZeroDelivered_RFC1122_3_2_1_7(t *testing.T) {
	b := New(t)
	p := b.EchoRequest()
	ip := p.Frame[ethernet.HeaderLen:]
	ip[8] = 0
	fixIPChecksum(ip)
	b.Send(p.Frame)
	b.Expect(All{p.Answer, ipHeaderM(func(ip ipv4.Packet) error {
		if ip.TTL() == 0 {
			return fmt.Errorf("reply sent with TTL 0")
		}
		return nil
	})})
}

// RFC 1122 §3.2.1.8 and §3.2.2.6: an echo request carrying a Record Route
// option is answered (the option may be reflected or dropped, never
// cause a discard).
func TestRecordRouteOptionAnswered_RFC1122_3_2_2_6(t *testing.T) {
	b := New(t)
	rr := []byte{7, 7, 4, 0, 0, 0, 0, 0} // Record Route, one empty slot, End
	b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolICMP, Options: rr}, EchoBytes(901, []byte("rr"))))
	b.Expect(EchoReply{Seq: 901})
}

// RFC 7126 §4.3.3.5 and §4.4.3.5: datagrams with a loose or strict
// source route are dropped by default (as Linux's accept_source_route=0
// does): honouring one would let a sender choose the return path.
func TestSourceRouteRefused_RFC7126_4_3(t *testing.T) {
	for _, kind := range []byte{131, 137} { // LSRR, SSRR
		b := New(t)
		opt := []byte{kind, 7, 4, 10, 9, 0, 77, 0} // next hop 10.9.0.77, End
		b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolICMP, Options: opt}, EchoBytes(902, []byte("sr"))))
		b.ExpectNone(b.EchoRequest())
		syn := TCPBytes(SYN(b.NextPort(), 9, DefaultSYNOptions), PeerIP, b.IP)
		b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolTCP, Options: opt}, syn))
		b.ExpectNone(b.ClosedPortProbe())
	}
}

// RFC 1122 §3.2.1.3: a datagram from a broadcast or multicast source is
// discarded (its answer would flood).
func TestBroadcastSourceDropped_RFC1122_3_2_1_3(t *testing.T) {
	for _, src := range []string{"255.255.255.255", "10.9.0.255", "224.0.0.1"} {
		b := New(t)
		b.Send(b.IPFrame(IP{Src: netip.MustParseAddr(src), Protocol: ipv4.ProtocolICMP}, EchoBytes(903, []byte("bc"))))
		b.ExpectNone(b.EchoRequest())
	}
}

// A datagram from the wire with the stack's own address as source is a
// spoof; a SYN from our own address and port to itself (the "land" attack)
// would have the stack answer itself. Dropped and counted, as a loopback
// source is (RFC 1122 §3.2.1.3 (g)).
func TestOwnOrLoopbackSourceDropped_RFC1122_3_2_1_3(t *testing.T) {
	b := New(t)
	b.Send(b.IPFrame(IP{Src: b.IP, Protocol: ipv4.ProtocolICMP}, EchoBytes(905, []byte("me"))))
	b.ExpectNone(b.EchoRequest())
	// Its answer would loop back inside the stack, never on the wire: the
	// counters tell that it was dropped before TCP saw it.
	b.Send(b.TCPWith(IP{Src: b.IP}, SYN(port, port, tcp.Options{})))
	b.Send(b.IPFrame(IP{Src: netip.MustParseAddr("127.0.0.1"), Protocol: ipv4.ProtocolICMP}, EchoBytes(906, []byte("lo"))))
	b.ExpectNone(b.EchoRequest())
	st := b.Stats()
	if st.IPv4.OwnSource != 2 || st.IPv4.BadSource != 1 {
		t.Fatalf("OwnSource = %d, BadSource = %d; want 2 and 1", st.IPv4.OwnSource, st.IPv4.BadSource)
	}
	if st.TCP.SegmentsReceived != 0 {
		t.Fatalf("TCP received %d segments; want none", st.TCP.SegmentsReceived)
	}
}

// RFC 1122 §3.2.1.3 and §3.3.4.2 (a host does not forward): a datagram
// for another address, even framed to our MAC, is neither answered nor
// forwarded.
func TestDatagramForOtherHostDropped_RFC1122_3_3_4_2(t *testing.T) {
	b := New(t)
	b.Send(b.IPFrame(IP{Dst: netip.MustParseAddr("10.9.0.77"), Protocol: ipv4.ProtocolICMP}, EchoBytes(904, []byte("fw"))))
	b.WatchARP = true // not even an ARP request for the next hop
	b.ExpectNone(b.EchoRequest())
}

// --- Fragments ---

// RFC 1858 §3 / RFC 3128: a tiny first fragment (8 bytes of TCP: ports
// and sequence number, flags in the second fragment) reassembles into
// the same segment an unfragmented one is; the stack answers it only
// after reassembly, as one segment.
func TestTinyFirstFragmentReassembled_RFC1858_3(t *testing.T) {
	b, _ := listening(t)
	p := b.NextPort()
	seg := TCPBytes(SYN(p, port, DefaultSYNOptions), PeerIP, b.IP)
	b.Send(b.IPFrame(IP{ID: 300, Protocol: ipv4.ProtocolTCP, MoreFragments: true}, seg[:8]))
	b.ExpectNone(b.ClosedPortProbe()) // half a segment is nothing yet
	b.Send(b.IPFrame(IP{ID: 300, Protocol: ipv4.ProtocolTCP, FragmentOffset: 8}, seg[8:]))
	b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(PeerISS + 1), DstPort: V(p)})
}

// RFC 3128 §4 (the tiny overlapping fragment attack): a fragment at
// offset 8 that overlaps the first and rewrites the TCP flags (an ACK
// turned into a SYN) drops the datagram; nothing is answered.
func TestOverlappingFlagRewriteDropped_RFC3128_4(t *testing.T) {
	b, _ := listening(t)
	p := b.NextPort()
	ack := TCPBytes(Seg{SrcPort: p, DstPort: port, Seq: PeerISS, Ack: 99, Flags: tcp.FlagACK, Win: 100}, PeerIP, b.IP)
	syn := TCPBytes(Seg{SrcPort: p, DstPort: port, Seq: PeerISS, Flags: tcp.FlagSYN, Win: 100}, PeerIP, b.IP)
	b.Send(b.IPFrame(IP{ID: 301, Protocol: ipv4.ProtocolTCP, MoreFragments: true}, ack[:16]))
	b.Send(b.IPFrame(IP{ID: 301, Protocol: ipv4.ProtocolTCP, FragmentOffset: 8}, syn[8:]))
	b.ExpectNone(b.ClosedPortProbe())
}

// RFC 5722 §4 policy applied to IPv4 (RFC 791 §3.2 leaves overlaps to
// the host): an exact duplicate fragment is harmless and the datagram
// still completes.
func TestDuplicateFragmentTolerated_RFC791_3_2(t *testing.T) {
	b := New(t)
	echo := EchoBytes(905, []byte("0123456789abcdef"))
	first := b.IPFrame(IP{ID: 302, Protocol: ipv4.ProtocolICMP, MoreFragments: true}, echo[:16])
	b.Send(first)
	b.Send(first)
	b.Send(b.IPFrame(IP{ID: 302, Protocol: ipv4.ProtocolICMP, FragmentOffset: 16}, echo[16:]))
	b.Expect(EchoReply{Seq: 905})
}

// RFC 5722 §4 policy applied to IPv4: a fragment covering the same range
// with different bytes (the data an attacker would swap in) drops the
// whole datagram, even when the rest arrives.
func TestConflictingOverlapDropsDatagram_RFC5722_4(t *testing.T) {
	b := New(t)
	echo := EchoBytes(906, []byte("0123456789abcdef"))
	b.Send(b.IPFrame(IP{ID: 303, Protocol: ipv4.ProtocolICMP, MoreFragments: true}, echo[:16]))
	evil := append([]byte(nil), echo[8:16]...)
	evil[0] ^= 0xff
	b.Send(b.IPFrame(IP{ID: 303, Protocol: ipv4.ProtocolICMP, FragmentOffset: 8, MoreFragments: true}, evil))
	b.Send(b.IPFrame(IP{ID: 303, Protocol: ipv4.ProtocolICMP, FragmentOffset: 16}, echo[16:]))
	b.ExpectNone(b.EchoRequest())
}

// --- ICMP ---

// RFC 1122 §3.2.2.6 (may ignore) and RFC 2644 (smurf): echo requests to
// the limited or the subnet's directed broadcast are not answered.
func TestEchoToBroadcastIgnored_RFC1122_3_2_2_6(t *testing.T) {
	for _, dst := range []string{"255.255.255.255", "10.9.0.255"} {
		b := New(t)
		b.Send(b.IPFrame(IP{Dst: netip.MustParseAddr(dst), Protocol: ipv4.ProtocolICMP}, EchoBytes(907, []byte("smurf"))))
		b.ExpectNone(b.EchoRequest())
	}
}

// RFC 792 / RFC 1122 §3.2.2: an ICMP message with a bad checksum is
// discarded.
func TestBadICMPChecksumDropped_RFC792(t *testing.T) {
	b := New(t)
	m := EchoBytes(908, []byte("bad sum"))
	m[2] ^= 0x5a
	b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolICMP}, m))
	b.ExpectNone(b.EchoRequest())
}

// RFC 1122 §4.1.3.1 and §3.2.2.1: a UDP datagram to a closed port draws
// port unreachable quoting it.
func TestUDPClosedPortUnreachable_RFC1122_4_1_3_1(t *testing.T) {
	b := New(t)
	b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolUDP}, UDPBytes(5353, 9, []byte("anyone?"))))
	b.Expect(ICMPM{Type: V(uint8(icmpv4.TypeDestUnreachable)), Code: V(uint8(icmpv4.CodePortUnreachable)), QuoteProto: V(uint8(ipv4.ProtocolUDP))})
}

// RFC 1122 §3.2.2: no ICMP error for a datagram sent to a broadcast
// address (here a UDP datagram to a closed port).
func TestNoICMPErrorForBroadcast_RFC1122_3_2_2(t *testing.T) {
	b := New(t)
	b.Send(b.IPFrame(IP{Dst: netip.MustParseAddr("10.9.0.255"), Protocol: ipv4.ProtocolUDP}, UDPBytes(5353, 9, []byte("all?"))))
	b.ExpectNone(b.EchoRequest())
}

// RFC 792 and RFC 1122 §3.3.2: when reassembly times out with fragment
// zero held, time exceeded (code 1) is sent, quoting it.
func TestReassemblyTimeoutReported_RFC1122_3_3_2(t *testing.T) {
	b := New(t)
	echo := EchoBytes(909, []byte("0123456789abcdef"))
	b.Send(b.IPFrame(IP{ID: 304, Protocol: ipv4.ProtocolICMP, MoreFragments: true}, echo[:16]))
	b.AdvanceSettled(31 * time.Second)
	b.Expect(ICMPM{Type: V(uint8(icmpv4.TypeTimeExceeded)), Code: V(uint8(icmpv4.CodeReassemblyExceeded)), QuoteProto: V(uint8(ipv4.ProtocolICMP))})
}

// RFC 792 ("if fragment zero is not available then no time exceeded need
// be sent at all") and RFC 1122 §3.2.2 (no error about a non-initial
// fragment): a lone later fragment expires silently.
func TestReassemblyTimeoutWithoutFirstSilent_RFC792(t *testing.T) {
	b := New(t)
	b.Send(b.IPFrame(IP{ID: 305, Protocol: ipv4.ProtocolICMP, FragmentOffset: 16, MoreFragments: true}, make([]byte, 16)))
	b.AdvanceSettled(31 * time.Second)
	b.ExpectNone(b.EchoRequest())
}

// RFC 1122 §3.2.2: no ICMP error about an ICMP error: a fragmented ICMP
// error whose reassembly times out draws no time exceeded.
func TestNoICMPErrorAboutICMPError_RFC1122_3_2_2(t *testing.T) {
	b := New(t)
	quoted := b.IPv4(IP{Src: b.IP, Dst: PeerIP, Protocol: ipv4.ProtocolUDP}, UDPBytes(1, 2, make([]byte, 16)))
	m := make([]byte, icmpv4.HeaderLen+len(quoted))
	icmpv4.EmitError(m, icmpv4.TypeDestUnreachable, icmpv4.CodeHostUnreachable, 0, quoted)
	b.Send(b.IPFrame(IP{ID: 306, Protocol: ipv4.ProtocolICMP, MoreFragments: true}, m[:24]))
	b.AdvanceSettled(31 * time.Second)
	b.ExpectNone(b.EchoRequest())
}

// quoteOf is what an ICMP error quotes of a frame the stack sent: its IP
// header and the first 8 bytes of its payload (RFC 792).
func quoteOf(f ethernet.Frame) []byte {
	p, _ := ipv4.NewPacket(f.Payload())
	return append([]byte(nil), f.Payload()[:p.HeaderLen()+8]...)
}

// fullSegment writes more than one MSS and returns the first segment's
// payload length.
func fullSegment(c *Conn) int {
	c.B.T.Helper()
	c.Write(strings.Repeat("m", 3000))
	return len(c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv)}).Payload())
}

// RFC 5927 §4.3 and §5.2 (issue 9, finding 1): a fragmentation-needed
// error quoting a connection that does not exist changes nothing; the
// next full-size segment to the same peer still carries 1460 bytes.
func TestForgedFragNeededForUnknownConnIgnored_RFC5927_4_3(t *testing.T) {
	_, c := established(t)
	quoted := c.B.IPv4(IP{Src: c.B.IP, Dst: PeerIP, Protocol: ipv4.ProtocolTCP, DontFragment: true},
		TCPBytes(Seg{SrcPort: port, DstPort: c.PeerPort + 1000, Seq: c.Rcv, Flags: tcp.FlagACK}, c.B.IP, PeerIP))
	c.B.Send(c.B.ICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodeFragmentationNeeded, 576, quoted[:ipv4.HeaderLen+8]))
	c.B.Settle() // the error goes by the tcp actor, a probe would not
	c.B.ExpectNone(c.Probe())
	if n := fullSegment(c); n != 1460 {
		t.Fatalf("after a forged fragmentation-needed, full segments carry %d bytes, want 1460", n)
	}
}

// RFC 5927 §4.3 / §5.2: a fragmentation-needed error naming the
// connection but a sequence number not in flight (nothing is) is
// ignored as well.
func TestFragNeededNotInFlightIgnored_RFC5927_5_2(t *testing.T) {
	_, c := established(t)
	quoted := c.B.IPv4(IP{Src: c.B.IP, Dst: PeerIP, Protocol: ipv4.ProtocolTCP, DontFragment: true},
		TCPBytes(Seg{SrcPort: port, DstPort: c.PeerPort, Seq: c.Rcv - 5000, Flags: tcp.FlagACK}, c.B.IP, PeerIP))
	c.B.Send(c.B.ICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodeFragmentationNeeded, 576, quoted[:ipv4.HeaderLen+8]))
	c.B.Settle() // the error goes by the tcp actor, a probe would not
	c.B.ExpectNone(c.Probe())
	if n := fullSegment(c); n != 1460 {
		t.Fatalf("full segments carry %d bytes, want 1460", n)
	}
}

// RFC 1191 §6.4 / RFC 5927 §4.3: a genuine fragmentation-needed error
// quoting a segment in flight lowers the path MTU, and what is in flight
// is resent at once in segments that fit (1000 - 40 = 960 bytes).
func TestFragNeededResegments_RFC1191_6_4(t *testing.T) {
	_, c := established(t)
	c.Write(strings.Repeat("g", 1460))
	f := c.B.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Seq: V(c.Rcv), SrcPort: V(uint16(port))})
	c.B.Send(c.B.ICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodeFragmentationNeeded, 1000, quoteOf(f)))
	s := c.Expect(TCPM{Seq: V(c.Rcv)})
	if n := len(s.Payload()); n != 960 {
		t.Fatalf("resent segment carries %d bytes, want 960", n)
	}
}

// RFC 1191 §3 and issue 9: a next-hop MTU below the floor (here 68) is
// raised to it (552, Linux's min_pmtu): segments never shrink below
// 512 bytes of payload.
func TestFragNeededBelowFloorClamped_RFC1191_3(t *testing.T) {
	_, c := established(t)
	c.Write(strings.Repeat("f", 1460))
	f := c.B.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Seq: V(c.Rcv), SrcPort: V(uint16(port))})
	c.B.Send(c.B.ICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodeFragmentationNeeded, 68, quoteOf(f)))
	s := c.Expect(TCPM{Seq: V(c.Rcv)})
	if n := len(s.Payload()); n != 512 {
		t.Fatalf("resent segment carries %d bytes, want 512", n)
	}
}

// RFC 1122 §3.2.2 (no ICMP error is sent about a non-initial fragment)
// and RFC 5927 §4.3: an error quoting a non-initial fragment cannot be
// genuine (the stack sends TCP with DF, unfragmented), and what it quotes
// as a TCP header is data: it is ignored even when the bytes name the
// connection and a sequence number in flight.
func TestICMPErrorQuotingLaterFragmentIgnored_RFC1122_3_2_2(t *testing.T) {
	_, c := established(t)
	c.Write(strings.Repeat("q", 1460))
	f := c.B.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Seq: V(c.Rcv), SrcPort: V(uint16(port))})
	q := quoteOf(f)
	binary.BigEndian.PutUint16(q[6:], 0x4000|185) // DF and offset 1480
	fixIPChecksum(q[:ipv4.HeaderLen])
	c.B.Send(c.B.ICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodeFragmentationNeeded, 576, q))
	c.B.Settle() // the error goes by the tcp actor, a probe would not
	c.B.ExpectNone(c.Probe())
	c.Rcv += 1460
	c.Send(c.Seg(tcp.FlagACK, nil))
	if n := fullSegment(c); n != 1460 {
		t.Fatalf("full segments carry %d bytes, want 1460", n)
	}
}

// --- ARP ---

// toMAC matches an echo reply sent to the Ethernet address mac.
func toMAC(mac ethernet.Addr, seq uint16) FrameM {
	return func(b *Bench, f ethernet.Frame) error {
		if f.Dst() != mac {
			return fmt.Errorf("sent to MAC %v, want %v", f.Dst(), mac)
		}
		p, err := ipv4.NewPacket(f.Payload())
		if err != nil {
			return err
		}
		m, err := icmpv4.NewMessage(p.Payload())
		if err != nil {
			return err
		}
		if m.Type() != icmpv4.TypeEchoReply || m.Seq() != seq {
			return fmt.Errorf("ICMP type %d seq %d, want echo reply %d", m.Type(), m.Seq(), seq)
		}
		return nil
	}
}

var movedMAC = ethernet.Addr{0x02, 0, 0, 0, 0x77, 0x01}

// arpBarrier waits until the arp actor has handled every ARP frame sent
// before and published its cache: a request for the stack's address from
// a third host (so the peer's entry is left alone), whose reply must be
// the next ARP frame. It is sent twice: the arp actor publishes the cache
// after a whole batch, and the first request may share the batch of the
// frame being waited for; the second, sent after the first's reply, comes
// in a later batch.
func arpBarrier(b *Bench) {
	b.T.Helper()
	third := netip.MustParseAddr("10.9.0.60")
	req := make([]byte, arp.Len)
	arp.NewRequest(ethernet.Addr{0x02, 0, 0, 0, 0x60, 0x60}, third, b.IP).Emit(req)
	watch := b.WatchARP
	b.WatchARP = true
	for range 2 {
		b.ExpectNone(Probe{Frame: b.Frame(ethernet.ARP, req), Answer: ARPM{Op: V(arp.Reply), TargetIP: V(third)}})
	}
	b.WatchARP = watch
}

// RFC 5227 §3 / RFC 826 (merge): a gratuitous ARP request (announcement)
// from a host we know updates its cache entry: replies follow it.
func TestGratuitousARPRequestUpdatesCache_RFC5227_3(t *testing.T) {
	b := New(t)
	ann := make([]byte, arp.Len)
	arp.NewAnnouncement(movedMAC, PeerIP).Emit(ann)
	f := make([]byte, ethernet.HeaderLen+len(ann))
	ethernet.Header{Dst: ethernet.Broadcast, Src: movedMAC, Type: ethernet.ARP}.Emit(f)
	copy(f[ethernet.HeaderLen:], ann)
	b.Send(f)
	arpBarrier(b)
	b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolICMP}, EchoBytes(910, []byte("moved"))))
	b.Expect(toMAC(movedMAC, 910))
}

// RFC 5944 §4.6 / RFC 826 (merge): the gratuitous reply form updates a
// known entry too.
func TestGratuitousARPReplyUpdatesCache_RFC826(t *testing.T) {
	b := New(t)
	rep := make([]byte, arp.Len)
	arp.NewGratuitousReply(movedMAC, PeerIP).Emit(rep)
	b.Send(b.Frame(ethernet.ARP, rep))
	arpBarrier(b)
	b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolICMP}, EchoBytes(911, []byte("moved"))))
	b.Expect(toMAC(movedMAC, 911))
}

// RFC 826 ("if the pair is already in my table, update"; otherwise only
// a request to us is learnt) with Linux's arp_accept=0 default: an
// unsolicited reply about a host we never asked for creates no entry,
// so it cannot plant a binding; the stack resolves the host itself.
func TestUnsolicitedARPReplyNotLearnt_RFC826(t *testing.T) {
	b := New(t)
	stranger := netip.MustParseAddr("10.9.0.50")
	rep := make([]byte, arp.Len)
	arp.Repr{Op: arp.Reply, SenderHW: movedMAC, SenderIP: stranger, TargetHW: b.MAC, TargetIP: b.IP}.Emit(rep)
	b.Send(b.Frame(ethernet.ARP, rep))
	arpBarrier(b)
	b.WatchARP = true
	b.Send(b.IPFrame(IP{Src: stranger, Protocol: ipv4.ProtocolICMP}, EchoBytes(912, []byte("who"))))
	b.Expect(ARPM{Op: V(arp.Request), TargetIP: V(stranger), Broadcast: V(true)})
}

// RFC 826: a request for another host's address is not answered, and
// its unknown sender is not learnt.
func TestARPForOtherHostIgnored_RFC826(t *testing.T) {
	b := New(t)
	stranger := netip.MustParseAddr("10.9.0.51")
	req := make([]byte, arp.Len)
	arp.NewRequest(movedMAC, stranger, netip.MustParseAddr("10.9.0.77")).Emit(req)
	b.Send(b.Frame(ethernet.ARP, req))
	b.ExpectNone(b.ARPProbe())
	b.Send(b.IPFrame(IP{Src: stranger, Protocol: ipv4.ProtocolICMP}, EchoBytes(913, []byte("who"))))
	b.Expect(ARPM{Op: V(arp.Request), TargetIP: V(stranger)})
}
