package tcp

import (
	"strings"
	"testing"
	"time"
)

func TestSACKNegotiation(t *testing.T) {
	// Active open: the SYN offers SACK; a SYN-ACK that agrees turns it on.
	h := newHarness(t)
	h.c, _ = Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	h.expect(S{F: FlagSYN, Seq: localISS, SACKOK: true})
	h.send(S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: localISS + 1, Win: 1000, SACKOK: true})
	h.expect(S{F: FlagACK, Seq: localISS + 1, Ack: remoteISS + 1, NoSACK: true})
	if !h.c.sackOK {
		t.Fatal("SACK not on after SYN-ACK with SACK-permitted")
	}
	// Active open, the peer does not agree: off.
	h = newHarness(t)
	h.c, _ = Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	h.take()
	h.send(S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: localISS + 1, Win: 1000})
	if h.c.sackOK {
		t.Fatal("SACK on though the SYN-ACK did not permit it")
	}
	// Passive open: answered only when offered (RFC 2018 §2).
	h = newHarness(t).synReceivedSACK()
	if !h.c.sackOK {
		t.Fatal("SACK not on after a SYN with SACK-permitted")
	}
	h = newHarness(t).synReceived()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000})
	if h.c.sackOK {
		t.Fatal("SACK on though the SYN did not offer it")
	}
	// Disabled: not offered, not answered, not used.
	h = newHarness(t)
	h.cfg.NoSACK = true
	h.c, _ = Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	if got := h.take(); got[0].h.Options.SACKPermitted {
		t.Fatal("SACK offered though disabled")
	}
	h = newHarness(t)
	h.cfg.NoSACK = true
	syn := h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 1000, SACKOK: true})
	h.c, _ = Accept(&h.cfg, tTuple, syn, localISS, h.now, h.emit)
	if got := h.take(); got[0].h.Options.SACKPermitted || h.c.sackOK {
		t.Fatal("SACK answered though disabled")
	}
	// Simultaneous open: the SYN-ACK answers the peer's SYN.
	h = newHarness(t)
	h.c, _ = Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	h.take()
	h.send(S{F: FlagSYN, Seq: remoteISS, Win: 1000, SACKOK: true})
	h.expect(S{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1, SACKOK: true})
}

func TestSACKOptionFitsWithAllSYNOptions(t *testing.T) {
	// MSS, window scale, SACK-permitted and timestamps together fit.
	h := newHarness(t)
	h.cfg.NoWindowScale = false
	h.c, _ = Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	o := h.take()[0].h.Options
	if !o.HasMSS || !o.HasWindowScale || !o.SACKPermitted || !o.HasTimestamps {
		t.Fatalf("SYN options %+v", o)
	}
}

func blocks(h *harness, r ...int) []SACKBlock {
	var b []SACKBlock
	for i := 0; i+1 < len(r); i += 2 {
		b = append(b, SACKBlock{h.rem.Add(r[i]), h.rem.Add(r[i+1])})
	}
	return b
}

