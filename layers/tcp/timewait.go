package tcp

import "time"

// TimeWait is what is left of a connection in TIME-WAIT once its control
// block is released: the numbers needed to acknowledge a retransmitted
// FIN, to tell a new incarnation's SYN from an old duplicate, and when the
// quarantine ends (2·MSL, RFC 9293 §3.10.7.4 and §3.10.8). It is about a
// hundred bytes, against kilobytes for a Conn with its buffers, so a host
// that closes first (a server with short connections) can hold a minute
// of them, as Linux's tcp_timewait_sock does. The owner keys it by tuple,
// feeds it the segments for that tuple (Input), sends the ACK it asks for
// and drops it at Expires. A TimeWait is not safe for concurrent use.
type TimeWait struct {
	sndNxt, rcvNxt Seq
	// tsRecent is the peer's last timestamp (RFC 7323 §4.3); tsBase and
	// tsOffset are the connection's own timestamp clock, so the ACKs it
	// sends go on counting from the connection's last TSval.
	tsRecent, tsOffset uint32
	tsBase             time.Time
	expires            time.Time
	lastACK            time.Time // the last rate-limited ACK
	linger             time.Duration
	window             uint16 // as advertised, scaled
	shift              uint8  // our window scale
	ts                 bool
}

// TimeWait returns the compact TIME-WAIT entry of a connection in
// TIME-WAIT, and false in any other state. The owner may then drop the
// Conn: the entry answers for it until Expires.
func (c *Conn) TimeWait() (TimeWait, bool) {
	if c.state != StateTimeWait {
		return TimeWait{}, false
	}
	return TimeWait{
		sndNxt:   MaxSeq(c.sndNxt, c.sndMax),
		rcvNxt:   c.rcvNxt,
		tsRecent: c.tsRecent,
		tsOffset: c.tsOffset,
		tsBase:   c.tsBase,
		expires:  c.timers[timerLinger],
		lastACK:  c.lastOOWACK,
		linger:   2 * c.cfg.MSL,
		window:   uint16(min(c.rcvWnd()>>c.rcvShift, 0xffff)),
		shift:    c.rcvShift,
		ts:       c.tsOK,
	}, true
}

// Expires is when TIME-WAIT ends; a retransmitted FIN moves it on.
func (tw *TimeWait) Expires() time.Time { return tw.expires }

// MinISS is the least ISN for a new incarnation opened by a SYN that
// Input accepted (TimeWaitReopen): above anything the old connection
// sent, with room for a window, so that its old duplicates cannot be
// taken for the new connection's data (RFC 1122 §4.2.2.13), as
// Conn.TimeWaitReuse gives it.
func (tw *TimeWait) MinISS() Seq { return tw.sndNxt.Add(1 << 16) }

// TimeWaitAction is what the owner does with a segment Input looked at.
type TimeWaitAction uint8

// Actions of Input.
const (
	// TimeWaitDrop: nothing to send; the entry stays.
	TimeWaitDrop TimeWaitAction = iota
	// TimeWaitSendACK: send ACK's segment; the entry stays.
	TimeWaitSendACK
	// TimeWaitReopen: the segment is a new incarnation's SYN. The owner
	// drops the entry and hands the SYN to the listener with an ISN of
	// at least MinISS; with no listener, it sends ACK's segment instead
	// and keeps the entry (Linux does the same).
	TimeWaitReopen
)

// TimeWaitReason says why Input decided as it did, for the owner's
// counters.
type TimeWaitReason uint8

// Reasons of Input.
const (
	// TimeWaitFIN: a retransmission of the peer's FIN (our last ACK was
	// lost); acknowledged, and TIME-WAIT restarts.
	TimeWaitFIN TimeWaitReason = iota
	// TimeWaitRST: a reset, ignored (RFC 1337); one in the window but
	// not at RCV.NXT draws a challenge ACK (RFC 5961 §3.2).
	TimeWaitRST
	// TimeWaitNewSYN: a SYN newer than the old connection (RFC 6191).
	TimeWaitNewSYN
	// TimeWaitOldSYN: a SYN that is not newer: refused, and answered
	// with an ACK (RFC 9293 §3.10.7.4, RFC 5961 §4.2).
	TimeWaitOldSYN
	// TimeWaitPAWS: a segment with an older timestamp (RFC 7323 §5.3).
	TimeWaitPAWS
	// TimeWaitBareACK: an ACK at RCV.NXT with nothing else: nothing to
	// answer (an ACK of an ACK could loop).
	TimeWaitBareACK
	// TimeWaitUnacceptable: anything else (data, out-of-window
	// numbers, a SYN-ACK): answered with an ACK.
	TimeWaitUnacceptable
)

// TimeWaitResult is Input's decision. Limited is set when an ACK was due
// but the rate limit held it back (Action is then TimeWaitDrop).
type TimeWaitResult struct {
	Action  TimeWaitAction
	Reason  TimeWaitReason
	Limited bool
}

