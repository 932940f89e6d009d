package tcp

import "time"

// rcvWnd is RCV.WND: what the peer may still send beyond RCV.NXT under the
// window we last advertised.
func (c *Conn) rcvWnd() int { return max(c.rcvAdv.Sub(c.rcvNxt), 0) }

// rcvSpace is the room left in the receive buffer beyond unread data.
func (c *Conn) rcvSpace() int { return c.cfg.RecvBufferSize - c.rcvAvail }

// swsThreshold is how far the right edge must be able to move before the
// receiver advertises it (RFC 9293 §3.8.6.2.2: min(Fr*RCV.BUFF,
// Eff.snd.MSS) with Fr = 1/2).
func (c *Conn) swsThreshold() int { return min(c.cfg.RecvBufferSize/2, c.sndMSS) }

// windowUpdateDue reports whether reading has opened the window enough
// that the peer should hear of it now rather than with the next ACK: the
// right edge can move by the SWS threshold and the window would at least
// double (the Linux rule; an application that keeps up with the data then
// causes no extra ACKs, while one that lets the window close reopens it at
// once).
func (c *Conn) windowUpdateDue() bool {
	right := c.rcvNxt.Add(c.rcvSpace())
	return right.Sub(c.rcvAdv) >= c.swsThreshold() && c.rcvSpace() >= 2*c.rcvWnd()
}

// advertise returns the window field for an outgoing segment and moves
// rcvAdv. Receiver-side SWS avoidance: the right edge only moves when it
// can move by at least swsThreshold, and never moves left (RFC 9293
// §3.8.6.2.2; RFC 7323 §2.4 on rounding with scaling).
func (c *Conn) advertise() uint16 {
	right := c.rcvNxt.Add(c.rcvSpace())
	if c.rcvAdv.LessThan(c.rcvNxt) || right.Sub(c.rcvAdv) >= c.swsThreshold() {
		wnd := right.Sub(c.rcvNxt)
		wnd = min(wnd>>c.rcvShift, 0xffff) << c.rcvShift
		if nr := c.rcvNxt.Add(wnd); nr.GreaterThan(c.rcvAdv) || c.rcvAdv.LessThan(c.rcvNxt) {
			c.rcvAdv = nr
		}
	}
	return uint16(min(c.rcvWnd()>>c.rcvShift, 0xffff))
}

// receiveText is the seventh and eighth steps of §3.10.7.4: it stores the
// segment's data (which starts at sequence number seq) and processes its
// FIN. The segment passed the acceptability test, so it overlaps the
// window or is empty.
func (c *Conn) receiveText(now time.Time, seg *Segment, seq Seq) {
	payload := seg.Payload()
	fin := seg.Flags()&FlagFIN != 0
	if len(payload) == 0 && !fin {
		return
	}
	switch c.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
	default:
		// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already
		// sent its FIN, so nothing new can be valid. Just acknowledge.
		c.ackNow = true
		return
	}
	if c.readClosed && len(payload) > 0 && seq.Add(len(payload)).GreaterThan(c.rcvNxt) {
		// The user closed and will never read this: tell the peer
		// with a reset rather than pretend (RFC 2525 §2.17).
		c.sendRST(now, c.acceptableSeq())
		c.enterClosed(nil)
		return
	}
	finSeq := seq.Add(len(payload))

	// Trim to the window: left of RCV.NXT is a duplicate, right of the
	// advertised edge (or of the buffer) is dropped.
	if seq.LessThan(c.rcvNxt) {
		if len(payload) > 0 {
			// The part below RCV.NXT arrived before: report it as a
			// D-SACK (RFC 2883 §4), so the sender can tell a needless
			// retransmission from a loss.
			c.noteDSACK(seq, MinSeq(seq.Add(len(payload)), c.rcvNxt))
		}
		skip := c.rcvNxt.Sub(seq)
		if skip >= len(payload) {
			payload = nil
		} else {
			payload = payload[skip:]
		}
		seq = c.rcvNxt
	}
	limit := min(c.rcvWnd(), c.rcvSpace())
	if end := seq.Sub(c.rcvNxt) + len(payload); end > limit {
		payload = payload[:max(limit-seq.Sub(c.rcvNxt), 0)]
		fin = false
	}

	if len(payload) > 0 {
		c.rcvMSS = max(c.rcvMSS, min(len(payload), c.advertisedMSS()))
		if seq == c.rcvNxt {
			c.rcvq.writeAt(c.rcvAvail, payload)
			c.rcvNxt = c.rcvNxt.Add(len(payload))
			c.rcvAvail += len(payload)
			c.ackPending += len(payload)
			if c.nOOO > 0 {
				// Filling a hole: ACK at once (RFC 5681 §4.2) so the
				// sender's recovery proceeds.
				c.pullOOO()
				c.ackNow = true
			}
			c.events |= EventReadable
		} else {
			// Out of order: keep it if it fits the range cap, and send
			// a duplicate ACK at once (RFC 5681 §4.2, RFC 9293
			// §3.10.7.4 on queuing out-of-order segments).
			end := seq.Add(len(payload))
			if c.oooHolds(seq, end) {
				c.noteDSACK(seq, end) // RFC 2883 §4.2: a duplicate of held data
			}
			if c.addOOO(seq, end) {
				c.rcvq.writeAt(c.rcvAvail+seq.Sub(c.rcvNxt), payload)
			} else {
				c.stats.DroppedOOOFull++
				fin = false
			}
			c.ackNow = true
		}
	}

	if fin {
		if finSeq == c.rcvNxt {
			c.receiveFIN(now)
		} else if finSeq.GreaterThan(c.rcvNxt) {
			c.oooFin, c.oooFinSeq = true, finSeq
			c.ackNow = true
		}
	}
	if c.oooFin && c.oooFinSeq == c.rcvNxt && !c.peerFin {
		c.receiveFIN(now)
	}

	if c.ackPending > 0 && !c.ackNow {
		// Delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2): ACK every
		// second full-sized segment at once, otherwise within AckDelay.
		if c.cfg.AckDelay < 0 || c.ackPending >= 2*c.rcvMSS {
			c.ackNow = true
		} else if c.timers[timerDelayedAck].IsZero() {
			c.timers[timerDelayedAck] = now.Add(c.cfg.AckDelay)
		}
	}
}