func TestSACKReceiverBlocks(t *testing.T) {
	h := newHarness(t).establishedSACK()
	ack := S{F: FlagACK, Seq: h.loc, Ack: h.rem}
	// Four holes: each out-of-order segment is reported first, then the
	// others most recent first, four blocks without timestamps.
	for i, off := range []int{10, 30, 20, 40} {
		h.send(S{F: FlagACK, Seq: h.rem.Add(off), Ack: h.loc, Win: 30000, Data: "x"})
		want := ack
		switch i {
		case 0:
			want.SACK = blocks(h, 10, 11)
		case 1:
			want.SACK = blocks(h, 30, 31, 10, 11)
		case 2:
			want.SACK = blocks(h, 20, 21, 30, 31, 10, 11)
		case 3:
			want.SACK = blocks(h, 40, 41, 20, 21, 30, 31, 10, 11)
		}
		h.expect(want)
	}
	// A fifth range: still four blocks, the oldest left out.
	h.send(S{F: FlagACK, Seq: h.rem.Add(50), Ack: h.loc, Win: 30000, Data: "x"})
	want := ack
	want.SACK = blocks(h, 50, 51, 40, 41, 20, 21, 30, 31)
	h.expect(want)
	// Growing a range makes it the most recent.
	h.send(S{F: FlagACK, Seq: h.rem.Add(11), Ack: h.loc, Win: 30000, Data: "yy"})
	want.SACK = blocks(h, 10, 13, 50, 51, 40, 41, 20, 21)
	h.expect(want)
	// Filling the first hole moves the ACK; that range is no longer
	// reported (RFC 2018 §4: the first block describes the triggering
	// segment unless it advanced the acknowledgment).
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "0123456789"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem.Add(13), SACK: blocks(h, 50, 51, 40, 41, 20, 21, 30, 31)})
	h.read("0123456789xyy")
	h.rem = h.rem.Add(13)
	// Data segments we send carry the blocks too, within the MSS.
	h.c.SetNoDelay(true)
	h.write("q")
	got := h.take()
	if len(got) != 1 || got[0].h.Options.NumSACK != 4 {
		t.Fatalf("data segment without SACK blocks: %v %+v", got, got[0].h.Options)
	}
}

func TestSACKReceiverBlocksWithTimestamps(t *testing.T) {
	// With timestamps only three blocks fit (RFC 2018 §3).
	h := newHarness(t)
	syn := h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 30000, MSS: 1400, TS: true, TSVal: 5000, SACKOK: true})
	h.c, _ = Accept(&h.cfg, tTuple, syn, localISS, h.now, h.emit)
	tsval := h.take()[0].h.Options.TSVal
	h.loc, h.rem = localISS+1, remoteISS+1
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, TS: true, TSVal: 5001, TSEcr: tsval})
	for _, off := range []int{10, 20, 30, 40} {
		h.send(S{F: FlagACK, Seq: h.rem.Add(off), Ack: h.loc, Win: 30000, Data: "x", TS: true, TSVal: 5002})
	}
	got := h.take()
	last := got[len(got)-1]
	if !last.h.Options.HasTimestamps || last.h.Options.NumSACK != 3 ||
		last.h.Options.SACK[0] != (SACKBlock{h.rem.Add(40), h.rem.Add(41)}) {
		t.Fatalf("last ACK options %+v", last.h.Options)
	}
	// A full-sized data segment shrinks to make room for the option, so
	// that header and data stay within the peer's MSS (RFC 6691).
	h.c.SetNoDelay(true)
	h.write(strings.Repeat("d", 3000))
	for _, s := range h.take() {
		if l := len(s.data) + s.h.Options.Len(); l > 1400 {
			t.Fatalf("segment of %d data bytes with %d option bytes exceeds the MSS", len(s.data), s.h.Options.Len())
		}
		if s.h.Options.NumSACK != 3 {
			t.Fatalf("data segment with %d blocks", s.h.Options.NumSACK)
		}
	}
}

func TestDSACK(t *testing.T) {
	h := newHarness(t).establishedSACK()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "abc"})
	h.rem += 3
	h.take()
	// A wholly old segment: the ACK reports it as the first block, below
	// the acknowledgment (RFC 2883 §4.1).
	h.send(S{F: FlagACK, Seq: h.rem - 3, Ack: h.loc, Win: 30000, Data: "abc"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, SACK: []SACKBlock{{h.rem - 3, h.rem}}})
	// Reported once only.
	h.send(S{F: FlagACK, Seq: h.rem.Add(5), Ack: h.loc, Win: 30000, Data: "zz"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, SACK: blocks(h, 5, 7)})
	// A duplicate of held out-of-order data: D-SACK first, then the
	// block containing it (RFC 2883 §4.2).
	h.send(S{F: FlagACK, Seq: h.rem.Add(20), Ack: h.loc, Win: 30000, Data: "q"})
	h.take()
	h.send(S{F: FlagACK, Seq: h.rem.Add(5), Ack: h.loc, Win: 30000, Data: "z"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, SACK: blocks(h, 5, 6, 5, 7, 20, 21)})
	// Partly old: the old part is the D-SACK.
	h.send(S{F: FlagACK, Seq: h.rem - 2, Ack: h.loc, Win: 30000, Data: "bcdef"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem.Add(3), SACK: []SACKBlock{{h.rem - 2, h.rem}, {h.rem.Add(5), h.rem.Add(7)}, {h.rem.Add(20), h.rem.Add(21)}}})
	if st := h.c.Stats(); st.DSACKsSent != 3 {
		t.Fatalf("DSACKsSent %d", st.DSACKsSent)
	}
	// Without SACK, no option at all.
	h2 := newHarness(t).established()
	h2.send(S{F: FlagACK, Seq: h2.rem - 3, Ack: h2.loc, Win: 30000, Data: "abc"})
	h2.expect(S{F: FlagACK, Seq: h2.loc, Ack: h2.rem, NoSACK: true})
}