// Input applies the TIME-WAIT rules of RFC 9293 §3.10.7.4 to a segment
// for the entry's tuple, as a Conn in TIME-WAIT does:
//   - a reset is ignored: it must not cut TIME-WAIT short, or an old
//     duplicate could be taken into a new incarnation (RFC 1337); one in
//     the window but not exact draws a challenge ACK (RFC 5961 §3.2);
//   - a SYN opens a new incarnation when it is newer than the old
//     connection: by timestamp when the old connection used them and the
//     SYN carries one (RFC 6191 §2), else by a sequence number above
//     RCV.NXT (RFC 1122 §4.2.2.13, the note in RFC 9293 §3.10.7.4). Any
//     other SYN is refused and answered with an ACK, as a SYN in a
//     synchronized state is (RFC 9293 §3.10.7.4 fourth, RFC 5961 §4.2);
//   - a segment whose timestamp is older than the last one is an old
//     duplicate (PAWS, RFC 7323 §5.3) and is answered with an ACK;
//   - a retransmission of the peer's FIN is acknowledged and restarts
//     the 2·MSL timeout (RFC 9293 §3.10.7.4, eighth);
//   - a bare ACK at RCV.NXT is dropped; anything else is answered with
//     an ACK.
//
// ACKs in answer to segments without data or FIN (bare segments, SYNs,
// resets) are sent at most once per oowACKInterval, as a Conn answers
// bare out-of-window segments, so that two ends cannot ACK each other in
// a loop and a flood of forged segments draws few answers; a segment
// with data or a FIN is always answered, as a Conn answers it.
func (tw *TimeWait) Input(now time.Time, seg *Segment) TimeWaitResult {
	f := seg.Flags()
	seq := seg.Seq()
	n := len(seg.Payload())
	bare := n == 0 && f&FlagFIN == 0
	if f&FlagRST != 0 {
		if wnd := int(tw.window) << tw.shift; seq != tw.rcvNxt && wnd > 0 && seq.InWindow(tw.rcvNxt, wnd) {
			return tw.answer(now, TimeWaitRST, true)
		}
		return TimeWaitResult{Action: TimeWaitDrop, Reason: TimeWaitRST}
	}
	o := seg.Options()
	if f&(FlagSYN|FlagACK) == FlagSYN {
		if tw.newIncarnation(seg) {
			return TimeWaitResult{Action: TimeWaitReopen, Reason: TimeWaitNewSYN}
		}
		return tw.answer(now, TimeWaitOldSYN, true)
	}
	if tw.ts && o.HasTimestamps && int32(o.TSVal-tw.tsRecent) < 0 {
		return tw.answer(now, TimeWaitPAWS, bare)
	}
	if f&(FlagFIN|FlagSYN) == FlagFIN && seq.Add(n+1) == tw.rcvNxt {
		// The FIN (and any data before it) ends exactly where we
		// acknowledged: our last ACK was lost.
		if tw.ts && o.HasTimestamps {
			tw.tsRecent = o.TSVal
		}
		tw.expires = now.Add(tw.linger)
		return TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitFIN}
	}
	if f&(FlagSYN|FlagFIN) == 0 && f&FlagACK != 0 && n == 0 && seq == tw.rcvNxt {
		return TimeWaitResult{Action: TimeWaitDrop, Reason: TimeWaitBareACK}
	}
	return tw.answer(now, TimeWaitUnacceptable, bare)
}

// newIncarnation reports whether a SYN is newer than the old connection
// (RFC 6191 §2). When timestamps decide, the sequence number does not:
// a new incarnation's ISN is random, and may well lie below RCV.NXT.
func (tw *TimeWait) newIncarnation(seg *Segment) bool {
	if o := seg.Options(); tw.ts && o.HasTimestamps {
		return int32(o.TSVal-tw.tsRecent) > 0
	}
	return seg.Seq().GreaterThan(tw.rcvNxt)
}

// answer asks for an ACK, unless limit is set and a limited one went out
// less than oowACKInterval ago.
func (tw *TimeWait) answer(now time.Time, why TimeWaitReason, limit bool) TimeWaitResult {
	if !limit {
		return TimeWaitResult{Action: TimeWaitSendACK, Reason: why}
	}
	if !tw.lastACK.IsZero() && now.Sub(tw.lastACK) < oowACKInterval && !now.Before(tw.lastACK) {
		return TimeWaitResult{Action: TimeWaitDrop, Reason: why, Limited: true}
	}
	tw.lastACK = now
	return TimeWaitResult{Action: TimeWaitSendACK, Reason: why}
}

// ACK returns the acknowledgment of the entry on tuple t: <SEQ=SND.NXT>
// <ACK=RCV.NXT><CTL=ACK>, with the last advertised window and, when the
// connection used them, timestamps echoing the peer's last one (RFC 7323
// §3.2) from the connection's own clock.
func (tw *TimeWait) ACK(now time.Time, t Tuple) Outgoing {
	h := Header{
		SrcPort: t.Local.Port(), DstPort: t.Remote.Port(),
		Seq: tw.sndNxt, Ack: tw.rcvNxt, Flags: FlagACK, Window: tw.window,
	}
	if tw.ts {
		h.Options.HasTimestamps = true
		h.Options.TSVal = uint32(now.Sub(tw.tsBase)/time.Millisecond) + tw.tsOffset
		h.Options.TSEcr = tw.tsRecent
	}
	return Outgoing{Tuple: t, Header: h}
}
