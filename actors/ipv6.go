package actors

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv6"
	"github.com/actnet/actnet/layers/ipfrag"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/layers/ndp"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// ipv6Deadline is the ipv6 actor's timer: DAD, neighbour cache, routing
// lifetimes, reassembly or router solicitation may be due.
type ipv6Deadline struct{}

// ipv6Actor is the IPv6 network actor (RFC 8200, RFC 4443, RFC 4861, RFC
// 4862, RFC 3810): it validates received packets and walks their
// extension headers, reassembles fragments, answers echo, hands TCP and
// UDP up, tells the transports of ICMPv6 errors, runs neighbour discovery
// (address resolution, NUD, router discovery, redirects), configures its
// addresses (link-local, static, SLAAC; DAD) and joins their
// solicited-node groups with MLDv2 reports. It publishes its neighbour
// cache, addresses and groups for the send path (IPv6Output) and the
// Ethernet layer.
type ipv6Actor struct {
	env   *Env
	out   *IPv6Output
	guard supervisor.PacketGuard
	c     *mailbox.IPv6Counters
	icmp  *mailbox.ICMPv6Counters
	tcp   *tcpCounters

	addrs *ndp.Addrs
	neigh *ndp.Neighbors[*awaitNeighbor]
	reasm *ipv6.Reassembler
	seen  ipfrag.Stats

	timer TimerID
	armed time.Time

	// Router solicitation at start (RFC 4861 §6.3.7).
	rsLeft int
	rsNext time.Time

	dns ndp.DNSServers // RFC 8106 RDNSS servers, published on change

	fresh  map[netip.Addr]time.Time // Reachable entries as last published
	groups map[netip.Addr]bool      // solicited-node groups reported

	// passedUp is set by handle when the packet went up to TCP or UDP
	// untouched by any table (no reassembly): a batch of only such packets
	// has nothing for advance to do, whose publishing costs allocations.
	passedUp bool
}

func newIPv6Actor(env *Env, out *IPv6Output) *ipv6Actor {
	c := &env.Counters.IPv6
	a := &ipv6Actor{
		env:    env,
		out:    out,
		c:      c,
		icmp:   &env.Counters.ICMPv6,
		tcp:    newTCPCounters(env.Counters),
		guard:  newGuard(env, "ipv6", &c.HandlerCrashes),
		reasm:  ipv6.NewReassembler(ipfrag.Config{MaxBytes: env.Limits.ReassemblyBytes}),
		timer:  NewTimerID(),
		fresh:  map[netip.Addr]time.Time{},
		groups: map[netip.Addr]bool{},
	}
	secret := out.opts.StableSecret
	if len(secret) == 0 {
		secret = make([]byte, 16)
		for i := range secret {
			secret[i] = byte(rand.Uint32())
		}
	}
	a.addrs = ndp.NewAddrs(ndp.AddrConfig{
		MAC:         env.MAC,
		Kind:        out.opts.IID,
		Secret:      secret,
		NetIface:    env.MAC[:],
		MaxDADDelay: ndp.MaxRtrSolicitationDelay,
	})
	a.neigh = ndp.NewNeighbors(ndp.NeighborConfig[*awaitNeighbor]{
		Release: func(w *awaitNeighbor) { w.release(&c.QueueFull) },
	})
	return a
}

func (a *ipv6Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		now := a.env.Clock.Now()
		a.addrs.AddLinkLocal(now)
		if a.out.opts.Mode == IPv6Static && a.out.opts.Addr.IsValid() {
			a.addrs.AddStatic(a.out.opts.Addr, now)
		}
		a.rsLeft = ndp.MaxRtrSolicitations
		a.rsNext = now.Add(time.Duration(rand.Int64N(int64(ndp.MaxRtrSolicitationDelay))))
		a.advance(ctx)
	case *mailbox.PacketsArrived:
		up := newTransportBatches(a.env, a.tcp)
		tables := false
		for i := range m.Packets {
			p := &m.Packets[i]
			a.c.PacketsReceived.Inc()
			a.passedUp = false
			a.guard.Handle(p.Network, func() { up.add(ctx, a.handle(p), p) })
			tables = tables || !a.passedUp
		}
		up.flush(ctx)
		m.Release()
		// Time alone moves the tables on the timer (ipv6Deadline); a
		// batch moves them only through what handle did besides passing
		// segments up. Advancing after every batch of a bulk transfer or
		// a request/response exchange cost ~15% of the stack's CPU.
		if tables {
			a.advance(ctx)
		}
	case *awaitNeighbor:
		a.resolve(m)
		a.advance(ctx)
	case *drainRoute:
		ctx.Send(m.conn, m.reply())
	case *ipv6Deadline:
		a.armed = time.Time{}
		a.advance(ctx)
	}
}

