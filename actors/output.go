package actors

import (
	"errors"
	"net/netip"
	"sync/atomic"

	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/mailbox"
)

// Errors the send path reports; each is also counted.
var (
	ErrNoRoute  = errors.New("actnet: no route to host")
	ErrTooBig   = errors.New("actnet: packet larger than the path MTU with don't-fragment set")
	ErrLinkDown = errors.New("actnet: link write failed")
)

// IPv4Send describes one IPv4 packet to send.
type IPv4Send struct {
	Dst          netip.Addr
	Src          netip.Addr // the stack's own address when invalid
	Protocol     uint8
	TTL          uint8 // DefaultTTL when zero
	TOS          uint8
	DontFragment bool
}

// DefaultTTL is the TTL of packets the stack originates (RFC 1700's
// recommended 64, as Linux uses).
const DefaultTTL = 64

// IPv4Output is the IPv4 send path. It is safe for concurrent use: every
// actor that originates packets calls it in its own goroutine.
type IPv4Output struct {
	env      *Env
	ids      atomic.Uint32
	counters *mailbox.LayerCounters

	noRoute, tooBig *mailbox.Counter
}

// NewIPv4Output returns the send path of the stack described by env.
func NewIPv4Output(env *Env) *IPv4Output {
	o := &IPv4Output{env: env, counters: env.Counters.Layer("ipv4")}
	o.noRoute = o.counters.Drop("out: no route")
	o.tooBig = o.counters.Drop("out: too big")
	return o
}

// Send transmits the n payload bytes the caller wrote at
// buf.B[mailbox.Headroom:]. It takes ownership of buf whatever it returns.
func (o *IPv4Output) Send(buf *mailbox.Buffer, n int, p IPv4Send) error {
	if ipv4.HeaderLen+n > o.env.MTU {
		// Fragmentation on send comes with issue 4; until then only
		// packets that fit leave.
		o.tooBig.Inc()
		buf.Release()
		return ErrTooBig
	}
	src := p.Src
	if !src.IsValid() {
		src = o.env.IPv4.Addr()
	}
	ttl := p.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	ipStart := mailbox.Headroom - ipv4.HeaderLen
	h := ipv4.Header{
		TOS:          p.TOS,
		ID:           uint16(o.ids.Add(1)),
		DontFragment: p.DontFragment,
		TTL:          ttl,
		Protocol:     p.Protocol,
		Src:          src,
		Dst:          p.Dst,
		PayloadLen:   n,
	}
	h.Emit(buf.B[ipStart:])
	o.counters.Sent.Inc()
	packet := buf.B[ipStart : mailbox.Headroom+n]

	if p.Dst == o.env.IPv4.Addr() {
		o.loopback(buf, packet)
		return nil
	}
	frameStart := ipStart - ethernet.HeaderLen
	frame := buf.B[frameStart : mailbox.Headroom+n]
	if o.isBroadcast(p.Dst) {
		return o.env.writeFrame(buf, frame, ethernet.Broadcast, ethernet.IPv4)
	}
	hop, ok := o.nextHop(p.Dst)
	if !ok {
		o.noRoute.Inc()
		buf.Release()
		return ErrNoRoute
	}
	if m := o.env.Neighbors4.Load(); m != nil {
		if mac, ok := (*m)[hop]; ok {
			return o.env.writeFrame(buf, frame, mac, ethernet.IPv4)
		}
	}
	o.env.send(o.env.PIDs.ARP, &awaitNeighbor{NextHop: hop, Buf: buf, Frame: frame})
	return nil
}

// nextHop routes: on-link destinations directly, the rest via the gateway.
func (o *IPv4Output) nextHop(dst netip.Addr) (netip.Addr, bool) {
	if o.env.IPv4.Contains(dst) {
		return dst, true
	}
	if o.env.Gateway4.IsValid() {
		return o.env.Gateway4, true
	}
	return netip.Addr{}, false
}

func (o *IPv4Output) isBroadcast(dst netip.Addr) bool {
	return dst == limitedBroadcast || dst == directedBroadcast(o.env.IPv4)
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
	link := e.Counters.Layer("link")
	e.linkSent = &link.Sent
	e.linkErrors = link.Drop("write error")
}

// writeFrame fills in the Ethernet header of frame, which starts 14 bytes
// before its network payload, writes it to the device and releases buf.
func (e *Env) writeFrame(buf *mailbox.Buffer, frame []byte, dst ethernet.Addr, typ ethernet.EtherType) error {
	h := ethernet.Header{Dst: dst, Src: e.MAC, Type: typ}
	h.Emit(frame)
	err := e.Device.Write(frame)
	buf.Release()
	if err != nil {
		e.linkErrors.Inc()
		return ErrLinkDown
	}
	e.linkSent.Inc()
	return nil
}
