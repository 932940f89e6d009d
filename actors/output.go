package actors

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipfrag"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/pmtu"
	"github.com/actnet/actnet/layers/tokenbucket"
	"github.com/actnet/actnet/mailbox"
)

// Errors the send path reports; each is also counted.
var (
	ErrNoRoute  = errors.New("actnet: no route to host")
	ErrTooBig   = errors.New("actnet: packet larger than the path MTU with don't-fragment set")
	ErrLinkDown = errors.New("actnet: link write failed")
)

// DefaultTTL is the TTL of packets the stack originates (RFC 1700's
// recommended 64, as Linux uses).
const DefaultTTL = 64

// IPv4Output is the IPv4 send path. It is safe for concurrent use: every
// actor that originates packets calls it in its own goroutine.
//
// Datagrams larger than the path MTU are fragmented here (RFC 791 §3.2)
// unless they carry DF; the path MTU is the link MTU lowered by what
// fragmentation-needed errors reported for the destination (RFC 1191).
type IPv4Output struct {
	env      *Env
	ids      atomic.Uint32
	counters *mailbox.IPv4Counters
	icmp     *mailbox.ICMPv4Counters
	large    *mailbox.Pool // for payloads a link-sized buffer cannot hold

	pmtuMu  sync.Mutex
	pmtu    *pmtu.Table
	pmtuLen atomic.Int32 // entries in pmtu, so Send skips the lock when 0

	errMu    sync.Mutex
	errLimit *tokenbucket.Bucket
}

// ICMP error rate limit: like Linux's icmp_msgs_per_sec and burst.
const (
	icmpErrorRate  = 1000
	icmpErrorBurst = 50
)

// NewIPv4Output returns the send path of the stack described by env.
func NewIPv4Output(env *Env) *IPv4Output {
	o := &IPv4Output{
		env:      env,
		counters: &env.Counters.IPv4,
		large:    mailbox.NewPool(mailbox.LargeSize),
		pmtu:     pmtu.New(pmtu.Config{}),
		errLimit: tokenbucket.New(icmpErrorRate, icmpErrorBurst),
		icmp:     &env.Counters.ICMPv4,
	}
	return o
}

// MaxIPv4Payload is the largest IPv4 payload Send accepts: Total Length
// is 16 bits and counts the 20-byte header (RFC 791 §3.1).
const MaxIPv4Payload = 0xffff - ipv4.HeaderLen

var _ NetOutput = (*IPv4Output)(nil)

// MaxPayload is MaxIPv4Payload.
func (o *IPv4Output) MaxPayload() int { return MaxIPv4Payload }

// HeaderLen is the IPv4 header length without options.
func (o *IPv4Output) HeaderLen() int { return ipv4.HeaderLen }

// LocalAddr is the stack's IPv4 address, whatever dst (one address per
// family for now). A stack with no address yet has none, but for the
// limited broadcast: 0.0.0.0 is the source a host uses while it learns its
// address (RFC 1122 §3.2.1.3 (a)), as a DHCP client does (RFC 2131 §4.1).
func (o *IPv4Output) LocalAddr(dst netip.Addr) (netip.Addr, bool) {
	if c := o.env.IPv4(); c.HasAddr() {
		return c.Addr.Addr(), true
	}
	if dst == limitedBroadcast {
		return netip.IPv4Unspecified(), true
	}
	return netip.Addr{}, false
}

// IsLocal reports whether a is the stack's IPv4 address.
func (o *IPv4Output) IsLocal(a netip.Addr) bool {
	c := o.env.IPv4()
	return c.HasAddr() && a == c.Addr.Addr()
}

// IsBroadcast reports whether dst is the limited or the link's directed
// broadcast address.
func (o *IPv4Output) IsBroadcast(dst netip.Addr) bool { return o.isBroadcast(dst) }

// ReportPortUnreachable answers p with ICMP port unreachable.
func (o *IPv4Output) ReportPortUnreachable(p *mailbox.Packet) {
	o.SendICMPError(p.Network, p.LinkBroadcast, icmpv4.TypeDestUnreachable, icmpv4.CodePortUnreachable, 0)
}