// advance runs every table's timers up to now, sends what they ask,
// publishes what changed and re-arms the one timer.
func (a *ipv6Actor) advance(ctx actor.Context) {
	now := a.env.Clock.Now()
	act := a.addrs.Advance(now)
	for _, t := range act.DAD {
		a.sendDAD(t)
	}
	for _, r := range act.Ready {
		a.c.AddrsConfigured.Inc()
		a.env.Log.Info().Str("addr", r.String()).Msg("ipv6: address ready")
	}
	na := a.neigh.Advance(now)
	for _, s := range na.Solicit {
		a.solicit(s)
	}
	for _, w := range na.Failed {
		if w.Unreachable != nil {
			w.Unreachable()
		}
		w.release(&a.c.Unresolved)
	}
	a.out.rtMu.Lock()
	for _, l := range na.Unreachable {
		if l.IsRouter {
			a.out.rt.RouterUnreachable(l.Addr)
		}
	}
	a.out.rt.Advance(now)
	rtNext, rtOK := a.out.rt.NextDeadline()
	a.out.unlockRT()
	if a.rsLeft > 0 && !now.Before(a.rsNext) {
		a.sendRS()
		a.rsLeft--
		a.rsNext = now.Add(ndp.RtrSolicitationInterval)
	}
	a.expireReassembly(now)
	a.publish(now)

	next, ok := time.Time{}, false
	take := func(t time.Time, has bool) {
		if has && (!ok || t.Before(next)) {
			next, ok = t, true
		}
	}
	take(a.addrs.NextDeadline())
	take(a.neigh.NextDeadline())
	take(rtNext, rtOK)
	take(a.reasm.NextDeadline())
	take(a.rsNext, a.rsLeft > 0)
	if !ok || (!a.armed.IsZero() && !a.armed.After(next)) {
		return
	}
	a.armed = next
	a.env.Schedule(a.timer, ctx.Self(), next, &ipv6Deadline{})
}

// publish hands the send path and the Ethernet layer fresh read-only
// views of the addresses, groups and neighbour cache, and reports the
// solicited-node groups newly joined (MLDv2, RFC 3810 §6.1).
func (a *ipv6Actor) publish(now time.Time) {
	v := &addrView{groups: map[netip.Addr]bool{ipv6.AllNodes: true}, tentative: map[netip.Addr]bool{}}
	macs := map[ethernet.Addr]bool{multicastMAC(ipv6.AllNodes): true}
	var joined []icmpv6.GroupRecord
	for _, ad := range a.addrs.All() {
		if ad.State == ndp.AddrDuplicate {
			continue
		}
		g := ipv6.SolicitedNode(ad.Addr)
		v.groups[g] = true
		macs[multicastMAC(g)] = true
		if !a.groups[g] {
			a.groups[g] = true
			joined = append(joined, icmpv6.Join(g))
		}
		if ad.State == ndp.AddrTentative {
			v.tentative[ad.Addr] = true
		} else {
			v.usable = append(v.usable, ad)
		}
	}
	for g := range a.groups {
		if !v.groups[g] {
			delete(a.groups, g) // left: no report, the router's timer ages it out
		}
	}
	old := a.out.addrs.Swap(v)
	if !sameUsable(old.usable, v.usable) {
		a.out.signal()
	}
	a.env.Groups6.Store(&macs)
	if len(joined) > 0 {
		a.sendMLD(joined)
	}

	snap := a.neigh.Snapshot(now)
	m := make(map[netip.Addr]neighbor6, len(snap))
	fresh := make(map[netip.Addr]time.Time)
	for ip, n := range snap {
		e := neighbor6{mac: n.LinkAddr, state: n.State}
		if n.State == ndp.Reachable {
			f, ok := a.fresh[ip]
			if !ok {
				f = now.Add(a.neigh.ReachableTime() / 2)
			}
			fresh[ip], e.fresh = f, f
		}
		m[ip] = e
	}
	a.fresh = fresh
	a.out.neigh.Store(&m)
}

