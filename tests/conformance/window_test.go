package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/tcp"
)

// windowTo makes the peer advertise win (acknowledging up to c.Rcv).
func windowTo(c *Conn, win uint16) {
	c.Win = win
	c.Send(c.Seg(tcp.FlagACK, nil))
}

// sentBefore returns the segments with data or FIN the stack sent on c
// since the last frame read, up to the answer to a probe sent now (which
// the stack answers with a bare ACK after all of them).
func sentBefore(c *Conn) []*tcp.Segment {
	c.B.T.Helper()
	c.B.Send(c.Probe().Frame)
	var segs []*tcp.Segment
	for {
		s := c.Expect(TCPM{})
		if len(s.Payload()) == 0 && !s.Flags().Has(tcp.FlagFIN) {
			return segs
		}
		segs = append(segs, s)
	}
}

// RFC 9293 §3.8.6 ("a TCP sender MUST be robust against window
// shrinking") and RFC 7323 §2.4: when the peer moves the right edge of
// its window left, data already sent past it stays in flight and no new
// data goes out until the window opens again.
func TestShrunkWindowRespected_RFC9293_3_8_6(t *testing.T) {
	_, c := established(t)
	windowTo(c, 2920)
	c.B.ExpectNone(c.Probe())
	c.Write(strings.Repeat("w", 5000))
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv)})
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv + 1460)})
	c.Rcv += 1460
	windowTo(c, 500) // right edge from ISS+1+2920 back to ISS+1+1960
	c.B.ExpectNone(c.Probe())
	c.Rcv += 1460
	windowTo(c, 10000)
	s := c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv)})
	if len(s.Payload()) != 1460 {
		t.Fatalf("segment after the window reopened carries %d bytes, want 1460", len(s.Payload()))
	}
}

// RFC 9293 §3.8.6 ("if the window shrinks to zero, the TCP implementation
// MUST probe it in the standard way") and RFC 1122 §4.2.2.17: a window
// closed with data in flight is probed from SND.UNA, and the connection
// goes on when it opens.
func TestWindowShrunkToZeroProbed_RFC9293_3_8_6(t *testing.T) {
	_, c := established(t)
	windowTo(c, 2920)
	c.B.ExpectNone(c.Probe())
	c.Write(strings.Repeat("z", 2920))
	c.Expect(TCPM{Seq: V(c.Rcv)})
	c.Expect(TCPM{Seq: V(c.Rcv + 1460)})
	windowTo(c, 0)
	c.B.ExpectNone(c.Probe())
	probed := false
	for round := 0; round < 3 && !probed; round++ {
		c.B.AdvanceSettled(61 * time.Second)
		for _, s := range sentBefore(c) {
			if s.Seq() != c.Rcv {
				t.Fatalf("round %d: segment at %d, want one from SND.UNA %d", round, s.Seq(), c.Rcv)
			}
			probed = true
		}
	}
	if !probed {
		t.Fatal("a window shrunk to zero was never probed")
	}
	c.Rcv += 2920
	windowTo(c, 64240)
	c.Write("after")
	for {
		s := c.Expect(TCPM{})
		if string(s.Payload()) == "after" {
			if s.Seq() != c.Rcv {
				t.Fatalf("new data at %d, want %d", s.Seq(), c.Rcv)
			}
			return
		}
		if !s.Seq().LessThan(c.Rcv) {
			t.Fatalf("unexpected segment at %d (len %d) before the new data", s.Seq(), len(s.Payload()))
		}
	}
}

// RFC 1122 §4.2.2.17 ("the sending TCP MUST allow the connection to
// remain open as long as the receiving TCP continues to send
// acknowledgments in response to the probe segments") and RFC 9293
// §3.8.6.1: the persist timer keeps probing a zero window for longer than
// R2 (100 s) without giving up, backing off to no more than MaxRTO; when
// the window opens the data goes at once, the unacknowledged probe byte
// with it (it was dropped by the closed window).
func TestPersistOutlastsR2_RFC1122_4_2_2_17(t *testing.T) {
	_, c := established(t)
	windowTo(c, 0)
	c.B.ExpectNone(c.Probe())
	c.Write("blocked")
	for round := 0; round < 6; round++ {
		c.B.AdvanceSettled(61 * time.Second)
		probes := sentBefore(c)
		for _, s := range probes {
			if s.Seq() != c.Rcv || len(s.Payload()) != 1 {
				t.Fatalf("round %d: segment at %d with %d bytes, want a 1-byte probe at %d", round, s.Seq(), len(s.Payload()), c.Rcv)
			}
		}
		if len(probes) == 0 {
			t.Fatalf("round %d: no window probe in 61 s", round)
		}
		c.Send(c.Seg(tcp.FlagACK, nil)) // still closed
	}
	windowTo(c, 64240)
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Seq: V(c.Rcv), Data: V("blocked")})
}

// RFC 9293 §3.8.6 ("a TCP receiver SHOULD NOT shrink the window, i.e.,
// move the right window edge to the left"): as data arrives and is not
// yet read, the right edge the stack advertises never moves left.
func TestReceiverNeverShrinksWindow_RFC9293_3_8_6(t *testing.T) {
	b := New(t)
	q := b.Listen(port, 0, tcp.Config{RecvBufferSize: 4096, AckDelay: -1})
	c := b.Handshake(port, q, DefaultSYNOptions)
	right := c.Nxt.Add(int(c.SynAck.Window))
	for i := 0; i < 12; i++ {
		c.SendData(strings.Repeat("r", 500))
		s := c.ExpectACK()
		edge := s.Ack().Add(int(s.Window()))
		if edge.LessThan(right) {
			t.Fatalf("segment %d: right edge moved left, from %d to %d", i, right, edge)
		}
		right = edge
		if s.Window() < 500 {
			break
		}
	}
}
