package tcp

import (
	"testing"
	"time"
)

// twEntry takes the compact entry of the harness's connection in
// TIME-WAIT.
func twEntry(t *testing.T, h *harness) TimeWait {
	t.Helper()
	h.state(StateTimeWait)
	tw, ok := h.c.TimeWait()
	if !ok {
		t.Fatal("no TIME-WAIT entry for a connection in TIME-WAIT")
	}
	return tw
}

// sendACK emits the entry's ACK through the harness, so it is checked
// through the wire format like the Conn's own segments.
func sendTWACK(h *harness, tw *TimeWait) {
	o := tw.ACK(h.now, tTuple)
	h.emit(&o)
}

func TestTimeWaitEntryOnlyInTimeWait(t *testing.T) {
	h := newHarness(t).finWait2()
	if _, ok := h.c.TimeWait(); ok {
		t.Fatal("FIN-WAIT-2 gave a TIME-WAIT entry")
	}
}

func TestTimeWaitEntryAcksRetransmittedFIN(t *testing.T) {
	// RFC 9293 §3.10.7.4: in TIME-WAIT the only thing that can arrive is
	// a retransmission of the peer's FIN: acknowledge it and restart the
	// 2 MSL timeout.
	h := newHarness(t).timeWait()
	tw := twEntry(t, h)
	if want := h.now.Add(60 * time.Second); !tw.Expires().Equal(want) {
		t.Fatalf("expires %v, want %v", tw.Expires(), want)
	}
	h.advance(30 * time.Second)
	for range 3 { // every retransmission is answered, none rate-limited
		r := tw.Input(h.now, h.segment(S{F: FlagFIN | FlagACK, Seq: h.rem - 1, Ack: h.loc, Win: 30000}))
		if r != (TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitFIN}) {
			t.Fatalf("retransmitted FIN: %+v", r)
		}
		sendTWACK(h, &tw)
		h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	}
	if want := h.now.Add(60 * time.Second); !tw.Expires().Equal(want) {
		t.Fatalf("expires %v after the FIN, want %v (restarted)", tw.Expires(), want)
	}
	// The FIN with the last data before it, retransmitted together.
	r := tw.Input(h.now, h.segment(S{F: FlagFIN | FlagACK, Seq: h.rem - 4, Ack: h.loc, Data: "abc"}))
	if r.Reason != TimeWaitFIN || r.Action != TimeWaitSendACK {
		t.Fatalf("data+FIN retransmitted: %+v", r)
	}
}

func TestTimeWaitEntryIgnoresRST(t *testing.T) {
	// RFC 1337: a reset does not end TIME-WAIT, exact or out of window
	// (in the window, TestTimeWaitEntryChallengesInWindowRST).
	h := newHarness(t).timeWait()
	tw := twEntry(t, h)
	for _, seq := range []Seq{h.rem, h.rem + 70000, h.rem - 100} {
		r := tw.Input(h.now, h.segment(S{F: FlagRST, Seq: seq}))
		if r != (TimeWaitResult{Action: TimeWaitDrop, Reason: TimeWaitRST}) {
			t.Fatalf("RST at %d: %+v", seq, r)
		}
	}
}