// resolve takes a packet the send path could not send on its own: the
// "packet to send" event of RFC 4861 §7.2.2.
func (a *ipv6Actor) resolve(w *awaitNeighbor) {
	mac, res := a.neigh.Output(w.NextHop, w, a.env.Clock.Now())
	switch res {
	case ndp.Send:
		a.transmit(w, mac)
	case ndp.Solicit:
		a.solicit(ndp.Solicitation{Target: w.NextHop})
	case ndp.Refused:
		if w.Unreachable != nil {
			w.Unreachable()
		}
	}
}

// transmit sends a packet that waited for its next hop's MAC.
func (a *ipv6Actor) transmit(w *awaitNeighbor, mac ethernet.Addr) {
	for ; w != nil; w = w.Next {
		_ = a.env.writeFrame(w.Buf, w.Frame, mac, ethernet.IPv6)
	}
}

// handle validates one packet and handles what it carries; it returns the
// transport actor the packet goes up to, or nil.
func (a *ipv6Actor) handle(p *mailbox.Packet) *actor.PID {
	pkt, err := ipv6.NewPacket(p.Network)
	if err != nil {
		switch err {
		case ipv6.ErrTruncated:
			a.c.Truncated.Inc()
		case ipv6.ErrVersion:
			a.c.BadVersion.Inc()
		default:
			a.c.Invalid.Inc()
		}
		return nil
	}
	src, dst := pkt.Src(), pkt.Dst()
	view := a.out.addrs.Load()
	if !view.has(dst) && !view.groups[dst] {
		a.c.NotForUs.Inc()
		return nil
	}
	if src.IsMulticast() || src.IsLoopback() || src.Is4In6() {
		a.c.BadSource.Inc()
		return nil
	}
	if p.Frame != nil && view.has(src) {
		// Our own address from the wire: a spoof, or a duplicate the
		// DAD did not see.
		a.c.OwnSource.Inc()
		return nil
	}
	chain, err := ipv6.Walk(pkt)
	if err != nil {
		a.walkDrop(err).Inc()
		if chain.Problem.Send {
			a.out.SendICMPError(pkt, p.LinkBroadcast, icmpv6.TypeParameterProblem, chain.Problem.Code, chain.Problem.Pointer)
		}
		return nil
	}
	reassembled := chain.IsFragment()
	if reassembled {
		a.c.FragmentsReceived.Inc()
		data, done, prob, err := a.reasm.Insert(pkt, chain, a.env.Clock.Now())
		if err != nil {
			a.fragDrop(err).Inc()
			if prob.Send {
				a.out.SendICMPError(pkt, p.LinkBroadcast, icmpv6.TypeParameterProblem, prob.Code, prob.Pointer)
			}
			return nil
		}
		if !done {
			return nil
		}
		a.c.Reassembled.Inc()
		buf := mailbox.Wrap(data)
		if len(data) <= a.env.Pool.Size() {
			buf = a.env.Pool.Get()
			copy(buf.B, data)
		}
		p.Buf.Release()
		p.Buf, p.Frame = buf, nil
		p.ChecksumOK = false // the device vouched for one fragment, not the datagram
		if pkt, err = ipv6.NewPacket(buf.B[:len(data)]); err != nil {
			a.c.Invalid.Inc()
			return nil
		}
		if chain, err = ipv6.Walk(pkt); err != nil {
			a.walkDrop(err).Inc()
			if chain.Problem.Send {
				a.out.SendICMPError(pkt, p.LinkBroadcast, icmpv6.TypeParameterProblem, chain.Problem.Code, chain.Problem.Pointer)
			}
			return nil
		}
		p.Frame = nil
	}
	p.Network = pkt
	p.Src, p.Dst, p.Protocol = src, dst, chain.Proto
	p.Transport = pkt[chain.Offset:]
	switch chain.Proto {
	case ipv6.ProtoICMPv6:
		a.handleICMP(p, pkt, chain)
	case ipv6.ProtoTCP:
		if dst.IsMulticast() || a.env.PIDs.TCP == nil {
			a.c.NoTransport.Inc()
			return nil
		}
		a.passedUp = !reassembled
		return a.env.PIDs.TCP
	case ipv6.ProtoUDP:
		if a.env.PIDs.UDP == nil {
			a.c.NoTransport.Inc()
			return nil
		}
		a.passedUp = !reassembled
		return a.env.PIDs.UDP
	case ipv6.ProtoNoNext:
		a.c.NoNextHeader.Inc()
	default:
		a.c.UnknownProtocol.Inc()
		a.out.SendICMPError(pkt, p.LinkBroadcast, icmpv6.TypeParameterProblem,
			icmpv6.CodeUnrecognizedNextHeader, uint32(chain.NextHeaderField))
	}
	return nil
}

