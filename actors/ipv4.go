package actors

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipfrag"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

var allHosts = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// reassemblyDeadline is the ipv4 actor's timer: the oldest datagram in
// reassembly may have expired.
type reassemblyDeadline struct{}

// ipv4Actor validates received IPv4 packets, keeps those addressed to the
// stack, reassembles fragments, answers ICMP echo, hands transport payloads
// up, sends the ICMP errors a host owes (RFC 1122 §3.2.2) and delivers the
// ones it receives to the transport they concern (RFC 791, RFC 1122 §3.2).
type ipv4Actor struct {
	tcp   *tcpCounters // the segments it validates count as the tcp layer's
	env   *Env
	out   *IPv4Output
	guard supervisor.PacketGuard
	c     *mailbox.IPv4Counters
	icmp  *mailbox.ICMPv4Counters

	// Reassembly (RFC 791 §3.2, RFC 815): one bounded reassembler, one
	// timer for its next deadline.
	reasm      *ipfrag.Reassembler
	reasmTimer TimerID
	reasmArmed time.Time
	reasmSeen  ipfrag.Stats // counted so far
}

func newIPv4Actor(env *Env, out *IPv4Output) *ipv4Actor {
	c := &env.Counters.IPv4
	return &ipv4Actor{
		env:        env,
		out:        out,
		guard:      newGuard(env, "ipv4", &c.HandlerCrashes),
		c:          c,
		tcp:        newTCPCounters(env.Counters),
		icmp:       &env.Counters.ICMPv4,
		reasm:      ipfrag.NewReassembler(ipfrag.Config{MaxBytes: env.Limits.ReassemblyBytes}),
		reasmTimer: NewTimerID(),
	}
}

func (a *ipv4Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *mailbox.PacketsArrived:
		a.receive(ctx, m)
		a.syncReassembly(ctx)
	case *drainRoute:
		// Every batch before this one was sent on (receive flushes
		// its connection batches): the connection's last segments
		// are ahead of this answer in its mailbox.
		ctx.Send(m.conn, m.reply())
	case *reassemblyDeadline:
		a.reasmArmed = time.Time{}
		a.expire()
		a.syncReassembly(ctx)
	}
}

