package tcp

import (
	"encoding/binary"
	"time"

	"github.com/actnet/actnet/layers/checksum"
)

// Outgoing is one segment the control block wants sent: its addresses, its
// header and a reference to its payload inside the send buffer. It is
// handed to the Emitter and valid only during that call.
type Outgoing struct {
	Tuple  Tuple // Local is the source, Remote the destination
	Header Header
	// GSOSize, when positive, marks a super-segment for a link with TSO:
	// its payload is longer than one segment may carry, and the link cuts
	// it into pieces of GSOSize bytes, each behind a copy of Header.
	GSOSize int
	q       *byteQueue
	off, n  int
}

// PayloadLen returns the number of data bytes.
func (o *Outgoing) PayloadLen() int { return o.n }

// Len returns the segment length: header, options and payload.
func (o *Outgoing) Len() int { return o.Header.Len() + o.n }

// CopyPayload copies the payload into p and returns how many bytes it
// copied.
func (o *Outgoing) CopyPayload(p []byte) int {
	if o.q == nil || o.n == 0 {
		return 0
	}
	return o.q.readAt(o.off, p[:min(len(p), o.n)])
}

// Emit serializes the segment, checksum included, into b and returns its
// length. b must hold Len() bytes.
func (o *Outgoing) Emit(b []byte) (int, error) {
	total, err := o.emitUnsummed(b)
	if err != nil {
		return 0, err
	}
	setChecksum(b[:total], o.Tuple.Local.Addr(), o.Tuple.Remote.Addr())
	return total, nil
}

// EmitPartial is Emit for a link that completes checksums (checksum
// offload, and always for a super-segment): the checksum field holds the
// folded sum of the pseudo-header only, not complemented, and the link
// sums the segment into it (Linux's CHECKSUM_PARTIAL, the virtio-net
// NEEDS_CSUM convention).
func (o *Outgoing) EmitPartial(b []byte) (int, error) {
	total, err := o.emitUnsummed(b)
	if err != nil {
		return 0, err
	}
	s := checksum.PseudoHeaderSum(o.Tuple.Local.Addr(), o.Tuple.Remote.Addr(), ProtocolNumber, total)
	binary.BigEndian.PutUint16(b[16:], ^checksum.Fold(s)) // Fold complements; a partial sum is not
	return total, nil
}

// emitHeader sends a payload-less segment with header h on tuple t.
func (c *Conn) emitHeader(t Tuple, h *Header) {
	c.out = Outgoing{Tuple: t, Header: *h}
	c.stats.SegmentsOut++
	c.emit(&c.out)
}

// emitSegment sends a segment of ours: flags, sequence number seq and n
// bytes of the send buffer from offset off. Every segment but a reset in
// answer to a stray one carries the ACK and the current window, so any
// pending acknowledgment is now done.
func (c *Conn) emitSegment(now time.Time, seq Seq, flags Flags, off, n int) {
	o := &c.out
	*o = Outgoing{Tuple: c.tuple}
	h := &o.Header
	h.SrcPort, h.DstPort = c.tuple.Local.Port(), c.tuple.Remote.Port()
	h.Seq = seq
	h.Flags = flags
	if flags&FlagSYN != 0 {
		// RFC 7323 §2.2: the window of a SYN is not scaled.
		h.Window = uint16(min(c.rcvSpace(), 0xffff))
		h.Options.HasMSS = true
		h.Options.MSS = uint16(c.advertisedMSS())
		if !c.cfg.NoWindowScale && (c.state == StateSynSent || c.wsOK) {
			h.Options.HasWindowScale = true
			h.Options.WindowScale = c.rcvShift
		}
		// RFC 2018 §2: offered on SYN, answered on SYN-ACK only if
		// the peer offered it.
		h.Options.SACKPermitted = !c.cfg.NoSACK && (c.state == StateSynSent || c.sackOK)
	}
	if (flags&FlagSYN != 0 && !c.cfg.NoTimestamps && (c.state == StateSynSent || c.tsOK)) ||
		(flags&FlagSYN == 0 && c.tsOK) {
		// RFC 7323 §3.2: offered on SYN, answered on SYN-ACK only if
		// offered, then on every segment but resets.
		h.Options.HasTimestamps = true
		h.Options.TSVal = c.tsNow(now)
		if flags&FlagACK != 0 {
			h.Options.TSEcr = c.tsRecent
		}
	}
	if flags&FlagACK != 0 {
		h.Ack = c.rcvNxt
		c.lastAckSent = c.rcvNxt
		if flags&FlagSYN == 0 {
			h.Window = c.advertise()
		} else {
			c.rcvAdv = c.rcvNxt.Add(int(h.Window))
		}
		c.ackNow = false
		c.ackPending = 0
		c.timers[timerDelayedAck] = time.Time{}
		if flags&FlagSYN == 0 && c.sackOK && (c.nOOO > 0 || c.dsackSet) {
			c.putSACK(&h.Options, n)
		}
	}
	if n > 0 {
		o.q, o.off, o.n = &c.sndq, off, n
		c.lastSend = now
	}
	o.GSOSize, c.gsoSize = c.gsoSize, 0
	c.stats.SegmentsOut++
	c.emit(o)
}

