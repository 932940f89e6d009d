package actors

import (
	"net/netip"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

var allHosts = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// ipv4Actor validates received IPv4 packets, keeps those addressed to the
// stack, answers ICMP echo and hands transport payloads up (RFC 791,
// RFC 1122 §3.2).
type ipv4Actor struct {
	env   *Env
	out   *IPv4Output
	guard supervisor.PacketGuard
	c     *mailbox.LayerCounters
	icmp  *mailbox.LayerCounters

	drops                                  map[error]*mailbox.Counter
	noTransport                            *mailbox.Counter
	notForUs, badSource, fragment, noProto *mailbox.Counter
	icmpMalformed, icmpBroadcastEcho       *mailbox.Counter
	icmpUnhandled, echoReplies             *mailbox.Counter
	icmpUnsolicited                        *mailbox.Counter
}

func newIPv4Actor(env *Env, out *IPv4Output) *ipv4Actor {
	c := env.Counters.Layer("ipv4")
	icmp := env.Counters.Layer("icmpv4")
	return &ipv4Actor{
		env:               env,
		out:               out,
		guard:             newGuard(env, "ipv4", c),
		c:                 c,
		icmp:              icmp,
		drops:             make(map[error]*mailbox.Counter),
		notForUs:          c.Drop("not for us"),
		badSource:         c.Drop("bad source address"),
		fragment:          c.Drop("fragment (no reassembly yet)"),
		noProto:           c.Drop("unknown protocol"),
		noTransport:       c.Drop("transport not running"),
		icmpMalformed:     icmp.Drop("malformed"),
		icmpBroadcastEcho: icmp.Drop("echo to broadcast"),
		icmpUnhandled:     icmp.Drop("unhandled type"),
		echoReplies:       icmp.Event("echo replies sent"),
		icmpUnsolicited:   icmp.Drop("unsolicited echo reply"),
	}
}

func (a *ipv4Actor) Receive(ctx actor.Context) {
	batch, ok := ctx.Message().(*mailbox.PacketsArrived)
	if !ok {
		return
	}
	var toTCP, toUDP *mailbox.PacketsArrived
	for i := range batch.Packets {
		p := &batch.Packets[i]
		a.c.Received.Inc()
		var up *actor.PID
		a.guard.Handle(p.Network, func() { up = a.handle(p) })
		switch {
		case up == nil:
		case up == a.env.PIDs.TCP:
			toTCP = addTo(toTCP, p)
		case up == a.env.PIDs.UDP:
			toUDP = addTo(toUDP, p)
		}
	}
	batch.Release()
	if toTCP != nil {
		ctx.Send(a.env.PIDs.TCP, toTCP)
	}
	if toUDP != nil {
		ctx.Send(a.env.PIDs.UDP, toUDP)
	}
}

// addTo moves p into batch b, making b when it is nil.
func addTo(b *mailbox.PacketsArrived, p *mailbox.Packet) *mailbox.PacketsArrived {
	if b == nil {
		b = mailbox.NewBatch()
	}
	b.Add(*p)
	p.Buf = nil
	return b
}

// handle validates one packet and handles what it carries. It returns the
// transport actor the packet goes up to, or nil when it was consumed here or
// dropped.
func (a *ipv4Actor) handle(p *mailbox.Packet) *actor.PID {
	pkt, err := ipv4.NewPacket(p.Network)
	if err != nil {
		a.dropFor(err).Inc()
		return nil
	}
	src, dst := pkt.Src(), pkt.Dst()
	own := a.env.IPv4.Addr()
	broadcast := dst == limitedBroadcast || dst == directedBroadcast(a.env.IPv4) || dst == allHosts
	if dst != own && !broadcast {
		a.notForUs.Inc()
		return nil
	}
	// RFC 1122 §3.2.1.3: a source that is a broadcast or multicast address
	// is invalid and the packet is discarded.
	if src.IsMulticast() || src == limitedBroadcast || src == directedBroadcast(a.env.IPv4) {
		a.badSource.Inc()
		return nil
	}
	if pkt.IsFragment() {
		a.fragment.Inc()
		return nil
	}
	p.Src, p.Dst, p.Protocol = src, dst, pkt.Protocol()
	p.Transport = pkt.Payload()
	switch p.Protocol {
	case ipv4.ProtocolICMP:
		a.handleICMP(p, broadcast)
	case ipv4.ProtocolTCP:
		// RFC 1122 §4.2.3.10: TCP ignores segments to broadcast or
		// multicast addresses.
		if broadcast || a.env.PIDs.TCP == nil {
			a.noTransport.Inc()
			return nil
		}
		return a.env.PIDs.TCP
	case ipv4.ProtocolUDP:
		if a.env.PIDs.UDP == nil {
			a.noTransport.Inc()
			return nil
		}
		return a.env.PIDs.UDP
	default:
		a.noProto.Inc()
	}
	return nil
}

func (a *ipv4Actor) handleICMP(p *mailbox.Packet, broadcast bool) {
	a.icmp.Received.Inc()
	msg, err := icmpv4.NewMessage(p.Transport)
	if err != nil {
		a.icmpMalformed.Inc()
		return
	}
	switch msg.Type() {
	case icmpv4.TypeEchoRequest:
		// RFC 1122 §3.2.2.6 lets a host ignore echo requests sent to a
		// broadcast address; doing so keeps the stack out of smurf attacks.
		if broadcast {
			a.icmpBroadcastEcho.Inc()
			return
		}
		buf := a.env.Pool.Get()
		if len(msg)+mailbox.Headroom > len(buf.B) {
			buf.Release()
			a.out.tooBig.Inc()
			return
		}
		n := icmpv4.EmitEchoReply(buf.B[mailbox.Headroom:], msg)
		if a.out.Send(buf, n, IPv4Send{Dst: p.Src, Protocol: ipv4.ProtocolICMP}) == nil {
			a.icmp.Sent.Inc()
			a.echoReplies.Inc()
		}
	case icmpv4.TypeEchoReply:
		if msg.ID() != pingID || !a.env.pings.deliver(msg.Seq(), a.env.Clock.Now()) {
			a.icmpUnsolicited.Inc()
		}
	default:
		a.icmpUnhandled.Inc()
	}
}

// dropFor returns the drop counter for a validation error, by its reason.
func (a *ipv4Actor) dropFor(err error) *mailbox.Counter {
	c, ok := a.drops[err]
	if !ok && len(a.drops) >= 64 {
		return a.c.Drop("invalid (other)") // bound the table whatever the errors
	}
	if !ok {
		c = a.c.Drop(err.Error())
		a.drops[err] = c
	}
	return c
}
