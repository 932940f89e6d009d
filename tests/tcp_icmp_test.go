package tests

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
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