// sendACK sends a bare ACK with the current numbers. Its sequence number is
// SND.MAX, not SND.NXT: after a retransmission timeout SND.NXT has gone
// back to SND.UNA, and a bare ACK carrying it lies below the peer's
// RCV.NXT. The peer finds it unacceptable and answers with an ACK of its
// own; if the peer is retransmitting too, the two ACK each other forever
// (seen in a lossy two-stack test). BSD's tcp_output makes the same choice.
//
// It is never past the right edge of the peer's window, SND.UNA + SND.WND,
// though (Linux's tcp_acceptable_seq): a peer whose window is closed
// accepts a segment only at its RCV.NXT (§3.10.7.4), and would drop as
// unacceptable the very ACK that tells it our own window opened. With two
// ends each holding data the other refused for a closed window, that
// stalled the connection for good (TestChaosKillConnectionsAndApps, 20
// echo connections over the memory link).
//
// A reset that the connection sends (abort, timeout, data after close)
// takes the same sequence number, for the same reason: RFC 5961 §3.2
// lets a peer act on a RST only at exactly its RCV.NXT, and a peer whose
// window is closed takes nothing else at all (§3.10.7.4). A reset at
// SND.NXT after a zero-window probe lies one past that window; the peer
// drops it and keeps the connection until its own probe draws a reset
// from our closed end, if ever (TestIdleTimeoutResetsPeerNotReading).
func (c *Conn) sendACK(now time.Time) {
	c.emitSegment(now, c.acceptableSeq(), FlagACK, 0, 0)
}

// acceptableSeq is the sequence number for a segment that carries no data
// (Linux's tcp_acceptable_seq): SND.MAX, but never past the right edge of
// the peer's window. In SYN-RECEIVED our SYN still sits at SND.UNA, before
// the window the peer offered: SND.MAX is the one number it can take.
func (c *Conn) acceptableSeq() Seq {
	seq := MaxSeq(c.sndNxt, c.sndMax)
	if edge := c.sndUna.Add(c.sndWnd); seq.GreaterThan(edge) && c.state.synchronized() && c.state != StateSynReceived {
		seq = edge
	}
	return seq
}

// sendRST sends <SEQ=seq><CTL=RST> on the connection's tuple.
func (c *Conn) sendRST(now time.Time, seq Seq) {
	h := Header{
		SrcPort: c.tuple.Local.Port(), DstPort: c.tuple.Remote.Port(),
		Seq: seq, Flags: FlagRST,
	}
	c.emitHeader(c.tuple, &h)
}

