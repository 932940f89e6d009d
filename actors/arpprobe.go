package actors

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
)

// ProbeIPv4 asks the arp actor to probe Addr (RFC 5227 §2.1.1) before the
// stack takes it: Reply gets true when another host uses or probes for it,
// false once PROBE_NUM probes and ANNOUNCE_WAIT passed in silence.
type ProbeIPv4 struct {
	Addr  netip.Addr
	Reply chan bool
}

// probeTick is the arp actor's timer for one probe.
type probeTick struct{ addr netip.Addr }

// probe is one address being probed and who waits for its answer.
type probe struct {
	p       *arp.Prober
	replies []chan bool
}

func (a *arpActor) startProbe(ctx actor.Context, m *ProbeIPv4) {
	if pr, ok := a.probes[m.Addr]; ok {
		pr.replies = append(pr.replies, m.Reply)
		return
	}
	if a.probes == nil {
		a.probes = map[netip.Addr]*probe{}
	}
	pr := &probe{p: arp.NewProber(m.Addr, a.env.Clock.Now(), rand.Int64N), replies: []chan bool{m.Reply}}
	a.probes[m.Addr] = pr
	a.env.Schedule(NewTimerID(), ctx.Self(), pr.p.Deadline(), &probeTick{addr: m.Addr})
}

func (a *arpActor) probeTick(ctx actor.Context, m *probeTick) {
	pr, ok := a.probes[m.addr]
	if !ok {
		return // ended by a conflict
	}
	send, free := pr.p.Advance(a.env.Clock.Now())
	if send {
		a.c.ProbesSent.Inc()
		a.send(arp.NewProbe(a.env.MAC, m.addr), ethernet.Broadcast)
	}
	if free {
		a.endProbe(m.addr, false)
		return
	}
	a.env.Schedule(NewTimerID(), ctx.Self(), pr.p.Deadline(), &probeTick{addr: m.addr})
}

// checkProbes looks for a conflict with each address being probed.
func (a *arpActor) checkProbes(r arp.Repr) {
	for addr, pr := range a.probes {
		if pr.p.Conflicts(r, a.env.MAC) {
			a.c.ProbeConflicts.Inc()
			a.env.Log.Warn().Str("addr", addr.String()).Str("mac", r.SenderHW.String()).Msg("arp: probed address in use")
			a.endProbe(addr, true)
		}
	}
}

func (a *arpActor) endProbe(addr netip.Addr, inUse bool) {
	for _, ch := range a.probes[addr].replies {
		ch <- inUse
	}
	delete(a.probes, addr)
}

// ErrProbeAddr is ProbeIPv4's answer to an address that cannot be probed.
var ErrProbeAddr = errors.New("actnet: not a unicast IPv4 address to probe")

// ProbeIPv4 probes addr with ARP (RFC 5227 §2.1.1, about 4 to 7 seconds)
// and reports whether another host on the link uses it. DHCP declines an
// address in use (RFC 2131 §4.4.1).
func (r *Running) ProbeIPv4(ctx context.Context, addr netip.Addr) (inUse bool, err error) {
	if !addr.Is4() || addr.IsUnspecified() || addr.IsMulticast() || addr == limitedBroadcast {
		return false, ErrProbeAddr
	}
	if err := r.Env.life.err(); err != nil {
		return false, err
	}
	reply := make(chan bool, 1)
	r.Env.send(r.Env.PIDs.ARP, &ProbeIPv4{Addr: addr, Reply: reply})
	return await(&r.Env.life, ctx, reply)
}
