package conformance

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/tcp"
)

// ipOf checks that f is a well-formed IPv4 packet from the stack to the
// peer with protocol proto, and returns it.
func ipOf(b *Bench, f ethernet.Frame, proto uint8) (ipv4.Packet, error) {
	if f.EtherType() != ethernet.IPv4 {
		return nil, fmt.Errorf("not IPv4 but %v", f.EtherType())
	}
	if f.Dst() != b.PeerMAC {
		return nil, fmt.Errorf("sent to MAC %v, not the peer", f.Dst())
	}
	p, err := ipv4.NewPacket(f.Payload())
	if err != nil {
		return nil, err
	}
	if p.Protocol() != proto {
		return nil, fmt.Errorf("protocol %d, want %d", p.Protocol(), proto)
	}
	if p.Src() != b.IP {
		return nil, fmt.Errorf("source %v, not the stack", p.Src())
	}
	return p, nil
}

// TCPM matches a TCP segment from the stack to the peer; nil fields are
// not checked. The checksum is always verified.
type TCPM struct {
	Flags            *tcp.Flags
	Seq, Ack         *tcp.Seq
	Win              *uint16
	SrcPort, DstPort *uint16
	MSS              *uint16 // MSS option present with this value
	WS               *uint8  // window scale option present with this shift
	NoWS             bool    // no window scale option
	SACKOK           *bool
	TS               *bool   // timestamps option present or absent
	TSEcr            *uint32 // echoed timestamp
	SACK             []tcp.SACKBlock
	Data             *string
	Dst              *netip.Addr
}

func (m TCPM) match(b *Bench, f ethernet.Frame) error {
	p, err := ipOf(b, f, ipv4.ProtocolTCP)
	if err != nil {
		return err
	}
	s, err := tcp.NewSegment(p.Payload())
	if err != nil {
		return err
	}
	if !s.VerifyChecksumAddrs(p.Src(), p.Dst()) {
		return errors.New("bad TCP checksum")
	}
	o := s.Options()
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	if m.Flags != nil {
		check(s.Flags() == *m.Flags, "flags %v, want %v", s.Flags(), *m.Flags)
	}
	if m.Seq != nil {
		check(s.Seq() == *m.Seq, "seq %d, want %d", s.Seq(), *m.Seq)
	}
	if m.Ack != nil {
		check(s.Ack() == *m.Ack, "ack %d, want %d", s.Ack(), *m.Ack)
	}
	if m.Win != nil {
		check(s.Window() == *m.Win, "window %d, want %d", s.Window(), *m.Win)
	}
	if m.SrcPort != nil {
		check(s.SrcPort() == *m.SrcPort, "source port %d, want %d", s.SrcPort(), *m.SrcPort)
	}
	if m.DstPort != nil {
		check(s.DstPort() == *m.DstPort, "destination port %d, want %d", s.DstPort(), *m.DstPort)
	}
	if m.MSS != nil {
		check(o.HasMSS && o.MSS == *m.MSS, "MSS %v/%d, want %d", o.HasMSS, o.MSS, *m.MSS)
	}
	if m.WS != nil {
		check(o.HasWindowScale && o.WindowScale == *m.WS, "window scale %v/%d, want %d", o.HasWindowScale, o.WindowScale, *m.WS)
	}
	if m.NoWS {
		check(!o.HasWindowScale, "window scale option present")
	}
	if m.SACKOK != nil {
		check(o.SACKPermitted == *m.SACKOK, "SACK-permitted %v, want %v", o.SACKPermitted, *m.SACKOK)
	}
	if m.TS != nil {
		check(o.HasTimestamps == *m.TS, "timestamps %v, want %v", o.HasTimestamps, *m.TS)
	}
	if m.TSEcr != nil {
		check(o.HasTimestamps && o.TSEcr == *m.TSEcr, "TSecr %d, want %d", o.TSEcr, *m.TSEcr)
	}
	if m.SACK != nil {
		check(slices.Equal(o.SACKBlocks(), m.SACK), "SACK %v, want %v", o.SACKBlocks(), m.SACK)
	}
	if m.Data != nil {
		check(string(s.Payload()) == *m.Data, "data %q, want %q", s.Payload(), *m.Data)
	}
	if m.Dst != nil {
		check(p.Dst() == *m.Dst, "destination %v, want %v", p.Dst(), *m.Dst)
	}
	return errors.Join(errs...)
}