func (a *ipv6Actor) walkDrop(err error) *mailbox.Counter {
	switch err {
	case ipv6.ErrExtTruncated:
		return &a.c.ExtTruncated
	case ipv6.ErrHopByHopNotFirst:
		return &a.c.ExtHopByHop
	case ipv6.ErrTooManyHeaders:
		return &a.c.ExtTooMany
	case ipv6.ErrChainTooLong:
		return &a.c.ExtTooLong
	case ipv6.ErrOptionLength, ipv6.ErrPadding, ipv6.ErrRouterAlertLength:
		return &a.c.ExtOption
	case ipv6.ErrTooManyOptions:
		return &a.c.ExtTooManyOpts
	case ipv6.ErrUnknownOption:
		return &a.c.ExtUnknownOpt
	case ipv6.ErrRoutingType0, ipv6.ErrRoutingHeader:
		return &a.c.ExtRouting
	case ipv6.ErrNestedFragment:
		return &a.c.ExtNestedFrag
	case ipv6.ErrIncompleteChain:
		return &a.c.ExtIncomplete
	}
	return &a.c.Invalid
}

func (a *ipv6Actor) fragDrop(err error) *mailbox.Counter {
	switch err {
	case ipfrag.ErrBadOffset:
		return &a.c.FragBadOffset
	case ipfrag.ErrEmpty:
		return &a.c.FragEmpty
	case ipfrag.ErrUnalignedLength:
		return &a.c.FragUnalignedLength
	case ipfrag.ErrTooLong, ipv6.ErrFragmentTooLong:
		return &a.c.FragTooLong
	case ipfrag.ErrOverlap:
		return &a.c.FragOverlap
	case ipfrag.ErrInconsistent:
		return &a.c.FragInconsistent
	case ipfrag.ErrTooManyFragments:
		return &a.c.FragTooMany
	case ipfrag.ErrMemoryCap:
		return &a.c.FragMemoryCap
	}
	return &a.c.FragOther
}

// expireReassembly drops timed-out packets, sends Time Exceeded for those
// whose first fragment came (RFC 8200 §4.5), and counts evictions.
func (a *ipv6Actor) expireReassembly(now time.Time) {
	for _, e := range a.reasm.Expire(now) {
		if e.First && len(e.Quote) >= ipv6.HeaderLen {
			a.out.SendICMPError(e.Quote, false, icmpv6.TypeTimeExceeded, icmpv6.CodeReassemblyTimeExpired, 0)
		}
	}
	st := a.reasm.Stats()
	a.c.ReassemblyEvicted.Add(st.Evicted - a.seen.Evicted)
	a.c.ReassemblyTimedOut.Add(st.Expired - a.seen.Expired)
	a.seen = st
}

