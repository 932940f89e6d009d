package actors

import (
	"syscall"

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
	return o.Send(buf, n, NetSend{Dst: src, Protocol: ipv4.ProtocolICMP}) == nil
}

// icmpv4Errno maps an ICMPv4 error to the errno a socket reports for it, and
// whether it is a hard error, one that ends a connection attempt or a
// connected UDP socket's exchange (RFC 1122 §4.2.3.9 lists protocol and
// port unreachable and fragmentation needed as hard for TCP; the table
// follows Linux's icmp_err_convert, minus fragmentation needed, which only
// lowers the path MTU here).
func icmpv4Errno(typ, code uint8) (syscall.Errno, bool) {
	switch typ {
	case icmpv4.TypeDestUnreachable:
		switch code {
		case icmpv4.CodeProtocolUnreachable:
			return syscall.ENOPROTOOPT, true
		case icmpv4.CodePortUnreachable:
			return syscall.ECONNREFUSED, true
		case icmpv4.CodeFragmentationNeeded:
			return syscall.EMSGSIZE, false
		case icmpv4.CodeNetUnreachable, icmpv4.CodeNetUnreachableForTOS:
			return syscall.ENETUNREACH, false
		case icmpv4.CodeDestNetUnknown, icmpv4.CodeNetProhibited:
			return syscall.ENETUNREACH, true
		case icmpv4.CodeDestHostUnknown:
			return syscall.EHOSTDOWN, true
		case icmpv4.CodeSourceHostIsolated, icmpv4.CodeHostProhibited, icmpv4.CodeCommunicationProhibited,
			icmpv4.CodeHostPrecedenceViolation, icmpv4.CodePrecedenceCutoff:
			return syscall.EHOSTUNREACH, true
		default:
			return syscall.EHOSTUNREACH, false
		}
	case icmpv4.TypeParameterProblem:
		return syscall.EPROTO, true
	default: // time exceeded, source quench: transient
		return syscall.EHOSTUNREACH, false
	}
}