// EchoReply matches the stack's reply to the peer's echo request Seq.
type EchoReply struct{ Seq uint16 }

func (m EchoReply) match(b *Bench, f ethernet.Frame) error {
	p, err := ipOf(b, f, ipv4.ProtocolICMP)
	if err != nil {
		return err
	}
	msg, err := icmpv4.NewMessage(p.Payload())
	if err != nil {
		return err
	}
	if msg.Type() != icmpv4.TypeEchoReply || msg.Seq() != m.Seq {
		return fmt.Errorf("ICMP type %d seq %d, want echo reply %d", msg.Type(), msg.Seq(), m.Seq)
	}
	return nil
}

// ICMPM matches an ICMP message from the stack; nil fields are not
// checked. QuoteProto checks the protocol of the quoted datagram.
type ICMPM struct {
	Type, Code *uint8
	QuoteProto *uint8
}

func (m ICMPM) match(b *Bench, f ethernet.Frame) error {
	p, err := ipOf(b, f, ipv4.ProtocolICMP)
	if err != nil {
		return err
	}
	msg, err := icmpv4.NewMessage(p.Payload())
	if err != nil {
		return err
	}
	if m.Type != nil && msg.Type() != *m.Type {
		return fmt.Errorf("ICMP type %d, want %d", msg.Type(), *m.Type)
	}
	if m.Code != nil && msg.Code() != *m.Code {
		return fmt.Errorf("ICMP code %d, want %d", msg.Code(), *m.Code)
	}
	if m.QuoteProto != nil {
		iv, err := msg.Invoking()
		if err != nil {
			return err
		}
		if iv.Protocol() != *m.QuoteProto {
			return fmt.Errorf("quoted protocol %d, want %d", iv.Protocol(), *m.QuoteProto)
		}
	}
	return nil
}

// ARPM matches an ARP packet from the stack.
type ARPM struct {
	Op                 *arp.Op
	SenderIP, TargetIP *netip.Addr
	SenderHW, TargetHW *ethernet.Addr
	Broadcast          *bool // Ethernet destination is broadcast
}

func (m ARPM) match(b *Bench, f ethernet.Frame) error {
	if f.EtherType() != ethernet.ARP {
		return fmt.Errorf("not ARP but %v", f.EtherType())
	}
	r, err := arp.Parse(f.Payload())
	if err != nil {
		return err
	}
	var errs []error
	if m.Op != nil && r.Op != *m.Op {
		errs = append(errs, fmt.Errorf("op %v, want %v", r.Op, *m.Op))
	}
	if m.SenderIP != nil && r.SenderIP != *m.SenderIP {
		errs = append(errs, fmt.Errorf("sender IP %v, want %v", r.SenderIP, *m.SenderIP))
	}
	if m.TargetIP != nil && r.TargetIP != *m.TargetIP {
		errs = append(errs, fmt.Errorf("target IP %v, want %v", r.TargetIP, *m.TargetIP))
	}
	if m.SenderHW != nil && r.SenderHW != *m.SenderHW {
		errs = append(errs, fmt.Errorf("sender MAC %v, want %v", r.SenderHW, *m.SenderHW))
	}
	if m.TargetHW != nil && r.TargetHW != *m.TargetHW {
		errs = append(errs, fmt.Errorf("target MAC %v, want %v", r.TargetHW, *m.TargetHW))
	}
	if m.Broadcast != nil && f.Dst().IsBroadcast() != *m.Broadcast {
		errs = append(errs, fmt.Errorf("broadcast %v, want %v", f.Dst().IsBroadcast(), *m.Broadcast))
	}
	return errors.Join(errs...)
}
