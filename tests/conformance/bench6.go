package conformance

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv6"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/layers/ndp"
)

// The IPv6 addresses of the bench: the stack's static address and the
// peer's, on one /64, and their EUI-64 link-local addresses from the
// fixed MACs New6 gives the link.
var (
	StackPrefix6 = netip.MustParsePrefix("2001:db8:9::1/64")
	PeerIP6      = netip.MustParseAddr("2001:db8:9::2")
	StackLL      = netip.MustParseAddr("fe80::ff:fe00:1")
	PeerLL       = netip.MustParseAddr("fe80::ff:fe00:2")
	stackMAC6    = []byte{0x02, 0, 0, 0, 0, 0x01}
	peerMAC6     = []byte{0x02, 0, 0, 0, 0, 0x02}
)

// New6 starts a bench whose stack has the static IPv6 address
// StackPrefix6 and its link-local address StackLL, both past DAD, and
// knows the peer's MAC for PeerIP6.
func New6(t testing.TB) *Bench {
	t.Helper()
	b := newBench(t, device.MemoryConfig{MACA: stackMAC6, MACB: peerMAC6},
		actors.IPv6Options{Mode: actors.IPv6Static, Addr: StackPrefix6})
	b.waitAddrs(2)
	// Introduce the peer (an NS with its link-layer address) and check
	// the stack answers for its address.
	b.Send(b.NS(IP6{Dst: ipv6.SolicitedNode(StackPrefix6.Addr())}, StackPrefix6.Addr(), true))
	b.Expect(NDPM{Type: ndp.TypeNeighborAdvertisement, Target: StackPrefix6.Addr()})
	b.Ping6()
	return b
}

// waitAddrs advances the virtual clock until the stack has n usable IPv6
// addresses (DAD done).
func (b *Bench) waitAddrs(n int) {
	b.T.Helper()
	for i := 0; i < 40 && len(b.Stack.IPv6Addrs()) < n; i++ {
		b.AdvanceSettled(250 * time.Millisecond)
	}
	if got := b.Stack.IPv6Addrs(); len(got) < n {
		b.T.Fatalf("stack has IPv6 addresses %v, want %d usable", got, n)
	}
}

// IP6 describes the fixed header of a packet the peer sends; zero fields
// take the bench's defaults (peer to stack, hop limit 64).
type IP6 struct {
	Src, Dst netip.Addr
	HopLimit uint8
	Next     uint8 // the first Next Header: an extension header or the upper layer
}

// IPv6 builds an IPv6 packet with payload (extension headers included).
func (b *Bench) IPv6(h IP6, payload []byte) []byte {
	if !h.Src.IsValid() {
		h.Src = PeerIP6
	}
	if !h.Dst.IsValid() {
		h.Dst = StackPrefix6.Addr()
	}
	if h.HopLimit == 0 {
		h.HopLimit = 64
	}
	p := make([]byte, ipv6.HeaderLen+len(payload))
	ipv6.Header{NextHeader: h.Next, HopLimit: h.HopLimit, Src: h.Src, Dst: h.Dst, PayloadLen: len(payload)}.Emit(p)
	copy(p[ipv6.HeaderLen:], payload)
	return p
}

// Frame6 frames an IPv6 packet; multicast destinations go to their
// Ethernet group.
func (b *Bench) Frame6(h IP6, payload []byte) []byte {
	p := b.IPv6(h, payload)
	f := b.Frame(ethernet.IPv6, p)
	if dst := netip.AddrFrom16([16]byte(p[24:40])); dst.IsMulticast() {
		m := ethernet.MulticastAddrForIPv6(dst)
		copy(f[0:6], m[:])
	}
	return f
}

// addrs6 fills in the default addresses of h.
func addrs6(h IP6) (netip.Addr, netip.Addr) {
	if !h.Src.IsValid() {
		h.Src = PeerIP6
	}
	if !h.Dst.IsValid() {
		h.Dst = StackPrefix6.Addr()
	}
	return h.Src, h.Dst
}