// sendSYN sends our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) and arms its
// retransmission.
func (c *Conn) sendSYN(now time.Time) {
	if c.state == StateSynReceived {
		c.sendSYNACK(now)
		return
	}
	c.emitSegment(now, c.iss, FlagSYN, 0, 0)
	c.afterSYN(now)
}

// sendSYNACK sends <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
func (c *Conn) sendSYNACK(now time.Time) {
	c.emitSegment(now, c.iss, FlagSYN|FlagACK, 0, 0)
	c.afterSYN(now)
}

func (c *Conn) afterSYN(now time.Time) {
	if c.sndNxt == c.iss {
		c.sndNxt = c.iss + 1
		c.sndMax = c.sndNxt
		if c.retries == 0 {
			c.startRTT(now, c.iss)
		}
	}
	if c.timers[timerRetransmit].IsZero() {
		c.timers[timerRetransmit] = now.Add(c.rto)
	}
}

// cwnd is the congestion window in force: the recovery window during
// NewReno fast recovery (RFC 6582 inflates and deflates it), else the
// algorithm's (SACK recovery keeps cwnd and counts pipe instead, RFC 6675).
func (c *Conn) cwnd() int {
	if c.inRecovery && !c.sackOK {
		return c.recWnd
	}
	if c.cc == nil {
		return 0
	}
	return c.cc.Window()
}

// dataEnd is the sequence number just past the last queued byte, which is
// also the sequence number of our FIN when one is queued.
func (c *Conn) dataEnd() Seq { return c.sndqSeq.Add(c.sndq.ext) }

// output sends whatever the state, the windows, Nagle and SWS avoidance
// allow, then a bare ACK if one is still owed.
func (c *Conn) output(now time.Time) {
	if c.state.canSendData() {
		if c.inRecovery && c.sackOK {
			c.sackRecoveryOutput(now)
		} else {
			for c.sendData(now) {
			}
		}
	}
	if c.ackNow && c.state.synchronized() {
		c.sendACK(now)
	}
	c.armUserTimeout(now)
}

// sendData sends at most one segment of data and/or FIN and reports
// whether it did.
func (c *Conn) sendData(now time.Time) bool {
	finSeq := c.dataEnd()
	if c.finQueued && c.sndNxt.GreaterThan(finSeq) {
		return false // everything, FIN included, is out
	}
	mss := c.dataMSS()
	if c.sackOK && c.sndNxt.LessThan(c.sndMax) {
		// Going back after a timeout: skip what the peer holds.
		mss = min(mss, c.skipSACKed())
		if c.finQueued && c.sndNxt.GreaterThan(finSeq) {
			return false
		}
	}
	off := c.sndNxt.Sub(c.sndqSeq)
	avail := c.sndq.ext - off
	if off < 0 || avail < 0 {
		return false
	}
	flight := c.sndNxt.Sub(c.sndUna)
	if flight == 0 && !c.lastSend.IsZero() && now.Sub(c.lastSend) > c.rto && c.cc != nil {
		c.cc.OnIdle(now) // RFC 5681 §4.1 restart window
	}
	retransmitting := c.sndNxt.LessThan(c.sndMax)
	cwnd := c.cwnd()
	if !c.inRecovery && c.dupAcks > 0 && !retransmitting && !c.sackOK {
		// Limited transmit (RFC 3042): each of the first two duplicate
		// ACKs lets one new segment out, so that small windows still
		// produce the three duplicates fast retransmit needs. With
		// SACK, the SACKed bytes leaving flightForCwnd do this.
		cwnd += min(c.dupAcks, 2) * c.sndMSS
	}
	usable := min(c.sndWnd-flight, cwnd-c.flightForCwnd(flight))
	limit := mss
	if c.cfg.GSOMax > 0 && !retransmitting && !c.inRecovery {
		limit = c.tsoSize(mss)
	}
	n := max(min(avail, limit, usable), 0)
	fin := c.finQueued && n == avail
	if n == 0 && !fin {
		if avail > 0 && flight == 0 {
			c.armPersist(now)
		}
		return false
	}
	if n == 0 && usable <= 0 && flight > 0 {
		return false // a lone FIN waits for the window like data
	}
	if !retransmitting && n < mss && !fin {
		if n < avail {
			// Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a window-
			// limited small segment goes only if it is at least
			// half the largest window the peer offered; otherwise
			// the persist timer is the override timeout.
			if n < c.maxSndWnd/2 {
				if flight == 0 {
					c.armPersist(now)
				}
				return false
			}
		} else if !c.noDelay && flight > 0 {
			// Nagle (RFC 9293 §3.7.4): one small segment in flight.
			return false
		}
	}
	flags := FlagACK
	if fin {
		flags |= FlagFIN
	}
	if n > 0 && n == avail {
		flags |= FlagPSH
	}
	seq := c.sndNxt
	if c.persisting {
		c.persisting = false
		c.timers[timerRetransmit] = time.Time{}
	}
	if n > mss {
		c.gsoSize = mss
	}
	c.emitSegment(now, seq, flags, off, n)
	if retransmitting {
		c.stats.Retransmits++
	} else if !c.rttTiming && n > 0 {
		c.startRTT(now, seq.Add(n-1))
	}
	defer c.armProbe(now) // RFC 8985 §7.2: after new data, once SND.NXT moved
	c.sndNxt = seq.Add(n)
	if fin {
		c.sndNxt = c.sndNxt.Add(1)
	}
	if c.inRecovery {
		c.pipe += n // RFC 6675 (C.4), data only as in setPipe
	}
	c.sndMax = MaxSeq(c.sndMax, c.sndNxt)
	if c.timers[timerRetransmit].IsZero() {
		c.timers[timerRetransmit] = now.Add(c.rto)
	}
	return true
}

