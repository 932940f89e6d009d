package tcp

import (
	"strings"
	"testing"
	"time"
)

func TestDelayedACK(t *testing.T) {
	h := newHarness(t).established()
	// One segment: ACK after AckDelay.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "a"})
	h.rem++
	h.expectNothing()
	h.advance(199 * time.Millisecond)
	h.expectNothing()
	h.advance(time.Millisecond)
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	// Two full-sized segments: ACK at once on the second (RFC 5681 §4.2).
	full := strings.Repeat("x", 1460)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: full})
	h.rem += 1460
	h.expectNothing()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: full})
	h.rem += 1460
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	if !h.c.NextDeadline().IsZero() {
		t.Fatal("delayed-ACK timer still armed after the ACK")
	}
	// Data we send carries the pending ACK.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "q"})
	h.rem++
	h.write("r")
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "r"})
}

func TestDelayedACKDisabled(t *testing.T) {
	h := newHarness(t)
	h.cfg.AckDelay = -1
	h.established()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "a"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem + 1})
}

func TestNagle(t *testing.T) {
	h := newHarness(t).established()
	h.write("a")
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "a"})
	// With "a" unacknowledged, small writes wait and coalesce.
	h.write("b")
	h.write("c")
	h.expectNothing()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 1, Win: 30000})
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc + 1, Ack: h.rem, Data: "bc"})
	h.loc += 3
	// A full segment is not held back, only the small tail.
	h.write(strings.Repeat("y", 1400+5)) // the peer's MSS is 1400
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Data: strings.Repeat("y", 1400)})
	// The FIN is not held back by Nagle either: the tail goes with it.
	h.c.CloseWrite(h.now)
	h.expect(S{F: FlagACK | FlagPSH | FlagFIN, Seq: h.loc + 1400, Ack: h.rem, Data: "yyyyy"})
}

func TestNoDelay(t *testing.T) {
	h := newHarness(t).established()
	h.c.SetNoDelay(true)
	h.write("a")
	h.write("b")
	h.expect(
		S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "a"},
		S{F: FlagACK | FlagPSH, Seq: h.loc + 1, Ack: h.rem, Data: "b"},
	)
}

func TestWindowScaleActive(t *testing.T) {
	h := newHarness(t)
	h.cfg.NoWindowScale = false
	h.cfg.RecvBufferSize = 1 << 20
	c, _ := Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	h.c = c
	// 1 MiB needs a shift of 5 to fit 16 bits; the SYN's own window is
	// unscaled and capped.
	h.expect(S{F: FlagSYN, Seq: localISS, Win: 65535, WS: 5 + 1})
	h.loc, h.rem = localISS+1, remoteISS+1
	h.send(S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc, Win: 1000, WS: 7 + 1, MSS: 1460})
	// From now on our windows are scaled by 5.
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Win: (1 << 20) >> 5})
	// And the peer's by 7: 10 << 7 = 1280 bytes.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 10})
	h.c.SetNoDelay(true)
	h.write(strings.Repeat("z", 3000))
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Data: strings.Repeat("z", 1280)})
}

func TestWindowScaleNotNegotiated(t *testing.T) {
	// The peer's SYN-ACK has no window scale: neither side scales, and
	// our window is capped at 65535.
	h := newHarness(t)
	h.cfg.NoWindowScale = false
	h.cfg.RecvBufferSize = 1 << 20
	h.c, _ = Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	h.take()
	h.loc, h.rem = localISS+1, remoteISS+1
	h.send(S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc, Win: 1000})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Win: 65535})
}

func TestWindowScalePassive(t *testing.T) {
	h := newHarness(t)
	h.cfg.NoWindowScale = false
	h.cfg.RecvBufferSize = 1 << 20
	// SYN with window scale 20, which is clamped to 14 (RFC 7323 §2.3).
	syn := h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 1000, WS: 20 + 1})
	h.c, _ = Accept(&h.cfg, tTuple, syn, localISS, h.now, h.emit)
	h.expect(S{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1, Win: 65535, WS: 5 + 1})
	if h.c.sndShift != 14 {
		t.Fatalf("peer shift %d", h.c.sndShift)
	}
	// Without the option in the SYN, the SYN-ACK must not carry it.
	h2 := newHarness(t)
	h2.cfg = h.cfg
	syn = h2.segment(S{F: FlagSYN, Seq: remoteISS, Win: 1000})
	h2.c, _ = Accept(&h2.cfg, tTuple, syn, localISS, h2.now, h2.emit)
	if got := h2.take(); got[0].h.Options.HasWindowScale {
		t.Fatal("SYN-ACK carries window scale the SYN did not offer")
	}
}

