package tcp

import "time"

// Selective acknowledgments: the receiver's SACK blocks (RFC 2018, with
// the D-SACK extension of RFC 2883), the sender's scoreboard and the
// SACK-based loss recovery of RFC 6675.

// dupThresh is DupThresh of RFC 6675 §2 (and RFC 5681 §3.2).
const dupThresh = 3

// maxSACKRanges bounds the sender's scoreboard. The peer reports at most
// four blocks per ACK, but across ACKs it can describe any number of
// holes; beyond this many disjoint SACKed ranges the highest is forgotten.
// Forgetting is always safe (RFC 2018 §8: SACKed data stays in the send
// buffer until cumulatively acknowledged); it only makes the sender
// assume more is in the network than there is.
const maxSACKRanges = 32

// scoreboard holds the byte ranges above SND.UNA that the peer has
// selectively acknowledged: sorted, disjoint, not touching, within
// [SND.UNA, SND.MAX]. It is a fixed array, so updating it never
// allocates.
type scoreboard struct {
	r      [maxSACKRanges]seqRange
	n      int
	sacked int // bytes covered by r[:n]
}

func (s *scoreboard) clear() { s.n, s.sacked = 0, 0 }

// high returns the end of the highest SACKed range (n must be > 0).
func (s *scoreboard) high() Seq { return s.r[s.n-1].end }

// ack forgets everything below the cumulative acknowledgment una.
func (s *scoreboard) ack(una Seq) {
	i := 0
	for i < s.n && s.r[i].end.LessEq(una) {
		s.sacked -= s.r[i].end.Sub(s.r[i].start)
		i++
	}
	if i > 0 {
		copy(s.r[:], s.r[i:s.n])
		s.n -= i
	}
	if s.n > 0 && s.r[0].start.LessThan(una) {
		s.sacked -= una.Sub(s.r[0].start)
		s.r[0].start = una
	}
}

// add records [start, end), which the caller has clipped to the
// outstanding window, and returns how many bytes were not SACKed before.
func (s *scoreboard) add(start, end Seq) int {
	if !start.LessThan(end) {
		return 0
	}
	// The first range that ends at or after start, then every range that
	// overlaps or touches [start, end).
	i := 0
	for i < s.n && s.r[i].end.LessThan(start) {
		i++
	}
	j := i
	old := 0
	for j < s.n && s.r[j].start.LessEq(end) {
		old += s.r[j].end.Sub(s.r[j].start)
		start = MinSeq(start, s.r[j].start)
		end = MaxSeq(end, s.r[j].end)
		j++
	}
	switch {
	case i == j && s.n == maxSACKRanges:
		if i == s.n {
			return 0 // above everything held: forget the new range
		}
		// Forget the highest range to make room for a lower one:
		// holes near SND.UNA are the ones recovery needs first.
		last := s.r[s.n-1]
		s.sacked -= last.end.Sub(last.start)
		s.n--
		fallthrough
	case i == j:
		copy(s.r[i+1:s.n+1], s.r[i:s.n])
		s.n++
	case j > i+1:
		copy(s.r[i+1:], s.r[j:s.n])
		s.n -= j - i - 1
	}
	s.r[i] = seqRange{start, end}
	added := end.Sub(start) - old
	s.sacked += added
	return added
}

// lostHoles returns k such that the holes before ranges 0..k-1 are lost
// in the sense of IsLost (RFC 6675 §4): DupThresh discontiguous SACKed
// ranges, or more than (DupThresh-1)*SMSS SACKed bytes, lie above them.
// Data past the highest SACKed range is never lost by this test.
func (s *scoreboard) lostHoles(mss int) int {
	bytes := 0
	for i := s.n - 1; i >= 0; i-- {
		bytes += s.r[i].end.Sub(s.r[i].start)
		if s.n-i >= dupThresh || bytes > (dupThresh-1)*mss {
			return i + 1
		}
	}
	return 0
}

// sackedBelow returns the SACKed bytes before seq.
func (s *scoreboard) sackedBelow(seq Seq) int {
	n := 0
	for i := 0; i < s.n && s.r[i].start.LessThan(seq); i++ {
		n += MinSeq(s.r[i].end, seq).Sub(s.r[i].start)
	}
	return n
}

