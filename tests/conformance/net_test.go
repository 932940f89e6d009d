package conformance

import (
	"testing"

	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/tcp"
)

// RFC 4987 §3.6 (issue 9, finding 2): with the half-open backlog full, a
// SYN is answered with a cookie, and the ACK returning it creates the
// connection with the MSS restored.
func TestSYNCookiesWhenBacklogFull_RFC4987_3_6(t *testing.T) {
	b := New(t)
	q := b.Listen(port, 2, tcp.Config{})
	for i := 0; i < 2; i++ {
		b.Send(b.TCP(SYN(b.NextPort(), port, DefaultSYNOptions)))
		b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK)})
	}
	c := b.Handshake(port, q, DefaultSYNOptions)
	if got := b.Stats().TCP.CookiesSent; got != 1 {
		t.Fatalf("SYN cookies sent = %d, want 1", got)
	}
	c.SendData("via cookie")
	b.ExpectNone(c.Probe())
	buf := make([]byte, 32)
	n, err := c.Sock.Read(buf, b.Within())
	if err != nil || string(buf[:n]) != "via cookie" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if got := b.Stats().TCP.CookiesReceived; got != 1 {
		t.Fatalf("SYN cookies received = %d, want 1", got)
	}
}

// RFC 4987 §3.6 with RFC 7323: with timestamps the cookie carries window
// scale and SACK-permitted in TSval; the SYN-ACK offers them.
func TestSYNCookieKeepsOptionsWithTimestamps_RFC4987_3_6(t *testing.T) {
	b := New(t)
	q := b.Listen(port, 1, tcp.Config{})
	b.Send(b.TCP(SYN(b.NextPort(), port, DefaultSYNOptions)))
	b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK)})
	opts := tcp.Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 2, SACKPermitted: true, HasTimestamps: true, TSVal: 99}
	c := b.Handshake(port, q, opts)
	o := c.SynAck.Options
	if !o.HasWindowScale || !o.SACKPermitted || !o.HasTimestamps || o.TSEcr != 99 {
		t.Fatalf("cookie SYN-ACK options %+v", o)
	}
	c.Write("ok")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Data: V("ok"), TS: V(true)})
}

// RFC 4987 §3.6: an ACK with a forged cookie creates nothing; it is
// reset like any ACK to a listener, and counted.
func TestForgedCookieReset_RFC4987_3_6(t *testing.T) {
	b := New(t)
	b.Listen(port, 1, tcp.Config{})
	b.Send(b.TCP(SYN(b.NextPort(), port, DefaultSYNOptions)))
	b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK)})
	p := b.NextPort()
	b.Send(b.TCP(SYN(p, port, DefaultSYNOptions)))
	sa := SegmentOf(b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), DstPort: V(p)}))
	bad := sa.Seq() + 2
	b.Send(b.TCP(Seg{SrcPort: p, DstPort: port, Seq: PeerISS + 1, Ack: bad, Flags: tcp.FlagACK, Win: 100}))
	b.Expect(TCPM{Flags: V(tcp.FlagRST), Seq: V(bad), DstPort: V(p)})
	if got := b.Stats().TCP.CookiesFailed; got != 1 {
		t.Fatalf("SYN cookies failed = %d, want 1", got)
	}
}

// RFC 1122 §3.2.1.7: TTL matters to routers, not to the destination; a
// ping with TTL 1 is answered.
func TestTTLOneDelivered_RFC1122_3_2_1_7(t *testing.T) {
	b := New(t)
	p := b.EchoRequest()
	f := p.Frame
	ip := f[ethernet.HeaderLen:]
	ip[8] = 1
	fixIPChecksum(ip)
	b.Send(f)
	b.Expect(p.Answer)
}

func fixIPChecksum(ip []byte) {
	ip[10], ip[11] = 0, 0
	hl := int(ip[0]&0xf) * 4
	var sum uint32
	for i := 0; i < hl; i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	ip[10], ip[11] = byte(^sum>>8), byte(^sum)
}

// RFC 1122 §3.2.1.8: a host must ignore IP options it does not know; a
// ping with NOPs, an unknown option and End is answered.
func TestIPOptionsIgnored_RFC1122_3_2_1_8(t *testing.T) {
	b := New(t)
	m := make([]byte, icmpv4.HeaderLen+4)
	n := icmpv4.EmitEcho(m, icmpv4.TypeEchoRequest, 0x4242, 900, []byte("opts"))
	b.Send(b.IPFrame(IP{Protocol: ipv4.ProtocolICMP, Options: []byte{1, 1, 0x9e, 4, 0, 0, 0, 0}}, m[:n]))
	b.Expect(EchoReply{Seq: 900})
}