func TestTimeWaitEntrySYNBySequence(t *testing.T) {
	// Without timestamps, a SYN above RCV.NXT is a new incarnation (RFC
	// 1122 §4.2.2.13, RFC 6191 §2); one at or below is refused with an
	// ACK (RFC 9293 §3.10.7.4, RFC 5961 §4.2), at most one per 500 ms.
	h := newHarness(t).timeWait()
	tw := twEntry(t, h)
	for _, seq := range []Seq{h.rem, h.rem - 1000} {
		tw := tw
		r := tw.Input(h.now, h.segment(S{F: FlagSYN, Seq: seq, Win: 1000}))
		if r != (TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitOldSYN}) {
			t.Fatalf("SYN at %d (RCV.NXT %d): %+v", seq, h.rem, r)
		}
		sendTWACK(h, &tw)
		h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
		r = tw.Input(h.now.Add(100*time.Millisecond), h.segment(S{F: FlagSYN, Seq: seq, Win: 1000}))
		if r != (TimeWaitResult{Action: TimeWaitDrop, Reason: TimeWaitOldSYN, Limited: true}) {
			t.Fatalf("second old SYN within 100 ms: %+v", r)
		}
		r = tw.Input(h.now.Add(600*time.Millisecond), h.segment(S{F: FlagSYN, Seq: seq, Win: 1000}))
		if r.Action != TimeWaitSendACK {
			t.Fatalf("old SYN after 600 ms: %+v", r)
		}
	}
	r := tw.Input(h.now, h.segment(S{F: FlagSYN, Seq: h.rem + 1, Win: 1000}))
	if r != (TimeWaitResult{Action: TimeWaitReopen, Reason: TimeWaitNewSYN}) {
		t.Fatalf("SYN above RCV.NXT: %+v", r)
	}
	if !tw.MinISS().GreaterThan(h.loc) {
		t.Fatalf("MinISS %d not above SND.NXT %d", tw.MinISS(), h.loc)
	}
	// The new connection opens with it.
	syn := S{F: FlagSYN, Seq: h.rem + 1, Win: 1000}
	c, err := Accept(&h.cfg, tTuple, h.segment(syn), tw.MinISS(), h.now, h.emit)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.expect(S{F: FlagSYN | FlagACK, Seq: tw.MinISS(), Ack: syn.Seq + 1})
}

// tsTimeWait takes a connection with timestamps to TIME-WAIT; the peer's
// last TSval is 5003.
func tsTimeWait(t *testing.T) *harness {
	h, _ := tsEstablished(t)
	if err := h.c.CloseWrite(h.now); err != nil {
		t.Fatal(err)
	}
	h.take()
	h.loc++
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, TS: true, TSVal: 5002})
	h.send(S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, TS: true, TSVal: 5003})
	h.rem++
	h.take()
	h.state(StateTimeWait)
	return h
}

func TestTimeWaitEntrySYNByTimestamp(t *testing.T) {
	// RFC 6191 §2: with timestamps, a SYN whose TSval is newer than the
	// old connection's last opens a new incarnation whatever its
	// sequence number; an older or equal one does not, even above
	// RCV.NXT.
	h := tsTimeWait(t)
	tw := twEntry(t, h)
	cases := []struct {
		seq   Seq
		tsval uint32
		want  TimeWaitAction
	}{
		{h.rem - 5000, 5004, TimeWaitReopen},
		{h.rem + 5000, 5003, TimeWaitSendACK},
		{h.rem + 5000, 4000, TimeWaitSendACK},
	}
	for _, c := range cases {
		tw := tw
		r := tw.Input(h.now, h.segment(S{F: FlagSYN, Seq: c.seq, Win: 1000, TS: true, TSVal: c.tsval}))
		if r.Action != c.want {
			t.Fatalf("SYN seq %d TSval %d: %+v, want action %d", c.seq, c.tsval, r, c.want)
		}
	}
	// A SYN without timestamps falls back to the sequence rule.
	r := tw.Input(h.now, h.segment(S{F: FlagSYN, Seq: h.rem + 5000, Win: 1000}))
	if r.Action != TimeWaitReopen {
		t.Fatalf("SYN without timestamps above RCV.NXT: %+v", r)
	}
}

func TestTimeWaitEntryPAWSAndTimestampedACK(t *testing.T) {
	h := tsTimeWait(t)
	tw := twEntry(t, h)
	// The ACK goes on with the connection's own clock and echoes the
	// peer's last TSval.
	h.advance(1500 * time.Millisecond)
	want := h.c.tsNow(h.now)
	r := tw.Input(h.now, h.segment(S{F: FlagFIN | FlagACK, Seq: h.rem - 1, Ack: h.loc, TS: true, TSVal: 5010}))
	if r.Reason != TimeWaitFIN {
		t.Fatalf("retransmitted FIN: %+v", r)
	}
	sendTWACK(h, &tw)
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, TS: true, TSVal: want, TSEcr: 5010})
	// An older timestamp is an old duplicate (RFC 7323 §5.3).
	r = tw.Input(h.now, h.segment(S{F: FlagFIN | FlagACK, Seq: h.rem - 1, Ack: h.loc, TS: true, TSVal: 5009}))
	if r != (TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitPAWS}) {
		t.Fatalf("FIN with an old timestamp: %+v", r)
	}
}