// Buffer returns a buffer with room for n payload bytes after
// mailbox.Headroom: a link-sized pool buffer when they fit, else a large
// one, so that callers can send datagrams of any legal size (Send
// fragments them). n must be at most MaxIPv4Payload.
func (o *IPv4Output) Buffer(n int) *mailbox.Buffer {
	if mailbox.Headroom+n <= o.env.Pool.Size() {
		return o.env.Pool.Get()
	}
	return o.large.Get()
}

// PathMTU returns the MTU to use for packets to dst: the link MTU, or less
// when a router reported a smaller one (RFC 1191). TCP derives its MSS from
// it. Safe for concurrent use.
func (o *IPv4Output) PathMTU(dst netip.Addr) int {
	mtu, _ := o.pathMTU(dst)
	return mtu
}

// pathMTU also reports whether the estimate is locked at the floor, when
// routers must be allowed to fragment.
func (o *IPv4Output) pathMTU(dst netip.Addr) (int, bool) {
	if o.pmtuLen.Load() == 0 {
		return o.env.MTU, false
	}
	o.pmtuMu.Lock()
	est, ok := o.pmtu.Lookup(dst, o.env.Clock.Now())
	o.pmtuLen.Store(int32(o.pmtu.Len()))
	o.pmtuMu.Unlock()
	if !ok || est.MTU >= o.env.MTU {
		return o.env.MTU, false
	}
	return est.MTU, est.Locked
}

// LowerPathMTU applies a fragmentation-needed report of mtu (0 from an old
// router) for dst, whose quoted datagram was sentLen bytes long. It returns
// the path MTU now in force and whether the report lowered it.
func (o *IPv4Output) LowerPathMTU(dst netip.Addr, mtu, sentLen int) (int, bool) {
	o.pmtuMu.Lock()
	est, changed := o.pmtu.Lower(dst, mtu, sentLen, o.env.MTU, o.env.Clock.Now())
	o.pmtuLen.Store(int32(o.pmtu.Len()))
	o.pmtuMu.Unlock()
	if changed {
		o.counters.PathMTULowered.Inc()
	}
	return min(est.MTU, o.env.MTU), changed
}

// Send transmits the n payload bytes the caller wrote at
// buf.B[mailbox.Headroom:]. It takes ownership of buf whatever it returns.
// A payload that does not fit the path MTU is fragmented, or refused with
// ErrTooBig when p.DontFragment is set.
func (o *IPv4Output) Send(buf *mailbox.Buffer, n int, p NetSend) error {
	if n < 0 || n > MaxIPv4Payload || mailbox.Headroom+n > len(buf.B) {
		o.counters.TooBig.Inc()
		buf.Release()
		return ErrTooBig
	}
	cfg := o.env.IPv4() // one address for the whole datagram
	src := p.Src
	if !src.IsValid() {
		src = cfg.Addr.Addr()
	}
	if !src.IsValid() {
		// No address yet: only a datagram with an explicit source
		// (DHCP's 0.0.0.0) may leave.
		o.counters.NoRoute.Inc()
		buf.Release()
		if p.Unreachable != nil {
			p.Unreachable()
		}
		return ErrNoRoute
	}
	ttl := p.HopLimit
	if ttl == 0 {
		ttl = DefaultTTL
	}
	ipStart := mailbox.Headroom - ipv4.HeaderLen
	h := ipv4.Header{
		TOS:          p.TrafficClass,
		ID:           uint16(o.ids.Add(1)),
		DontFragment: p.DontFragment,
		TTL:          ttl,
		Protocol:     p.Protocol,
		Src:          src,
		Dst:          p.Dst,
		PayloadLen:   n,
	}
	if cfg.HasAddr() && p.Dst == cfg.Addr.Addr() {
		// Loopback carries any size, as Linux's lo (MTU 64 KiB) does.
		h.Emit(buf.B[ipStart:])
		o.counters.PacketsSent.Inc()
		o.loopback(buf, buf.B[ipStart:mailbox.Headroom+n])
		return nil
	}
	mtu, locked := o.env.MTU, false
	if !isBroadcastIn(cfg, p.Dst) {
		mtu, locked = o.pathMTU(p.Dst)
	}
	if locked {
		// The path is narrower than the floor we accept: let routers
		// fragment, as RFC 1191 §3 allows and Linux does.
		h.DontFragment = false
	}
	if ipv4.HeaderLen+n <= mtu || buf.Tx.GSOSize > 0 { // a TSO super-segment is cut to size by the link
		h.Emit(buf.B[ipStart:])
		o.counters.PacketsSent.Inc()
		frame := buf.B[ipStart-ethernet.HeaderLen : mailbox.Headroom+n]
		return o.transmit(cfg, p.Dst, []outFrame{{buf, frame}}, p.Unreachable)
	}
	if h.DontFragment {
		o.counters.TooBig.Inc()
		buf.Release()
		return ErrTooBig
	}
	return o.fragment(cfg, buf, n, h, mtu, p.Unreachable)
}

