package actors

import (
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/mailbox"
)

// SendICMPError sends an ICMP error of type typ and code about invoking, a
// received datagram from its IP header on (at least the header and 8
// payload bytes; more is quoted when it fits, RFC 1812 §4.3.2.3). extra is
// the message's type-specific word (the next-hop MTU for fragmentation
// needed). linkBroadcast reports that the datagram arrived as a link-layer
// broadcast or multicast.
//
// It applies RFC 1122 §3.2.2 (never about an ICMP error, a broadcast or
// multicast datagram, a non-first fragment, or a source that names no
// single host) and a token bucket (RFC 1812 §4.3.2.8); an error withheld
// for either reason is counted. It reports whether the error was sent.
// Safe for concurrent use.
func (o *IPv4Output) SendICMPError(invoking []byte, linkBroadcast bool, typ, code uint8, extra uint32) bool {
	if len(invoking) < ipv4.HeaderLen || int(invoking[0]&0x0f)*4 < ipv4.HeaderLen ||
		len(invoking) < int(invoking[0]&0x0f)*4 {
		o.icmp.ErrorsSuppressed.Inc()
		return false
	}
	pkt := ipv4.Packet(invoking)
	dst, src := pkt.Dst(), pkt.Src()
	if !icmpv4.ErrorAllowed(pkt, linkBroadcast) || o.isBroadcast(dst) || o.isBroadcast(src) || dst == allHosts {
		o.icmp.ErrorsSuppressed.Inc()
		return false
	}
	o.errMu.Lock()
	ok := o.errLimit.Allow(o.env.Clock.Now())
	o.errMu.Unlock()
	if !ok {
		o.icmp.ErrorsRateLimited.Inc()
		return false
	}
	buf := o.env.Pool.Get()
	n := icmpv4.EmitError(buf.B[mailbox.Headroom:], typ, code, extra, invoking)
	if n == 0 {
		buf.Release()
		o.icmp.ErrorsSuppressed.Inc()
		return false
	}
	// Counted before it leaves, so that whoever got the error sees it
	// counted; a failed send is counted by the send path too.
	o.icmp.MessagesSent.Inc()
	switch typ {
	case icmpv4.TypeDestUnreachable:
		o.icmp.UnreachableSent.Inc()
	case icmpv4.TypeTimeExceeded:
		o.icmp.TimeExceededSent.Inc()
	}
	return o.Send(buf, n, IPv4Send{Dst: src, Protocol: ipv4.ProtocolICMP}) == nil
}
