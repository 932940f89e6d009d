package tcp

import (
	"testing"
	"time"
)

// Bare segments outside the window are answered with an ACK at most every
// oowACKInterval, so two stacks that each find the other's ACKs
// unacceptable cannot ACK each other in a loop; data outside the window is
// still answered at once, and so is the first bare segment.
func TestOutOfWindowACKsAreRateLimited(t *testing.T) {
	h := newHarness(t).established()
	old := h.rem - 100 // below RCV.NXT: not acceptable (RFC 9293 §3.10.7.4)
	h.send(S{F: FlagACK, Seq: old, Ack: h.loc, Win: 30000})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	for i := 0; i < 20; i++ {
		h.advance(10 * time.Millisecond)
		h.send(S{F: FlagACK, Seq: old, Ack: h.loc, Win: 30000})
	}
	h.expectNothing()
	if got := h.c.Stats().OutOfWindowACKsLimited; got != 20 {
		t.Fatalf("%d limited, want 20", got)
	}
	// Old data is a duplicate the peer must hear about: always answered.
	h.send(S{F: FlagACK, Seq: old, Ack: h.loc, Win: 30000, Data: "dup"})
	if len(h.take()) != 1 {
		t.Fatal("duplicate data was not answered")
	}
	// Once the interval has passed, a bare one is answered again.
	h.advance(oowACKInterval)
	h.send(S{F: FlagACK, Seq: old, Ack: h.loc, Win: 30000})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
}