func (a *ipv4Actor) receive(ctx actor.Context, batch *mailbox.PacketsArrived) {
	up := newTransportBatches(a.env, a.tcp)
	cfg := a.env.IPv4() // one address for the whole batch
	for i := range batch.Packets {
		p := &batch.Packets[i]
		a.c.PacketsReceived.Inc()
		a.guard.Handle(p.Network, func() { up.add(ctx, a.handle(p, cfg), p) })
	}
	up.flush(ctx)
	batch.Release()
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
func (a *ipv4Actor) handle(p *mailbox.Packet, cfg *IPv4Config) *actor.PID {
	pkt, err := ipv4.NewPacket(p.Network)
	if err != nil {
		a.dropFor(err).Inc()
		return nil
	}
	src, dst := pkt.Src(), pkt.Dst()
	own := cfg.Addr.Addr() // invalid while the stack has no address
	directed := directedBroadcast(cfg.Addr)
	broadcast := dst == limitedBroadcast || dst == directed || dst == allHosts
	if dst != own && !broadcast && !(!own.IsValid() && toDHCPClient(pkt)) {
		a.c.NotForUs.Inc()
		return nil
	}
	// RFC 1122 §3.2.1.3: a source that is a broadcast or multicast address
	// is invalid and the packet is discarded.
	// RFC 1122 §3.2.1.3 (g): a loopback address never appears outside a
	// host.
	if src.IsMulticast() || src == limitedBroadcast || src == directed || (p.Frame != nil && src.IsLoopback()) {
		a.c.BadSource.Inc()
		return nil
	}
	// Our own address from the wire is a spoof (or a duplicate the ARP
	// probe missed): answering it would talk to ourselves, as a SYN with
	// the same address and port at both ends (the "land" attack) asks.
	// Linux drops it too (accept_local=0). Packets the stack sends itself
	// come back without a frame, and pass.
	if p.Frame != nil && src == own && own.IsValid() {
		a.c.OwnSource.Inc()
		return nil
	}
	// RFC 7126 §4.3.3.5 and §4.4.3.5: a loose or strict source route is
	// refused, as Linux does by default (accept_source_route=0): a host
	// that honoured one would let any sender pick the path of its replies
	// and slip past filters that trust the source address.
	if hasSourceRoute(pkt.Options()) {
		a.c.SourceRouted.Inc()
		return nil
	}
	if pkt.IsFragment() {
		if !a.reassemble(p, pkt) {
			return nil
		}
		pkt = ipv4.Packet(p.Network)
	}
	p.Network = pkt // trimmed to Total Length: what an ICMP error quotes
	p.Src, p.Dst, p.Protocol = src, dst, pkt.Protocol()
	p.Transport = pkt.Payload()
	switch p.Protocol {
	case ipv4.ProtocolICMP:
		a.handleICMP(p, broadcast)
	case ipv4.ProtocolTCP:
		// RFC 1122 §4.2.3.10: TCP ignores segments to broadcast or
		// multicast addresses.
		if broadcast || a.env.PIDs.TCP == nil {
			a.c.NoTransport.Inc()
			return nil
		}
		return a.env.PIDs.TCP
	case ipv4.ProtocolUDP:
		if a.env.PIDs.UDP == nil {
			a.c.NoTransport.Inc()
			return nil
		}
		return a.env.PIDs.UDP
	default:
		a.c.UnknownProtocol.Inc()
		// RFC 1122 §3.2.2.1: protocol unreachable for a transport we do
		// not run (SendICMPError applies the rules and the rate limit).
		a.out.SendICMPError(pkt, p.LinkBroadcast, icmpv4.TypeDestUnreachable, icmpv4.CodeProtocolUnreachable, 0)
	}
	return nil
}

func (a *ipv4Actor) handleICMP(p *mailbox.Packet, broadcast bool) {
	a.icmp.MessagesReceived.Inc()
	msg, err := icmpv4.NewMessage(p.Transport)
	if err != nil {
		a.icmp.Malformed.Inc()
		return
	}
	switch msg.Type() {
	case icmpv4.TypeEchoRequest:
		// RFC 1122 §3.2.2.6 lets a host ignore echo requests sent to a
		// broadcast address; doing so keeps the stack out of smurf attacks.
		if broadcast {
			a.icmp.EchoToBroadcast.Inc()
			return
		}
		buf := a.out.Buffer(len(msg))
		if len(msg)+mailbox.Headroom > len(buf.B) {
			buf.Release()
			a.out.counters.TooBig.Inc()
			return
		}
		n := icmpv4.EmitEchoReply(buf.B[mailbox.Headroom:], msg)
		// Counted before it leaves, so that whoever got the reply sees
		// it counted; a failed send is counted by the send path too.
		a.icmp.MessagesSent.Inc()
		a.icmp.EchoRepliesSent.Inc()
		_ = a.out.Send(buf, n, NetSend{Dst: p.Src, Protocol: ipv4.ProtocolICMP})
	case icmpv4.TypeEchoReply:
		if msg.ID() != pingID || !a.env.pings.deliver(msg.Seq(), a.env.Clock.Now()) {
			a.icmp.UnsolicitedReplies.Inc()
		}
	case icmpv4.TypeSourceQuench:
		a.icmp.SourceQuench.Inc() // RFC 6633: hosts must ignore it
	case icmpv4.TypeDestUnreachable, icmpv4.TypeTimeExceeded, icmpv4.TypeParameterProblem:
		a.handleICMPError(p, msg)
	default:
		a.icmp.UnhandledType.Inc()
	}
}

// dropFor returns the drop counter for a validation or reassembly error,
// by its reason.
func (a *ipv4Actor) dropFor(err error) *mailbox.Counter {
	switch err {
	case ipv4.ErrTruncated:
		return &a.c.Truncated
	case ipv4.ErrVersion:
		return &a.c.BadVersion
	case ipv4.ErrHeaderLength:
		return &a.c.BadHeaderLength
	case ipv4.ErrTotalLength:
		return &a.c.BadTotalLength
	case ipv4.ErrChecksum:
		return &a.c.BadChecksum
	case ipfrag.ErrBadOffset:
		return &a.c.FragBadOffset
	case ipfrag.ErrEmpty:
		return &a.c.FragEmpty
	case ipfrag.ErrUnalignedLength:
		return &a.c.FragUnalignedLength
	case ipfrag.ErrTooLong:
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
	// A reason added to ipv4 or ipfrag without a counter here is still
	// counted, as "other".
	return &a.c.Invalid
}

// reassemble offers the fragment p to the reassembler. When it completes a
// datagram, p is rewritten to carry the whole datagram (a fresh header
// and the reassembled payload, in a buffer of its own) and reassemble
// reports true; otherwise the fragment's bytes were copied or it was
// rejected and counted, and p is released with its batch.
func (a *ipv4Actor) reassemble(p *mailbox.Packet, pkt ipv4.Packet) bool {
	a.c.FragmentsReceived.Inc()
	key := ipfrag.Key{Src: pkt.Src(), Dst: pkt.Dst(), Proto: pkt.Protocol(), ID: uint32(pkt.ID())}
	data, done, err := a.reasm.InsertWithHeader(key, pkt.HeaderBytes(), pkt.FragmentOffset(),
		pkt.MoreFragments(), pkt.Payload(), a.env.Clock.Now())
	if err != nil {
		a.dropFor(err).Inc()
		return false
	}
	if !done {
		return false
	}
	a.c.Reassembled.Inc()
	n := ipv4.HeaderLen + len(data)
	var buf *mailbox.Buffer
	if n <= a.env.Pool.Size() {
		buf = a.env.Pool.Get()
	} else {
		buf = mailbox.Wrap(make([]byte, n))
	}
	// The options of fragment zero are not carried over: nothing above
	// IP reads them, and an ICMP error quotes this header.
	h := ipv4.Header{TOS: pkt.TOS(), ID: pkt.ID(), TTL: pkt.TTL(), Protocol: pkt.Protocol(),
		Src: pkt.Src(), Dst: pkt.Dst(), PayloadLen: len(data)}
	h.Emit(buf.B)
	copy(buf.B[ipv4.HeaderLen:n], data)
	p.Buf.Release()
	p.Buf, p.Frame, p.Network = buf, nil, buf.B[:n]
	p.ChecksumOK = false // the device vouched for one fragment, not the datagram
	return true
}

// expire drops the datagrams whose reassembly timed out and sends ICMP
// time exceeded, code 1, for those whose first fragment arrived (RFC 792;
// RFC 1122 §3.3.2).
func (a *ipv4Actor) expire() {
	for _, e := range a.reasm.Expire(a.env.Clock.Now()) {
		if !e.First || len(e.Header) < ipv4.HeaderLen {
			continue
		}
		invoking := make([]byte, 0, len(e.Header)+min(len(e.Data), icmpv4.MaxErrorLen))
		invoking = append(invoking, e.Header...)
		invoking = append(invoking, e.Data[:min(len(e.Data), icmpv4.MaxErrorLen)]...)
		a.out.SendICMPError(invoking, false, icmpv4.TypeTimeExceeded, icmpv4.CodeReassemblyExceeded, 0)
	}
}

// syncReassembly counts what the reassembler dropped on its own since the
// last call (evictions to respect its caps, expiries) and keeps exactly
// one timer armed, for its next deadline.
func (a *ipv4Actor) syncReassembly(ctx actor.Context) {
	st := a.reasm.Stats()
	a.c.ReassemblyEvicted.Add(st.Evicted - a.reasmSeen.Evicted)
	a.c.ReassemblyTimedOut.Add(st.Expired - a.reasmSeen.Expired)
	a.reasmSeen = st
	next, ok := a.reasm.NextDeadline()
	if !ok || (!a.reasmArmed.IsZero() && !a.reasmArmed.After(next)) {
		return
	}
	a.reasmArmed = next
	a.env.Schedule(a.reasmTimer, ctx.Self(), next, &reassemblyDeadline{})
}

// handleICMPError matches a received ICMP error to the datagram it quotes
// and tells the transport that sent it (RFC 1122 §3.2.2.1, §4.1.3.3,
// §4.2.3.9). Fragmentation needed goes to the transport like the others:
// the path MTU is lowered only once the transport has matched the quote to
// one of its connections or sockets (RFC 5927 §4.3).
func (a *ipv4Actor) handleICMPError(p *mailbox.Packet, msg icmpv4.Message) {
	a.icmp.ErrorsReceived.Inc()
	iv, err := msg.Invoking()
	if err != nil {
		a.icmp.ErrorBadQuote.Inc()
		return
	}
	// Only datagrams we sent concern us; anything else is forged or
	// misdirected (RFC 5927 §4.1's first check).
	if iv.Src() != a.env.IPv4().Addr.Addr() {
		a.icmp.ErrorNotOurs.Inc()
		return
	}
	// No ICMP error is sent about a fragment other than the first (RFC
	// 1122 §3.2.2, RFC 1812 §4.3.2.7), so one quoting such a fragment is
	// forged; and what it shows as ports and sequence number is data,
	// which whoever sent the data chose.
	if binary.BigEndian.Uint16(iv.Header[6:8])&0x1fff != 0 {
		a.icmp.ErrorBadQuote.Inc()
		return
	}
	typ, code := msg.Type(), msg.Code()
	nextHopMTU, sentLen := 0, 0
	if typ == icmpv4.TypeDestUnreachable && code == icmpv4.CodeFragmentationNeeded {
		// A router sends this only for a datagram with DF set; one
		// quoting a datagram without DF was not caused by us.
		if binary.BigEndian.Uint16(iv.Header[6:8])&0x4000 == 0 {
			a.icmp.ErrorBadQuote.Inc()
			return
		}
		nextHopMTU, sentLen = int(msg.NextHopMTU()), int(binary.BigEndian.Uint16(iv.Header[2:4]))
	}
	var to *actor.PID
	switch iv.Protocol() {
	case ipv4.ProtocolTCP:
		to = a.env.PIDs.TCP
	case ipv4.ProtocolUDP:
		to = a.env.PIDs.UDP
	}
	if to == nil {
		a.icmp.ErrorNoTransport.Inc()
		return
	}
	ports := iv.Payload
	errno, hard := icmpv4Errno(typ, code)
	a.env.send(to, &mailbox.ControlErrorArrived{
		Protocol:   iv.Protocol(),
		Local:      netip.AddrPortFrom(iv.Src(), binary.BigEndian.Uint16(ports[0:2])),
		Remote:     netip.AddrPortFrom(iv.Dst(), binary.BigEndian.Uint16(ports[2:4])),
		Err:        errno,
		Hard:       hard,
		TooBig:     typ == icmpv4.TypeDestUnreachable && code == icmpv4.CodeFragmentationNeeded,
		NextHopMTU: nextHopMTU,
		SentLen:    sentLen,
		Quote:      append([]byte(nil), ports[:min(len(ports), 60)]...),
		From:       p.Src,
	})
}

// dhcpClientPort is the UDP port DHCP clients receive on (RFC 2131 §4.1).
const dhcpClientPort = 68

// toDHCPClient reports whether pkt is a UDP datagram to the DHCP client
// port. While the stack has no address it takes these whatever their
// unicast destination: a server may send its offer and ack to the
// offered address at our MAC before we hold it (RFC 2131 §4.1, §4.4.1),
// and nothing else reaches the stack then.
func toDHCPClient(pkt ipv4.Packet) bool {
	if pkt.Protocol() != ipv4.ProtocolUDP || pkt.IsFragment() {
		return false
	}
	u := pkt.Payload()
	return len(u) >= 4 && binary.BigEndian.Uint16(u[2:4]) == dhcpClientPort
}

// IPv4 option types that carry a source route (RFC 791 §3.1).
const (
	optLSRR = 131
	optSSRR = 137
)

// hasSourceRoute reports whether the options hold a loose or strict source
// route. It walks them as RFC 791 lays them out and stops at End of
// Option List or at a malformed length, as a host may ignore what follows
// (RFC 1122 §3.2.1.8).
func hasSourceRoute(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // End of Option List
			return false
		case 1: // No Operation
			i++
			continue
		case optLSRR, optSSRR:
			return true
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return false
		}
		i += int(opts[i+1])
	}
	return false
}