// RFC 1122 §3.2.1.3 (a source address that is our own is martian): a
// LAND SYN (source = destination) is not answered.
func TestLANDAttackDropped_RFC1122_3_2_1_3(t *testing.T) {
	b, _ := listening(t)
	s := SYN(port, port, DefaultSYNOptions)
	b.Send(b.TCPWith(IP{Src: b.IP}, s))
	b.ExpectNone(b.ClosedPortProbe())
}

// RFC 791 §3.2 / RFC 815: overlapping fragments (teardrop's shape) do not
// crash the stack, and it keeps answering.
func TestTeardropFragments_RFC791(t *testing.T) {
	b := New(t)
	payload := make([]byte, 32)
	b.Send(b.IPFrame(IP{ID: 7, Protocol: ipv4.ProtocolUDP, MoreFragments: true}, payload[:24]))
	b.Send(b.IPFrame(IP{ID: 7, Protocol: ipv4.ProtocolUDP, FragmentOffset: 8}, payload[:4]))
	b.Ping()
}

// RFC 791 §3.2: fragments that would reassemble beyond 65535 bytes (ping
// of death) are dropped; the stack keeps answering.
func TestOversizedReassemblyDropped_RFC791_3_2(t *testing.T) {
	b := New(t)
	b.Send(b.IPFrame(IP{ID: 9, Protocol: ipv4.ProtocolICMP, MoreFragments: true}, make([]byte, 1024)))
	b.Send(b.IPFrame(IP{ID: 9, Protocol: ipv4.ProtocolICMP, FragmentOffset: 65528}, make([]byte, 1000)))
	b.Ping()
}

// RFC 5927 §4.3 / RFC 1122 §4.2.3.9: an ICMP port unreachable quoting a
// segment whose sequence number is not in flight does not reset the
// connection.
func TestForgedICMPQuoteIgnored_RFC5927_4_3(t *testing.T) {
	_, c := established(t)
	quoted := c.B.IPv4(IP{Src: c.B.IP, Dst: PeerIP, Protocol: ipv4.ProtocolTCP},
		TCPBytes(Seg{SrcPort: port, DstPort: c.PeerPort, Seq: c.Rcv + 99999, Flags: tcp.FlagACK}, c.B.IP, PeerIP))
	m := make([]byte, icmpv4.HeaderLen+len(quoted))
	n := icmpv4.EmitError(m, icmpv4.TypeDestUnreachable, 3, 0, quoted)
	c.B.Send(c.B.IPFrame(IP{Protocol: ipv4.ProtocolICMP}, m[:n]))
	c.B.Settle() // the error goes by the tcp actor, a probe would not
	c.B.ExpectNone(c.Probe())
	c.Write("alive")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Data: V("alive")})
}

// RFC 826 and RFC 5227 §2.4 (b): a host claiming the stack's address is
// answered with a defending announcement.
func TestARPConflictDefended_RFC5227_2_4(t *testing.T) {
	b := New(t)
	b.WatchARP = true
	forged := make([]byte, arp.Len)
	arp.Repr{Op: arp.Reply, SenderHW: b.PeerMAC, SenderIP: b.IP, TargetHW: b.MAC, TargetIP: b.IP}.Emit(forged)
	b.Send(b.Frame(ethernet.ARP, forged))
	b.Expect(ARPM{Op: V(arp.Request), SenderIP: V(b.IP), TargetIP: V(b.IP), SenderHW: V(b.MAC), Broadcast: V(true)})
}

// RFC 1812 §3.3.2 / RFC 826: an ARP request whose sender hardware address
// is broadcast or multicast is not answered (the reply would flood).
func TestARPFromBroadcastOrMulticastSenderIgnored_RFC1812_3_3_2(t *testing.T) {
	for _, mac := range []ethernet.Addr{ethernet.Broadcast, {0x01, 0x00, 0x5e, 0, 0, 1}} {
		b := New(t)
		req := make([]byte, arp.Len)
		arp.NewRequest(mac, PeerIP, b.IP).Emit(req)
		b.Send(b.Frame(ethernet.ARP, req))
		b.ExpectNone(b.ARPProbe())
	}
}
