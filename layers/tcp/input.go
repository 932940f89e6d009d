package tcp

import "time"

// HandleSegment processes one inbound segment, already checksum-verified,
// that arrived on tuple t (Local is where it arrived, Remote where it came
// from). This is RFC 9293 §3.10.7 "SEGMENT ARRIVES" with the RFC 5961
// mitigations. Replies and any data that can now go out are emitted before
// it returns.
func (c *Conn) HandleSegment(now time.Time, t Tuple, seg *Segment) {
	c.stats.SegmentsIn++
	switch c.state {
	case StateClosed:
		// §3.10.7.1: a segment for a connection that does not exist.
		if rst, ok := RejectSegment(seg); ok {
			c.emitHeader(t, &rst)
		}
		return
	case StateListen:
		c.inputListen(now, t, seg)
		return
	}
	if t != c.tuple {
		c.stats.DroppedForeign++
		return
	}
	if c.state == StateSynSent {
		c.inputSynSent(now, seg)
	} else {
		c.inputSynchronized(now, seg)
	}
	c.output(now)
}

// inputListen is §3.10.7.2.
func (c *Conn) inputListen(now time.Time, t Tuple, seg *Segment) {
	l := c.listenAddr
	if t.Local.Port() != l.Port() || (!l.Addr().IsUnspecified() && t.Local.Addr() != l.Addr()) {
		c.stats.DroppedForeign++
		return
	}
	switch ClassifyListen(seg) {
	case ListenReset:
		if rst, ok := RejectSegment(seg); ok {
			c.emitHeader(t, &rst)
		}
	case ListenAccept:
		if !t.valid() {
			c.stats.DroppedForeign++
			return
		}
		c.tuple = t
		c.acceptSYN(now, seg, ISN(c.cfg.ISNSecret, t, now))
	}
}

// acceptSYN turns a connection request into SYN-RECEIVED and answers it.
func (c *Conn) acceptSYN(now time.Time, syn *Segment, iss Seq) {
	c.initSend(now, iss)
	c.passive = true
	c.irs = syn.Seq()
	c.rcvNxt = c.irs + 1
	c.takeSYNOptions(now, syn)
	// RFC 7323 §2.2: the window field of a SYN is never scaled.
	c.sndWnd = int(syn.Window())
	c.maxSndWnd = c.sndWnd
	c.sndWl1 = syn.Seq()
	c.state = StateSynReceived
	c.sendSYN(now)
}

// takeSYNOptions records what the peer's SYN (or SYN-ACK) negotiates.
func (c *Conn) takeSYNOptions(now time.Time, seg *Segment) {
	o := seg.Options()
	if o.HasMSS {
		c.peerMSS = int(o.MSS)
	}
	c.tsOK = o.HasTimestamps && !c.cfg.NoTimestamps
	// RFC 2018 §2: SACK is used only if both SYNs carried SACK-permitted.
	c.sackOK = o.SACKPermitted && !c.cfg.NoSACK
	if c.tsOK {
		c.tsRecent, c.tsRecentAt = o.TSVal, now
	}
	c.updateMSS()
	if o.HasWindowScale && !c.cfg.NoWindowScale {
		c.wsOK = true
		// RFC 7323 §2.3: a shift above 14 is treated as 14.
		c.sndShift = min(o.WindowScale, MaxWindowScale)
	} else {
		c.wsOK = false
		c.sndShift, c.rcvShift = 0, 0
	}
}