// above returns the SACKed bytes and ranges after seq.
func (s *scoreboard) above(seq Seq) (bytes, ranges int) {
	for i := s.n - 1; i >= 0 && s.r[i].end.GreaterThan(seq); i-- {
		bytes += s.r[i].end.Sub(MaxSeq(s.r[i].start, seq))
		ranges++
	}
	return bytes, ranges
}

// covers reports whether [start, end) is entirely SACKed.
func (s *scoreboard) covers(start, end Seq) bool {
	for i := 0; i < s.n; i++ {
		if s.r[i].start.LessEq(start) && end.LessEq(s.r[i].end) {
			return true
		}
	}
	return false
}

// --- receiver ---

// noteDSACK remembers duplicate data [start, end) to report as the first
// block of the next ACK (RFC 2883 §4). Only the latest duplicate is kept.
func (c *Conn) noteDSACK(start, end Seq) {
	if c.sackOK && start.LessThan(end) {
		c.dsack = seqRange{start, end}
		c.dsackSet = true
	}
}

// sackOptionLen returns the bytes a SACK option would take on the next
// segment: blocks for the pending D-SACK and the out-of-order ranges, as
// many as the option space left by timestamps allows.
func (c *Conn) sackOptionLen() int {
	if !c.sackOK {
		return 0
	}
	k := c.nOOO
	if c.dsackSet {
		k++
	}
	if k == 0 {
		return 0
	}
	used := 0
	if c.tsOK {
		used = 12
	}
	k = min(k, MaxSACKBlocks, (maxOptionsLen-used-4)/8)
	return 4 + 8*k
}