func (a *ipv6Actor) handleICMP(p *mailbox.Packet, pkt ipv6.Packet, chain ipv6.Chain) {
	a.icmp.MessagesReceived.Inc()
	msg, err := icmpv6.NewMessage(p.Transport, p.Src, p.Dst)
	if err != nil {
		if err == icmpv6.ErrChecksum {
			a.icmp.BadChecksum.Inc()
		} else {
			a.icmp.Malformed.Inc()
		}
		return
	}
	switch msg.Type() {
	case icmpv6.TypeEchoRequest:
		src := p.Dst
		if src.IsMulticast() {
			var ok bool
			if src, ok = a.out.LocalAddr(p.Src); !ok {
				return
			}
		}
		buf := a.out.Buffer(len(msg))
		if len(msg)+mailbox.Headroom > len(buf.B) {
			buf.Release()
			return
		}
		n := icmpv6.EmitEchoReply(buf.B[mailbox.Headroom:], msg, src, p.Src)
		if a.out.Send(buf, n, NetSend{Dst: p.Src, Src: src, Protocol: ipv6.ProtoICMPv6}) == nil {
			a.icmp.MessagesSent.Inc()
			a.icmp.EchoRepliesSent.Inc()
		}
	case icmpv6.TypeEchoReply:
		if msg.ID() != pingID || !a.env.pings.deliver(msg.Seq(), a.env.Clock.Now()) {
			a.icmp.UnsolicitedReplies.Inc()
		}
	case icmpv6.TypeDestUnreachable, icmpv6.TypePacketTooBig, icmpv6.TypeTimeExceeded, icmpv6.TypeParameterProblem:
		a.handleICMPError(p, msg)
	case icmpv6.TypeRouterSolicitation:
		a.c.RouterSolicitsIgnore.Inc() // a host ignores them (RFC 4861 §6.2.6)
	case icmpv6.TypeRouterAdvertisement, icmpv6.TypeNeighborSolicit, icmpv6.TypeNeighborAdvert, icmpv6.TypeRedirect:
		a.handleNDP(p, pkt, msg)
	case icmpv6.TypeMLDQuery:
		if icmpv6.CheckMLD(pkt, chain, false) == nil {
			a.reportAll()
		} else {
			a.icmp.Malformed.Inc()
		}
	default:
		a.icmp.UnhandledType.Inc()
	}
}

// handleICMPError matches a received ICMPv6 error to the packet it quotes
// and tells the transport that sent it. Packet Too Big goes to the
// transport too: the path MTU is lowered only once it has matched the
// quote (RFC 5927 §4.3, "What the code taught us" 14).
func (a *ipv6Actor) handleICMPError(p *mailbox.Packet, msg icmpv6.Message) {
	a.icmp.ErrorsReceived.Inc()
	switch msg.Type() {
	case icmpv6.TypeDestUnreachable:
		a.icmp.UnreachReceived.Inc()
	case icmpv6.TypePacketTooBig:
		a.icmp.TooBigReceived.Inc()
	case icmpv6.TypeTimeExceeded:
		a.icmp.TimeExceededRecv.Inc()
	case icmpv6.TypeParameterProblem:
		a.icmp.ParamProblemRecv.Inc()
	}
	iv, err := msg.Invoking()
	if err != nil {
		a.icmp.ErrorBadQuote.Inc()
		return
	}
	src := iv.Src()
	if !a.out.IsLocal(src) {
		a.icmp.ErrorNotOurs.Inc()
		return
	}
	if len(iv.Upper) < 8 {
		// A fragment other than the first, or a chain past the quote:
		// no ports to match (and a non-first fragment's are data).
		a.icmp.ErrorBadQuote.Inc()
		return
	}
	var to *actor.PID
	switch iv.Proto {
	case ipv6.ProtoTCP:
		to = a.env.PIDs.TCP
	case ipv6.ProtoUDP:
		to = a.env.PIDs.UDP
	}
	if to == nil {
		a.icmp.ErrorNoTransport.Inc()
		return
	}
	typ, code := msg.Type(), msg.Code()
	errno, hard := icmpv6Errno(typ, code)
	ce := &mailbox.ControlErrorArrived{
		Protocol: iv.Proto,
		Local:    netip.AddrPortFrom(src, binary.BigEndian.Uint16(iv.Upper[0:2])),
		Remote:   netip.AddrPortFrom(iv.Dst(), binary.BigEndian.Uint16(iv.Upper[2:4])),
		Err:      errno,
		Hard:     hard,
		Quote:    append([]byte(nil), iv.Upper[:min(len(iv.Upper), 60)]...),
		From:     p.Src,
	}
	if typ == icmpv6.TypePacketTooBig {
		ce.TooBig = true
		ce.NextHopMTU = int(min(msg.MTU(), 0xffff))
		ce.SentLen = ipv6.HeaderLen + int(binary.BigEndian.Uint16(iv.Packet[4:6]))
	}
	a.env.send(to, ce)
}

