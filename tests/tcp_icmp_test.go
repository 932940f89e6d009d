package tests

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
)

// A port unreachable in answer to our SYN fails the dial at once with
// "connection refused" (RFC 1122 §4.2.3.9), and a forged one quoting a
// sequence number we never sent does not (RFC 5927 §4.1).
func TestTCPDialFailsOnICMPPortUnreachable(t *testing.T) {
	s, p := rawPeerOn(t, nil)
	to := netip.AddrPortFrom(p.ip, 7777)

	// The raw peer answers every SYN with port unreachable quoting it;
	// when forge is set it first sends one with the quoted sequence
	// number shifted out of the window.
	answer := func(forge bool) {
		p.await(5*time.Second, func(f ethernet.Frame) bool {
			if f.EtherType() != ethernet.IPv4 {
				return false
			}
			pkt, err := ipv4.NewPacket(f.Payload())
			if err != nil || pkt.Protocol() != ipv4.ProtocolTCP {
				return false
			}
			quote := append([]byte(nil), pkt[:pkt.HeaderLen()+8]...)
			if forge {
				q := append([]byte(nil), quote...)
				q[pkt.HeaderLen()+4] ^= 0x80 // the sequence number's top bit
				p.sendICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodePortUnreachable, q)
			}
			p.sendICMPError(icmpv4.TypeDestUnreachable, icmpv4.CodePortUnreachable, quote)
			return true
		})
	}
	go answer(true)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.DialTCP(ctx, to)
	if !errors.Is(err, actnet.ErrConnectionRefused) {
		t.Fatalf("dial: %v, want connection refused", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the dial took %v to fail", d)
	}
	st := s.Stats().TCP
	if st.ControlErrorsIgnored != 1 || st.ControlErrors != 1 {
		t.Errorf("forged and real errors not told apart: %+v", st)
	}
}

// sendICMPError sends the stack an ICMP error quoting quote.
func (p *rawPeer) sendICMPError(typ, code uint8, quote []byte) {
	m := make([]byte, icmpv4.HeaderLen+len(quote))
	n := icmpv4.EmitError(m, typ, code, 0, quote)
	b := make([]byte, ipv4.HeaderLen+n)
	ipv4.Header{ID: 9, TTL: 64, Protocol: ipv4.ProtocolICMP, Src: p.ip, Dst: p.dstI, PayloadLen: n}.Emit(b)
	copy(b[ipv4.HeaderLen:], m[:n])
	p.send(p.frame(ethernet.IPv4, b))
}

// fragNeededTCP is a fragmentation-needed report (RFC 1191) from the peer
// reporting mtu, quoting a full-size TCP segment of ours from localPort to
// the peer's remotePort with sequence number seq.
func (p *rawPeer) fragNeededTCP(mtu int, localPort, remotePort uint16, seq uint32) []byte {
	quote := make([]byte, ipv4.HeaderLen+8)
	ipv4.Header{ID: 11, DontFragment: true, TTL: 64, Protocol: ipv4.ProtocolTCP, Src: p.dstI, Dst: p.ip,
		PayloadLen: 1480}.Emit(quote)
	binary.BigEndian.PutUint16(quote[20:], localPort)
	binary.BigEndian.PutUint16(quote[22:], remotePort)
	binary.BigEndian.PutUint32(quote[24:], seq)
	return p.fragNeededQuoting(mtu, quote)
}

// TestForgedFragNeededChangesNothing is issue 9's first finding: one forged
// fragmentation-needed report, quoting a connection that does not exist,
// lowered the path MTU to its peer before TCP looked at the quote, and every
// full-size segment of the established connections to that peer was then
// dropped on output (they stalled until they timed out). The path MTU may
// only change once TCP has matched the quote to a connection and a sequence
// number in flight (RFC 5927 §4.3).
func TestForgedFragNeededChangesNothing(t *testing.T) {
	a, b, da, db := pair(t, device.MemoryConfig{})
	l, err := a.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, l)
	server := netip.AddrPortFrom(a.Addr(), 9000)
	echoRoundTrip(t, b, server, []byte("warm up"), 30*time.Second)

	// The forger sits on b's side of the link and speaks as b.
	p := &rawPeer{t: t, dev: db, mac: ethernet.Addr(db.HardwareAddr()), ip: b.Addr(),
		dst: ethernet.Addr(da.HardwareAddr()), dstI: a.Addr()}
	p.send(p.fragNeededTCP(576, 9000, 1, 0x12345678))   // no such connection
	p.send(p.fragNeededTCP(0, 9000, 1, 0x12345678))     // old-style, no MTU
	p.send(p.fragNeededTCP(576, 4242, 4243, 0x1234567)) // no such port either
	waitIdle(t, a)
	if got := a.PathMTU(b.Addr()); got != 1500 {
		t.Fatalf("path MTU to the peer after forged reports: %d, want 1500", got)
	}
	st := a.Stats()
	if st.TCP.ControlErrorsNoConn != 3 || st.IPv4.PathMTULowered != 0 {
		t.Errorf("forged reports: %d counted as for no connection (want 3), path MTU lowered %d times (want 0)",
			st.TCP.ControlErrorsNoConn, st.IPv4.PathMTULowered)
	}
	// Full-size segments still flow to the same peer, both ways.
	echoRoundTrip(t, b, server, patternData(4<<20, 9), 60*time.Second)
	if got := a.PathMTU(b.Addr()); got != 1500 {
		t.Fatalf("path MTU to the peer after the echo: %d, want 1500", got)
	}
}