// putSACK adds the SACK option to an acknowledgment carrying n data bytes.
// RFC 2018 §4: the first block is the range holding the segment that
// triggered the ACK, then the others most recently changed first, as many
// as fit (three next to timestamps). RFC 2883: a pending D-SACK goes
// first, followed by the range that contains it if there is one. The
// option never makes the segment exceed the peer's MSS or the path MTU.
func (c *Conn) putSACK(o *Options, n int) {
	ip := c.headerOverhead() - HeaderLen
	maxTCP := min(c.peerMSS+HeaderLen, c.mtu-ip)
	room := min(maxOptionsLen, maxTCP-HeaderLen-n) - o.Len()
	k := min((room-4)/8, MaxSACKBlocks)
	if k <= 0 {
		return
	}
	var used uint8 // bit i: ooo[i] already reported
	nb := 0
	if c.dsackSet {
		o.SACK[0] = SACKBlock{c.dsack.start, c.dsack.end}
		nb = 1
		c.dsackSet = false
		c.stats.DSACKsSent++
		for i := 0; i < c.nOOO && nb < k; i++ {
			if c.ooo[i].start.LessEq(c.dsack.start) && c.dsack.end.LessEq(c.ooo[i].end) {
				o.SACK[nb] = SACKBlock{c.ooo[i].start, c.ooo[i].end}
				nb++
				used |= 1 << i
			}
		}
	}
	for nb < k {
		best := -1
		for i := 0; i < c.nOOO; i++ {
			if used&(1<<i) == 0 && (best < 0 || int32(c.ooo[i].gen-c.ooo[best].gen) > 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		used |= 1 << best
		o.SACK[nb] = SACKBlock{c.ooo[best].start, c.ooo[best].end}
		nb++
	}
	o.NumSACK = uint8(nb)
}

// dataMSS is the most data one segment may carry now: the effective MSS,
// less the SACK option it will carry while we hold out-of-order data
// (options count against the MSS, RFC 9293 §3.7.1, RFC 6691).
func (c *Conn) dataMSS() int {
	if l := c.sackOptionLen(); l > 0 && c.sndMSS-l >= 48 {
		return c.sndMSS - l
	}
	return c.sndMSS
}

// --- sender ---

// updateScoreboard takes the SACK blocks of an acknowledgment for ack
// into the scoreboard and returns how many bytes they newly SACKed.
// Blocks are clipped to the outstanding data; a block reaching past
// SND.MAX is bogus and ignored. A first block below the cumulative
// acknowledgment, or inside the second block, is a D-SACK (RFC 2883 §4):
// it is counted, and otherwise harmless (what it covers arrived).
func (c *Conn) updateScoreboard(ack Seq, o *Options) int {
	una := MaxSeq(c.sndUna, ack)
	c.sb.ack(una)
	blocks := o.SACKBlocks()
	if len(blocks) == 0 {
		return 0
	}
	if b := blocks[0]; b.Right.LessEq(ack) ||
		(len(blocks) > 1 && blocks[1].Left.LessEq(b.Left) && b.Right.LessEq(blocks[1].Right)) {
		c.stats.DSACKsReceived++
	}
	added := 0
	for _, b := range blocks {
		if !b.Left.LessThan(b.Right) || b.Right.GreaterThan(c.sndMax) || b.Right.LessEq(una) ||
			b.Right.Sub(b.Left) > c.sndMax.Sub(una) {
			continue
		}
		added += c.sb.add(MaxSeq(b.Left, una), b.Right)
	}
	return added
}

// maxRxtMarks bounds the retransmissions watched for loss per recovery.
const maxRxtMarks = 8

// rxtMark is a retransmission made during SACK recovery: [seq, end) was
// resent when SND.MAX was sndMax. RFC 6675 cannot see a retransmission
// get lost: the hole stays counted in pipe until the retransmission timer
// fires, which on a lossy path is most of the time spent recovering. So,
// as Linux does, a retransmission is taken as lost when data first sent
// after it has been SACKed by as much as IsLost asks of an original
// transmission (DupThresh ranges or more than (DupThresh-1)*SMSS bytes);
// it then leaves pipe and is sent again first.
type rxtMark struct {
	seq, end, sndMax Seq
	at               time.Time
	lost             bool
}

// markRetransmit remembers a recovery retransmission for loss detection.
func (c *Conn) markRetransmit(now time.Time, seq Seq, n int) {
	if n <= 0 {
		return
	}
	for i := 0; i < c.nRxt; i++ {
		if c.rxt[i].seq == seq {
			c.rxt[i] = rxtMark{seq: seq, end: seq.Add(n), sndMax: c.sndMax, at: now}
			return
		}
	}
	if c.nRxt < maxRxtMarks {
		c.rxt[c.nRxt] = rxtMark{seq: seq, end: seq.Add(n), sndMax: c.sndMax, at: now}
		c.nRxt++
	}
}

// checkRetransmits forgets retransmissions that arrived and marks lost
// the ones that data sent after them overtook. When only the time rule
// is missing, it arms timerProbe for when it will hold, so that a lost
// retransmission at the end of a small window, after which no further
// ACK comes, is found without waiting for the retransmission timer (the
// RACK reordering timer, RFC 8985 §6.3).
func (c *Conn) checkRetransmits(now time.Time) {
	j := 0
	c.timers[timerProbe] = time.Time{}
	for i := 0; i < c.nRxt; i++ {
		m := c.rxt[i]
		if m.end.LessEq(c.sndUna) || c.sb.covers(MaxSeq(m.seq, c.sndUna), m.end) {
			continue
		}
		if !m.lost {
			bytes, ranges := c.sb.above(m.sndMax)
			// RACK's time form (RFC 8985 §6.2): something sent later
			// arrived, and a round trip and a quarter have passed
			// since the retransmission.
			due := m.at.Add(c.srtt + c.srtt/4)
			m.lost = ranges >= dupThresh || bytes > (dupThresh-1)*c.sndMSS ||
				bytes > 0 && c.srtt > 0 && now.After(due)
			if !m.lost && bytes > 0 && c.srtt > 0 {
				if t := c.timers[timerProbe]; t.IsZero() || due.Before(t) {
					c.timers[timerProbe] = due.Add(time.Millisecond)
				}
			}
		}
		c.rxt[j] = m
		j++
	}
	c.nRxt = j
}

// lostTimerExpired re-runs the loss check of the recovery retransmissions
// and sends what it frees.
func (c *Conn) lostTimerExpired(now time.Time) {
	if !c.inRecovery || !c.sackOK {
		return
	}
	c.checkRetransmits(now)
	c.setPipe()
}

// resendLost sends again the first retransmission found lost, if any.
func (c *Conn) resendLost(now time.Time, mss int) bool {
	for i := 0; i < c.nRxt; i++ {
		m := &c.rxt[i]
		if !m.lost {
			continue
		}
		start := MaxSeq(m.seq, c.sndUna)
		n := min(m.end.Sub(start), mss)
		sent := c.retransmitRange(now, start, n)
		c.stats.LostRetransmits++
		m.lost = false
		m.sndMax, m.at = c.sndMax, now
		c.pipe += sent
		return sent > 0
	}
	return false
}

// setPipe is SetPipe of RFC 6675 §4: every unSACKed byte between SND.UNA
// and SND.MAX counts once if it is not lost and once more if it was
// retransmitted in this recovery.
//
// Only data counts: a FIN's one unit of sequence space would otherwise
// leave cwnd - pipe a byte short of a segment at the end of a transfer
// with a small window, and recovery would stall until the timer.
func (c *Conn) setPipe() {
	k := c.sb.lostHoles(c.sndMSS)
	pipe := 0
	prev := c.sndUna
	top := MinSeq(c.sndMax, c.dataEnd())
	for i := 0; i <= c.sb.n; i++ {
		end := top
		if i < c.sb.n {
			end = c.sb.r[i].start
		}
		end = MinSeq(end, top)
		if prev.LessThan(end) {
			if i >= k {
				pipe += end.Sub(prev)
			}
			if c.highRxt.GreaterThan(prev) {
				pipe += MinSeq(end, c.highRxt).Sub(prev)
			}
		}
		if i < c.sb.n {
			prev = c.sb.r[i].end
		}
	}
	for i := 0; i < c.nRxt; i++ {
		if m := c.rxt[i]; m.lost {
			// A retransmission found lost is no longer in the network.
			pipe -= m.end.Sub(MaxSeq(m.seq, c.sndUna))
		}
	}
	c.pipe = max(pipe, 0)
}

// nextHole is rules 1 and 3 of NextSeg (RFC 6675 §4): the first unSACKed
// sequence number at or above HighRxt and below the highest SACKed byte,
// which with lost set must also be lost by IsLost; it returns where the
// segment starts and how long it may be (at most mss, and never into a
// SACKed range).
func (c *Conn) nextHole(lost bool, mss int) (Seq, int, bool) {
	k := c.sb.n
	if lost {
		k = c.sb.lostHoles(c.sndMSS)
	}
	prev := c.sndUna
	for i := 0; i < k; i++ {
		start := MaxSeq(prev, c.highRxt)
		if end := c.sb.r[i].start; start.LessThan(end) {
			return start, min(end.Sub(start), mss), true
		}
		prev = c.sb.r[i].end
	}
	return 0, 0, false
}

// rescueSeg is rule 4 of NextSeg (RFC 6675 §4): once per recovery, after
// the cumulative acknowledgment has passed RescueRxt, one segment ending
// at the highest unSACKed byte, so that a loss at the tail of the window
// is repaired without waiting for the timer. Unlike the RFC's wording,
// a tail already retransmitted in this recovery (below HighRxt) is not
// rescued: its retransmission is still on its way, and resending it is
// the spurious retransmission rule 4 does not mean to make.
func (c *Conn) rescueSeg(mss int) (Seq, int, bool) {
	if c.rescueSet && !c.sndUna.GreaterThan(c.rescueRxt) {
		return 0, 0, false
	}
	end := c.sndMax
	lo := c.sndUna
	for i := c.sb.n - 1; i >= 0; i-- {
		if c.sb.r[i].end.LessThan(end) {
			lo = c.sb.r[i].end
			break
		}
		end = c.sb.r[i].start // the top of the window is SACKed
	}
	if !lo.LessThan(end) || end.LessEq(c.highRxt) {
		return 0, 0, false
	}
	start := MaxSeq(lo, end.Add(-mss))
	return start, end.Sub(start), true
}

// retransmitRange resends up to n bytes of sequence space from seq (data,
// and our FIN if the range reaches it) without moving SND.NXT, and returns
// how much sequence space it covered.
func (c *Conn) retransmitRange(now time.Time, seq Seq, n int) int {
	off := seq.Sub(c.sndqSeq)
	data := min(n, c.dataEnd().Sub(seq))
	if off < 0 || data < 0 {
		return 0
	}
	flags := FlagACK
	fin := c.finQueued && c.sndMax.GreaterThan(c.dataEnd()) && seq.Add(n).GreaterThan(c.dataEnd())
	if fin {
		flags |= FlagFIN
	}
	if data == 0 && !fin {
		return 0
	}
	c.rttTiming = false // Karn's rule
	c.stats.Retransmits++
	c.emitSegment(now, seq, flags, off, data)
	if fin {
		return data + 1
	}
	return data
}

// enterSACKRecovery is step 4 of RFC 6675 §5: RecoveryPoint is HighData,
// the window is reduced once, and the first unSACKed segment is resent
// at once; HighRxt and RescueRxt mark it.
func (c *Conn) enterSACKRecovery(now time.Time) {
	flight := c.sndMax.Sub(c.sndUna)
	c.stats.FastRetransmits++
	c.stats.SACKRecoveries++
	c.recover = c.sndMax.Add(-1)
	c.cc.OnLoss(now, flight)
	c.inRecovery = true
	c.highRxt = c.sndUna
	c.rescueSet = false
	c.nRxt = 0
	s, n, ok := c.nextHole(false, c.dataMSS())
	if !ok && (c.sb.n == 0 || c.sb.high().LessThan(c.sndMax)) {
		// Nothing SACKed below the tail (three plain duplicates):
		// resend the first segment.
		s, n, ok = c.sndUna, min(c.dataMSS(), flight), true
	}
	if ok {
		sent := c.retransmitRange(now, s, n)
		c.markRetransmit(now, s, sent)
		c.highRxt = s.Add(sent)
	}
	c.rescueRxt, c.rescueSet = c.highRxt, true
	c.timers[timerProbe] = time.Time{} // the slot now serves checkRetransmits
	c.setPipe()
}

// sackRecoveryOutput is step C of RFC 6675 §5: while cwnd - pipe allows a
// full segment, send what NextSeg picks: a lost hole (rule 1), new data
// (rule 2), any other hole below the highest SACK (rule 3) or the rescue
// retransmission (rule 4).
func (c *Conn) sackRecoveryOutput(now time.Time) {
	mss := c.dataMSS()
	for c.cwnd()-c.pipe >= mss {
		if c.resendLost(now, mss) {
			continue
		}
		if s, n, ok := c.nextHole(true, mss); ok {
			c.resendHole(now, s, n)
			continue
		}
		if c.sendData(now) {
			continue
		}
		if s, n, ok := c.nextHole(false, mss); ok {
			c.resendHole(now, s, n)
			continue
		}
		if s, n, ok := c.rescueSeg(mss); ok {
			sent := c.retransmitRange(now, s, n)
			c.stats.RescueRetransmits++
			c.rescueRxt, c.rescueSet = c.recover, true
			c.pipe += sent // (C.4); HighRxt stays (C.2)
			if sent > 0 {
				continue
			}
		}
		return
	}
}

// resendHole retransmits [s, s+n) for rules 1 and 3 and does the
// bookkeeping of (C.2) and (C.4).
func (c *Conn) resendHole(now time.Time, s Seq, n int) {
	sent := c.retransmitRange(now, s, n)
	c.stats.SACKRetransmits++
	if sent == 0 {
		sent = n // nothing left to send there: step over it
	}
	c.markRetransmit(now, s, sent)
	c.highRxt = s.Add(sent)
	c.pipe += sent
}

// flightForCwnd is how much of the congestion window is in use: pipe
// during SACK recovery (RFC 6675 §5 step C); otherwise the outstanding
// data less what the peer SACKed, which makes the first duplicate ACKs
// release new data as limited transmit does (RFC 6675 §5 step 3).
func (c *Conn) flightForCwnd(outstanding int) int {
	if !c.sackOK || c.sb.n == 0 {
		return outstanding
	}
	if c.inRecovery {
		return c.pipe
	}
	return outstanding - c.sb.sackedBelow(c.sndNxt)
}

// skipSACKed moves SND.NXT past data the peer holds while going back after
// a retransmission timeout (RFC 6675 §5.1: use the SACK information that
// arrives after the timeout to fill in only the holes) and returns how far
// the data from there may go before the next SACKed range.
func (c *Conn) skipSACKed() int {
	for i := 0; i < c.sb.n; i++ {
		r := c.sb.r[i]
		if r.end.LessEq(c.sndNxt) {
			continue
		}
		if r.start.LessEq(c.sndNxt) {
			c.sndNxt = MinSeq(r.end, c.sndMax)
			continue
		}
		return r.start.Sub(c.sndNxt)
	}
	return maxBufferSize
}

// --- tail loss probe (RFC 8985 §7) ---

// maxAckDelay is TLP.max_ack_delay: how long a peer may sit on the ACK of
// a lone segment (the 200 ms delayed-ACK limit of RFC 1122 and Linux).
const maxAckDelay = 200 * time.Millisecond

// armProbe schedules the probe timeout (PTO) after new data went out or an
// ACK came in (RFC 8985 §7.2), when SACK is on and nothing is being
// recovered: 2*SRTT, plus the delayed-ACK allowance when a single segment
// is in flight, and only if that comes before the retransmission timer.
// When the ACKs stop because the tail of a flight was lost, or because
// one ACK was lost and the peer delays the next, the probe draws an ACK
// (with SACK) in about two round trips instead of a timeout, which would
// also collapse cwnd to one segment.
func (c *Conn) armProbe(now time.Time) {
	if !c.sackOK || c.inRecovery {
		return // in recovery the slot belongs to checkRetransmits
	}
	c.timers[timerProbe] = time.Time{}
	if c.tlpActive || c.srtt == 0 || c.sndUna == c.sndMax || c.sndNxt != c.sndMax ||
		!c.sndUna.GreaterThan(c.recover) || c.persisting || !c.state.canSendData() {
		return
	}
	pto := 2 * c.srtt
	if c.sndMax.Sub(c.sndUna) <= c.sndMSS {
		pto += maxAckDelay
	}
	d := now.Add(max(pto, 10*time.Millisecond))
	if rto := c.timers[timerRetransmit]; !rto.IsZero() && !d.Before(rto) {
		return // the retransmission timer comes first
	}
	c.timers[timerProbe] = d
}

// probeExpired sends the loss probe of RFC 8985 §7.3: a new segment if
// there is one and the peer's window takes it (cwnd is not consulted),
// else the last segment again; then the retransmission timer restarts.
func (c *Conn) probeExpired(now time.Time) {
	if !c.sackOK || c.tlpActive || c.sndUna == c.sndMax || c.sndNxt != c.sndMax ||
		c.persisting || !c.state.canSendData() {
		return
	}
	seq := c.sndNxt
	off := seq.Sub(c.sndqSeq)
	avail := c.sndq.ext - off
	n := min(avail, c.dataMSS(), c.sndWnd-c.sndNxt.Sub(c.sndUna))
	if off >= 0 && n > 0 {
		flags := FlagACK
		if n == avail {
			flags |= FlagPSH
			if c.finQueued {
				flags |= FlagFIN
			}
		}
		c.emitSegment(now, seq, flags, off, n)
		c.sndNxt = seq.Add(n)
		if flags&FlagFIN != 0 {
			c.sndNxt = c.sndNxt.Add(1)
		}
		c.sndMax = c.sndNxt
		c.tlpRetrans = false
	} else {
		seq = MaxSeq(c.sndUna, c.sndMax.Add(-c.dataMSS()))
		if c.retransmitRange(now, seq, c.sndMax.Sub(seq)) == 0 {
			return
		}
		c.tlpRetrans = true
	}
	c.stats.TailLossProbes++
	c.tlpActive, c.tlpSeq, c.tlpEnd = true, seq, c.sndNxt
	c.timers[timerRetransmit] = now.Add(c.rto)
}

// probeAnswered ends a probe episode when an ACK covers it (RFC 8985
// §7.4). A retransmitted probe that the peer reports as a duplicate
// (D-SACK) repaired nothing; one acknowledged without that repaired a
// loss, to which congestion control reacts as to any other.
func (c *Conn) probeAnswered(now time.Time, ack Seq, o *Options, flight int) {
	if !c.tlpActive {
		return
	}
	if c.tlpRetrans {
		if b := o.SACKBlocks(); len(b) > 0 && b[0].Left.LessThan(c.tlpEnd) && c.tlpSeq.LessThan(b[0].Right) &&
			(b[0].Right.LessEq(ack) || len(b) > 1 && b[1].Left.LessEq(b[0].Left) && b[0].Right.LessEq(b[1].Right)) {
			c.tlpActive = false
			return
		}
	}
	if ack.LessThan(c.tlpEnd) {
		return
	}
	c.tlpActive = false
	if c.tlpRetrans && !c.inRecovery && c.sndUna.GreaterThan(c.recover) {
		c.stats.TailLossRepairs++
		c.cc.OnLoss(now, flight)
		c.recover = c.sndMax.Add(-1)
	}
}
