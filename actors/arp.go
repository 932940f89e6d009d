package actors

import (
	"net/netip"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// awaitNeighbor hands the arp actor an outbound IPv4 packet whose next hop
// has no resolved MAC yet. Frame is the complete frame but for its
// destination MAC. Next chains the other fragments of the same datagram,
// which wait (and are sent or dropped) together as one queue entry.
type awaitNeighbor struct {
	NextHop netip.Addr
	Buf     *mailbox.Buffer
	Frame   []byte
	Next    *awaitNeighbor
	// Unreachable, set on the head of a chain, is called when resolution
	// gives up on NextHop (NetSend.Unreachable).
	Unreachable func()
}

// release drops every packet of the chain, counting each in c (if any).
func (w *awaitNeighbor) release(c *mailbox.Counter) {
	for ; w != nil; w = w.Next {
		if c != nil {
			c.Inc()
		}
		w.Buf.Release()
	}
}

// Release drops the chain uncounted: it reached the arp actor as it
// stopped (a dead letter, or left in its mailbox).
func (w *awaitNeighbor) Release() { w.release(nil) }

// arpDeadline is the arp actor's timer: retries, expiry, refresh.
type arpDeadline struct{}

// announceAddress sends one gratuitous ARP announcement (RFC 5227 §2.3).
type announceAddress struct{ remaining int }

// RFC 5227 §1.1 constants.
const (
	announceNum      = 2
	announceInterval = 2 * time.Second
	defendInterval   = 10 * time.Second
)

// arpActor answers ARP requests for the stack's address, learns the
// addresses of its neighbours, resolves next hops for the IPv4 send path
// (queueing packets until the answer comes), announces the stack's address
// at start-up and defends it against conflicting claims (RFC 826, RFC 5227).
type arpActor struct {
	env   *Env
	cache *arp.Cache[*awaitNeighbor]
	guard supervisor.PacketGuard
	c     *mailbox.ARPCounters
	timer TimerID
	armed time.Time

	lastDefence time.Time

	// probes are the addresses being probed for DHCP (RFC 5227 §2.1.1).
	probes map[netip.Addr]*probe
}

func newARPActor(env *Env) *arpActor {
	c := &env.Counters.ARP
	a := &arpActor{
		env:   env,
		c:     c,
		guard: newGuard(env, "arp", &c.HandlerCrashes),
		timer: NewTimerID(),
	}
	a.cache = arp.NewCache(arp.Config[*awaitNeighbor]{
		MaxEntries: env.Limits.ARPEntries,
		Full:       func() { a.c.TableFull.Inc() },
		Release:    func(w *awaitNeighbor) { w.release(&a.c.QueueFull) },
	})
	return a
}

func (a *arpActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if a.env.IPv4().HasAddr() {
			ctx.Send(ctx.Self(), &announceAddress{remaining: announceNum})
		}
	case *announceAddress:
		if !a.env.IPv4().HasAddr() {
			return // the address went before its announcements
		}
		a.announce()
		if m.remaining > 1 {
			a.env.Schedule(NewTimerID(), ctx.Self(), a.env.Clock.Now().Add(announceInterval),
				&announceAddress{remaining: m.remaining - 1})
		}
	case *mailbox.PacketsArrived:
		changed := false
		cfg := a.env.IPv4()
		for i := range m.Packets {
			p := &m.Packets[i]
			a.c.PacketsReceived.Inc()
			a.guard.Handle(p.Network, func() {
				if a.handle(p, cfg) {
					changed = true
				}
			})
		}
		m.Release()
		if changed {
			a.publish()
		}
		a.rearm(ctx)
	case *awaitNeighbor:
		now := a.env.Clock.Now()
		if mac, ok := a.cache.Lookup(m.NextHop, now); ok {
			a.transmit(m, mac)
			return
		}
		if a.cache.Enqueue(m.NextHop, m, now) {
			a.request(m.NextHop)
		}
		a.rearm(ctx)
	case *ProbeIPv4:
		a.startProbe(ctx, m)
	case *probeTick:
		a.probeTick(ctx, m)
	case *actor.Stopping:
		// The stack is closing: what waits for an answer never leaves.
		a.cache.Clear()
	case *arpDeadline:
		a.armed = time.Time{}
		requests, failed := a.cache.Advance(a.env.Clock.Now())
		for _, ip := range requests {
			a.request(ip)
		}
		for _, w := range failed {
			if w.Unreachable != nil {
				w.Unreachable()
			}
			w.release(&a.c.Unresolved)
		}
		a.publish()
		a.rearm(ctx)
	}
}