// icmpv6Errno maps an ICMPv6 error to a socket's errno and whether it is
// hard, as Linux's icmpv6_err_convert does.
func icmpv6Errno(typ, code uint8) (syscall.Errno, bool) {
	switch typ {
	case icmpv6.TypeDestUnreachable:
		switch code {
		case icmpv6.CodeNoRoute:
			return syscall.ENETUNREACH, false
		case icmpv6.CodeAdminProhibited, icmpv6.CodeSourcePolicyFailed, icmpv6.CodeRejectRoute:
			return syscall.EACCES, true
		case icmpv6.CodeBeyondScope, icmpv6.CodeAddressUnreachable:
			return syscall.EHOSTUNREACH, false
		case icmpv6.CodePortUnreachable:
			return syscall.ECONNREFUSED, true
		}
		return syscall.EPROTO, true
	case icmpv6.TypePacketTooBig:
		return syscall.EMSGSIZE, false
	case icmpv6.TypeParameterProblem:
		return syscall.EPROTO, true
	case icmpv6.TypeTimeExceeded:
		return syscall.EHOSTUNREACH, false
	}
	return syscall.EPROTO, false
}

// handleNDP handles a neighbour discovery message (RFC 4861).
func (a *ipv6Actor) handleNDP(p *mailbox.Packet, pkt ipv6.Packet, msg icmpv6.Message) {
	a.c.NDPReceived.Inc()
	r, err := ndp.ParseValid(ndp.IPInfo{Src: p.Src, Dst: p.Dst, HopLimit: pkt.HopLimit()}, msg)
	if err != nil {
		if err == ndp.ErrHopLimit {
			a.c.NDPBadHopLimit.Inc()
		} else {
			a.c.NDPInvalid.Inc()
		}
		return
	}
	now := a.env.Clock.Now()
	switch r.Type {
	case ndp.TypeNeighborSolicitation:
		a.handleNS(p, &r, now)
	case ndp.TypeNeighborAdvertisement:
		a.handleNA(p, &r, now)
	case ndp.TypeRouterAdvertisement:
		a.handleRA(p, &r, now)
	case ndp.TypeRedirect:
		a.out.rtMu.Lock()
		err := a.out.rt.HandleRedirect(p.Src, &r, a.out.reach, now)
		a.out.unlockRT()
		if err != nil {
			a.c.NDPRedirectRefused.Inc()
			return
		}
		a.c.Redirects.Inc()
		if r.Options.HasTargetLinkAddr {
			hint := ndp.RouterYes
			if r.Target == r.Destination {
				hint = ndp.RouterUnknown
			}
			a.learn(r.Target, r.Options.TargetLinkAddr, hint, now)
		}
	}
}

func (a *ipv6Actor) handleNS(p *mailbox.Packet, r *ndp.Repr, now time.Time) {
	if p.Src.IsUnspecified() {
		// Another node's DAD.
		switch a.addrs.HandleSolicitation(r.Target, true, now) {
		case ndp.Duplicate:
			a.duplicate(r.Target)
		case ndp.Ours:
			// Defend a usable address (RFC 4862 §5.4.3): to all-nodes.
			a.c.AddrConflicts.Inc()
			a.advertise(r.Target, ipv6.AllNodes, multicastMAC(ipv6.AllNodes), false)
		}
		return
	}
	if a.out.IsLocal(p.Src) {
		a.c.NDPSpoofed.Inc()
		return
	}
	if a.addrs.HandleSolicitation(r.Target, false, now) != ndp.Ours {
		return
	}
	mac := p.SrcMAC
	if r.Options.HasSourceLinkAddr {
		mac = r.Options.SourceLinkAddr
		a.learn(p.Src, mac, ndp.RouterUnknown, now)
	} else if p.Dst.IsMulticast() {
		return // RFC 4861 §7.2.3: no way to answer
	}
	a.advertise(r.Target, p.Src, mac, true)
}

func (a *ipv6Actor) handleNA(p *mailbox.Packet, r *ndp.Repr, now time.Time) {
	switch a.addrs.HandleAdvertisement(r.Target, now) {
	case ndp.Duplicate:
		a.duplicate(r.Target)
		return
	case ndp.Ours, ndp.Ignore:
		// Someone claims an address of ours: log and count, never learn
		// (RFC 4862 §5.4.4).
		a.c.NDPSpoofed.Inc()
		a.c.AddrConflicts.Inc()
		a.env.Log.Warn().Str("addr", r.Target.String()).Str("mac", p.SrcMAC.String()).Msg("ipv6: neighbour advertises our address")
		return
	}
	up := a.neigh.HandleAdvertisement(r.Target, ndp.AdvertFrom(r), now)
	a.sendQueued(up)
}

