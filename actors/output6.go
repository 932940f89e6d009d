package actors

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv6"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/layers/ndp"
	"github.com/actnet/actnet/layers/tokenbucket"
	"github.com/actnet/actnet/mailbox"
)

// IPv6Mode chooses how the ipv6 actor gets its addresses (the root
// package's IPv6Mode, same values).
type IPv6Mode uint8

// The IPv6 modes.
const (
	IPv6Auto IPv6Mode = iota
	IPv6Static
	IPv6Off
)

// IPv6Options configure the IPv6 family (the root package's IPv6Config).
type IPv6Options struct {
	Mode         IPv6Mode
	Addr         netip.Prefix // static address and on-link prefix (IPv6Static)
	Gateway      netip.Addr   // static default router
	IID          ndp.IIDKind
	StableSecret []byte
}

// neighbor6 is one entry of the published IPv6 neighbour cache.
type neighbor6 struct {
	mac   ethernet.Addr
	state ndp.State
	// fresh is how long the send path may use a Reachable entry without
	// telling the actor; past it the entry may have gone Stale.
	fresh time.Time
}

// addrView is the ipv6 actor's published view of its addresses.
type addrView struct {
	// usable are the addresses that may be used (preferred or
	// deprecated), in creation order, with their state.
	usable []ndp.Address
	// groups are the multicast groups joined: all-nodes and the
	// solicited-node group of every address, tentative ones included.
	groups map[netip.Addr]bool
	// tentative are addresses in DAD (not usable, but ours).
	tentative map[netip.Addr]bool
}

func (v *addrView) has(a netip.Addr) bool {
	for _, x := range v.usable {
		if x.Addr == a {
			return true
		}
	}
	return false
}

// IPv6Output is the IPv6 send path (RFC 8200). It is safe for concurrent
// use: every actor that originates packets calls it in its own goroutine.
// It picks the source address (RFC 6724, simplified), the next hop (RFC
// 4861 §5.2, from the ipv6 actor's routing tables), the link-layer address
// from the published neighbour cache, and fragments to the path MTU (RFC
// 8200 §4.5). A cache miss, or an entry whose reachability must be
// checked, goes to the ipv6 actor, which resolves and sends.
type IPv6Output struct {
	env   *Env
	opts  IPv6Options
	c     *mailbox.IPv6Counters
	icmp  *mailbox.ICMPv6Counters
	large *mailbox.Pool

	// rt is the prefix list, default routers, redirects and path MTUs;
	// the ipv6 actor updates it, senders read it. Whoever locks rtMu
	// unlocks it with unlockRT.
	rtMu sync.Mutex
	rt   *ndp.Routing
	// linkMTU is rt's link MTU while rt holds no per-destination path
	// MTU, else 0: PathMTU then needs no lock, as IPv4Output's pmtuLen.
	linkMTU atomic.Int32

	hopLimit atomic.Uint32
	addrs    atomic.Pointer[addrView]
	neigh    atomic.Pointer[map[netip.Addr]neighbor6]
	// dns are the RDNSS servers router advertisements named (RFC 8106),
	// with their lifetimes; readers drop the expired ones.
	dns atomic.Pointer[[]ndp.DNSServer]

	errMu    sync.Mutex
	errLimit *tokenbucket.Bucket

	// changed is closed (and replaced) when the usable addresses change.
	changedMu sync.Mutex
	changed   chan struct{}
}

// signal wakes WaitIPv6 callers.
func (o *IPv6Output) signal() {
	o.changedMu.Lock()
	if o.changed != nil {
		close(o.changed)
		o.changed = nil
	}
	o.changedMu.Unlock()
}

// changes returns a channel closed at the next change of the usable
// addresses.
func (o *IPv6Output) changes() <-chan struct{} {
	o.changedMu.Lock()
	defer o.changedMu.Unlock()
	if o.changed == nil {
		o.changed = make(chan struct{})
	}
	return o.changed
}