// handle processes one received ARP packet and reports whether the cache
// changed.
func (a *arpActor) handle(p *mailbox.Packet, cfg *IPv4Config) bool {
	r, err := arp.Parse(p.Network)
	if err != nil {
		a.c.Malformed.Inc()
		return false
	}
	if len(a.probes) > 0 {
		a.checkProbes(r)
	}
	own := cfg.Addr.Addr() // invalid when the stack has none: nothing is for us
	if r.SenderIP == own {
		// Someone else claims our address: RFC 5227 §2.4. A forged reply
		// must never overwrite what we know, and we defend the address
		// at most once per DEFEND_INTERVAL.
		if r.SenderHW != a.env.MAC {
			a.c.Conflicts.Inc()
			a.env.Log.Warn().Str("mac", r.SenderHW.String()).Str("ip", own.String()).Msg("arp: address conflict")
			if now := a.env.Clock.Now(); a.lastDefence.IsZero() || now.Sub(a.lastDefence) >= defendInterval {
				a.lastDefence = now
				a.announce()
			}
		}
		return false
	}
	if !r.SenderHW.IsUnicast() {
		a.c.BadSender.Inc()
		return false
	}
	now := a.env.Clock.Now()
	changed := false
	senderKnown := r.SenderIP.IsValid() && !r.SenderIP.IsUnspecified()
	// RFC 826 "merge": refresh an entry we already have; create one only
	// for a request addressed to us (its sender is about to talk to us),
	// so strangers cannot fill the cache. A reply creates nothing: one we
	// asked for finds its Incomplete entry, and an unsolicited one must
	// not plant a binding (Linux's arp_accept=0 default). Only on-link
	// senders are worth knowing; a stack without an address has no link
	// prefix, so it takes the answers to what it asked (a DHCPRELEASE
	// that leaves after the address went).
	if senderKnown && (cfg.Addr.Contains(r.SenderIP) || !cfg.HasAddr()) {
		var waiting []*awaitNeighbor
		if r.TargetIP == own && r.Op == arp.Request {
			waiting, changed = a.cache.Insert(r.SenderIP, r.SenderHW, now), true
		} else {
			waiting, changed = a.cache.Update(r.SenderIP, r.SenderHW, now)
		}
		for _, w := range waiting {
			a.transmit(w, r.SenderHW)
		}
	}
	if r.TargetIP != own {
		a.c.NotForUs.Inc()
		return changed
	}
	if r.Op == arp.Request {
		a.reply(r)
	}
	return changed
}

// transmit sends a packet that was waiting for its next hop's MAC.
func (a *arpActor) transmit(w *awaitNeighbor, mac ethernet.Addr) {
	for ; w != nil; w = w.Next {
		_ = a.env.writeFrame(w.Buf, w.Frame, mac, ethernet.IPv4)
	}
}

// Each counter of what the arp actor sends counts before the frame leaves:
// whoever sees the frame sees it counted.

func (a *arpActor) reply(req arp.Repr) {
	a.c.RepliesSent.Inc()
	a.send(arp.Repr{
		Op:       arp.Reply,
		SenderHW: a.env.MAC,
		SenderIP: req.TargetIP, // our own: handle answers only requests for it
		TargetHW: req.SenderHW,
		TargetIP: req.SenderIP,
	}, req.SenderHW)
}

func (a *arpActor) request(ip netip.Addr) {
	a.c.RequestsSent.Inc()
	cfg := a.env.IPv4()
	if !cfg.HasAddr() {
		// No address to ask from: ask in the probe form, sender 0.0.0.0
		// (RFC 5227 §2.1.1), which plants nothing in other caches.
		a.send(arp.NewProbe(a.env.MAC, ip), ethernet.Broadcast)
		return
	}
	a.send(arp.Repr{
		Op:       arp.Request,
		SenderHW: a.env.MAC,
		SenderIP: cfg.Addr.Addr(),
		TargetIP: ip,
	}, ethernet.Broadcast)
}

// announce broadcasts a gratuitous ARP request for our own address, which
// makes neighbours update their caches and reveals a duplicate.
func (a *arpActor) announce() {
	a.c.AnnouncementsSent.Inc()
	a.send(arp.NewAnnouncement(a.env.MAC, a.env.IPv4().Addr.Addr()), ethernet.Broadcast)
}

func (a *arpActor) send(r arp.Repr, dst ethernet.Addr) {
	buf := a.env.Pool.Get()
	r.Emit(buf.B[mailbox.Headroom:])
	frame := buf.B[mailbox.Headroom-ethernet.HeaderLen : mailbox.Headroom+r.Len()]
	a.c.PacketsSent.Inc() // a failed write counts as a link write error too
	_ = a.env.writeFrame(buf, frame, dst, ethernet.ARP)
}

// publish gives the send path a fresh read-only copy of the resolved
// entries.
func (a *arpActor) publish() {
	m := a.cache.Snapshot()
	a.env.Neighbors4.Store(&m)
}

// rearm keeps exactly one timer armed, for the cache's next deadline.
func (a *arpActor) rearm(ctx actor.Context) {
	next, ok := a.cache.NextDeadline()
	if !ok || (!a.armed.IsZero() && !a.armed.After(next)) {
		return
	}
	a.armed = next
	a.env.Schedule(a.timer, ctx.Self(), next, &arpDeadline{})
}