func TestOutOfOrderReassembly(t *testing.T) {
	h := newHarness(t).established()
	// Segments 2 and 3 arrive before 1; each draws an immediate
	// duplicate ACK (RFC 5681 §4.2).
	h.send(S{F: FlagACK, Seq: h.rem + 3, Ack: h.loc, Win: 1000, Data: "def"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.send(S{F: FlagACK, Seq: h.rem + 6, Ack: h.loc, Win: 1000, Data: "ghi"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	if h.c.Buffered() != 0 {
		t.Fatal("out-of-order data readable")
	}
	// A duplicate overlapping the held data changes nothing.
	h.send(S{F: FlagACK, Seq: h.rem + 4, Ack: h.loc, Win: 1000, Data: "efg"})
	h.take()
	// Filling the hole delivers everything and is ACKed at once.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "abc"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem + 9})
	h.read("abcdefghi")
}

func TestOutOfOrderFIN(t *testing.T) {
	h := newHarness(t).established()
	h.send(S{F: FlagACK | FlagFIN, Seq: h.rem + 3, Ack: h.loc, Win: 1000, Data: "end"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateEstablished)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "the"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem + 7})
	h.state(StateCloseWait)
	h.read("theend")
}

func TestOutOfOrderRangeCap(t *testing.T) {
	h := newHarness(t).established()
	// Nine disjoint ranges beyond a hole: the ninth is dropped.
	for i := 1; i <= maxOOORanges+1; i++ {
		h.send(S{F: FlagACK, Seq: h.rem.Add(10 * i), Ack: h.loc, Win: 1000, Data: "x"})
	}
	if st := h.c.Stats(); st.DroppedOOOFull != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A segment bridging two ranges merges them and frees a slot.
	h.send(S{F: FlagACK, Seq: h.rem.Add(10), Ack: h.loc, Win: 1000, Data: strings.Repeat("x", 11)})
	h.send(S{F: FlagACK, Seq: h.rem.Add(10 * (maxOOORanges + 1)), Ack: h.loc, Win: 1000, Data: "x"})
	if st := h.c.Stats(); st.DroppedOOOFull != 1 {
		t.Fatalf("stats %+v", st)
	}
	if h.c.nOOO != maxOOORanges {
		t.Fatalf("%d ranges", h.c.nOOO)
	}
}

func TestReceiveWindowShrinksAndReopens(t *testing.T) {
	h := newHarness(t)
	h.cfg.RecvBufferSize = 3000
	h.established()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: strings.Repeat("a", 1460)})
	h.rem += 1460
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: strings.Repeat("b", 1460)})
	h.rem += 1460
	// Unread data shrinks the window.
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Win: 80})
	// Receiver SWS avoidance: 80 < min(1500, MSS), so the window
	// is not... (it stays what was advertised; the peer may fill it).
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: strings.Repeat("c", 80)})
	h.rem += 80
	h.advance(200 * time.Millisecond)
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, ZeroWin: true})
	// Data beyond a zero window is not accepted.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "d"})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, ZeroWin: true})
	// Reading a little does not reopen (SWS); reading enough does, with
	// an immediate window update.
	p := make([]byte, 100)
	h.c.Read(h.now, p)
	h.expectNothing()
	h.c.Read(h.now, make([]byte, 2000))
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Win: 2100})
}