// retransmitFirst resends the first unacknowledged segment without moving
// SND.NXT (fast retransmit, RFC 5681 §3.2, and NewReno partial ACKs, RFC
// 6582 §3.2).
func (c *Conn) retransmitFirst(now time.Time) {
	off := c.sndUna.Sub(c.sndqSeq)
	avail := c.sndq.ext - off
	if off < 0 || avail < 0 {
		return
	}
	n := min(avail, c.sndMSS, c.sndMax.Sub(c.sndUna))
	flags := FlagACK
	if c.finQueued && n == avail && c.sndMax.GreaterThan(c.dataEnd()) {
		flags |= FlagFIN
	}
	if n == 0 && flags&FlagFIN == 0 {
		return
	}
	c.rttTiming = false // Karn's rule
	c.stats.Retransmits++
	c.emitSegment(now, c.sndUna, flags, off, n)
}

// ackAdvance moves SND.UNA to ack, releasing acknowledged data, and
// returns how many data bytes that freed.
func (c *Conn) ackAdvance(now time.Time, seg *Segment) int {
	ack := seg.Ack()
	acked := 0
	if d := MinSeq(ack, c.dataEnd()).Sub(c.sndqSeq); d > 0 {
		c.sndq.discard(d)
		c.sndqSeq = c.sndqSeq.Add(d)
		acked = d
		c.events |= EventWritable
	}
	if o := seg.Options(); c.tsOK && o.HasTimestamps && o.TSEcr != 0 {
		// RTTM (RFC 7323 §4): the echoed timestamp dates the segment
		// this ACK answers, retransmitted or not. One sample per round
		// trip, as without timestamps, keeps RFC 6298's gains
		// appropriate. An echo older than the last timeout is refused:
		// it answers a segment sent before the timer fired, whose ACK
		// may have been lost, and would count the whole backoff as
		// round-trip time (the timestamp form of Karn's rule).
		if (ack.GreaterThan(c.rttSeq) || !c.rttTiming) && int32(o.TSEcr-c.tsRtxMark) >= 0 {
			d := int32(c.tsNow(now) - o.TSEcr)
			if d >= 0 && time.Duration(d)*time.Millisecond <= 2*c.cfg.MaxRTO {
				c.rttSample(time.Duration(d) * time.Millisecond)
				c.rttSeq = c.sndMax
				c.rttTiming = true
			}
		}
	} else if c.rttTiming && ack.GreaterThan(c.rttSeq) {
		c.rttSample(now.Sub(c.rttStart))
	}
	c.sndUna = ack
	if c.sndNxt.LessThan(ack) {
		c.sndNxt = ack
	}
	// Forward progress: the backoff and the retry count start over.
	c.retries = 0
	c.firstRetransmit = time.Time{}
	c.rto = c.computeRTO()
	c.timers[timerUser] = time.Time{}
	return acked
}