func TestScoreboard(t *testing.T) {
	var s scoreboard
	check := func(want ...int) {
		t.Helper()
		sum := 0
		if s.n != len(want)/2 {
			t.Fatalf("ranges %v, want %v", s.r[:s.n], want)
		}
		for i := 0; i < s.n; i++ {
			if s.r[i] != (seqRange{Seq(want[2*i]), Seq(want[2*i+1])}) {
				t.Fatalf("ranges %v, want %v", s.r[:s.n], want)
			}
			sum += want[2*i+1] - want[2*i]
		}
		if s.sacked != sum {
			t.Fatalf("sacked %d, want %d", s.sacked, sum)
		}
	}
	if n := s.add(100, 200); n != 100 {
		t.Fatalf("added %d", n)
	}
	s.add(300, 400)
	s.add(500, 600)
	check(100, 200, 300, 400, 500, 600)
	// Overlap counts only new bytes; touching ranges merge.
	if n := s.add(150, 300); n != 100 {
		t.Fatalf("added %d", n)
	}
	check(100, 400, 500, 600)
	if n := s.add(100, 400); n != 0 {
		t.Fatalf("re-SACK added %d", n)
	}
	s.add(50, 700)
	check(50, 700)
	// The cumulative ACK trims and drops.
	s.add(800, 900)
	s.ack(60)
	check(60, 700, 800, 900)
	s.ack(750)
	check(800, 900)
	s.ack(2000)
	check()
	// Bounded: a block above a full board is forgotten, a lower one
	// replaces the highest range.
	for i := 0; i < maxSACKRanges; i++ {
		s.add(Seq(1000+100*i), Seq(1050+100*i))
	}
	if s.add(100000, 100010) != 0 || s.n != maxSACKRanges {
		t.Fatal("full scoreboard took a range above")
	}
	if s.add(10, 20) != 10 || s.n != maxSACKRanges || s.r[0].start != 10 ||
		s.high() != Seq(1050+100*(maxSACKRanges-2)) {
		t.Fatalf("full scoreboard: %v", s.r[:s.n])
	}
	// IsLost: three ranges, or more than two segments' worth, above.
	s.clear()
	s.add(1100, 1200)
	s.add(1300, 1400)
	if s.lostHoles(100) != 0 {
		t.Fatal("lost with 200 bytes in two ranges above")
	}
	s.add(1500, 1501)
	if s.lostHoles(100) != 1 {
		t.Fatalf("lostHoles %d with three ranges", s.lostHoles(100))
	}
	s.clear()
	s.add(1100, 1200)
	s.add(1300, 1450)
	if s.lostHoles(100) != 1 {
		t.Fatalf("lostHoles %d with 250 bytes above the first hole, 150 above the second", s.lostHoles(100))
	}
	s.add(1450, 1501)
	if s.lostHoles(100) != 2 {
		t.Fatalf("lostHoles %d with 201 bytes above the second hole", s.lostHoles(100))
	}
	if b, r := s.above(1350); b != 151 || r != 1 {
		t.Fatalf("above %d %d", b, r)
	}
	if s.sackedBelow(1350) != 150 {
		t.Fatal("sackedBelow")
	}
}