func TestTimeWaitEntryOtherSegments(t *testing.T) {
	h := newHarness(t).timeWait()
	tw := twEntry(t, h)
	before := tw.Expires()
	h.advance(time.Second)
	r := tw.Input(h.now, h.segment(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000}))
	if r != (TimeWaitResult{Action: TimeWaitDrop, Reason: TimeWaitBareACK}) {
		t.Fatalf("bare ACK: %+v", r)
	}
	r = tw.Input(h.now, h.segment(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Data: "late"}))
	if r != (TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitUnacceptable}) {
		t.Fatalf("data after the FIN: %+v", r)
	}
	r = tw.Input(h.now.Add(time.Second), h.segment(S{F: FlagSYN | FlagACK, Seq: h.rem + 10, Ack: h.loc}))
	if r != (TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitUnacceptable}) {
		t.Fatalf("SYN-ACK: %+v", r)
	}
	if !tw.Expires().Equal(before) {
		t.Fatalf("expiry moved by segments other than the FIN: %v", tw.Expires())
	}
}

func TestTimeWaitEntryChallengesInWindowRST(t *testing.T) {
	// RFC 5961 §3.2 with RFC 1337: a reset in the window but not at
	// RCV.NXT draws a challenge ACK, and still ends nothing.
	h := newHarness(t).timeWait()
	tw := twEntry(t, h)
	r := tw.Input(h.now, h.segment(S{F: FlagRST, Seq: h.rem + 50}))
	if r != (TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitRST}) {
		t.Fatalf("in-window RST: %+v", r)
	}
	// Data is answered whatever the rate limit.
	r = tw.Input(h.now, h.segment(S{F: FlagACK, Seq: h.rem - 1, Ack: h.loc, Data: "p"}))
	if r != (TimeWaitResult{Action: TimeWaitSendACK, Reason: TimeWaitUnacceptable}) {
		t.Fatalf("old data right after a challenge ACK: %+v", r)
	}
	r = tw.Input(h.now, h.segment(S{F: FlagACK, Seq: h.rem + 70000, Ack: h.loc}))
	if r != (TimeWaitResult{Action: TimeWaitDrop, Reason: TimeWaitUnacceptable, Limited: true}) {
		t.Fatalf("bare out-of-window ACK right after a challenge ACK: %+v", r)
	}
}

func TestTimestampClockGrowsAcrossIncarnations(t *testing.T) {
	// A new incarnation of a tuple must carry a newer TSval than the old
	// one's last, or a peer holding the tuple in TIME-WAIT refuses its
	// SYN (RFC 6191): the clock's offset is per tuple, not per
	// connection. Different tuples still get unrelated offsets.
	var secret [16]byte
	secret[0] = 7
	synTSVal := func(tu Tuple, now time.Time) uint32 {
		h := newHarness(t)
		if _, err := Connect(&h.cfg, tu, ISN(secret, tu, now), now, h.emit); err != nil {
			t.Fatal(err)
		}
		out := h.take()
		if len(out) != 1 || !out[0].h.Options.HasTimestamps {
			t.Fatalf("SYN %v without timestamps", out)
		}
		return out[0].h.Options.TSVal
	}
	for _, gap := range []time.Duration{time.Millisecond, time.Second, time.Minute} {
		old := synTSVal(tTuple, t0)
		last := old + 5000 // the old connection ran for 5 s
		if next := synTSVal(tTuple, t0.Add(5*time.Second+gap)); int32(next-last) <= 0 {
			t.Fatalf("%v after the old connection's last TSval %d, the new SYN's is %d", gap, last, next)
		}
	}
	other := tTuple
	other.Remote = netipMust("198.51.100.7:49153")
	if a, b := synTSVal(tTuple, t0), synTSVal(other, t0); a-b < 1<<20 && b-a < 1<<20 {
		t.Fatalf("two tuples' TSvals %d and %d within 2^20 of each other", a, b)
	}
}