// inputACK is the ACK processing of §3.10.7.4 for ESTABLISHED and later
// states, with the acceptability rule of RFC 5961 §5.2 and NewReno loss
// recovery. It reports false when the segment must be dropped.
func (c *Conn) inputACK(now time.Time, seg *Segment) bool {
	ack := seg.Ack()
	if ack.GreaterThan(c.sndMax) {
		// Acknowledges data never sent (RFC 5961 §5.2).
		c.challengeACK(now)
		return false
	}
	if ack.LessThan(c.sndUna.Add(-c.maxSndWnd)) {
		// Too old to be a duplicate of anything in flight.
		c.challengeACK(now)
		return false
	}
	wnd := int(seg.Window()) << c.sndShift
	seq := seg.Seq()
	flight := c.sndMax.Sub(c.sndUna)
	newlySACKed := 0
	if c.sackOK {
		// RFC 6675 §5: every ACK with SACK information updates the
		// scoreboard first.
		newlySACKed = c.updateScoreboard(ack, seg.Options())
		c.probeAnswered(now, ack, seg.Options(), flight)
	}

	if ack.GreaterThan(c.sndUna) {
		acked := ack.Sub(c.sndUna)
		dataAcked := c.ackAdvance(now, seg)
		c.persistShift = 0
		if c.inRecovery {
			if ack.GreaterThan(c.recover) {
				// Full acknowledgment: leave fast recovery (RFC 6582
				// §3.2 step 3, RFC 6675 §5 (A), which keeps the
				// scoreboard above the new SND.UNA).
				c.inRecovery = false
				c.dupAcks = 0
				c.nRxt = 0
				c.timers[timerProbe] = time.Time{}
				c.cc.OnRecoveryEnd(now, c.sndMax.Sub(c.sndUna))
			} else if c.sackOK {
				// Partial acknowledgment with SACK: NextSeg decides
				// what to resend (RFC 6675 §5 (B), (C)).
			} else {
				// Partial acknowledgment (step 4): retransmit the next
				// hole, deflate by what was acked, add back one SMSS
				// if at least that much was, and restart the timer.
				c.retransmitFirst(now)
				c.recWnd = max(c.recWnd-acked, c.sndMSS)
				if acked >= c.sndMSS {
					c.recWnd += c.sndMSS
				}
				c.timers[timerRetransmit] = now.Add(c.rto)
			}
		} else {
			c.dupAcks = 0
			c.cc.OnAck(now, dataAcked, flight, c.srtt)
		}
		if c.sndUna == c.sndMax {
			c.timers[timerRetransmit] = time.Time{}
			c.persisting = false
		} else if !c.persisting {
			c.timers[timerRetransmit] = now.Add(c.rto) // RFC 6298 (5.3)
		}
	} else if ack == c.sndUna && flight > 0 && seg.Flags()&(FlagSYN|FlagFIN) == 0 &&
		(newlySACKed > 0 || len(seg.Payload()) == 0 && wnd == c.sndWnd && wnd > 0) {
		// A duplicate ACK as RFC 5681 §2 defines it, or one that SACKs
		// data not SACKed before (RFC 6675 §2). Answers to zero-window
		// probes look like the former but say nothing of loss.
		c.dupAcks++
		switch {
		case c.sackOK:
			// Counted; recovery starts below.
		case c.inRecovery:
			c.recWnd += c.sndMSS // step 3 of RFC 6582 §3.2
		case c.dupAcks == 3 && ack.GreaterThan(c.recover):
			// Fast retransmit and enter fast recovery (RFC 6582
			// §3.2 step 2; the recover check stops a second
			// reduction for losses from the same window).
			c.stats.FastRetransmits++
			c.recover = c.sndMax.Add(-1)
			c.cc.OnLoss(now, flight)
			c.inRecovery = true
			c.recWnd = c.cc.Window() + 3*c.sndMSS
			c.retransmitFirst(now)
		}
	}

	if c.sackOK {
		// RFC 6675 §5 steps (1), (2) and (4): DupThresh duplicates, or
		// IsLost(HighACK+1), start recovery unless the losses belong to
		// the window an earlier recovery or timeout already reduced.
		if !c.inRecovery && c.sndUna != c.sndMax && c.sndUna.GreaterThan(c.recover) &&
			c.sndNxt == c.sndMax && (c.dupAcks >= dupThresh || c.sb.lostHoles(c.sndMSS) > 0) {
			c.enterSACKRecovery(now)
		} else if c.inRecovery {
			c.highRxt = MaxSeq(c.highRxt, c.sndUna)
			c.checkRetransmits(now)
			c.setPipe() // (B.2)
		} else {
			c.armProbe(now)
		}
	}

	// Window update (§3.10.7.4): only from a segment newer than the one
	// that last set the window, so old reordered segments cannot shrink
	// it.
	if c.sndWl1.LessThan(seq) || (c.sndWl1 == seq && c.sndWl2.LessEq(ack)) {
		c.sndWnd = wnd
		c.maxSndWnd = max(c.maxSndWnd, wnd)
		c.sndWl1, c.sndWl2 = seq, ack
		if wnd > 0 && c.persisting {
			// The window opened: leave persist. A probe byte this ACK
			// does not cover was dropped by the closed window (RFC
			// 9293 §3.8.6.1); it is sent again at once with what
			// follows it. Left as outstanding data, it would make
			// Nagle hold the rest back until the retransmission
			// timer fired.
			c.persisting = false
			c.persistShift = 0
			c.timers[timerRetransmit] = time.Time{}
			if c.sndMax != c.sndUna {
				c.sndNxt = c.sndUna
				c.rttTiming = false // Karn's rule
				c.timers[timerRetransmit] = now.Add(c.rto)
			}
		}
	}
	return true
}