func TestScoreboardUpdateFromACKs(t *testing.T) {
	h := newHarness(t).establishedSACK()
	h.c.SetNoDelay(true)
	h.write(strings.Repeat("s", 5000))
	h.take()
	una := h.c.sndUna
	// A block beyond SND.MAX is ignored, as is a reversed one.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: una, Win: 30000, SACK: []SACKBlock{{una + 1000, una + 6000}, {una + 3000, una + 2000}}})
	if h.c.sb.n != 0 {
		t.Fatalf("scoreboard took bogus blocks: %v", h.c.sb.r[:h.c.sb.n])
	}
	h.send(S{F: FlagACK, Seq: h.rem, Ack: una, Win: 30000, SACK: []SACKBlock{{una + 2800, una + 4200}, {una + 1400, una + 2000}}})
	if h.c.sb.n != 2 || h.c.sb.sacked != 2000 {
		t.Fatalf("scoreboard %v", h.c.sb.r[:h.c.sb.n])
	}
	// A D-SACK below the ACK is counted and not recorded.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: una + 1400, Win: 30000, SACK: []SACKBlock{{una, una + 1400}, {una + 2800, una + 4200}}})
	if h.c.Stats().DSACKsReceived != 1 || h.c.sb.n != 2 || h.c.sb.r[0].start != una+1400 {
		t.Fatalf("after D-SACK: %v %+v", h.c.sb.r[:h.c.sb.n], h.c.Stats())
	}
	// The cumulative ACK passing a range drops it.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: una + 2800, Win: 30000})
	if h.c.sb.n != 1 || h.c.sb.r[0] != (seqRange{una + 2800, una + 4200}) {
		t.Fatalf("after ACK: %v", h.c.sb.r[:h.c.sb.n])
	}
}

// lossRound sends a flight of n segments of mss bytes through a scripted
// receiver that loses the segments in lost (by index, first transmission
// only) and answers each arrival as a SACK receiver does (or plainly),
// and returns the indexes of the segments retransmitted in each round
// trip until everything is acknowledged.
func lossRounds(t *testing.T, sack bool, n int, lost ...int) [][]int {
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	if sack {
		h.establishedSACK()
	} else {
		h.established()
	}
	const mss = 1400
	h.write(strings.Repeat("x", n*mss))
	flight := h.take()
	if len(flight) != n {
		t.Fatalf("%d segments in flight, want %d", len(flight), n)
	}
	idx := func(s Seq) int { return s.Sub(h.loc) / mss }
	have := make([]bool, n)
	dropped := map[int]bool{}
	for _, i := range lost {
		dropped[i] = true
	}
	var ooo []oooRange // the receiver's view, for SACK blocks
	var gen uint32
	var rounds [][]int
	for round := 0; len(flight) > 0 && round < 10; round++ {
		var next []sent
		var retx []int
		for _, s := range flight {
			i := idx(s.h.Seq)
			if round > 0 || !dropped[i] {
				for j := i; j < i+len(s.data)/mss; j++ {
					have[j] = true
				}
			}
			cum := 0
			for cum < n && have[cum] {
				cum++
			}
			// Rebuild the out-of-order ranges above cum, the one
			// holding segment i being the newest.
			ooo = ooo[:0]
			for j := cum; j < n; j++ {
				if !have[j] {
					continue
				}
				if len(ooo) > 0 && ooo[len(ooo)-1].end == h.loc.Add(j*mss) {
					ooo[len(ooo)-1].end += mss
				} else {
					ooo = append(ooo, oooRange{seqRange{h.loc.Add(j * mss), h.loc.Add((j + 1) * mss)}, 0})
				}
			}
			gen++
			var bl []SACKBlock
			if sack {
				for k := range ooo {
					if ooo[k].start.LessEq(s.h.Seq) && s.h.Seq.LessThan(ooo[k].end) {
						bl = append(bl, SACKBlock{ooo[k].start, ooo[k].end})
					}
				}
				for k := len(ooo) - 1; k >= 0 && len(bl) < 4; k-- {
					if !(ooo[k].start.LessEq(s.h.Seq) && s.h.Seq.LessThan(ooo[k].end)) {
						bl = append(bl, SACKBlock{ooo[k].start, ooo[k].end})
					}
				}
			}
			h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc.Add(cum * mss), Win: 30000, SACK: bl})
			for _, o := range h.take() {
				if o.h.Seq.LessThan(h.c.sndMax) && len(o.data) > 0 {
					retx = append(retx, idx(o.h.Seq))
				}
				next = append(next, o)
			}
		}
		rounds = append(rounds, retx)
		flight = next
	}
	if h.c.sndUna != h.c.sndMax || h.c.inRecovery {
		t.Fatalf("not recovered: una %d max %d", h.c.sndUna, h.c.sndMax)
	}
	return rounds
}