// NewIPv6Output returns the IPv6 send path of the stack described by env.
func NewIPv6Output(env *Env, opts IPv6Options) *IPv6Output {
	o := &IPv6Output{
		env:      env,
		opts:     opts,
		c:        &env.Counters.IPv6,
		icmp:     &env.Counters.ICMPv6,
		large:    mailbox.NewPool(mailbox.LargeSize),
		rt:       ndp.NewRouting(ndp.RoutingConfig{LinkMTU: env.MTU}),
		errLimit: tokenbucket.New(icmpErrorRate, icmpErrorBurst),
	}
	o.hopLimit.Store(ipv6.DefaultHopLimit)
	o.linkMTU.Store(int32(o.rt.LinkMTU()))
	o.addrs.Store(&addrView{groups: map[netip.Addr]bool{ipv6.AllNodes: true}})
	// The reader listens on the all-nodes group from the start (RFC 4291
	// §2.8), before the ipv6 actor first publishes its groups: a router
	// advertisement that arrives in between is for us, not dropped.
	macs := map[ethernet.Addr]bool{multicastMAC(ipv6.AllNodes): true}
	env.Groups6.Store(&macs)
	return o
}

var _ NetOutput = (*IPv6Output)(nil)

// MaxIPv6Payload is the largest upper-layer payload Send accepts: Payload
// Length is 16 bits, and a fragmented packet carries its Fragment header
// in it.
const MaxIPv6Payload = ipv6.MaxPayloadLen - ipv6.FragmentHeaderLen

// MaxPayload is MaxIPv6Payload.
func (o *IPv6Output) MaxPayload() int { return MaxIPv6Payload }

// HeaderLen is the fixed IPv6 header length.
func (o *IPv6Output) HeaderLen() int { return ipv6.HeaderLen }

// IsBroadcast is false: IPv6 has no broadcast.
func (o *IPv6Output) IsBroadcast(netip.Addr) bool { return false }

// Buffer returns a buffer with room for n payload bytes after Headroom.
func (o *IPv6Output) Buffer(n int) *mailbox.Buffer {
	if mailbox.Headroom+n <= o.env.Pool.Size() {
		return o.env.Pool.Get()
	}
	return o.large.Get()
}

// Addrs returns the usable addresses with their prefixes.
func (o *IPv6Output) Addrs() []ndp.Address {
	return append([]ndp.Address(nil), o.addrs.Load().usable...)
}

// IsLocal reports whether a is one of the stack's usable IPv6 addresses.
func (o *IPv6Output) IsLocal(a netip.Addr) bool {
	return o.addrs.Load().has(a.WithZone(""))
}

// LocalAddr picks the source for dst (RFC 6724, simplified): dst itself
// when it is ours; a link-local address for link-local and link-scope
// multicast destinations; else a preferred global address, then a
// deprecated one; never a tentative one.
func (o *IPv6Output) LocalAddr(dst netip.Addr) (netip.Addr, bool) {
	dst = dst.WithZone("")
	v := o.addrs.Load()
	if v.has(dst) {
		return dst, true
	}
	var ll, dep netip.Addr
	for _, a := range v.usable {
		switch {
		case a.Addr.IsLinkLocalUnicast():
			if !ll.IsValid() {
				ll = a.Addr
			}
		case a.State == ndp.AddrPreferred:
			if !dst.IsLinkLocalUnicast() && !dst.IsLinkLocalMulticast() && !dst.IsInterfaceLocalMulticast() {
				return a.Addr, true
			}
		default:
			if !dep.IsValid() {
				dep = a.Addr
			}
		}
	}
	if !dst.IsLinkLocalUnicast() && !dst.IsLinkLocalMulticast() && dep.IsValid() {
		return dep, true
	}
	return ll, ll.IsValid()
}

// reach is the routing table's view of neighbour reachability: the
// published cache's state.
func (o *IPv6Output) reach(a netip.Addr) ndp.State {
	if m := o.neigh.Load(); m != nil {
		if n, ok := (*m)[a]; ok {
			return n.state
		}
	}
	return ndp.Absent
}