// Echo6Bytes builds an ICMPv6 echo request between src and dst.
func Echo6Bytes(seq uint16, data []byte, src, dst netip.Addr) []byte {
	m := make([]byte, icmpv6.HeaderLen+len(data))
	n := icmpv6.EmitEcho(m, icmpv6.TypeEchoRequest, 0x4242, seq, data, src, dst)
	return m[:n]
}

// EchoRequest6 is a ping over IPv6 in a header described by h (Next is
// set to ICMPv6 unless given) and the match for its reply.
func (b *Bench) EchoRequest6(h IP6) Probe {
	b.echoSeq++
	src, dst := addrs6(h)
	if h.Next == 0 {
		h.Next = ipv6.ProtoICMPv6
	}
	return Probe{Frame: b.Frame6(h, Echo6Bytes(b.echoSeq, []byte("conformance-echo6"), src, dst)), Answer: Echo6Reply{Seq: b.echoSeq}}
}

// Ping6 sends an echo request to the stack's global address and expects
// the reply.
func (b *Bench) Ping6() {
	b.T.Helper()
	p := b.EchoRequest6(IP6{})
	b.Send(p.Frame)
	b.Expect(p.Answer)
}

// NS builds a neighbour solicitation for target (with the peer's
// link-layer address when sll), hop limit 255 unless h says otherwise.
func (b *Bench) NS(h IP6, target netip.Addr, sll bool) []byte {
	r := ndp.Repr{Type: ndp.TypeNeighborSolicitation, Target: target}
	if sll {
		r.Options.SourceLinkAddr, r.Options.HasSourceLinkAddr = b.PeerMAC, true
	}
	return b.NDP(h, r)
}

// NDP frames an NDP message (hop limit 255 unless h says otherwise).
func (b *Bench) NDP(h IP6, r ndp.Repr) []byte {
	if h.HopLimit == 0 {
		h.HopLimit = 255
	}
	h.Next = ipv6.ProtoICMPv6
	src, dst := addrs6(h)
	m := make([]byte, r.Len())
	r.Emit(m)
	ndp.SetChecksum(m, src, dst)
	return b.Frame6(h, m)
}

// ICMPv6Error builds an ICMPv6 error from the peer quoting invoking.
func (b *Bench) ICMPv6Error(typ, code uint8, extra uint32, invoking []byte) []byte {
	m := make([]byte, 1232)
	n := icmpv6.EmitError(m, typ, code, extra, invoking, PeerIP6, StackPrefix6.Addr())
	return b.Frame6(IP6{Next: ipv6.ProtoICMPv6}, m[:n])
}

// answerNS answers the stack's solicitation for one of the peer's
// addresses, as the peer's own stack would; it reports whether f was one.
func (b *Bench) answerNS(f ethernet.Frame) bool {
	pkt, err := ipv6.NewPacket(f.Payload())
	if err != nil || pkt.NextHeader() != ipv6.ProtoICMPv6 {
		return false
	}
	r, err := ndp.Parse(pkt.Payload())
	if err != nil || r.Type != ndp.TypeNeighborSolicitation || (r.Target != PeerIP6 && r.Target != PeerLL) || pkt.Src().IsUnspecified() {
		return false
	}
	na := ndp.Repr{Type: ndp.TypeNeighborAdvertisement, Target: r.Target, Solicited: true, Override: true}
	na.Options.TargetLinkAddr, na.Options.HasTargetLinkAddr = b.PeerMAC, true
	b.Send(b.NDP(IP6{Src: r.Target, Dst: pkt.Src()}, na))
	return true
}

// ip6Of parses the IPv6 packet of a frame and its upper layer.
func ip6Of(f ethernet.Frame, proto uint8) (ipv6.Packet, []byte, error) {
	if f.EtherType() != ethernet.IPv6 {
		return nil, nil, fmt.Errorf("not IPv6 but %v", f.EtherType())
	}
	p, err := ipv6.NewPacket(f.Payload())
	if err != nil {
		return nil, nil, err
	}
	c, err := ipv6.Walk(p)
	if err != nil {
		return nil, nil, err
	}
	if c.Proto != proto {
		return nil, nil, fmt.Errorf("protocol %d, want %d", c.Proto, proto)
	}
	return p, p[c.Offset:], nil
}

