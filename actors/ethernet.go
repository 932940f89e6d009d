package actors

import (
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// ethernetLayer checks each received frame's addresses and sorts it by
// EtherType. It runs inside the Ethernet reader actor's read loop, so a
// frame reaches the layer it is for in one mailbox hop; frames not for the
// stack are counted and dropped before any actor sees them.
type ethernetLayer struct {
	env   *Env
	guard supervisor.PacketGuard
	c     *mailbox.EthernetCounters

	// groups are the multicast MACs the stack listens on besides broadcast.
	groups map[ethernet.Addr]bool
	// upper are the EtherTypes the running families take, in the order
	// sort reports them.
	upper []ethernet.EtherType
}

func newEthernetLayer(env *Env, upper []upperLayer) *ethernetLayer {
	c := &env.Counters.Ethernet
	a := &ethernetLayer{
		env:    env,
		c:      c,
		guard:  newGuard(env, "ethernet", &c.HandlerCrashes),
		groups: make(map[ethernet.Addr]bool),
	}
	if len(upper) > maxUpperLayers {
		panic("actnet: more upper layers than the reader batches")
	}
	for _, u := range upper {
		a.upper = append(a.upper, u.etherType)
	}
	// RFC 1112 §6.4: every IPv4 host is a member of the all-hosts group.
	a.groups[ethernet.MulticastAddrForIPv4(allHosts)] = true
	return a
}

// sort classifies one frame under the packet guard and returns the index
// of the upper layer it goes to, or -1 for a frame that was dropped.
func (a *ethernetLayer) sort(p *mailbox.Packet) int {
	a.c.FramesReceived.Inc()
	var typ ethernet.EtherType
	a.guard.Handle(p.Frame, func() { typ = a.classify(p) })
	if typ == 0 {
		return -1
	}
	for i, t := range a.upper {
		if t == typ {
			return i
		}
	}
	return -1
}

// classify validates p's frame, fills in its link-layer fields and returns
// the EtherType of a frame to pass up, or 0 for one that was dropped.
func (a *ethernetLayer) classify(p *mailbox.Packet) ethernet.EtherType {
	f, err := ethernet.NewFrame(p.Frame)
	if err != nil {
		a.c.Truncated.Inc()
		return 0
	}
	dst, src := f.Dst(), f.Src()
	switch {
	case dst == a.env.MAC:
	case dst.IsBroadcast(), a.groups[dst], a.joined6(dst):
		p.LinkBroadcast = true
	default:
		a.c.NotForUs.Inc()
		return 0
	}
	// A multicast source is invalid (IEEE 802.3), and our own source means
	// a looped-back copy of what we sent or a spoof.
	if src.IsMulticast() || src == a.env.MAC {
		a.c.BadSource.Inc()
		return 0
	}
	p.SrcMAC = src
	p.Network = f.Payload()
	t := f.EtherType()
	for _, u := range a.upper {
		if u == t {
			return t
		}
	}
	switch t {
	case ethernet.IPv6:
		a.c.NoIPv6.Inc()
	case ethernet.VLAN:
		a.c.VLAN.Inc()
	default:
		a.c.UnknownType.Inc()
	}
	return 0
}

// joined6 reports whether the ipv6 actor listens on the group dst.
func (a *ethernetLayer) joined6(dst ethernet.Addr) bool {
	if dst[0] != 0x33 || dst[1] != 0x33 {
		return false
	}
	m := a.env.Groups6.Load()
	return m != nil && (*m)[dst]
}

// newGuard returns the packet guard of one layer, counting crashes (each
// drops the packet it crashed on) in crashes.
func newGuard(env *Env, layer string, crashes *mailbox.Counter) supervisor.PacketGuard {
	return supervisor.PacketGuard{
		Layer:   layer,
		Log:     env.Log,
		Budget:  supervisor.DefaultLayerBudget(),
		OnCrash: crashes.Inc,
		Now:     env.Clock.Now,
	}
}