// receiveFIN is the eighth step: the peer's FIN is next in sequence.
func (c *Conn) receiveFIN(now time.Time) {
	c.rcvNxt = c.rcvNxt.Add(1)
	c.peerFin = true
	c.oooFin = false
	c.nOOO = 0
	c.ackNow = true
	c.events |= EventPeerClosed | EventReadable
	switch c.state {
	case StateEstablished:
		c.state = StateCloseWait
	case StateFinWait1:
		if c.finAcked() {
			c.enterTimeWait(now)
		} else {
			c.state = StateClosing
		}
	case StateFinWait2:
		c.enterTimeWait(now)
	}
}

// addOOO records [start, end) as received beyond a hole, merging with the
// ranges it touches. It reports false, storing nothing, when that would
// need more than maxOOORanges ranges.
func (c *Conn) addOOO(start, end Seq) bool {
	// Find the first range that ends at or after start.
	i := 0
	for i < c.nOOO && c.ooo[i].end.LessThan(start) {
		i++
	}
	// Merge every range that overlaps or touches [start, end).
	j := i
	for j < c.nOOO && c.ooo[j].start.LessEq(end) {
		start = MinSeq(start, c.ooo[j].start)
		end = MaxSeq(end, c.ooo[j].end)
		j++
	}
	if i == j {
		if c.nOOO == maxOOORanges {
			return false
		}
		copy(c.ooo[i+1:c.nOOO+1], c.ooo[i:c.nOOO])
		c.nOOO++
	} else if j > i+1 {
		copy(c.ooo[i+1:], c.ooo[j:c.nOOO])
		c.nOOO -= j - i - 1
	}
	// The range that took this segment is the most recent: SACK reports
	// it first (RFC 2018 §4).
	c.oooGen++
	c.ooo[i] = oooRange{seqRange{start, end}, c.oooGen}
	return true
}

// oooHolds reports whether out-of-order data already covers [start, end).
func (c *Conn) oooHolds(start, end Seq) bool {
	for i := 0; i < c.nOOO; i++ {
		if c.ooo[i].start.LessEq(start) && end.LessEq(c.ooo[i].end) {
			return true
		}
	}
	return false
}

// pullOOO advances RCV.NXT over out-of-order data that has become
// contiguous.
func (c *Conn) pullOOO() {
	n := 0
	for n < c.nOOO && c.ooo[n].start.LessEq(c.rcvNxt) {
		if c.ooo[n].end.GreaterThan(c.rcvNxt) {
			d := c.ooo[n].end.Sub(c.rcvNxt)
			c.rcvNxt = c.ooo[n].end
			c.rcvAvail += d
			c.ackPending += d
		}
		n++
	}
	copy(c.ooo[:], c.ooo[n:c.nOOO])
	c.nOOO -= n
}