func (a *ipv6Actor) handleRA(p *mailbox.Packet, r *ndp.Repr, now time.Time) {
	a.c.RouterAdverts.Inc()
	a.rsLeft = 0
	a.out.rtMu.Lock()
	a.out.rt.HandleRouterAdvert(p.Src, r, now)
	a.out.unlockRT()
	if a.dns.Update(r.Options.DNSServers, now) {
		snap := a.dns.Snapshot()
		a.out.dns.Store(&snap)
	}
	if r.CurHopLimit != 0 {
		a.out.hopLimit.Store(uint32(r.CurHopLimit))
	}
	if r.ReachableTime != 0 {
		a.neigh.SetBaseReachableTime(time.Duration(r.ReachableTime) * time.Millisecond)
	}
	if r.RetransTimer != 0 {
		d := time.Duration(r.RetransTimer) * time.Millisecond
		a.neigh.SetRetransTimer(d)
		a.addrs.SetRetransTimer(d)
	}
	if r.Options.HasSourceLinkAddr {
		a.learn(p.Src, r.Options.SourceLinkAddr, ndp.RouterYes, now)
	}
	if a.out.opts.Mode != IPv6Auto {
		return
	}
	for _, pi := range r.Options.Prefixes {
		if ad, ok := a.addrs.HandlePrefix(pi, now); ok {
			a.env.Log.Info().Str("addr", ad.String()).Msg("ipv6: SLAAC address formed")
		}
	}
}

// learn applies a link-layer address learnt from a message.
func (a *ipv6Actor) learn(ip netip.Addr, mac ethernet.Addr, hint ndp.RouterHint, now time.Time) {
	if !mac.IsUnicast() {
		return
	}
	a.sendQueued(a.neigh.HandleLinkAddr(ip, mac, hint, now))
}

func (a *ipv6Actor) sendQueued(up ndp.Update[*awaitNeighbor]) {
	for _, w := range up.Send {
		a.transmit(w, up.LinkAddr)
	}
	if up.NoLongerRouter {
		// RFC 4861 §7.2.5: the router flag went away.
		a.out.rtMu.Lock()
		for _, r := range a.out.rt.Routers() {
			if a.neigh.IsRouter(r.Addr) {
				continue
			}
			a.out.rt.RemoveRouter(r.Addr)
		}
		a.out.unlockRT()
	}
}

// duplicate records a DAD failure: the address is never used.
func (a *ipv6Actor) duplicate(addr netip.Addr) {
	a.c.DADConflicts.Inc()
	a.env.Log.Warn().Str("addr", addr.String()).Msg("ipv6: duplicate address detected; not used")
}

// sendNDP emits an NDP message from src to dst (link-layer dst mac), hop
// limit 255.
func (a *ipv6Actor) sendNDP(r ndp.Repr, src, dst netip.Addr, mac ethernet.Addr) bool {
	buf := a.env.Pool.Get()
	n := r.Len()
	b := buf.B[mailbox.Headroom : mailbox.Headroom+n]
	r.Emit(b)
	ndp.SetChecksum(b, src, dst)
	start := mailbox.Headroom - ipv6.HeaderLen
	ipv6.Header{NextHeader: ipv6.ProtoICMPv6, HopLimit: 255, Src: src, Dst: dst, PayloadLen: n}.Emit(buf.B[start:])
	a.c.PacketsSent.Inc()
	a.icmp.MessagesSent.Inc()
	return a.env.writeFrame(buf, buf.B[start-ethernet.HeaderLen:mailbox.Headroom+n], mac, ethernet.IPv6) == nil
}

// sendDAD sends a DAD solicitation for a tentative address (RFC 4862
// §5.4.2): from ::, to its solicited-node group, no link-layer option.
func (a *ipv6Actor) sendDAD(target netip.Addr) {
	g := ipv6.SolicitedNode(target)
	if a.sendNDP(ndp.Repr{Type: ndp.TypeNeighborSolicitation, Target: target}, netip.IPv6Unspecified(), g, multicastMAC(g)) {
		a.c.DADSent.Inc()
	}
}