// nextHop is next-hop determination: the static on-link prefix, then the
// routing tables (RFC 4861 §5.2), then the static gateway.
func (o *IPv6Output) nextHop(dst netip.Addr) (netip.Addr, bool) {
	if o.opts.Addr.IsValid() && o.opts.Addr.Contains(dst) {
		return dst, true
	}
	o.rtMu.Lock()
	hop, err := o.rt.NextHop(dst, o.reach, o.env.Clock.Now())
	o.unlockRT()
	if err == nil {
		return hop, true
	}
	if o.opts.Gateway.IsValid() {
		return o.opts.Gateway, true
	}
	return netip.Addr{}, false
}

// Routable reports whether packets to dst have a next hop.
func (o *IPv6Output) Routable(dst netip.Addr) bool {
	dst = dst.WithZone("")
	if o.IsLocal(dst) || dst.IsMulticast() {
		return true
	}
	_, ok := o.nextHop(dst)
	return ok
}

// unlockRT unlocks rtMu after republishing linkMTU, which any change to
// rt under the lock may have changed.
func (o *IPv6Output) unlockRT() {
	if o.rt.PathMTUs() == 0 {
		o.linkMTU.Store(int32(o.rt.LinkMTU()))
	} else {
		o.linkMTU.Store(0)
	}
	o.rtMu.Unlock()
}

// PathMTU is the MTU towards dst (RFC 8201), never below 1280.
func (o *IPv6Output) PathMTU(dst netip.Addr) int {
	mtu := int(o.linkMTU.Load())
	if mtu == 0 {
		o.rtMu.Lock()
		mtu = o.rt.PathMTU(dst.WithZone(""), o.env.Clock.Now())
		o.unlockRT()
	}
	return max(min(mtu, o.env.MTU), ipv6.MinMTU)
}

// LowerPathMTU applies a Packet Too Big the transport matched to one of
// its flows. IPv6 routers always report the MTU; it is never taken below
// 1280 (RFC 8201 §4).
func (o *IPv6Output) LowerPathMTU(dst netip.Addr, mtu, _ int) (int, bool) {
	o.rtMu.Lock()
	got, changed := o.rt.PacketTooBig(dst.WithZone(""), max(mtu, ipv6.MinMTU), o.env.Clock.Now())
	o.unlockRT()
	if changed {
		o.c.PathMTULowered.Inc()
	}
	return max(min(got, o.env.MTU), ipv6.MinMTU), changed
}

// ReportPortUnreachable answers p with ICMPv6 port unreachable (RFC 4443
// §3.1).
func (o *IPv6Output) ReportPortUnreachable(p *mailbox.Packet) {
	o.SendICMPError(p.Network, p.LinkBroadcast, icmpv6.TypeDestUnreachable, icmpv6.CodePortUnreachable, 0)
}