// Echo6Reply matches an ICMPv6 echo reply with the given sequence number.
type Echo6Reply struct{ Seq uint16 }

func (m Echo6Reply) match(_ *Bench, f ethernet.Frame) error {
	p, up, err := ip6Of(f, ipv6.ProtoICMPv6)
	if err != nil {
		return err
	}
	msg, err := icmpv6.NewMessage(up, p.Src(), p.Dst())
	if err != nil {
		return err
	}
	if msg.Type() != icmpv6.TypeEchoReply || msg.Seq() != m.Seq {
		return fmt.Errorf("ICMPv6 type %d seq %d, want echo reply %d", msg.Type(), msg.Seq(), m.Seq)
	}
	return nil
}

// ICMP6M matches an ICMPv6 message by type, and code and the four
// type-specific bytes when set.
type ICMP6M struct {
	Type  uint8
	Code  *uint8
	Extra *uint32
}

func (m ICMP6M) match(_ *Bench, f ethernet.Frame) error {
	p, up, err := ip6Of(f, ipv6.ProtoICMPv6)
	if err != nil {
		return err
	}
	msg, err := icmpv6.NewMessage(up, p.Src(), p.Dst())
	if err != nil {
		return err
	}
	switch {
	case msg.Type() != m.Type:
		return fmt.Errorf("ICMPv6 type %d, want %d", msg.Type(), m.Type)
	case m.Code != nil && msg.Code() != *m.Code:
		return fmt.Errorf("ICMPv6 code %d, want %d", msg.Code(), *m.Code)
	case m.Extra != nil && msg.RestOfHeader() != *m.Extra:
		return fmt.Errorf("ICMPv6 rest of header %d, want %d", msg.RestOfHeader(), *m.Extra)
	}
	return nil
}

// NDPM matches an NDP message by type and target.
type NDPM struct {
	Type   ndp.Type
	Target netip.Addr
	// Dst, when valid, is the IPv6 destination.
	Dst netip.Addr
	// Check, when set, inspects the parsed message.
	Check func(p ipv6.Packet, r ndp.Repr) error
}

func (m NDPM) match(_ *Bench, f ethernet.Frame) error {
	p, up, err := ip6Of(f, ipv6.ProtoICMPv6)
	if err != nil {
		return err
	}
	r, err := ndp.Parse(up)
	if err != nil {
		return fmt.Errorf("NDP: %v", err)
	}
	switch {
	case p.HopLimit() != 255:
		return fmt.Errorf("NDP hop limit %d", p.HopLimit())
	case r.Type != m.Type:
		return fmt.Errorf("NDP %v, want %v", r.Type, m.Type)
	case m.Target.IsValid() && r.Target != m.Target:
		return fmt.Errorf("NDP target %v, want %v", r.Target, m.Target)
	case m.Dst.IsValid() && p.Dst() != m.Dst:
		return fmt.Errorf("NDP to %v, want %v", p.Dst(), m.Dst)
	}
	if m.Check != nil {
		return m.Check(p, r)
	}
	return nil
}

// UDP6Bytes builds a UDP datagram between src and dst with a correct
// checksum.
func UDP6Bytes(sport, dport uint16, data []byte, src, dst netip.Addr) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	binary.BigEndian.PutUint16(u[6:], ipv6.UpperChecksum(src, dst, ipv6.ProtoUDP, u))
	return u
}

func device6() device.MemoryConfig {
	return device.MemoryConfig{MACA: stackMAC6, MACB: peerMAC6}
}

func staticOpts() actors.IPv6Options {
	return actors.IPv6Options{Mode: actors.IPv6Static, Addr: StackPrefix6}
}