func TestSACKRecoveryRetransmitsExactlyTheHoles(t *testing.T) {
	// Twenty segments, three lost far apart. With SACK every hole is
	// resent in the first round trip, and nothing the peer holds is
	// resent; NewReno learns of one hole per round trip (RFC 6582
	// partial ACKs) and needs three.
	sack := lossRounds(t, true, 20, 2, 9, 15)
	if len(sack) != 2 || !equalInts(sack[0], []int{2, 9, 15}) || len(sack[1]) != 0 {
		t.Fatalf("SACK recovery rounds %v", sack)
	}
	reno := lossRounds(t, false, 20, 2, 9, 15)
	if len(reno) != 4 || !equalInts(reno[0], []int{2}) || !equalInts(reno[1], []int{9}) || !equalInts(reno[2], []int{15}) {
		t.Fatalf("NewReno recovery rounds %v", reno)
	}
	t.Logf("retransmissions per round trip: SACK %v, NewReno %v", sack, reno)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSACKRecoveryEntryAndWindow(t *testing.T) {
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	h.establishedSACK()
	const mss = 1400
	h.write(strings.Repeat("w", 10*mss))
	h.take()
	at := func(i int) Seq { return h.loc.Add(i * mss) }
	// Segment 0 lost; 1 and 2 arrive: two duplicates, not yet lost.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(1), at(2)}}})
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(1), at(3)}}})
	h.expectNothing() // no new data to send: all was written
	if h.c.inRecovery {
		t.Fatal("recovery after two duplicates with two segments SACKed")
	}
	// Segment 3 SACKed: more than 2*SMSS above segment 0, IsLost.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(1), at(4)}}})
	h.expect(S{F: FlagACK, Seq: at(0), Ack: h.rem, Data: strings.Repeat("w", mss)})
	if !h.c.inRecovery || h.c.Stats().SACKRecoveries != 1 {
		t.Fatal("not in SACK recovery")
	}
	// ssthresh = cwnd = FlightSize/2; no inflation (RFC 6675 §5 (4.2)).
	if w, th := h.c.CongestionWindow(), h.c.cc.Threshold(); w != 5*mss || th != 5*mss {
		t.Fatalf("cwnd %d ssthresh %d", w, th)
	}
	// pipe: segments 4..9 in flight, 0 retransmitted: 7 segments.
	if h.c.pipe != 7*mss {
		t.Fatalf("pipe %d", h.c.pipe)
	}
	// A single ACK that SACKs three segments at once also starts
	// recovery, without three duplicates (IsLost(HighACK+1)).
	h2 := newHarness(t)
	h2.cfg.Congestion = bigWindow
	h2.establishedSACK()
	h2.write(strings.Repeat("w", 10*mss))
	h2.take()
	h2.send(S{F: FlagACK, Seq: h2.rem, Ack: h2.loc, Win: 30000, SACK: []SACKBlock{{h2.loc.Add(mss), h2.loc.Add(4 * mss)}}})
	h2.expect(S{F: FlagACK, Seq: h2.loc, Ack: h2.rem, Data: strings.Repeat("w", mss)})
	// The full ACK ends recovery; the scoreboard is empty.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(10), Win: 30000})
	if h.c.inRecovery || h.c.sb.n != 0 {
		t.Fatal("recovery not ended by the full ACK")
	}
}

