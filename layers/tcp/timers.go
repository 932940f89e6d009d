package tcp

import "time"

// clockGranularity is G of RFC 6298 §2: the clock is the caller's
// time.Time, so we take a millisecond as the smallest meaningful variance.
const clockGranularity = time.Millisecond

// tsNow is our timestamp clock: milliseconds since the connection began,
// offset per connection (RFC 7323 §5.4).
func (c *Conn) tsNow(now time.Time) uint32 {
	return uint32(now.Sub(c.tsBase)/time.Millisecond) + c.tsOffset
}

// startRTT times the segment ending at seq (one measurement at a time, as
// RFC 6298 §3 allows without timestamps).
func (c *Conn) startRTT(now time.Time, seq Seq) {
	c.rttTiming = true
	c.rttSeq = seq
	c.rttStart = now
}

// rttSample folds one measurement into SRTT and RTTVAR (RFC 6298 §2).
func (c *Conn) rttSample(r time.Duration) {
	c.rttTiming = false
	if r <= 0 {
		r = clockGranularity
	}
	if c.srtt == 0 {
		c.srtt = r
		c.rttvar = r / 2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.rto = c.computeRTO()
}

// computeRTO is RTO = SRTT + max(G, 4*RTTVAR), clamped to [MinRTO,
// MaxRTO]; before any sample it is InitialRTO (RFC 6298 §2).
func (c *Conn) computeRTO() time.Duration {
	if c.srtt == 0 {
		if c.synRetx {
			// RFC 6298 (5.7): after a SYN timed out, data transmission
			// starts with an RTO of at least 3 s.
			return max(c.cfg.InitialRTO, 3*time.Second)
		}
		return c.cfg.InitialRTO
	}
	rto := c.srtt + max(clockGranularity, 4*c.rttvar)
	return min(max(rto, c.cfg.MinRTO), c.cfg.MaxRTO)
}

// armPersist starts the persist timer when the peer's window keeps data
// from going out and nothing is in flight to bring an ACK (RFC 9293
// §3.8.6.1). The interval starts at the RTO and doubles per probe.
func (c *Conn) armPersist(now time.Time) {
	if !c.timers[timerRetransmit].IsZero() {
		return
	}
	c.persisting = true
	c.timers[timerRetransmit] = now.Add(c.persistInterval())
}

func (c *Conn) persistInterval() time.Duration {
	d := c.rto << min(c.persistShift, 20)
	return min(max(d, c.cfg.MinRTO), c.cfg.MaxRTO)
}

// armKeepAlive restarts the keep-alive idle timer after traffic from the
// peer, in the states where the connection can sit idle.
func (c *Conn) armKeepAlive(now time.Time) {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait2:
		if c.cfg.KeepAlive {
			c.timers[timerKeepAlive] = now.Add(c.cfg.KeepAliveIdle)
			return
		}
	}
	c.timers[timerKeepAlive] = time.Time{}
}

// armUserTimeout keeps the user timeout running while data is outstanding
// or held back by a closed window, measured from the last forward
// progress (ackAdvance disarms it).
func (c *Conn) armUserTimeout(now time.Time) {
	if c.cfg.UserTimeout <= 0 || !c.state.synchronized() {
		c.timers[timerUser] = time.Time{}
		return
	}
	waiting := c.sndMax != c.sndUna || c.persisting
	switch {
	case !waiting:
		c.timers[timerUser] = time.Time{}
	case c.timers[timerUser].IsZero():
		c.timers[timerUser] = now.Add(c.cfg.UserTimeout)
	}
}