// tsoSize is how much new data one super-segment may carry on a link with
// TSO, in whole MSS: Linux's tcp_tso_autosize. It aims at about a
// millisecond of data at the rate Linux would pace this connection
// (cwnd/SRTT, with its 20% headroom), so that on a long path the sender
// still sends small bursts, at least two MSS (tcp_min_tso_segs) and at
// most Config.GSOMax. On a LAN, where a millisecond is many RTTs, that is
// GSOMax.
func (c *Conn) tsoSize(mss int) int {
	segs := c.cfg.GSOMax / mss
	if c.srtt > 0 {
		perMs := int(int64(c.cwnd()) * 12 * int64(time.Millisecond) / (10 * int64(c.srtt)))
		segs = min(segs, max(perMs/mss, 2))
	}
	return max(segs, 1) * mss
}

// emitUnsummed writes the header and the payload into b, leaving the
// checksum to Emit or EmitPartial, and returns the segment's length.
func (o *Outgoing) emitUnsummed(b []byte) (int, error) {
	hl := o.Header.Len()
	total := hl + o.n
	if hl > MaxHeaderLen {
		return 0, ErrOptionsTooLong
	}
	if len(b) < total {
		return 0, ErrBufferTooSmall
	}
	o.Header.putHeader(b, hl)
	if o.n > 0 {
		o.q.readAt(o.off, b[hl:total])
	}
	return total, nil
}
