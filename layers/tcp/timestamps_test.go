package tcp

import (
	"strings"
	"testing"
	"time"
)

// tsEstablished opens a passive connection where both sides use
// timestamps; the peer's clock starts at 5000.
func tsEstablished(t *testing.T) (*harness, uint32) {
	h := newHarness(t)
	syn := h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 30000, MSS: 1400, TS: true, TSVal: 5000})
	c, err := Accept(&h.cfg, tTuple, syn, localISS, h.now, h.emit)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	out := h.take()
	o := out[0].h.Options
	if !o.HasTimestamps || o.TSEcr != 5000 {
		t.Fatalf("SYN-ACK timestamps %+v", o)
	}
	h.loc, h.rem = localISS+1, remoteISS+1
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, TS: true, TSVal: 5001, TSEcr: o.TSVal})
	h.state(StateEstablished)
	return h, o.TSVal
}

func TestTimestampsNegotiation(t *testing.T) {
	// Active: the SYN offers timestamps with a zero echo; a SYN-ACK with
	// them turns them on, costs 12 bytes of MSS, and every later segment
	// echoes the peer's latest TSval.
	h := newHarness(t)
	h.c, _ = Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	h.expect(S{F: FlagSYN, Seq: localISS, TS: true, TSEcr: 0})
	h.loc, h.rem = localISS+1, remoteISS+1
	h.send(S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc, Win: 1000, MSS: 1460, TS: true, TSVal: 777})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, TS: true, TSEcr: 777})
	if h.c.MSS() != 1448 {
		t.Fatalf("MSS %d with timestamps", h.c.MSS())
	}
	// Passive without timestamps in the SYN: none in the SYN-ACK.
	h2 := newHarness(t).synReceived()
	h2.send(S{F: FlagACK, Seq: h2.rem, Ack: h2.loc, Win: 1000})
	h2.write("x")
	if got := h2.take(); got[0].h.Options.HasTimestamps {
		t.Fatal("timestamps sent though the peer did not offer them")
	}
	// Disabled locally: not offered.
	h3 := newHarness(t)
	h3.cfg.NoTimestamps = true
	h3.c, _ = Connect(&h3.cfg, tTuple, localISS, h3.now, h3.emit)
	if got := h3.take(); got[0].h.Options.HasTimestamps {
		t.Fatal("timestamps offered though disabled")
	}
}

func TestPAWS(t *testing.T) {
	h, _ := tsEstablished(t)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "new", TS: true, TSVal: 6000})
	h.rem += 3
	h.read("new")
	// An in-window segment with an older timestamp is an old duplicate
	// from a previous wrap of the sequence space: dropped and ACKed.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "old", TS: true, TSVal: 5500})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, TS: true, TSEcr: 6000})
	if h.c.Buffered() != 0 || h.c.Stats().DroppedPAWS != 1 {
		t.Fatalf("PAWS let an old segment in: %+v", h.c.Stats())
	}
	// A reset is not subject to PAWS (RFC 7323 §5.3 R1).
	h.send(S{F: FlagRST, Seq: h.rem, TS: true, TSVal: 1})
	h.state(StateClosed)
}

func TestPAWSIdleExpiry(t *testing.T) {
	// After 24 days of silence TS.Recent is no longer trusted (§5.5).
	h, _ := tsEstablished(t)
	h.now = h.now.Add(25 * 24 * time.Hour)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "late", TS: true, TSVal: 10})
	h.read("late")
}

func TestTimestampEchoRule(t *testing.T) {
	// RFC 7323 §4.3: the echoed value is the TSval of the segment at the
	// left edge of the window, not of later out-of-order ones.
	h, _ := tsEstablished(t)
	h.send(S{F: FlagACK, Seq: h.rem + 3, Ack: h.loc, Win: 30000, Data: "def", TS: true, TSVal: 7000})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, TS: true, TSEcr: 5001})
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "abc", TS: true, TSVal: 7100})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem + 6, TS: true, TSEcr: 7100})
}

func TestTimestampRTTAfterRetransmission(t *testing.T) {
	// With timestamps an ACK of retransmitted data still yields a sample,
	// measured from the retransmission it echoes; an echo from before
	// the timeout is refused.
	h, _ := tsEstablished(t)
	srtt := h.c.srtt
	h.write(strings.Repeat("r", 100))
	first := h.take()[0].h.Options.TSVal
	h.fire() // RTO
	retx := h.take()[0].h.Options.TSVal
	h.now = h.now.Add(30 * time.Millisecond)
	// Echo of the first transmission (its ACK got lost): no sample.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 50, Win: 30000, TS: true, TSVal: 5002, TSEcr: first})
	if h.c.srtt != srtt {
		t.Fatalf("sample from an echo older than the timeout: srtt %v", h.c.srtt)
	}
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 100, Win: 30000, TS: true, TSVal: 5003, TSEcr: retx})
	if h.c.srtt == srtt {
		t.Fatal("no sample from the echo of the retransmission")
	}
}
