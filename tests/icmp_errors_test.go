package tests

import (
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
)

// rawPeerOn starts a stack (on clock, when not nil) facing a raw peer that
// has introduced itself with ARP.
func rawPeerOn(t *testing.T, clock actors.Clock) (*actnet.Stack, *rawPeer) {
	t.Helper()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	s, err := actnet.New(actnet.Config{Device: da, IPv4: addrA, Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := &rawPeer{t: t, dev: db, mac: ethernet.Addr(db.HardwareAddr()), ip: addrB.Addr(),
		dst: ethernet.Addr(da.HardwareAddr()), dstI: addrA.Addr()}
	req := make([]byte, arp.Len)
	arp.NewRequest(p.mac, p.ip, p.dstI).Emit(req)
	p.send(p.frame(ethernet.ARP, req))
	p.send(p.frame(ethernet.IPv4, p.echo(1)))
	if !p.awaitEchoReply(1, 2*time.Second) {
		t.Fatal("no echo reply")
	}
	return s, p
}

// packet builds an IPv4 packet from the peer with explicit fragment
// fields.
func (p *rawPeer) packet(proto uint8, id uint16, offset int, more bool, dst netip.Addr, payload []byte) []byte {
	b := make([]byte, ipv4.HeaderLen+len(payload))
	ipv4.Header{ID: id, TTL: 64, Protocol: proto, Src: p.ip, Dst: dst, FragmentOffset: offset,
		MoreFragments: more, PayloadLen: len(payload)}.Emit(b)
	copy(b[ipv4.HeaderLen:], payload)
	return p.frame(ethernet.IPv4, b)
}

// awaitICMPError waits for an ICMP error of typ/code whose quote has the
// given IP ID.
func (p *rawPeer) awaitICMPError(typ, code uint8, quotedID uint16, within time.Duration) bool {
	return p.await(within, func(f ethernet.Frame) bool {
		if f.EtherType() != ethernet.IPv4 {
			return false
		}
		pkt, err := ipv4.NewPacket(f.Payload())
		if err != nil || pkt.Protocol() != ipv4.ProtocolICMP || pkt.Dst() != p.ip {
			return false
		}
		m, err := icmpv4.NewMessage(pkt.Payload())
		if err != nil || m.Type() != typ || m.Code() != code {
			return false
		}
		iv, err := m.Invoking()
		return err == nil && iv.ID() == quotedID && iv.Src() == p.ip
	})
}

// TestReassemblyTimeExceeded: a datagram whose first fragment came but
// never completed times out and draws ICMP time exceeded, code 1 (RFC
// 1122 §3.3.2); one whose first fragment never came times out silently.
func TestReassemblyTimeExceeded(t *testing.T) {
	clock := actors.NewVirtualClock(time.Now())
	s, p := rawPeerOn(t, clock)
	p.send(p.packet(ipv4.ProtocolUDP, 0x1111, 0, true, p.dstI, make([]byte, 64)))
	p.send(p.packet(ipv4.ProtocolUDP, 0x2222, 64, true, p.dstI, make([]byte, 64)))
	eventually(t, 2*time.Second, "both fragments held", func() bool {
		return s.Stats().IPv4.FragmentsReceived == 2
	})
	clock.Advance(29 * time.Second)
	waitIdle(t, s, clock)
	if got := s.Stats().IPv4.ReassemblyTimedOut; got != 0 {
		t.Fatalf("%d datagrams timed out before 30 s", got)
	}
	clock.Advance(2 * time.Second)
	if !p.awaitICMPError(icmpv4.TypeTimeExceeded, icmpv4.CodeReassemblyExceeded, 0x1111, 2*time.Second) {
		t.Fatal("no time exceeded for the datagram whose first fragment came")
	}
	eventually(t, 2*time.Second, "both timeouts counted", func() bool {
		return s.Stats().IPv4.ReassemblyTimedOut == 2
	})
	if got := s.Stats().ICMPv4.TimeExceededSent; got != 1 {
		t.Errorf("%d time exceeded sent, want 1 (none for the datagram without its first fragment)", got)
	}
}

// TestProtocolUnreachable: an unknown protocol draws protocol unreachable
// (RFC 1122 §3.2.2.1), but not when sent to a broadcast address, and a
// datagram to a closed UDP port sent to broadcast draws nothing.
func TestProtocolUnreachable(t *testing.T) {
	s, p := rawPeerOn(t, nil)
	p.send(p.packet(253, 0x3333, 0, false, p.dstI, make([]byte, 16)))
	if !p.awaitICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodeProtocolUnreachable, 0x3333, 2*time.Second) {
		t.Fatal("no protocol unreachable")
	}
	bcast := netip.MustParseAddr("10.0.0.255")
	p.send(p.packet(253, 0x4444, 0, false, bcast, make([]byte, 16)))
	udpToClosed := make([]byte, 16)
	udpToClosed[3] = 99 // destination port 99
	udpToClosed[5] = 16 // length 16, checksum 0 (none)
	p.send(p.packet(ipv4.ProtocolUDP, 0x5555, 0, false, bcast, udpToClosed))
	eventually(t, 2*time.Second, "the broadcasts handled", func() bool {
		st := s.Stats()
		return st.IPv4.UnknownProtocol == 2 && st.UDP.BroadcastNoPort == 1
	})
	st := s.Stats().ICMPv4
	if st.UnreachableSent != 1 || st.ErrorsSuppressed != 1 {
		t.Errorf("icmp events %+v: want one unreachable sent and one withheld", st)
	}
}