func TestZeroWindowProbing(t *testing.T) {
	h := newHarness(t).established()
	h.c.SetNoDelay(true)
	// The peer closes its window.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, ZeroWin: true})
	h.write("hello")
	h.expectNothing()
	// Probes carry one byte of new data, at RTO, then doubling.
	var waits []time.Duration
	for i := 0; i < 4; i++ {
		waits = append(waits, h.fire())
		h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Data: "h"})
		// The peer answers each probe without taking it.
		h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, ZeroWin: true})
		h.expectNothing()
	}
	// The handshake measured an RTT of zero, so the RTO is the 200 ms
	// minimum.
	if waits[0] != 200*time.Millisecond || waits[1] != 400*time.Millisecond || waits[2] != 800*time.Millisecond || waits[3] != 1600*time.Millisecond {
		t.Fatalf("probe intervals %v", waits)
	}
	// Probing goes on past R2 as long as the peer answers (RFC 9293
	// §3.8.6.1).
	for i := 0; i < 10; i++ {
		h.fire()
		h.take()
		h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, ZeroWin: true})
	}
	h.state(StateEstablished)
	// The peer takes the probe byte but keeps the window closed.
	h.fire()
	h.take()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 1, ZeroWin: true})
	h.loc++
	// The window opens: the rest flows at once.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000})
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "ello"})
}

func TestZeroWindowPeerVanishes(t *testing.T) {
	h := newHarness(t).established()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, ZeroWin: true})
	h.write("hello")
	for h.c.State() == StateEstablished {
		h.fire()
	}
	if h.c.Err() != ErrTimedOut {
		t.Fatal(h.c.Err())
	}
	if h.now.Sub(t0) < 100*time.Second || h.now.Sub(t0) > 200*time.Second {
		t.Fatalf("gave up after %v", h.now.Sub(t0))
	}
}

// An abort while probing a closed window resets at the peer's RCV.NXT
// (SND.UNA), not at SND.NXT one past the probe byte: a peer with a closed
// window takes a RST only there (RFC 9293 §3.10.7.4, RFC 5961 §3.2).
func TestAbortWhileProbingZeroWindow(t *testing.T) {
	h := newHarness(t).established()
	h.c.SetNoDelay(true)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, ZeroWin: true})
	h.write("hello")
	h.fire()
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Data: "h"})
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, ZeroWin: true})
	h.c.Abort(h.now)
	h.expect(S{F: FlagRST, Seq: h.loc})
	h.state(StateClosed)
}

func TestSenderSWSAvoidance(t *testing.T) {
	h := newHarness(t).established()
	h.c.SetNoDelay(true)
	// The peer offered 30000 before; now only 100 bytes are open. Sending
	// 100 of the 1000 queued bytes would be silly: wait.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 100})
	h.write(strings.Repeat("s", 1000))
	h.expectNothing()
	// The override timeout (the persist timer) sends what fits.
	if d := h.fire(); d != 200*time.Millisecond {
		t.Fatalf("override after %v", d)
	}
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Data: strings.Repeat("s", 100)})
}

func TestRetransmissionBackoffAndGiveUp(t *testing.T) {
	h := newHarness(t).synReceived()
	// The handshake takes 100 ms: the first RTT sample.
	h.now = h.now.Add(100 * time.Millisecond)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.state(StateEstablished)
	if h.c.RTO() != 300*time.Millisecond {
		t.Fatalf("RTO %v after one 100 ms sample", h.c.RTO())
	}
	h.write("bcd")
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "bcd"})
	var waits []time.Duration
	stalled := false
	for h.c.State() == StateEstablished {
		waits = append(waits, h.fire())
		if h.c.TakeEvents().Has(EventStalled) {
			stalled = true
			if len(waits) != 3 {
				t.Fatalf("EventStalled after %d retransmissions", len(waits))
			}
		}
		if h.c.State() == StateEstablished {
			h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "bcd"})
		}
	}
	if !stalled {
		t.Fatal("no EventStalled")
	}
	// Giving up sends a reset and reports a timeout.
	h.expect(S{F: FlagRST, Seq: h.loc + 3})
	if h.c.Err() != ErrTimedOut {
		t.Fatal(h.c.Err())
	}
	want := []time.Duration{300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 60000}
	for i, w := range want {
		if waits[i] != w*time.Millisecond {
			t.Fatalf("backoff %v", waits)
		}
	}
	var sinceFirst time.Duration
	for _, w := range waits[1:] {
		sinceFirst += w
	}
	if sinceFirst < 100*time.Second || sinceFirst > 160*time.Second {
		t.Fatalf("R2 after %v", sinceFirst)
	}
}