// SendICMPError sends an ICMPv6 error about invoking (a received packet
// from its fixed header on) when RFC 4443 §2.4 (e) allows it and the rate
// limit has a token. It reports whether the error went out.
func (o *IPv6Output) SendICMPError(invoking []byte, linkMulticast bool, typ, code uint8, extra uint32) bool {
	pkt, err := ipv6.NewPacket(invoking)
	if err != nil {
		if len(invoking) < ipv6.HeaderLen {
			o.icmp.ErrorsSuppressed.Inc()
			return false
		}
		pkt = ipv6.Packet(invoking) // cut short: quote what there is
	}
	if !icmpv6.ErrorAllowed(typ, code, pkt, linkMulticast) {
		o.icmp.ErrorsSuppressed.Inc()
		return false
	}
	dst := pkt.Src()
	src, ok := o.LocalAddr(dst)
	if d := pkt.Dst(); o.IsLocal(d) {
		src, ok = d, true
	}
	if !ok {
		o.icmp.ErrorsSuppressed.Inc()
		return false
	}
	o.errMu.Lock()
	allowed := o.errLimit.Allow(o.env.Clock.Now())
	o.errMu.Unlock()
	if !allowed {
		o.icmp.ErrorsRateLimited.Inc()
		return false
	}
	buf := o.env.Pool.Get()
	room := min(len(buf.B)-mailbox.Headroom, o.PathMTU(dst)-ipv6.HeaderLen)
	n := icmpv6.EmitError(buf.B[mailbox.Headroom:mailbox.Headroom+room], typ, code, extra, invoking, src, dst)
	if n == 0 {
		buf.Release()
		o.icmp.ErrorsSuppressed.Inc()
		return false
	}
	if o.Send(buf, n, NetSend{Dst: dst, Src: src, Protocol: ipv6.ProtoICMPv6}) != nil {
		return false
	}
	o.icmp.MessagesSent.Inc()
	switch typ {
	case icmpv6.TypeDestUnreachable:
		o.icmp.UnreachableSent.Inc()
	case icmpv6.TypeTimeExceeded:
		o.icmp.TimeExceededSent.Inc()
	case icmpv6.TypeParameterProblem:
		o.icmp.ParamProblemSent.Inc()
	}
	return true
}

// fragmentID draws an unpredictable Identification (RFC 7739).
func fragmentID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// Send transmits the n payload bytes at buf.B[Headroom:]. It takes buf.
func (o *IPv6Output) Send(buf *mailbox.Buffer, n int, p NetSend) error {
	if n < 0 || n > MaxIPv6Payload || mailbox.Headroom+n > len(buf.B) {
		o.c.TooBig.Inc()
		buf.Release()
		return ErrTooBig
	}
	dst := p.Dst.WithZone("")
	src := p.Src.WithZone("")
	if !src.IsValid() || src.IsUnspecified() && p.Protocol != ipv6.ProtoICMPv6 {
		var ok bool
		if src, ok = o.LocalAddr(dst); !ok {
			o.c.NoSource.Inc()
			buf.Release()
			if p.Unreachable != nil {
				p.Unreachable()
			}
			return ErrNoRoute
		}
	}
	hl := p.HopLimit
	if hl == 0 {
		hl = uint8(o.hopLimit.Load())
	}
	start := mailbox.Headroom - ipv6.HeaderLen
	ipv6.Header{TrafficClass: p.TrafficClass, NextHeader: p.Protocol, HopLimit: hl,
		Src: src, Dst: dst, PayloadLen: n}.Emit(buf.B[start:])
	pkt := buf.B[start : mailbox.Headroom+n]
	if o.IsLocal(dst) {
		o.c.PacketsSent.Inc()
		o.loopback(buf, pkt)
		return nil
	}
	mtu := o.env.MTU
	if !dst.IsMulticast() {
		mtu = o.PathMTU(dst)
	}
	if len(pkt) <= mtu || buf.Tx.GSOSize > 0 { // a TSO super-segment is cut to size by the link
		o.c.PacketsSent.Inc()
		return o.transmit(dst, []outFrame{{buf, buf.B[start-ethernet.HeaderLen : mailbox.Headroom+n]}}, p.Unreachable)
	}
	if p.DontFragment {
		o.c.TooBig.Inc()
		buf.Release()
		return ErrTooBig
	}
	f, err := ipv6.NewFragmenter(pkt, mtu, fragmentID())
	if err != nil {
		o.c.FragmentationFailed.Inc()
		buf.Release()
		return ErrTooBig
	}
	frames := make([]outFrame, 0, f.Count())
	for i := range f.Count() {
		fb := o.env.Pool.Get()
		k := f.Emit(i, fb.B[ethernet.HeaderLen:])
		frames = append(frames, outFrame{fb, fb.B[:ethernet.HeaderLen+k]})
	}
	buf.Release()
	o.c.Fragmented.Inc()
	o.c.FragmentsCreated.Add(uint64(len(frames)))
	o.c.PacketsSent.Add(uint64(len(frames)))
	return o.transmit(dst, frames, p.Unreachable)
}