// inputSynSent is §3.10.7.3.
func (c *Conn) inputSynSent(now time.Time, seg *Segment) {
	f := seg.Flags()
	if f&FlagACK != 0 {
		ack := seg.Ack()
		if ack.LessEq(c.iss) || ack.GreaterThan(c.sndMax) {
			if f&FlagRST == 0 {
				c.sendRST(now, ack)
			}
			c.stats.DroppedUnacceptable++
			return
		}
	}
	if f&FlagRST != 0 {
		// RFC 5961 §3.2: in SYN-SENT a reset is believed only when it
		// acknowledges our SYN, which the check above ensured.
		if f&FlagACK != 0 {
			c.enterClosed(ErrRefused)
		} else {
			c.stats.DroppedOutOfWindowRST++
		}
		return
	}
	if f&FlagSYN == 0 {
		return
	}
	c.irs = seg.Seq()
	c.rcvNxt = c.irs + 1
	c.takeSYNOptions(now, seg)
	if f&FlagACK == 0 {
		// Simultaneous open (§3.10.7.3, figure 8): answer with SYN-ACK
		// and wait in SYN-RECEIVED. Data in the SYN is not kept.
		c.state = StateSynReceived
		c.sndWnd = int(seg.Window())
		c.maxSndWnd = c.sndWnd
		c.sndWl1 = seg.Seq()
		c.sendSYNACK(now)
		return
	}
	c.ackAdvance(now, seg)
	c.sndWnd = int(seg.Window()) // unscaled in a SYN (RFC 7323 §2.2)
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = seg.Seq(), seg.Ack()
	c.rcvAdv = c.rcvNxt.Add(min(c.cfg.RecvBufferSize, 0xffff))
	c.establish(now)
	c.ackNow = true
	// Any data or FIN with the SYN-ACK is processed as in ESTABLISHED
	// (the sixth step of §3.10.7.3).
	c.receiveText(now, seg, seg.Seq()+1)
}

// establish enters ESTABLISHED (or FIN-WAIT-1 if CloseWrite came first).
func (c *Conn) establish(now time.Time) {
	c.state = StateEstablished
	c.events |= EventEstablished
	if c.cc == nil {
		// Created now that the MSS is settled, so that the initial
		// window is in the right segment size (RFC 5681 §3.1).
		c.cc = c.cfg.Congestion(c.sndMSS)
		if c.cc == nil {
			c.cc = NewNewReno(c.sndMSS)
		}
	}
	if c.finQueued {
		c.state = StateFinWait1
	}
	c.retries = 0
	c.lastAckRecv = now
	c.armKeepAlive(now)
}

// acceptable is the segment acceptability test of RFC 9293 §3.10.7.4.
func (c *Conn) acceptable(seq Seq, segLen int) bool {
	wnd := c.rcvWnd()
	switch {
	case segLen == 0 && wnd == 0:
		return seq == c.rcvNxt
	case segLen == 0:
		return seq.InWindow(c.rcvNxt, wnd)
	case wnd == 0:
		return false
	}
	return seq.InWindow(c.rcvNxt, wnd) || seq.Add(segLen-1).InWindow(c.rcvNxt, wnd)
}

// pawsIdle is how long TS.Recent stays valid without being refreshed
// (RFC 7323 §5.5).
const pawsIdle = 24 * 24 * time.Hour

