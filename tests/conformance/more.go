package conformance

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/tcp"
)

// Settle waits until the stack, its link and its virtual clock are idle
// (actors.WaitIdle: a barrier on message counts, not a sleep), so that
// every frame sent so far has been handled and every timer it armed is
// registered with the clock. Advance after Settle then fires exactly the
// timers that are due.
func (b *Bench) Settle() {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	parts := []actors.Active{b.Stack, b.dev, b.Clock}
	if d, ok := b.Stack.Env.Device.(actors.Active); ok {
		parts = append(parts, d)
	}
	if err := actors.WaitIdle(ctx, parts...); err != nil {
		b.T.Fatalf("the stack never went idle: %v", err)
	}
}

// AdvanceSettled settles the stack, moves the virtual clock by d, and
// settles again, so what the fired timers made the stack do is done.
func (b *Bench) AdvanceSettled(d time.Duration) {
	b.T.Helper()
	b.Settle()
	b.Advance(d)
	b.Settle()
}

// FrameM matches a frame with a function, for checks the typed matches
// do not offer (link addresses, IP header fields).
type FrameM func(b *Bench, f ethernet.Frame) error

func (m FrameM) match(b *Bench, f ethernet.Frame) error { return m(b, f) }

// All matches when every one of ms does.
type All []Match

func (ms All) match(b *Bench, f ethernet.Frame) error {
	for _, m := range ms {
		if err := m.match(b, f); err != nil {
			return err
		}
	}
	return nil
}

// ICMPError builds an ICMP error of type typ and code from the peer, with
// extra in the second word (the next-hop MTU of fragmentation needed),
// quoting invoking.
func (b *Bench) ICMPError(typ, code uint8, extra uint32, invoking []byte) []byte {
	m := make([]byte, icmpv4.HeaderLen+len(invoking))
	n := icmpv4.EmitError(m, typ, code, extra, invoking)
	return b.IPFrame(IP{Protocol: ipv4.ProtocolICMP}, m[:n])
}

// UDPBytes is a UDP datagram without a checksum (zero: none, as IPv4
// allows).
func UDPBytes(src, dst uint16, data []byte) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], src)
	binary.BigEndian.PutUint16(u[2:], dst)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	return u
}

// EchoBytes is an ICMP echo request with id 0x4242, sequence seq and data.
func EchoBytes(seq uint16, data []byte) []byte {
	m := make([]byte, icmpv4.HeaderLen+len(data))
	n := icmpv4.EmitEcho(m, icmpv4.TypeEchoRequest, 0x4242, seq, data)
	return m[:n]
}

// Dial opens a connection from the stack to the peer's port peerPort and
// returns it once the stack's SYN is seen (the peer has not answered).
func (b *Bench) Dial(peerPort uint16, cfg tcp.Config) (*Conn, *tcp.Segment) {
	b.T.Helper()
	sock, err := b.Stack.Dial(netip.AddrPort{}, netip.AddrPortFrom(PeerIP, peerPort), cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	syn := SegmentOf(b.Expect(TCPM{Flags: V(tcp.FlagSYN), DstPort: V(peerPort)}))
	c := &Conn{B: b, Port: syn.SrcPort(), PeerPort: peerPort, Nxt: PeerISS, ISS: syn.Seq(), Rcv: syn.Seq() + 1,
		Win: 64240, Sock: sock}
	return c, syn
}

// ipHeaderM checks the IP header of a frame from the stack with f.
func ipHeaderM(f func(p ipv4.Packet) error) FrameM {
	return func(b *Bench, fr ethernet.Frame) error {
		if fr.EtherType() != ethernet.IPv4 {
			return fmt.Errorf("not IPv4 but %v", fr.EtherType())
		}
		p, err := ipv4.NewPacket(fr.Payload())
		if err != nil {
			return err
		}
		return f(p)
	}
}