// outFrame is one frame to write and the buffer it lives in.
type outFrame struct {
	buf   *mailbox.Buffer
	frame []byte // the whole frame; its Ethernet header is filled in last
}

// fragment splits the payload at buf.B[Headroom:Headroom+n] into fragments
// of at most mtu bytes each (RFC 791 §3.2: every fragment but the last
// carries a multiple of 8 bytes, MF on all but the last, offsets in 8-byte
// units, the same identification) and sends them. It takes buf.
func (o *IPv4Output) fragment(cfg *IPv4Config, buf *mailbox.Buffer, n int, h ipv4.Header, mtu int, unreachable func()) error {
	plan, err := ipfrag.NewPlan(n, mtu, ipv4.HeaderLen)
	if err != nil {
		o.counters.FragmentationFailed.Inc()
		buf.Release()
		return ErrTooBig
	}
	payload := buf.B[mailbox.Headroom : mailbox.Headroom+n]
	frames := make([]outFrame, 0, plan.Count())
	for f := range plan.All() {
		fb := o.env.Pool.Get()
		copy(fb.B[mailbox.Headroom:], payload[f.Offset:f.Offset+f.Len])
		fh := h
		fh.FragmentOffset, fh.MoreFragments, fh.PayloadLen = f.Offset, f.More, f.Len
		fh.Emit(fb.B[mailbox.Headroom-ipv4.HeaderLen:])
		frames = append(frames, outFrame{fb, fb.B[mailbox.Headroom-ipv4.HeaderLen-ethernet.HeaderLen : mailbox.Headroom+f.Len]})
	}
	buf.Release()
	o.counters.Fragmented.Inc()
	o.counters.FragmentsCreated.Add(uint64(len(frames)))
	o.counters.PacketsSent.Add(uint64(len(frames)))
	return o.transmit(cfg, h.Dst, frames, unreachable)
}

// transmit routes the frames of one datagram to dst: broadcast, to a
// resolved next hop, or through the arp actor, which holds them together
// until the next hop resolves. It takes their buffers. unreachable, when
// set, is called if the datagram is dropped for want of a next hop.
func (o *IPv4Output) transmit(cfg *IPv4Config, dst netip.Addr, frames []outFrame, unreachable func()) error {
	if isBroadcastIn(cfg, dst) {
		return o.env.writeFrames(frames, ethernet.Broadcast)
	}
	hop, ok := nextHop(cfg, dst)
	if !ok {
		o.counters.NoRoute.Add(uint64(len(frames)))
		for _, f := range frames {
			f.buf.Release()
		}
		if unreachable != nil {
			unreachable()
		}
		return ErrNoRoute
	}
	if m := o.env.Neighbors4.Load(); m != nil {
		if mac, ok := (*m)[hop]; ok {
			return o.env.writeFrames(frames, mac)
		}
	}
	// One queue entry for the whole datagram: the arp actor's per-address
	// queue would otherwise push out the first fragments of a large one.
	var head *awaitNeighbor
	for i := len(frames) - 1; i >= 0; i-- {
		head = &awaitNeighbor{NextHop: hop, Buf: frames[i].buf, Frame: frames[i].frame, Next: head}
	}
	head.Unreachable = unreachable
	o.env.send(o.env.PIDs.ARP, head)
	return nil
}