// inputSynchronized is §3.10.7.4 for SYN-RECEIVED and every later state.
func (c *Conn) inputSynchronized(now time.Time, seg *Segment) {
	f := seg.Flags()
	seq := seg.Seq()
	segLen := seg.Len()

	if f&(FlagSYN|FlagACK|FlagRST) == FlagSYN {
		if c.state == StateTimeWait && seq.GreaterThan(c.rcvNxt) {
			// RFC 1122 §4.2.2.13: a new incarnation may reuse the
			// pair if its sequence numbers are above the old ones.
			c.reuse = true
			c.enterClosed(nil)
			return
		}
		if c.state == StateSynReceived && seq == c.irs {
			// The peer did not get our SYN-ACK and sent its SYN
			// again: answer it again.
			c.sendSYNACK(now)
			return
		}
	}

	if c.state == StateSynReceived && !c.passive && f&(FlagSYN|FlagACK|FlagRST) == FlagSYN|FlagACK && seq == c.irs {
		// Simultaneous open (§3.5, figure 8, line 6): the peer's
		// SYN-ACK repeats the SYN we hold and acknowledges ours. Its
		// sequence number is one below RCV.NXT, so the tests below
		// would take it for an old SYN and challenge it (RFC 5961
		// §4.2), leaving both ends in SYN-RECEIVED until a SYN-ACK is
		// retransmitted; like Linux, take its ACK and establish.
		ack := seg.Ack()
		if !ack.GreaterThan(c.sndUna) || ack.GreaterThan(c.sndMax) {
			c.sendRST(now, ack)
			return
		}
		c.ackAdvance(now, seg)
		c.sndWnd = int(seg.Window()) // unscaled in a SYN (RFC 7323 §2.2)
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWl1, c.sndWl2 = seq, ack
		c.establish(now)
		return
	}

	// PAWS (RFC 7323 §5.3 R1): a segment whose timestamp is older than
	// the last one in sequence is an old duplicate, unless TS.Recent has
	// been idle so long (24 days) that the peer's clock may have wrapped.
	// A pure duplicate ACK that was merely reordered is let through, as
	// Linux does, so that reordering does not starve fast retransmit:
	// it carries no data to protect and changes nothing but the count.
	o := seg.Options()
	if c.tsOK && o.HasTimestamps && f&FlagRST == 0 && int32(o.TSVal-c.tsRecent) < 0 &&
		!(segLen == 0 && seq == c.rcvNxt && f&FlagACK != 0 && seg.Ack() == c.sndUna) {
		if now.Sub(c.tsRecentAt) <= pawsIdle {
			c.stats.DroppedPAWS++
			c.ackNow = true
			return
		}
		c.tsRecent, c.tsRecentAt = o.TSVal, now
	}

	// First: the sequence number.
	ok := c.acceptable(seq, segLen)
	zeroWindowProbe := false
	if !ok && c.rcvWnd() == 0 && seq == c.rcvNxt && f&FlagSYN == 0 {
		// §3.10.7.4: with a zero window, still take the ACK (and RST)
		// of a segment at RCV.NXT; its data is dropped and ACKed.
		ok, zeroWindowProbe = true, true
	}
	if !ok {
		c.stats.DroppedUnacceptable++
		switch {
		case f&FlagRST != 0:
			c.stats.DroppedOutOfWindowRST++
		case f&FlagSYN != 0:
			c.challengeACK(now) // RFC 5961 §4.2
		case len(seg.Payload()) == 0 && f&FlagFIN == 0 && !c.oowACKAllowed(now):
			// A bare segment outside the window is answered with an ACK,
			// but at most once per oowACKInterval: two stacks that each
			// find the other's ACKs unacceptable must not ACK each other
			// in a loop (Linux's tcp_invalid_ratelimit does the same).
			c.stats.OutOfWindowACKsLimited++
		default:
			c.ackNow = true
			if n := len(seg.Payload()); n > 0 && seq.Add(n).LessEq(c.rcvNxt) {
				// Wholly old data: a duplicate (RFC 2883 §4.1).
				c.noteDSACK(seq, seq.Add(n))
			}
			if c.state == StateTimeWait && f&FlagFIN != 0 {
				// The peer did not get our last ACK: restart
				// TIME-WAIT as for an acceptable FIN.
				c.timers[timerLinger] = now.Add(2 * c.cfg.MSL)
			}
		}
		return
	}

	// RFC 7323 §4.3 (R3): remember the timestamp to echo from the
	// segment that covers the left edge of the window.
	if c.tsOK && o.HasTimestamps && int32(o.TSVal-c.tsRecent) >= 0 && seq.LessEq(c.lastAckSent) {
		c.tsRecent, c.tsRecentAt = o.TSVal, now
	}

	// Second: RST (RFC 5961 §3.2: exact match resets, else challenge).
	if f&FlagRST != 0 {
		if seq != c.rcvNxt {
			c.challengeACK(now)
			return
		}
		c.inputRST()
		return
	}

	// Fourth: SYN in a synchronized state (RFC 5961 §4.2; RFC 9293
	// adopts it): challenge ACK, whatever its sequence number.
	if f&FlagSYN != 0 {
		c.challengeACK(now)
		return
	}

	// Fifth: ACK.
	if f&FlagACK == 0 {
		return
	}
	c.lastAckRecv = now
	c.keepProbes = 0
	c.armKeepAlive(now)
	if c.state == StateSynReceived {
		ack := seg.Ack()
		if !ack.GreaterThan(c.sndUna) || ack.GreaterThan(c.sndMax) {
			c.sendRST(now, ack)
			return
		}
		c.sndWnd = int(seg.Window()) << c.sndShift
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWl1, c.sndWl2 = seq, ack
		c.establish(now)
	}
	if !c.inputACK(now, seg) {
		return
	}
	switch c.state {
	case StateFinWait1:
		if c.finAcked() {
			c.state = StateFinWait2
			if c.readClosed {
				c.timers[timerLinger] = now.Add(c.cfg.FinWait2Timeout)
			}
		}
	case StateClosing:
		if c.finAcked() {
			c.enterTimeWait(now)
		}
	case StateLastAck:
		if c.finAcked() {
			c.enterClosed(nil)
			return
		}
	}

	// Sixth is URG, which is ignored (RFC 6093). Seventh and eighth: the
	// text and the FIN.
	if zeroWindowProbe {
		c.ackNow = true
		return
	}
	c.receiveText(now, seg, seq)
}