// multicastMAC is the Ethernet group of an IPv6 multicast address (RFC
// 2464 §7).
func multicastMAC(a netip.Addr) ethernet.Addr {
	b := a.As16()
	return ethernet.Addr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// transmit sends the frames of one packet to dst: multicast at once, else
// to the next hop's link-layer address when the published cache has it
// fresh, or through the ipv6 actor, which resolves it (and starts NUD for
// an entry gone stale, RFC 4861 §7.3.3). It takes the buffers.
func (o *IPv6Output) transmit(dst netip.Addr, frames []outFrame, unreachable func()) error {
	if dst.IsMulticast() {
		return o.env.writeFramesOf(frames, multicastMAC(dst), ethernet.IPv6)
	}
	hop, ok := o.nextHop(dst)
	if !ok {
		o.c.NoRoute.Add(uint64(len(frames)))
		for _, f := range frames {
			f.buf.Release()
		}
		if unreachable != nil {
			unreachable()
		}
		return ErrNoRoute
	}
	if m := o.neigh.Load(); m != nil {
		if n, ok := (*m)[hop]; ok {
			switch n.state {
			case ndp.Delay, ndp.Probe:
				return o.env.writeFramesOf(frames, n.mac, ethernet.IPv6)
			case ndp.Reachable:
				if o.env.Clock.Now().Before(n.fresh) {
					return o.env.writeFramesOf(frames, n.mac, ethernet.IPv6)
				}
			}
		}
	}
	var head *awaitNeighbor
	for i := len(frames) - 1; i >= 0; i-- {
		head = &awaitNeighbor{NextHop: hop, Buf: frames[i].buf, Frame: frames[i].frame, Next: head}
	}
	head.Unreachable = unreachable
	o.env.send(o.env.PIDs.IPv6, head)
	return nil
}

// loopback hands a packet for one of our own addresses back to the ipv6
// actor.
func (o *IPv6Output) loopback(buf *mailbox.Buffer, packet []byte) {
	batch := mailbox.NewBatch()
	batch.Add(mailbox.Packet{Buf: buf, Network: packet})
	o.env.send(o.env.PIDs.IPv6, batch)
}

// ErrNoIPv6 is returned by the IPv6 calls of a stack that runs no IPv6.
var ErrNoIPv6 = errors.New("actnet: IPv6 is off on this stack")

// IPv6Addrs returns the usable IPv6 addresses with their prefix lengths.
func (r *Running) IPv6Addrs() []netip.Prefix {
	if r.Output6 == nil {
		return nil
	}
	var ps []netip.Prefix
	for _, a := range r.Output6.Addrs() {
		ps = append(ps, netip.PrefixFrom(a.Addr, a.Prefix.Bits()))
	}
	return ps
}

// DNSServers6 returns the DNS servers router advertisements named (RFC
// 8106) whose lifetime has not ended, in the order they were learnt.
func (r *Running) DNSServers6() []netip.Addr {
	if r.Output6 == nil {
		return nil
	}
	l := r.Output6.dns.Load()
	if l == nil {
		return nil
	}
	return ndp.Live(*l, r.Env.Clock.Now())
}

// WaitIPv6 waits until an IPv6 address is usable (a global one when global
// is set: not link-local) and returns it.
func (r *Running) WaitIPv6(ctx context.Context, global bool) (netip.Addr, error) {
	if r.Output6 == nil {
		return netip.Addr{}, ErrNoIPv6
	}
	for {
		ch := r.Output6.changes()
		for _, a := range r.Output6.Addrs() {
			if !global || !a.Addr.IsLinkLocalUnicast() {
				return a.Addr, nil
			}
		}
		if _, err := await(&r.Env.life, ctx, ch); err != nil {
			return netip.Addr{}, err
		}
	}
}
