package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// ethernetActor checks each received frame's addresses and hands it to the
// layer its EtherType names, one batch per layer. Frames not for the stack
// are counted and dropped here, so upper layers see only their own traffic.
type ethernetActor struct {
	env      *Env
	inFlight *atomic.Int64
	guard    supervisor.PacketGuard
	c        *mailbox.LayerCounters

	truncated, notForUs, badSource, unknownType, vlan, noIPv6 *mailbox.Counter

	// groups are the multicast MACs the stack listens on besides broadcast.
	groups map[ethernet.Addr]bool
}

func newEthernetActor(env *Env, inFlight *atomic.Int64) *ethernetActor {
	c := env.Counters.Layer("ethernet")
	a := &ethernetActor{
		env:         env,
		inFlight:    inFlight,
		c:           c,
		guard:       newGuard(env, "ethernet", c),
		truncated:   c.Drop("truncated"),
		notForUs:    c.Drop("not for us"),
		badSource:   c.Drop("bad source address"),
		unknownType: c.Drop("unknown ethertype"),
		vlan:        c.Drop("vlan tagged"),
		noIPv6:      c.Drop("ipv6 not enabled"),
		groups:      make(map[ethernet.Addr]bool),
	}
	// RFC 1112 §6.4: every IPv4 host is a member of the all-hosts group.
	a.groups[ethernet.MulticastAddrForIPv4(allHosts)] = true
	return a
}

func (a *ethernetActor) Receive(ctx actor.Context) {
	batch, ok := ctx.Message().(*mailbox.PacketsArrived)
	if !ok {
		return
	}
	a.inFlight.Add(-1)
	var toARP, toIPv4 *mailbox.PacketsArrived
	for i := range batch.Packets {
		p := &batch.Packets[i]
		a.c.Received.Inc()
		var typ ethernet.EtherType
		a.guard.Handle(p.Frame, func() { typ = a.classify(p) })
		switch typ {
		case ethernet.ARP:
			if toARP == nil {
				toARP = mailbox.NewBatch()
			}
			toARP.Add(*p)
			p.Buf = nil
		case ethernet.IPv4:
			if toIPv4 == nil {
				toIPv4 = mailbox.NewBatch()
			}
			toIPv4.Add(*p)
			p.Buf = nil
		}
	}
	batch.Release()
	if toARP != nil {
		ctx.Send(a.env.PIDs.ARP, toARP)
	}
	if toIPv4 != nil {
		ctx.Send(a.env.PIDs.IPv4, toIPv4)
	}
}

// classify validates p's frame, fills in its link-layer fields and returns
// the EtherType of a frame to pass up, or 0 for one that was dropped.
func (a *ethernetActor) classify(p *mailbox.Packet) ethernet.EtherType {
	f, err := ethernet.NewFrame(p.Frame)
	if err != nil {
		a.truncated.Inc()
		return 0
	}
	dst, src := f.Dst(), f.Src()
	switch {
	case dst == a.env.MAC:
	case dst.IsBroadcast(), a.groups[dst]:
		p.LinkBroadcast = true
	default:
		a.notForUs.Inc()
		return 0
	}
	// A multicast source is invalid (IEEE 802.3), and our own source means
	// a looped-back copy of what we sent or a spoof.
	if src.IsMulticast() || src == a.env.MAC {
		a.badSource.Inc()
		return 0
	}
	p.SrcMAC = src
	p.Network = f.Payload()
	switch t := f.EtherType(); t {
	case ethernet.ARP, ethernet.IPv4:
		return t
	case ethernet.IPv6:
		a.noIPv6.Inc()
	case ethernet.VLAN:
		a.vlan.Inc()
	default:
		a.unknownType.Inc()
	}
	return 0
}

// newGuard returns the packet guard of one layer, counting crashes in c.
func newGuard(env *Env, layer string, c *mailbox.LayerCounters) supervisor.PacketGuard {
	crashes := c.Event("handler crashes")
	return supervisor.PacketGuard{
		Layer:   layer,
		Log:     env.Log,
		Budget:  supervisor.DefaultLayerBudget(),
		OnCrash: func() { crashes.Inc(); c.Drop("handler crashed").Inc() },
		Now:     env.Clock.Now,
	}
}