func TestKarnAndRTTRecovery(t *testing.T) {
	// An ACK for a retransmitted segment gives no RTT sample (Karn); the
	// next fresh segment does.
	h := newHarness(t).synReceived()
	h.fire() // the SYN-ACK is retransmitted after 1 s
	h.take()
	h.now = h.now.Add(50 * time.Millisecond)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	if h.c.srtt != 0 {
		t.Fatalf("sample taken from a retransmission: srtt %v", h.c.srtt)
	}
	h.write("b")
	h.take()
	h.now = h.now.Add(40 * time.Millisecond)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 1, Win: 30000})
	if h.c.srtt != 40*time.Millisecond || h.c.RTO() != 200*time.Millisecond {
		t.Fatalf("srtt %v rto %v", h.c.srtt, h.c.RTO())
	}
}

// bigWindow is a congestion control with a large fixed initial window,
// so that tests can put many segments in flight at once.
func bigWindow(mss int) CongestionControl {
	r := NewNewReno(mss).(*NewReno)
	r.cwnd = 20 * mss
	return r
}

func TestFastRetransmitAndRecovery(t *testing.T) {
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	h.established()
	const mss = 1400 // the peer's MSS from synReceived
	data := strings.Repeat("0123456789", 1400)
	h.write(data) // 14000 bytes: 10 segments
	segs := h.take()
	if len(segs) != 10 {
		t.Fatalf("%d segments in flight", len(segs))
	}
	at := func(i int) Seq { return h.loc.Add(i * mss) }
	// Segment 0 arrives, segment 1 is lost, 2..9 arrive: one ACK and
	// three duplicates trigger the fast retransmit of segment 1.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(1), Win: 30000})
	for i := 0; i < 2; i++ {
		h.send(S{F: FlagACK, Seq: h.rem, Ack: at(1), Win: 30000})
		h.expectNothing()
	}
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(1), Win: 30000})
	h.expect(S{F: FlagACK, Seq: at(1), Ack: h.rem, Data: data[mss : 2*mss]})
	if !h.c.inRecovery || h.c.Stats().FastRetransmits != 1 {
		t.Fatal("not in fast recovery")
	}
	// ssthresh = flight/2 = 9*1400/2 = 6300; window = ssthresh + 3 MSS.
	if th := h.c.cc.Threshold(); th != 6300 {
		t.Fatalf("ssthresh %d", th)
	}
	if w := h.c.CongestionWindow(); w != 6300+3*mss {
		t.Fatalf("recovery window %d", w)
	}
	// More duplicates inflate the window by one MSS each.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(1), Win: 30000})
	if w := h.c.CongestionWindow(); w != 6300+4*mss {
		t.Fatalf("inflated window %d", w)
	}
	// A partial ACK (segment 5 was lost too) retransmits segment 5 at
	// once and stays in recovery (RFC 6582 §3.2 step 4).
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(5), Win: 30000})
	got := h.take()
	if len(got) == 0 || got[0].h.Seq != at(5) || string(got[0].data) != data[5*mss:6*mss] {
		t.Fatalf("partial ACK sent %v", got)
	}
	if !h.c.inRecovery {
		t.Fatal("left recovery on a partial ACK")
	}
	// The full ACK ends recovery with cwnd = min(ssthresh, flight+MSS).
	h.send(S{F: FlagACK, Seq: h.rem, Ack: at(10), Win: 30000})
	if h.c.inRecovery {
		t.Fatal("still in recovery after the full ACK")
	}
	if w := h.c.CongestionWindow(); w != 2*mss { // nothing in flight
		t.Fatalf("cwnd after recovery %d", w)
	}
	if h.c.Stats().FastRetransmits != 1 {
		t.Fatal("more than one fast retransmit")
	}
}

