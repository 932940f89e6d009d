package tests

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
)

// fragmentSeen is one IPv4 packet a raw peer read from the stack.
type fragmentSeen struct {
	id     uint16
	offset int
	more   bool
	df     bool
	length int // payload bytes
}

// collectUDP reads the IPv4 packets carrying UDP (whole or in fragments)
// the stack sends until want payload bytes have been seen.
func (p *rawPeer) collectUDP(t *testing.T, want int) []fragmentSeen {
	t.Helper()
	var seen []fragmentSeen
	total := 0
	ok := p.await(3*time.Second, func(f ethernet.Frame) bool {
		if f.EtherType() != ethernet.IPv4 {
			return false
		}
		pkt, err := ipv4.NewPacket(f.Payload())
		if err != nil || pkt.Protocol() != ipv4.ProtocolUDP {
			return false
		}
		seen = append(seen, fragmentSeen{pkt.ID(), pkt.FragmentOffset(), pkt.MoreFragments(), pkt.DontFragment(), len(pkt.Payload())})
		total += len(pkt.Payload())
		return total >= want
	})
	if !ok {
		t.Fatalf("saw %d of %d UDP bytes: %+v", total, want, seen)
	}
	return seen
}

// checkFragments checks a fragment train against RFC 791 §3.2: one ID,
// contiguous offsets, 8-byte multiples but for the last, MF on all but
// the last, none above mtu, DF clear.
func checkFragments(t *testing.T, frags []fragmentSeen, payload, mtu int) {
	t.Helper()
	off := 0
	for i, f := range frags {
		last := i == len(frags)-1
		switch {
		case f.id != frags[0].id:
			t.Errorf("fragment %d has ID %d, not %d", i, f.id, frags[0].id)
		case f.offset != off:
			t.Errorf("fragment %d at offset %d, want %d", i, f.offset, off)
		case f.more == last:
			t.Errorf("fragment %d: MF %v", i, f.more)
		case !last && f.length%8 != 0:
			t.Errorf("fragment %d carries %d bytes, not a multiple of 8", i, f.length)
		case ipv4.HeaderLen+f.length > mtu:
			t.Errorf("fragment %d is %d bytes, above the MTU %d", i, ipv4.HeaderLen+f.length, mtu)
		case f.df:
			t.Errorf("fragment %d has DF set", i)
		}
		off += f.length
	}
	if off != payload {
		t.Errorf("fragments carry %d bytes, want %d", off, payload)
	}
}

// fragNeeded builds an ICMP fragmentation-needed message from a router
// quoting a datagram from quotedSrc to quotedDst.
func (p *rawPeer) fragNeeded(mtu int, quotedSrc, quotedDst netip.Addr, df bool, srcPort, dstPort uint16) []byte {
	quote := make([]byte, ipv4.HeaderLen+8)
	ipv4.Header{ID: 7, DontFragment: df, TTL: 63, Protocol: ipv4.ProtocolUDP, Src: quotedSrc, Dst: quotedDst,
		PayloadLen: 1480}.Emit(quote)
	binary.BigEndian.PutUint16(quote[20:], srcPort)
	binary.BigEndian.PutUint16(quote[22:], dstPort)
	return p.fragNeededQuoting(mtu, quote)
}

// fragNeededQuoting is a fragmentation-needed report of mtu from the peer
// quoting quote (an IP header and the first 8 bytes after it).
func (p *rawPeer) fragNeededQuoting(mtu int, quote []byte) []byte {
	m := make([]byte, icmpv4.HeaderLen+len(quote))
	n := icmpv4.EmitError(m, icmpv4.TypeDestUnreachable, icmpv4.CodeFragmentationNeeded, uint32(mtu), quote)
	return p.frame(ethernet.IPv4, p.ipPacket(ipv4.ProtocolICMP, m[:n]))
}

// TestPathMTU: the stack fragments UDP to the link MTU; a router's
// fragmentation-needed report lowers the path MTU for that destination
// only (RFC 1191), and sends then fragment to it; forged or malformed
// reports are counted and ignored, and a report below the floor locks
// the estimate at 552.
func TestPathMTU(t *testing.T) {
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	stack := newStack(t, da, addrA)
	p := &rawPeer{t: t, dev: db, mac: ethernet.Addr(db.HardwareAddr()), ip: addrB.Addr(),
		dst: ethernet.Addr(da.HardwareAddr()), dstI: addrA.Addr()}
	req := make([]byte, arp.Len)
	arp.NewRequest(p.mac, p.ip, p.dstI).Emit(req)
	p.send(p.frame(ethernet.ARP, req))
	p.send(p.frame(ethernet.IPv4, p.echo(1)))
	if !p.awaitEchoReply(1, 2*time.Second) {
		t.Fatal("no echo reply")
	}
	c, err := stack.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 5555))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := netip.AddrPortFrom(p.ip, 9)
	send := func() {
		t.Helper()
		if _, err := c.WriteToUDPAddrPort(make([]byte, 3000), peer); err != nil {
			t.Fatal(err)
		}
	}

	send()
	checkFragments(t, p.collectUDP(t, 3008), 3008, 1500)
	if got := stack.PathMTU(p.ip); got != 1500 {
		t.Fatalf("PathMTU before any report = %d", got)
	}

	// Ignored: a quote of someone else's datagram, a quote without DF.
	other := netip.MustParseAddr("10.0.0.99")
	p.send(p.fragNeeded(1000, other, p.ip, true, 5555, 9))
	p.send(p.fragNeeded(1000, p.dstI, p.ip, false, 5555, 9))
	eventually(t, 2*time.Second, "the bad reports counted", func() bool {
		d := stack.Stats().ICMPv4
		return d.ErrorNotOurs == 1 && d.ErrorBadQuote == 1
	})
	if got := stack.PathMTU(p.ip); got != 1500 {
		t.Fatalf("PathMTU after forged reports = %d", got)
	}
	// Ignored: a well-formed report quoting a port no socket is bound to
	// (RFC 5927 §4.3: only a report the transport can match lowers it).
	p.send(p.fragNeeded(1000, p.dstI, p.ip, true, 5556, 9))
	waitIdle(t, stack)
	if got := stack.PathMTU(p.ip); got != 1500 {
		t.Fatalf("PathMTU after a report for an unbound port = %d", got)
	}

	p.send(p.fragNeeded(1000, p.dstI, p.ip, true, 5555, 9))
	eventually(t, 2*time.Second, "the path MTU lowered", func() bool { return stack.PathMTU(p.ip) == 1000 })
	if got := stack.PathMTU(other); got != 1500 {
		t.Errorf("PathMTU of another destination = %d, want 1500", got)
	}
	send()
	checkFragments(t, p.collectUDP(t, 3008), 3008, 1000)

	// Below the floor: held at 552, the DF bit is then cleared.
	p.send(p.fragNeeded(300, p.dstI, p.ip, true, 5555, 9))
	eventually(t, 2*time.Second, "the path MTU at the floor", func() bool { return stack.PathMTU(p.ip) == 552 })
	send()
	checkFragments(t, p.collectUDP(t, 3008), 3008, 552)

	// The errors were soft for the unconnected socket: it still works.
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := c.ReadFrom(make([]byte, 10)); err == nil || !isTimeout(err) {
		t.Fatalf("socket read after frag-needed: %v", err)
	}
	if got := stack.Stats().IPv4.PathMTULowered; got != 2 {
		t.Errorf("path MTU lowered %d times, want 2", got)
	}
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	t, ok := err.(timeout)
	return ok && t.Timeout()
}