// inputRST handles an acceptable reset.
func (c *Conn) inputRST() {
	switch c.state {
	case StateSynReceived:
		if c.fromListen {
			// §3.10.7.4: a passive open goes back to LISTEN.
			local, stats := c.listenAddr, c.stats
			*c = *Listen(&c.cfg, local, c.emit)
			c.stats = stats
			return
		}
		if c.passive {
			c.enterClosed(ErrReset)
		} else {
			c.enterClosed(ErrRefused)
		}
	case StateTimeWait:
		// RFC 1337: a reset must not cut TIME-WAIT short, or an old
		// duplicate could be taken into a new incarnation.
	case StateClosing, StateLastAck:
		c.enterClosed(nil)
	default:
		c.enterClosed(ErrReset)
	}
}

// finAcked reports whether our FIN has been acknowledged.
func (c *Conn) finAcked() bool {
	return c.finQueued && c.sndUna == c.sndqSeq.Add(c.sndq.ext+1)
}

// challengeACK sends an ACK with the current numbers in answer to a
// suspicious segment (RFC 5961 §3.2, §4.2, §5.2), at most
// ChallengeACKLimit per second (§7). The limit is per connection so that
// it cannot become the global side channel of CVE-2016-5696.
// oowACKInterval is the least time between ACKs sent in answer to bare
// out-of-window segments (Linux's tcp_invalid_ratelimit default).
const oowACKInterval = 500 * time.Millisecond

// oowACKAllowed reports whether an ACK may answer a bare out-of-window
// segment now, and if so records that one was.
func (c *Conn) oowACKAllowed(now time.Time) bool {
	if !c.lastOOWACK.IsZero() && now.Sub(c.lastOOWACK) < oowACKInterval && !now.Before(c.lastOOWACK) {
		return false
	}
	c.lastOOWACK = now
	return true
}

func (c *Conn) challengeACK(now time.Time) {
	if now.Sub(c.chalStart) >= time.Second || now.Before(c.chalStart) {
		c.chalStart = now
		c.chalCount = 0
	}
	if c.chalCount >= c.cfg.ChallengeACKLimit {
		c.stats.ChallengeACKsLimited++
		return
	}
	c.chalCount++
	c.stats.ChallengeACKs++
	c.sendACK(now)
}