func TestCongestionAvoidanceGrowth(t *testing.T) {
	r := NewNewReno(1000)
	if r.Window() != 4000 {
		t.Fatalf("IW %d", r.Window())
	}
	// Slow start: one MSS per ACK at most.
	r.OnAck(t0, 5000, 4000, 0)
	if r.Window() != 5000 {
		t.Fatalf("slow start %d", r.Window())
	}
	r.OnTimeout(t0, 10000)
	if r.Window() != 1000 || r.Threshold() != 5000 {
		t.Fatalf("after timeout cwnd %d ssthresh %d", r.Window(), r.Threshold())
	}
	for r.Window() < 5000 {
		r.OnAck(t0, 1000, 1000, 0)
	}
	// Congestion avoidance: one MSS per window of ACKed bytes.
	w := r.Window()
	for i := 0; i < w/1000-1; i++ {
		r.OnAck(t0, 1000, w, 0)
	}
	if r.Window() != w {
		t.Fatalf("grew early to %d", r.Window())
	}
	r.OnAck(t0, 1000, w, 0)
	if r.Window() != w+1000 {
		t.Fatalf("congestion avoidance %d, want %d", r.Window(), w+1000)
	}
	r.OnIdle(t0)
	if r.Window() != 4000 {
		t.Fatalf("restart window %d", r.Window())
	}
}

func TestKeepAlive(t *testing.T) {
	h := newHarness(t)
	h.cfg.KeepAlive = true
	h.cfg.KeepAliveIdle = time.Minute
	h.cfg.KeepAliveInterval = 10 * time.Second
	h.cfg.KeepAliveCount = 3
	h.established()
	if d := h.fire(); d != time.Minute {
		t.Fatalf("first probe after %v", d)
	}
	h.expect(S{F: FlagACK, Seq: h.loc - 1, Ack: h.rem})
	// The answer resets the idle timer.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000})
	if d := h.fire(); d != time.Minute {
		t.Fatalf("probe after answer %v", d)
	}
	h.take()
	for i := 0; i < 3; i++ {
		if d := h.fire(); d != 10*time.Second {
			t.Fatalf("probe interval %v", d)
		}
		if i < 2 {
			h.expect(S{F: FlagACK, Seq: h.loc - 1, Ack: h.rem})
		}
	}
	h.expect(S{F: FlagRST, Seq: h.loc})
	if h.c.Err() != ErrTimedOut {
		t.Fatal(h.c.Err())
	}
}

func TestKeepAliveOffByDefault(t *testing.T) {
	h := newHarness(t).established()
	if !h.c.NextDeadline().IsZero() {
		t.Fatal("idle connection has a deadline")
	}
	h.c.SetKeepAlive(h.now, true, time.Hour, 0, 0)
	if h.c.NextDeadline() != h.now.Add(time.Hour) {
		t.Fatal("SetKeepAlive did not arm")
	}
}

func TestUserTimeout(t *testing.T) {
	h := newHarness(t).established()
	h.c.SetUserTimeout(h.now, 5*time.Second)
	h.write("data")
	h.take()
	for h.c.State() == StateEstablished {
		h.fire()
	}
	if h.c.Err() != ErrTimedOut || h.now.Sub(t0) != 5*time.Second {
		t.Fatalf("%v after %v", h.c.Err(), h.now.Sub(t0))
	}
}

func TestPathMTU(t *testing.T) {
	h := newHarness(t)
	h.cfg.Congestion = bigWindow
	h.established()
	if h.c.MSS() != 1400 { // the peer announced 1400
		t.Fatalf("MSS %d", h.c.MSS())
	}
	h.c.SetPathMTU(1280)
	if h.c.MSS() != 1240 {
		t.Fatalf("MSS after PMTU %d", h.c.MSS())
	}
	h.c.SetPathMTU(9000) // never above what the peer announced
	if h.c.MSS() != 1400 {
		t.Fatalf("MSS %d", h.c.MSS())
	}
	h.c.SetPathMTU(1280)
	h.c.SetNoDelay(true)
	h.write(strings.Repeat("m", 2000))
	segs := h.take()
	if len(segs) != 2 || len(segs[0].data) != 1240 || len(segs[1].data) != 760 {
		t.Fatalf("segments %v", segs)
	}
}

