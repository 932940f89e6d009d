package tcp

import (
	"testing"
	"time"
)

// RFC 5961: blind reset, SYN and data injection mitigations.

func TestRFC5961ResetExactOnly(t *testing.T) {
	// §3.2: only RST at exactly RCV.NXT resets; anywhere else in the
	// window draws a challenge ACK, and the peer's real RST (carrying the
	// number from that ACK) then resets.
	h := newHarness(t).established()
	h.send(S{F: FlagRST, Seq: h.rem + 100})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateEstablished)
	h.send(S{F: FlagRST | FlagACK, Seq: h.rem, Ack: h.loc})
	h.expectNothing()
	h.state(StateClosed)
	if h.c.Err() != ErrReset {
		t.Fatal(h.c.Err())
	}
	if _, err := h.c.Write(h.now, []byte("x")); err != ErrReset {
		t.Fatalf("Write after reset: %v", err)
	}
	if _, err := h.c.Read(h.now, make([]byte, 1)); err != ErrReset {
		t.Fatalf("Read after reset: %v", err)
	}
}

func TestRFC5961ChallengeACKRateLimit(t *testing.T) {
	h := newHarness(t).established()
	for i := 0; i < 25; i++ {
		h.send(S{F: FlagRST, Seq: h.rem + Seq(10+i)})
	}
	if got := len(h.take()); got != 10 {
		t.Fatalf("%d challenge ACKs in one second, want 10", got)
	}
	if st := h.c.Stats(); st.ChallengeACKs != 10 || st.ChallengeACKsLimited != 15 {
		t.Fatalf("stats %+v", st)
	}
	// SYNs and bad ACKs share the budget.
	h.send(S{F: FlagSYN, Seq: h.rem})
	h.expectNothing()
	h.now = h.now.Add(time.Second)
	h.send(S{F: FlagSYN, Seq: h.rem})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateEstablished)
}

func TestRFC5961SYNNeverResets(t *testing.T) {
	// §4.2: a SYN, in window or not, gets a challenge ACK and never
	// resets the connection (RFC 793 would have sent RST and closed).
	h := newHarness(t).established()
	for _, off := range []int{0, 1, 1000, testBuf + 1, -5} {
		h.send(S{F: FlagSYN, Seq: h.rem.Add(off)})
		h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	}
	h.state(StateEstablished)
}

func TestRFC5961ACKAcceptability(t *testing.T) {
	h := newHarness(t).established()
	h.write("0123456789")
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "0123456789"})
	// Acknowledging more than was ever sent: challenge ACK, dropped
	// (together with its data).
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 11, Win: 1000, Data: "zz"})
	h.expect(S{F: FlagACK, Seq: h.loc + 10, Ack: h.rem})
	if h.c.Buffered() != 0 || h.c.Unsent() != 10 {
		t.Fatalf("segment with bad ACK had effect: buffered %d unsent %d", h.c.Buffered(), h.c.Unsent())
	}
	// Older than SND.UNA - MAX.SND.WND (MAX.SND.WND is 30000 here):
	// challenge ACK and dropped.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc.Add(-30001), Win: 1000, Data: "zz"})
	h.expect(S{F: FlagACK, Seq: h.loc + 10, Ack: h.rem})
	if h.c.Buffered() != 0 {
		t.Fatal("data with a too-old ACK accepted")
	}
	// Old but within MAX.SND.WND: the data is accepted.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc.Add(-29999), Win: 1000, Data: "ok"})
	h.read("ok")
	// And a good ACK releases the data.
	h.send(S{F: FlagACK, Seq: h.rem + 2, Ack: h.loc + 10, Win: 1000})
	if h.c.Unsent() != 0 {
		t.Fatalf("unsent %d", h.c.Unsent())
	}
}

func TestRFC5961DataInjectionOutOfWindow(t *testing.T) {
	// Data entirely outside the window is not accepted, only ACKed.
	h := newHarness(t).established()
	h.send(S{F: FlagACK, Seq: h.rem.Add(-100), Ack: h.loc, Data: "old"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.send(S{F: FlagACK, Seq: h.rem.Add(testBuf), Ack: h.loc, Data: "future"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	if h.c.Buffered() != 0 {
		t.Fatal("accepted out-of-window data")
	}
}
