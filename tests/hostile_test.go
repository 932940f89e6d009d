package tests

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
)

// rawPeer is a hand-driven host on the far end of a memory link: it writes
// frames built byte by byte and reads what the stack sends back.
type rawPeer struct {
	t    *testing.T
	dev  *device.Memory
	mac  ethernet.Addr
	ip   netip.Addr
	dst  ethernet.Addr
	dstI netip.Addr
}

func (p *rawPeer) frame(typ ethernet.EtherType, payload []byte) []byte {
	f := make([]byte, ethernet.HeaderLen+len(payload))
	ethernet.Header{Dst: p.dst, Src: p.mac, Type: typ}.Emit(f)
	copy(f[ethernet.HeaderLen:], payload)
	return f
}

func (p *rawPeer) send(f []byte) {
	p.t.Helper()
	if err := p.dev.Write(f); err != nil {
		p.t.Fatalf("raw write: %v", err)
	}
}

// ipPacket builds an IPv4 packet from the peer to the stack.
func (p *rawPeer) ipPacket(proto uint8, payload []byte) []byte {
	b := make([]byte, ipv4.HeaderLen+len(payload))
	ipv4.Header{ID: 1, TTL: 64, Protocol: proto, Src: p.ip, Dst: p.dstI, PayloadLen: len(payload)}.Emit(b)
	copy(b[ipv4.HeaderLen:], payload)
	return b
}

func (p *rawPeer) echo(seq uint16) []byte {
	m := make([]byte, icmpv4.HeaderLen+32)
	n := icmpv4.EmitEcho(m, icmpv4.TypeEchoRequest, 0x4242, seq, make([]byte, 32))
	return p.ipPacket(ipv4.ProtocolICMP, m[:n])
}

// awaitEchoReply reads frames until the stack's reply to seq arrives.
func (p *rawPeer) awaitEchoReply(seq uint16, within time.Duration) bool {
	return p.await(within, func(f ethernet.Frame) bool {
		if f.EtherType() != ethernet.IPv4 {
			return false
		}
		pkt, err := ipv4.NewPacket(f.Payload())
		if err != nil || pkt.Protocol() != ipv4.ProtocolICMP {
			return false
		}
		m, err := icmpv4.NewMessage(pkt.Payload())
		return err == nil && m.Type() == icmpv4.TypeEchoReply && m.Seq() == seq
	})
}

// await reads frames until match accepts one or the time is up.
func (p *rawPeer) await(within time.Duration, match func(ethernet.Frame) bool) bool {
	deadline := time.Now().Add(within)
	found := make(chan bool, 1)
	go func() {
		bufs := [][]byte{make([]byte, 2048)}
		sizes := []int{0}
		for time.Now().Before(deadline) {
			n, err := p.dev.ReadBatch(bufs, sizes)
			if err != nil {
				found <- false
				return
			}
			if n == 1 {
				if f, err := ethernet.NewFrame(bufs[0][:sizes[0]]); err == nil && match(f) {
					found <- true
					return
				}
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		return ok
	case <-time.After(within):
		return false
	}
}

func TestHostileFramesAreCountedAndDropped(t *testing.T) {
	stack, p := rawPeerOn(t, nil)
	req := make([]byte, arp.Len)
	arp.NewRequest(p.mac, p.ip, p.dstI).Emit(req)
	good := p.echo(2)
	corrupt := func(mutate func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		mutate(b)
		return p.frame(ethernet.IPv4, b)
	}
	fixChecksum := func(b []byte) {
		b[10], b[11] = 0, 0
		var sum uint32
		for i := 0; i < int(b[0]&0xf)*4 && i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	}
	forged := make([]byte, arp.Len)
	arp.Repr{Op: arp.Reply, SenderHW: ethernet.Addr{0x02, 0xba, 0xd0, 0, 0, 1}, SenderIP: p.dstI,
		TargetHW: p.dst, TargetIP: p.dstI}.Emit(forged)

	hostile := []struct {
		name  string
		frame []byte
		drop  func(actnet.Stats) uint64 // the counter it must raise by one
	}{
		{"bad IPv4 checksum", corrupt(func(b []byte) { b[10] ^= 0xff }), func(s actnet.Stats) uint64 { return s.IPv4.BadChecksum }},
		{"bad ICMP checksum", corrupt(func(b []byte) { b[ipv4.HeaderLen+2] ^= 0xff }), func(s actnet.Stats) uint64 { return s.ICMPv4.Malformed }},
		{"IHL beyond the packet", p.frame(ethernet.IPv4, func() []byte {
			b := append([]byte(nil), good[:28]...)
			b[0] = 0x4f
			binary.BigEndian.PutUint16(b[2:], 28)
			fixChecksum(b)
			return b
		}()), func(s actnet.Stats) uint64 { return s.IPv4.Truncated }},
		{"IHL below five", corrupt(func(b []byte) { b[0] = 0x44; fixChecksum(b) }), func(s actnet.Stats) uint64 { return s.IPv4.BadHeaderLength }},
		{"total length past the frame", corrupt(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 1400); fixChecksum(b) }), func(s actnet.Stats) uint64 { return s.IPv4.Truncated }},
		{"total length inside the header", corrupt(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 12); fixChecksum(b) }), func(s actnet.Stats) uint64 { return s.IPv4.BadTotalLength }},
		{"truncated IPv4 header", p.frame(ethernet.IPv4, good[:12]), func(s actnet.Stats) uint64 { return s.IPv4.Truncated }},
		{"truncated ARP", p.frame(ethernet.ARP, req[:20]), func(s actnet.Stats) uint64 { return s.ARP.Malformed }},
		{"unknown EtherType", p.frame(0x88b5, good), func(s actnet.Stats) uint64 { return s.Ethernet.UnknownType }},
		{"frame for another host", func() []byte {
			f := p.frame(ethernet.IPv4, good)
			f[5] ^= 0x01
			return f
		}(), func(s actnet.Stats) uint64 { return s.Ethernet.NotForUs }},
		{"forged ARP reply claiming our address", p.frame(ethernet.ARP, forged), func(s actnet.Stats) uint64 { return s.ARP.Conflicts }},
	}
	for i, h := range hostile {
		before := h.drop(stack.Stats())
		p.send(h.frame)
		seq := uint16(100 + i)
		p.send(p.frame(ethernet.IPv4, p.echo(seq)))
		if !p.awaitEchoReply(seq, 2*time.Second) {
			t.Fatalf("after %s: the stack stopped answering pings", h.name)
		}
		// ARP and IPv4 are separate actors, so the ping may overtake
		// the hostile frame: wait for the count rather than read it once.
		eventually(t, 2*time.Second, h.name+" counted", func() bool {
			return h.drop(stack.Stats()) >= before+1
		})
		if after := h.drop(stack.Stats()); after != before+1 {
			t.Errorf("%s: its drop counter went from %d to %d, want +1", h.name, before, after)
		}
	}
	st := stack.Stats()
	for layer, n := range map[string]uint64{"ethernet": st.Ethernet.HandlerCrashes, "arp": st.ARP.HandlerCrashes,
		"ipv4": st.IPv4.HandlerCrashes, "udp": st.UDP.HandlerCrashes} {
		if n != 0 {
			t.Errorf("%s layer crashed %d times on hostile input", layer, n)
		}
	}
	select {
	case <-stack.Failed():
		t.Fatalf("stack failed: %v", stack.Err())
	default:
	}
}