func TestMSSDefaults(t *testing.T) {
	// No MSS option: 536 over IPv4 (RFC 9293 §3.7.1), our MSS from the MTU.
	h := newHarness(t)
	syn := h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 1000})
	c, _ := Accept(&h.cfg, tTuple, syn, localISS, h.now, h.emit)
	if c.MSS() != 536 {
		t.Fatalf("default MSS %d", c.MSS())
	}
	h.cfg.MTU = 9000
	c, _ = Accept(&h.cfg, tTuple, h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 1000, MSS: 65000}), localISS, h.now, h.emit)
	if c.MSS() != 8960 || c.advertisedMSS() != 8960 {
		t.Fatalf("MSS %d / %d", c.MSS(), c.advertisedMSS())
	}
	v6 := Tuple{Local: netipMust("[2001:db8::1]:80"), Remote: netipMust("[2001:db8::2]:4000")}
	c, _ = Accept(&h.cfg, v6, syn, localISS, h.now, func(*Outgoing) {})
	if c.MSS() != 1220 {
		t.Fatalf("IPv6 default MSS %d", c.MSS())
	}
}

func TestLimitedTransmit(t *testing.T) {
	// RFC 3042: the first two duplicate ACKs each release one new segment
	// beyond cwnd, so that a small window still yields three duplicates.
	h := newHarness(t)
	h.cfg.Congestion = NewNewReno // its recovery window is exactly what was in flight
	h.established()
	const mss = 1400
	data := strings.Repeat("L", 10*mss)
	h.write(data)
	// The initial window is three segments.
	if got := len(h.take()); got != 3 {
		t.Fatalf("%d segments in the initial window", got)
	}
	for i := 1; i <= 2; i++ {
		h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
		h.expect(S{F: FlagACK, Seq: h.loc.Add((2 + i) * mss), Ack: h.rem, Data: data[(2+i)*mss : (3+i)*mss]})
	}
	// The third duplicate is a fast retransmit, not more new data.
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Data: data[:mss]})
}

func TestIdleRestartWindow(t *testing.T) {
	// RFC 5681 §4.1: after an idle period longer than the RTO the window
	// goes back to the initial window.
	h := newHarness(t).established()
	h.c.SetNoDelay(true)
	for i := 0; i < 20; i++ {
		h.write(strings.Repeat("w", 1400))
		h.take()
		h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 1400, Win: 30000})
		h.loc += 1400
	}
	grown := h.c.CongestionWindow()
	if grown <= 3*1400 {
		t.Fatalf("cwnd did not grow: %d", grown)
	}
	h.now = h.now.Add(time.Second)
	h.write("x")
	if w := h.c.CongestionWindow(); w != 3*1400 {
		t.Fatalf("cwnd after idle %d (was %d)", w, grown)
	}
}

func TestSendBufferBound(t *testing.T) {
	// Write takes what fits and reports it; acknowledged data frees room
	// and raises EventWritable.
	h := newHarness(t)
	h.cfg.SendBufferSize = 5000
	h.established()
	if h.c.Available() != 5000 || h.c.Tuple() != tTuple {
		t.Fatalf("Available %d Tuple %v", h.c.Available(), h.c.Tuple())
	}
	n, err := h.c.Write(h.now, make([]byte, 8000))
	if n != 5000 || err != nil || h.c.Available() != 0 {
		t.Fatalf("Write = %d, %v; Available %d", n, err, h.c.Available())
	}
	if n, err := h.c.Write(h.now, []byte("more")); n != 0 || err != nil {
		t.Fatalf("Write to a full buffer = %d, %v", n, err)
	}
	h.take()
	h.c.TakeEvents()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 1400, Win: 30000})
	if !h.c.TakeEvents().Has(EventWritable) || h.c.Available() != 1400 {
		t.Fatalf("after ACK: Available %d", h.c.Available())
	}
	// Outgoing's payload accessors agree with the wire.
	var o *Outgoing
	h.c.emit = func(x *Outgoing) { o = x }
	h.c.SetNoDelay(true)
	h.c.Write(h.now, []byte("tail"))
	h.c.HandleTimer(h.now.Add(time.Hour)) // retransmits from the queue
	if o == nil || o.PayloadLen() == 0 {
		t.Fatal("nothing emitted")
	}
	p := make([]byte, o.PayloadLen())
	if o.CopyPayload(p) != len(p) || o.Len() != o.Header.Len()+len(p) {
		t.Fatal("payload accessors")
	}
}