func TestSACKRescueRetransmission(t *testing.T) {
	// The last segment of the window is lost too: after the hole at the
	// front is repaired (a partial ACK), rule 4 resends the tail without
	// waiting for the timer.
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	h.establishedSACK()
	const mss = 1400
	h.write(strings.Repeat("r", 8*mss))
	h.take()
	at := func(i int) Seq { return h.loc.Add(i * mss) }
	for i := 2; i <= 6; i++ {
		h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(1), at(i)}}})
	}
	got := h.take()
	if len(got) != 1 || got[0].h.Seq != at(0) {
		t.Fatalf("sent %v", got)
	}
	// The retransmission of 0 arrives: ACK up to 7 (segment 7 lost).
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(7), Win: 30000})
	got = h.take()
	if len(got) != 1 || got[0].h.Seq != at(7) || h.c.Stats().RescueRetransmits != 1 {
		t.Fatalf("no rescue retransmission: %v %+v", got, h.c.Stats())
	}
}

func TestSACKLostRetransmission(t *testing.T) {
	// The retransmission of a hole is lost as well; SACKs of data sent
	// after it reveal that, and it is sent again before the timer.
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	h.establishedSACK()
	h.c.SetNoDelay(true)
	const mss = 1400
	h.write(strings.Repeat("l", 6*mss))
	h.take()
	at := func(i int) Seq { return h.loc.Add(i * mss) }
	for i := 2; i <= 5; i++ {
		h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(1), at(i)}}})
	}
	if got := h.take(); len(got) != 1 || got[0].h.Seq != at(0) {
		t.Fatalf("sent %v", got)
	}
	// New data goes out after the retransmission and arrives.
	h.write(strings.Repeat("n", 4*mss))
	h.take()
	for i := 7; i <= 10; i++ {
		h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(6), at(i)}, {at(1), at(6)}}})
	}
	got := h.take()
	found := false
	for _, s := range got {
		found = found || s.h.Seq == at(0)
	}
	if !found || h.c.Stats().LostRetransmits != 1 {
		t.Fatalf("lost retransmission not resent: %v %+v", got, h.c.Stats())
	}
}

func TestSACKTimeoutClearsScoreboard(t *testing.T) {
	// RFC 6675 §5.1 (and RFC 2018 §8): a timeout forgets the SACK
	// information, as the peer may have reneged; the recovery point is
	// kept; SACKs that arrive afterwards let the go-back retransmission
	// skip what the peer holds.
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	h.establishedSACK()
	const mss = 1400
	h.write(strings.Repeat("t", 8*mss))
	h.take()
	at := func(i int) Seq { return h.loc.Add(i * mss) }
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(2), at(4)}}})
	if h.c.sb.n != 1 {
		t.Fatal("no scoreboard")
	}
	h.fireRTO()
	if h.c.sb.n != 0 || h.c.inRecovery || h.c.Stats().TailLossProbes != 0 {
		t.Fatal("scoreboard kept across the timeout")
	}
	h.expect(S{F: FlagACK, Seq: at(0), Ack: h.rem, Data: strings.Repeat("t", mss)})
	// Segment 0 arrives; 1 is missing, 2..7 are held.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(1), Win: 30000, SACK: []SACKBlock{{at(2), at(8)}}})
	got := h.take()
	if len(got) != 1 || got[0].h.Seq != at(1) {
		t.Fatalf("after the timeout sent %v, want only segment 1", got)
	}
	if h.c.inRecovery {
		t.Fatal("new recovery before the recovery point was acknowledged")
	}
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(8), Win: 30000})
	h.expectNothing()
	if h.c.sndUna != h.c.sndMax {
		t.Fatal("not all acknowledged")
	}
}