// solicit sends a neighbour solicitation: multicast for resolution,
// unicast for a NUD probe.
func (a *ipv6Actor) solicit(s ndp.Solicitation) {
	src, ok := a.out.LocalAddr(s.Target)
	if !ok {
		return
	}
	r := ndp.Repr{Type: ndp.TypeNeighborSolicitation, Target: s.Target}
	r.Options.SourceLinkAddr, r.Options.HasSourceLinkAddr = a.env.MAC, true
	dst, mac := s.Target, s.LinkAddr
	if !s.Unicast {
		dst = ipv6.SolicitedNode(s.Target)
		mac = multicastMAC(dst)
	}
	if a.sendNDP(r, src, dst, mac) {
		a.c.SolicitationsSent.Inc()
	}
}

// advertise sends a neighbour advertisement for our address target.
func (a *ipv6Actor) advertise(target, dst netip.Addr, mac ethernet.Addr, solicited bool) {
	r := ndp.Repr{Type: ndp.TypeNeighborAdvertisement, Target: target, Solicited: solicited, Override: true}
	r.Options.TargetLinkAddr, r.Options.HasTargetLinkAddr = a.env.MAC, true
	if a.sendNDP(r, target, dst, mac) {
		a.c.AdvertisementsSent.Inc()
	}
}

// sendRS sends a router solicitation (RFC 4861 §6.3.7), from a usable
// link-local address with our link-layer address, or from :: without.
func (a *ipv6Actor) sendRS() {
	r := ndp.Repr{Type: ndp.TypeRouterSolicitation}
	src := netip.IPv6Unspecified()
	for _, ad := range a.out.addrs.Load().usable {
		if ad.Addr.IsLinkLocalUnicast() {
			src = ad.Addr
			r.Options.SourceLinkAddr, r.Options.HasSourceLinkAddr = a.env.MAC, true
			break
		}
	}
	if a.sendNDP(r, src, ipv6.AllRouters, multicastMAC(ipv6.AllRouters)) {
		a.c.RouterSolicitsSent.Inc()
	}
}

// sendMLD sends an MLDv2 report with records (RFC 3810 §5.2).
func (a *ipv6Actor) sendMLD(records []icmpv6.GroupRecord) {
	src := netip.IPv6Unspecified()
	for _, ad := range a.out.addrs.Load().usable {
		if ad.Addr.IsLinkLocalUnicast() {
			src = ad.Addr
			break
		}
	}
	for len(records) > 0 {
		k := min(len(records), 32)
		buf := a.env.Pool.Get()
		b := buf.B[mailbox.Headroom-ipv6.HeaderLen:]
		n := icmpv6.EmitMLDv2ReportPacket(b, records[:k], src)
		records = records[k:]
		if n == 0 {
			buf.Release()
			return
		}
		start := mailbox.Headroom - ipv6.HeaderLen
		if a.env.writeFrame(buf, buf.B[start-ethernet.HeaderLen:start+n], multicastMAC(ipv6.AllMLDv2Routers), ethernet.IPv6) == nil {
			a.c.MLDReportsSent.Inc()
			a.c.PacketsSent.Inc()
		}
	}
}

// reportAll answers a query with the current state of every group.
func (a *ipv6Actor) reportAll() {
	var recs []icmpv6.GroupRecord
	for g := range a.groups {
		recs = append(recs, icmpv6.GroupRecord{Type: icmpv6.RecordModeIsExclude, Group: g})
	}
	if len(recs) > 0 {
		a.sendMLD(recs)
	}
}

// ipv6Family is IPv6 with ICMPv6, NDP and MLD (RFC 8200, 4443, 4861,
// 4862, 3810).
func ipv6Family(out *IPv6Output) family {
	return family{
		name:   "ipv6",
		output: out,
		spawn: func(env *Env, spawn func(string, actor.Actor) *actor.PID) []upperLayer {
			env.PIDs.IPv6 = spawn("ipv6", newIPv6Actor(env, out))
			return []upperLayer{{ethernet.IPv6, env.PIDs.IPv6}}
		},
	}
}

func sameUsable(a, b []ndp.Address) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Addr != b[i].Addr || a[i].State != b[i].State {
			return false
		}
	}
	return true
}