// NextDeadline returns when HandleTimer must next be called, or the zero
// time if no timer is running.
func (c *Conn) NextDeadline() time.Time {
	var d time.Time
	for _, t := range c.timers {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// due reports whether timer i has expired, disarming it if so.
func (c *Conn) due(i int, now time.Time) bool {
	t := c.timers[i]
	if t.IsZero() || now.Before(t) {
		return false
	}
	c.timers[i] = time.Time{}
	return true
}

// HandleTimer runs every timer whose deadline is at or before now. Calling
// it early, late or twice is harmless.
func (c *Conn) HandleTimer(now time.Time) {
	if c.due(timerLinger, now) {
		// End of TIME-WAIT (RFC 9293 §3.10.8) or of an orphaned
		// FIN-WAIT-2.
		if c.state == StateTimeWait || c.state == StateFinWait2 {
			c.enterClosed(nil)
			return
		}
	}
	if c.due(timerUser, now) && c.state.synchronized() && c.state != StateTimeWait {
		c.timeout(now)
		return
	}
	if c.due(timerRetransmit, now) {
		if c.persisting {
			c.persistExpired(now)
		} else {
			c.retransmitExpired(now)
		}
		if c.state == StateClosed {
			return
		}
	}
	if c.due(timerProbe, now) {
		if c.inRecovery {
			c.lostTimerExpired(now) // output below sends what it freed
		} else {
			c.probeExpired(now)
		}
	}
	if c.due(timerKeepAlive, now) {
		c.keepAliveExpired(now)
		if c.state == StateClosed {
			return
		}
	}
	if c.due(timerDelayedAck, now) && c.ackPending > 0 {
		c.ackNow = true
	}
	c.output(now)
}

// timeout aborts the connection after R2 or the user timeout.
func (c *Conn) timeout(now time.Time) {
	c.stats.Timeouts++
	if c.state != StateSynSent {
		c.sendRST(now, c.acceptableSeq())
	}
	if (c.state == StateSynSent || c.state == StateSynReceived) && c.softErr != nil {
		// Say why the handshake never completed, if an ICMP error told
		// us (RFC 1122 §4.2.3.9).
		c.enterClosed(c.softErr)
		return
	}
	c.enterClosed(ErrTimedOut)
}

// retransmitExpired is the RTO expiry of RFC 6298 §5 (5.4-5.6) with the
// R1/R2 thresholds of RFC 9293 §3.8.3.
func (c *Conn) retransmitExpired(now time.Time) {
	if c.sndUna == c.sndMax {
		return // nothing outstanding
	}
	r2 := c.cfg.R2
	if c.state == StateSynSent || c.state == StateSynReceived {
		r2 = c.cfg.R2Syn
	}
	if (c.state == StateSynSent || c.state == StateSynReceived) && c.cfg.SynRetries > 0 && c.retries >= c.cfg.SynRetries {
		c.stats.Timeouts++
		if c.state == StateSynReceived && c.passive {
			// A request that was never completed is dropped without
			// a reset (Linux's inet_csk_reqsk_queue_drop): under a
			// spoofed flood a reset would only be backscatter.
			c.enterClosed(ErrTimedOut)
			return
		}
		c.timeout(now)
		return
	}
	if c.sndWnd == 0 && c.state.synchronized() && c.state.canSendData() {
		// The peer shrank its window to zero with data in flight (RFC
		// 9293 §3.8.6: "the TCP implementation MUST probe it in the
		// standard way"). Going back to SND.UNA would send nothing
		// into the closed window, and R2 would then end a connection
		// whose peer is answering; probe from SND.UNA on the persist
		// timer instead, as for any closed window.
		c.rttTiming = false // Karn's rule
		c.persistExpired(now)
		return
	}
	if c.firstRetransmit.IsZero() {
		c.firstRetransmit = now
	} else if now.Sub(c.firstRetransmit) >= r2 {
		c.timeout(now)
		return
	}
	c.retries++
	c.stats.RTOExpirations++
	if c.retries == c.cfg.R1 {
		c.events |= EventStalled
	}
	c.rto = min(2*c.rto, c.cfg.MaxRTO) // (5.5) back off
	c.tsRtxMark = c.tsNow(now)
	c.rttTiming = false // Karn's rule
	c.stats.Retransmits++
	switch c.state {
	case StateSynSent, StateSynReceived:
		c.synRetx = true
		c.sendSYN(now)
	default:
		// Go back to SND.UNA (5.4) with the loss window (RFC 5681
		// §3.1); later ACKs of retransmitted data must not trigger a
		// second reduction (RFC 6582 §4).
		c.cc.OnTimeout(now, c.sndMax.Sub(c.sndUna))
		c.inRecovery = false
		c.dupAcks = 0
		c.recover = c.sndMax.Add(-1)
		// RFC 2018 §8 and RFC 6675 §5.1: the peer may have reneged, so
		// what it SACKed is forgotten; SACKs arriving from now on guide
		// what the go-back retransmission skips.
		c.sb.clear()
		c.rescueSet = false
		c.nRxt = 0
		c.timers[timerProbe] = time.Time{}
		c.tlpActive = false // the probe episode ends with the timeout
		c.sndNxt = c.sndUna
		c.stats.Retransmits-- // counted by sendData
		c.output(now)
	}
	if c.timers[timerRetransmit].IsZero() && c.sndUna != c.sndMax {
		c.timers[timerRetransmit] = now.Add(c.rto) // (5.6)
	}
}

// persistExpired sends a zero-window probe: one byte of new data beyond
// the window (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17), the same byte again
// if the previous probe is still unacknowledged, or a FIN if only the FIN
// is left. If the window opened a little but SWS avoidance held data back,
// this is the override timeout and sends what fits.
func (c *Conn) persistExpired(now time.Time) {
	c.persisting = false
	if !c.state.canSendData() {
		return
	}
	if !c.lastAckRecv.IsZero() && now.Sub(c.lastAckRecv) >= c.cfg.R2 {
		// The peer stopped answering probes at all.
		c.timeout(now)
		return
	}
	c.sndNxt = c.sndUna
	off := c.sndNxt.Sub(c.sndqSeq)
	avail := c.sndq.ext - off
	if off < 0 || avail < 0 {
		return
	}
	if usable := c.sndWnd; usable > 1 && avail > 0 {
		// SWS override: send what the window allows.
		n := min(avail, usable, c.sndMSS)
		flags := FlagACK
		if n == avail {
			flags |= FlagPSH
		}
		c.emitSegment(now, c.sndNxt, flags, off, n)
		c.sndNxt = c.sndNxt.Add(n)
		c.sndMax = MaxSeq(c.sndMax, c.sndNxt)
		c.timers[timerRetransmit] = now.Add(c.rto)
		return
	}
	flags := FlagACK
	n := min(avail, 1)
	if n == 0 {
		if !c.finQueued {
			return
		}
		flags |= FlagFIN
	}
	c.emitSegment(now, c.sndNxt, flags, off, n)
	c.sndNxt = c.sndNxt.Add(1)
	c.sndMax = MaxSeq(c.sndMax, c.sndNxt)
	if c.persistShift < 30 {
		c.persistShift++
	}
	c.persisting = true
	c.timers[timerRetransmit] = now.Add(c.persistInterval())
}

// keepAliveExpired sends a keep-alive probe, <SEQ=SND.NXT-1> with no data,
// which the peer must answer with an ACK (RFC 1122 §4.2.3.6), or gives up
// after KeepAliveCount unanswered probes.
func (c *Conn) keepAliveExpired(now time.Time) {
	if !c.cfg.KeepAlive {
		return
	}
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait2:
	default:
		return
	}
	if !c.timers[timerRetransmit].IsZero() {
		// Retransmission or probing is already testing the path.
		c.timers[timerKeepAlive] = now.Add(c.cfg.KeepAliveIdle)
		return
	}
	if int(c.keepProbes) >= c.cfg.KeepAliveCount {
		c.timeout(now)
		return
	}
	c.keepProbes++
	c.emitSegment(now, c.sndNxt.Add(-1), FlagACK, 0, 0)
	c.timers[timerKeepAlive] = now.Add(c.cfg.KeepAliveInterval)
}