func TestNoSACKPeerUsesNewReno(t *testing.T) {
	// SACK blocks from a peer that did not negotiate SACK are ignored:
	// recovery is NewReno's.
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	h.established()
	const mss = 1400
	h.write(strings.Repeat("n", 10*mss))
	h.take()
	at := func(i int) Seq { return h.loc.Add(i * mss) }
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000, SACK: []SACKBlock{{at(1), at(5)}}})
	if h.c.inRecovery || h.c.sb.n != 0 {
		t.Fatal("used SACK blocks not negotiated")
	}
	for i := 0; i < 2; i++ {
		h.send(S{F: FlagACK, Seq: h.rem, Ack: at(0), Win: 30000})
	}
	h.expect(S{F: FlagACK, Seq: at(0), Ack: h.rem, Data: strings.Repeat("n", mss)})
	if !h.c.inRecovery || h.c.Stats().SACKRecoveries != 0 || h.c.CongestionWindow() != 5*mss+3*mss {
		t.Fatalf("not NewReno recovery: cwnd %d %+v", h.c.CongestionWindow(), h.c.Stats())
	}
}

func TestTailLossProbe(t *testing.T) {
	const mss = 1400
	setup := func() *harness {
		h := newHarness(t)
		h.now = h.now.Add(0)
		h.synReceivedSACK()
		h.now = h.now.Add(20 * time.Millisecond) // SRTT 20 ms
		h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
		if h.c.srtt != 20*time.Millisecond {
			t.Fatalf("srtt %v", h.c.srtt)
		}
		h.c.SetNoDelay(true)
		return h
	}
	// The last segments of a flight are lost and no ACK comes: the probe
	// resends the last segment after 2*SRTT, long before the RTO.
	h := setup()
	h.write(strings.Repeat("p", 3*mss))
	h.take()
	if d := h.fire(); d != 40*time.Millisecond {
		t.Fatalf("probe after %v", d)
	}
	h.expect(S{F: FlagACK, Seq: h.loc.Add(2 * mss), Ack: h.rem, Data: strings.Repeat("p", mss)})
	if st := h.c.Stats(); st.TailLossProbes != 1 || st.RTOExpirations != 0 {
		t.Fatalf("stats %+v", st)
	}
	// One probe per episode: the next deadline is the RTO.
	if d := h.c.NextDeadline().Sub(h.now); d != h.c.RTO() {
		t.Fatalf("next deadline in %v, RTO %v", d, h.c.RTO())
	}
	// It repaired a loss (no D-SACK): cwnd is reduced as for any loss.
	w := h.c.CongestionWindow()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc.Add(3 * mss), Win: 30000})
	if h.c.Stats().TailLossRepairs != 1 || h.c.CongestionWindow() >= w {
		t.Fatalf("no reaction to the repaired loss: cwnd %d -> %d %+v", w, h.c.CongestionWindow(), h.c.Stats())
	}

	// The probe was needless (the ACK was lost, the peer has the data):
	// the D-SACK says so, and cwnd stays.
	h = setup()
	h.write(strings.Repeat("p", 3*mss))
	h.take()
	h.fire()
	h.take()
	w = h.c.CongestionWindow()
	end := h.loc.Add(3 * mss)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: end, Win: 30000, SACK: []SACKBlock{{end - mss, end}}})
	if h.c.Stats().TailLossRepairs != 0 || h.c.CongestionWindow() < w {
		t.Fatalf("needless probe reduced cwnd %d -> %d", w, h.c.CongestionWindow())
	}

	// With unsent data waiting (cwnd full), the probe is new data.
	h = setup()
	h.write(strings.Repeat("q", 6*mss)) // IW is 3 segments
	if got := len(h.take()); got != 3 {
		t.Fatalf("%d segments", got)
	}
	h.fire()
	h.expect(S{F: FlagACK, Seq: h.loc.Add(3 * mss), Ack: h.rem, Data: strings.Repeat("q", mss)})

	// Without SACK there is no probe: the RTO it is.
	h2 := newHarness(t).established()
	h2.now = h2.now.Add(time.Second)
	h2.write("x")
	h2.take()
	if d := h2.fire(); d != h2.c.RTO() && d < 200*time.Millisecond {
		t.Fatalf("no-SACK deadline %v", d)
	}
	if h2.c.Stats().TailLossProbes != 0 {
		t.Fatal("probe without SACK")
	}
}