// Routable reports whether packets to dst have a next hop (the stack's own
// address, on-link, or via the gateway); it does not say the next hop
// answers ARP.
func (o *IPv4Output) Routable(dst netip.Addr) bool {
	cfg := o.env.IPv4()
	if cfg.HasAddr() && dst == cfg.Addr.Addr() {
		return true
	}
	_, ok := nextHop(cfg, dst)
	return ok
}

// nextHop routes: on-link destinations directly, the rest via the gateway.
// A stack without an address has no route at all.
func nextHop(cfg *IPv4Config, dst netip.Addr) (netip.Addr, bool) {
	if !cfg.HasAddr() {
		return netip.Addr{}, false
	}
	if cfg.Addr.Contains(dst) {
		return dst, true
	}
	if cfg.Gateway.IsValid() {
		return cfg.Gateway, true
	}
	return netip.Addr{}, false
}

func (o *IPv4Output) isBroadcast(dst netip.Addr) bool { return isBroadcastIn(o.env.IPv4(), dst) }

// isBroadcastIn reports whether dst is the limited broadcast or cfg's
// directed broadcast address.
func isBroadcastIn(cfg *IPv4Config, dst netip.Addr) bool {
	return dst == limitedBroadcast || (cfg.HasAddr() && dst == directedBroadcast(cfg.Addr))
}

// loopback hands a packet addressed to the stack itself straight back to
// the ipv4 actor, as Linux's lo does.
func (o *IPv4Output) loopback(buf *mailbox.Buffer, packet []byte) {
	batch := mailbox.NewBatch()
	batch.Add(mailbox.Packet{Buf: buf, Network: packet})
	o.env.send(o.env.PIDs.IPv4, batch)
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// directedBroadcast is the all-ones host address of prefix (RFC 919).
func directedBroadcast(prefix netip.Prefix) netip.Addr {
	if !prefix.Addr().Is4() || prefix.Bits() >= 31 {
		return netip.Addr{}
	}
	a := prefix.Masked().Addr().As4()
	host := ^uint32(0) >> prefix.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// initLink looks up the link-layer counters once.
func (e *Env) initLink() {
	e.linkSent = &e.Counters.Link.FramesSent
	e.ethernetSent = &e.Counters.Ethernet.FramesSent
	e.linkErrors = &e.Counters.Link.WriteErrors
}

// writeFrame fills in the Ethernet header of frame, which starts 14 bytes
// before its network payload, writes it to the device and releases buf.
// Frames count as sent before the write, so that whoever received one sees
// it counted; a failed write counts as a write error as well.
func (e *Env) writeFrame(buf *mailbox.Buffer, frame []byte, dst ethernet.Addr, typ ethernet.EtherType) error {
	h := ethernet.Header{Dst: dst, Src: e.MAC, Type: typ}
	h.Emit(frame)
	e.ethernetSent.Inc()
	e.linkSent.Inc()
	err := e.deviceWrite(buf, frame)
	buf.Release()
	if err != nil {
		e.linkErrors.Inc()
		return ErrLinkDown
	}
	return nil
}

// writeFrames writes the frames of one datagram to dst, in one device call
// when the device takes batches, and releases their buffers.
func (e *Env) writeFrames(frames []outFrame, dst ethernet.Addr) error {
	return e.writeFramesOf(frames, dst, ethernet.IPv4)
}

// writeFramesOf is writeFrames for frames of EtherType typ.
func (e *Env) writeFramesOf(frames []outFrame, dst ethernet.Addr, typ ethernet.EtherType) error {
	if len(frames) == 1 {
		return e.writeFrame(frames[0].buf, frames[0].frame, dst, typ)
	}
	bw, ok := e.Device.(device.BatchWriter)
	if !ok {
		var first error
		for _, f := range frames {
			if err := e.writeFrame(f.buf, f.frame, dst, typ); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	raw := make([][]byte, len(frames))
	for i, f := range frames {
		ethernet.Header{Dst: dst, Src: e.MAC, Type: typ}.Emit(f.frame)
		raw[i] = f.frame
	}
	e.ethernetSent.Add(uint64(len(frames)))
	e.linkSent.Add(uint64(len(frames)))
	err := bw.WriteBatch(raw)
	for _, f := range frames {
		f.buf.Release()
	}
	if err != nil {
		e.linkErrors.Inc()
		return ErrLinkDown
	}
	return nil
}
