package tcp

import "time"

// Errors from ICMP reports (RFC 1122 §4.2.3.9).
var (
	ErrHostUnreachable     error = &connError{msg: "tcp: no route to host"}
	ErrNetUnreachable      error = &connError{msg: "tcp: network is unreachable"}
	ErrProtocolUnreachable error = &connError{msg: "tcp: protocol not available at the peer"}
)

// ControlError is an ICMP error about a segment this connection sent, as
// the IP layer decoded it. Seq is the sequence number quoted from the
// offending segment's header.
type ControlError struct {
	Seq Seq
	// MTU is the new path MTU for a "packet too big" report (RFC 1191),
	// else 0.
	MTU int
	// Hard is the error a hard report means (port or protocol unreachable,
	// RFC 1122 §4.2.3.9); nil for soft reports (host or network
	// unreachable, time exceeded) and for "packet too big".
	Hard error
	// Soft is the error a soft report would mean if the connection could
	// not be made at all; nil for hard reports and "packet too big".
	Soft error
}

// QuotesInFlight reports whether an ICMP error quoting sequence number seq
// can be about a segment of this connection: seq lies in [SND.UNA, SND.MAX)
// (or is SND.UNA with nothing in flight, a SYN's ISS). The owner asks
// before acting on anything the report would change beyond the connection,
// such as the path MTU shared by every connection to the peer (RFC 5927
// §4.3).
func (c *Conn) QuotesInFlight(seq Seq) bool {
	if c.state == StateClosed || c.state == StateListen {
		return false
	}
	return seq.InRange(c.sndUna, c.sndMax) && (seq != c.sndMax || c.sndUna == c.sndMax)
}

// HandleControlError applies an ICMP error to the connection and reports
// whether it was believed.
//
// A report is believed only if the sequence number it quotes lies in
// [SND.UNA, SND.MAX): a blind attacker cannot then reset or slow down the
// connection with forged errors (RFC 5927 §4.1).
//
//   - Packet too big lowers the path MTU and the MSS, and resends at once
//     what is in flight in segments that fit (RFC 1191 §6.4, like Linux's
//     "simple retransmit"), without treating it as congestion.
//   - A hard error while the handshake is in progress fails the connection
//     (RFC 1122 §4.2.3.9: refused for port unreachable); once synchronized
//     it is only remembered, like a soft error, because RFC 1122 says a
//     connection must not be aborted on an ICMP error alone.
//   - A soft error is remembered; if the handshake then times out, the
//     connection fails with it instead of a bare timeout.
func (c *Conn) HandleControlError(now time.Time, e ControlError) bool {
	if c.state == StateClosed || c.state == StateListen {
		return false
	}
	if !c.QuotesInFlight(e.Seq) {
		c.stats.DroppedControlErrors++
		return false
	}
	switch {
	case e.MTU > 0:
		if e.MTU >= c.mtu {
			return true // nothing smaller to do
		}
		c.SetPathMTU(e.MTU)
		if c.state.synchronized() && c.sndUna != c.sndMax {
			// Everything in flight was too big: send it again now,
			// in segments of the new size.
			c.sndNxt = c.sndUna
			c.rttTiming = false // Karn's rule: the samples would lie
			c.stats.Retransmits++
			c.output(now)
		}
	case e.Hard != nil:
		if c.state == StateSynSent || c.state == StateSynReceived {
			c.enterClosed(e.Hard)
			return true
		}
		c.softErr = e.Hard
	case e.Soft != nil:
		c.softErr = e.Soft
	}
	return true
}
