package tests

import (
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/tests/conformance"
)

// synFrom frames a SYN from src:port to the stack's port.
func (p *rawPeer) synFrom(src netip.Addr, srcPort, dstPort uint16) []byte {
	seg := conformance.TCPBytes(conformance.SYN(srcPort, dstPort, conformance.DefaultSYNOptions), src, p.dstI)
	b := make([]byte, ipv4.HeaderLen+len(seg))
	ipv4.Header{ID: 1, TTL: 64, Protocol: ipv4.ProtocolTCP, Src: src, Dst: p.dstI, PayloadLen: len(seg)}.Emit(b)
	copy(b[ipv4.HeaderLen:], seg)
	return p.frame(ethernet.IPv4, b)
}

// A half-open connection whose SYN-ACK cannot be sent ends as soon as that
// is known, instead of living through its SYN-ACK retries (about a
// minute): a SYN from an off-link source with no gateway is dropped at
// once (no route back), and one from an on-link address that never
// answers ARP is given up when the arp actor gives up (four requests a
// second apart). Neither draws a reset.
func TestHalfOpenEndsWhenSYNACKCannotBeSent(t *testing.T) {
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	s, p := rawPeerOn(t, clock)
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	p.send(p.synFrom(netip.MustParseAddr("192.0.2.7"), 40000, 80))
	eventually(t, 5*time.Second, "the off-link SYN dropped", func() bool { return s.Stats().TCP.SYNNoRoute == 1 })

	silent := netip.MustParseAddr("10.0.0.99")
	p.send(p.synFrom(silent, 40001, 80))
	eventually(t, 5*time.Second, "the on-link SYN accepted", func() bool { return s.Stats().TCP.PassiveOpens == 1 })
	waitIdle(t, s, clock)
	// The arp actor asks four times, a second apart, then gives up.
	for range 4 {
		clock.Advance(time.Second)
		waitIdle(t, s, clock)
	}
	st := s.Stats()
	if st.TCP.HalfOpenUnreachable != 1 || st.ARP.Unresolved == 0 {
		t.Fatalf("after 4 s: %d half-open ended unreachable, %d packets unresolved; want 1 and some\n%s",
			st.TCP.HalfOpenUnreachable, st.ARP.Unresolved, st)
	}
	if st.TCP.ResetsSent != 0 || st.TCP.Established != 0 || st.TCP.CookiesSent != 0 {
		t.Errorf("resets %d, established %d, cookies %d; want none\n%s", st.TCP.ResetsSent, st.TCP.Established, st.TCP.CookiesSent, st)
	}
	if g := s.Gauges(); g.TCPConns != 0 || g.TCPHalfOpen != 0 {
		t.Errorf("gauges %+v: connections still open", g)
	}
}
