package tcp

import (
	"io"
	"testing"
	"time"
)

// pair wires two Conns back to back without loss; segments queue until
// pump delivers them, so tests control what crosses.
type pair struct {
	t      *testing.T
	now    time.Time
	a, b   *Conn
	toA    [][]byte
	toB    [][]byte
	cfg    Config
	lostAB int // drop this many next segments from A to B
}

func newPair(t *testing.T) *pair {
	return &pair{t: t, now: t0, cfg: baseConfig()}
}

func (p *pair) emitFrom(toB bool) Emitter {
	return func(o *Outgoing) {
		buf := make([]byte, o.Len())
		if _, err := o.Emit(buf); err != nil {
			p.t.Fatal(err)
		}
		if toB {
			if p.lostAB > 0 {
				p.lostAB--
				return
			}
			p.toB = append(p.toB, buf)
		} else {
			p.toA = append(p.toA, buf)
		}
	}
}

// pump delivers queued segments, in order, until none are left.
func (p *pair) pump() {
	for i := 0; len(p.toA)+len(p.toB) > 0; i++ {
		if i > 1000 {
			p.t.Fatal("pump does not settle")
		}
		toA, toB := p.toA, p.toB
		p.toA, p.toB = nil, nil
		for _, b := range toB {
			seg, _ := NewSegment(b)
			p.b.HandleSegment(p.now, tTuple, &seg)
		}
		for _, b := range toA {
			seg, _ := NewSegment(b)
			p.a.HandleSegment(p.now, tupleA, &seg)
		}
	}
}

func (p *pair) connectBoth() {
	var err error
	p.a, err = Connect(&p.cfg, tupleA, 5000, p.now, p.emitFrom(true))
	if err != nil {
		p.t.Fatal(err)
	}
	p.b, err = Connect(&p.cfg, tTuple, 9000, p.now, p.emitFrom(false))
	if err != nil {
		p.t.Fatal(err)
	}
}

func TestSimultaneousOpen(t *testing.T) {
	// RFC 9293 figure 8: both sides send SYN, both go through
	// SYN-RECEIVED to ESTABLISHED, and data flows.
	p := newPair(t)
	p.connectBoth()
	if len(p.toA) != 1 || len(p.toB) != 1 {
		t.Fatal("no SYNs")
	}
	// Deliver the crossing SYNs only.
	synA, synB := p.toB[0], p.toA[0]
	p.toA, p.toB = nil, nil
	sa, _ := NewSegment(synA)
	sb, _ := NewSegment(synB)
	p.b.HandleSegment(p.now, tTuple, &sa)
	p.a.HandleSegment(p.now, tupleA, &sb)
	if p.a.State() != StateSynReceived || p.b.State() != StateSynReceived {
		t.Fatalf("after crossing SYNs: %v %v", p.a.State(), p.b.State())
	}
	p.pump()
	if p.a.State() != StateEstablished || p.b.State() != StateEstablished {
		t.Fatalf("after SYN-ACKs: %v %v", p.a.State(), p.b.State())
	}
	if !p.a.TakeEvents().Has(EventEstablished) || !p.b.TakeEvents().Has(EventEstablished) {
		t.Fatal("no EventEstablished")
	}
	p.a.Write(p.now, []byte("hi"))
	p.pump()
	buf := make([]byte, 10)
	if n, _ := p.b.Read(p.now, buf); string(buf[:n]) != "hi" {
		t.Fatalf("read %q", buf[:n])
	}
}

func TestSimultaneousClose(t *testing.T) {
	// RFC 9293 figure 13: FINs cross, both go through CLOSING to
	// TIME-WAIT.
	p := newPair(t)
	var err error
	p.a, err = Connect(&p.cfg, tupleA, 5000, p.now, p.emitFrom(true))
	if err != nil {
		t.Fatal(err)
	}
	syn, _ := NewSegment(p.toB[0])
	p.toB = nil
	p.b, _ = Accept(&p.cfg, tTuple, &syn, 9000, p.now, p.emitFrom(false))
	p.pump()
	if p.a.State() != StateEstablished || p.b.State() != StateEstablished {
		t.Fatalf("%v %v", p.a.State(), p.b.State())
	}
	p.a.Close(p.now)
	p.b.Close(p.now)
	if p.a.State() != StateFinWait1 || p.b.State() != StateFinWait1 {
		t.Fatalf("%v %v", p.a.State(), p.b.State())
	}
	// Deliver the crossing FINs only.
	fa, fb := p.toB, p.toA
	p.toA, p.toB = nil, nil
	for _, b := range fa {
		s, _ := NewSegment(b)
		p.b.HandleSegment(p.now, tTuple, &s)
	}
	for _, b := range fb {
		s, _ := NewSegment(b)
		p.a.HandleSegment(p.now, tupleA, &s)
	}
	if p.a.State() != StateClosing || p.b.State() != StateClosing {
		t.Fatalf("after crossing FINs: %v %v", p.a.State(), p.b.State())
	}
	p.pump()
	if p.a.State() != StateTimeWait || p.b.State() != StateTimeWait {
		t.Fatalf("after ACKs: %v %v", p.a.State(), p.b.State())
	}
	p.now = p.now.Add(2 * 30 * time.Second)
	p.a.HandleTimer(p.now)
	p.b.HandleTimer(p.now)
	if p.a.State() != StateClosed || p.b.State() != StateClosed || p.a.Err() != nil {
		t.Fatalf("after 2MSL: %v %v", p.a.State(), p.b.State())
	}
}

func TestHalfCloseLocal(t *testing.T) {
	// After CloseWrite the peer may go on sending for as long as it likes
	// (FIN-WAIT-2 has no timeout unless the user fully closed).
	h := newHarness(t).finWait2()
	for i := 0; i < 3; i++ {
		h.advance(10 * time.Minute)
		h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "more"})
		h.rem += 4
		h.read("more")
	}
	h.state(StateFinWait2)
	if _, err := h.c.Write(h.now, []byte("x")); err != ErrWriteClosed {
		t.Fatalf("Write after CloseWrite: %v", err)
	}
	h.send(S{F: FlagACK | FlagFIN, Seq: h.rem, Ack: h.loc, Win: 1000})
	h.state(StateTimeWait)
}

func TestHalfClosePeer(t *testing.T) {
	// After the peer's FIN we may go on sending in CLOSE-WAIT.
	h := newHarness(t).closeWait()
	h.write("reply")
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "reply"})
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 5, Win: 1000})
	h.loc += 5
	if _, err := h.c.Read(h.now, make([]byte, 4)); err != io.EOF {
		t.Fatalf("Read in CLOSE-WAIT: %v", err)
	}
	h.c.Close(h.now)
	h.expect(S{F: FlagACK | FlagFIN, Seq: h.loc, Ack: h.rem})
	h.state(StateLastAck)
}

func TestCloseWriteBeforeEstablished(t *testing.T) {
	// Data and FIN queued in SYN-SENT go out once the handshake completes.
	h := newHarness(t).synSent()
	h.write("early")
	h.c.CloseWrite(h.now)
	h.expectNothing()
	h.send(S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc, Win: 1000})
	h.rem = remoteISS + 1
	h.expect(S{F: FlagACK | FlagPSH | FlagFIN, Seq: h.loc, Ack: h.rem, Data: "early"})
	h.state(StateFinWait1)
}

func TestCloseWithUnreadDataResets(t *testing.T) {
	h := newHarness(t).established()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "unread"})
	h.c.Close(h.now)
	h.expect(S{F: FlagRST, Seq: h.loc})
	h.state(StateClosed)
	if h.c.Err() != ErrAborted {
		t.Fatal(h.c.Err())
	}
}

func TestDataAfterCloseResets(t *testing.T) {
	// The user closed fully; data that arrives later cannot be delivered,
	// so the peer gets a reset (RFC 2525 §2.17).
	h := newHarness(t).established()
	h.c.Close(h.now)
	h.expect(S{F: FlagACK | FlagFIN, Seq: h.loc, Ack: h.rem})
	h.loc++
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000})
	h.state(StateFinWait2)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "late"})
	h.expect(S{F: FlagRST, Seq: h.loc})
	h.state(StateClosed)
}

func TestFinWait2TimeoutAfterClose(t *testing.T) {
	h := newHarness(t).established()
	h.c.Close(h.now)
	h.take()
	h.loc++
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000})
	h.state(StateFinWait2)
	if d := h.fire(); d != 60*time.Second {
		t.Fatalf("FIN-WAIT-2 timeout after %v", d)
	}
	h.state(StateClosed)
}

func TestListenRSTReturnsToListen(t *testing.T) {
	// §3.10.7.4: a passive open that gets a RST in SYN-RECEIVED goes back
	// to LISTEN and can accept again.
	h := newHarness(t).listen()
	h.send(S{F: FlagSYN, Seq: remoteISS, Win: 1000})
	h.state(StateSynReceived)
	iss := h.take()[0].h.Seq
	h.send(S{F: FlagRST, Seq: remoteISS + 1})
	h.state(StateListen)
	h.expectNothing()
	h.send(S{F: FlagSYN, Seq: remoteISS.Add(5000), Win: 1000})
	h.state(StateSynReceived)
	h.send(S{F: FlagACK, Seq: remoteISS.Add(5001), Ack: iss + 1, Win: 1000})
	h.state(StateEstablished)
}

func TestListenWildcard(t *testing.T) {
	h := newHarness(t)
	h.c = Listen(&h.cfg, netipMust("0.0.0.0:80"), h.emit)
	// Another port: not ours.
	other := Tuple{Local: netipMust("192.0.2.1:81"), Remote: tRemote}
	h.c.HandleSegment(h.now, other, h.segment(S{F: FlagSYN, Seq: remoteISS}))
	h.state(StateListen)
	h.expectNothing()
	h.send(S{F: FlagSYN, Seq: remoteISS, Win: 1000})
	h.state(StateSynReceived)
	if h.c.Tuple() != tTuple {
		t.Fatalf("bound to %v", h.c.Tuple())
	}
	h.take()
	h.send(S{F: FlagRST, Seq: remoteISS + 1})
	h.state(StateListen)
	if h.c.listenAddr != netipMust("0.0.0.0:80") {
		t.Fatal("wildcard lost on return to LISTEN")
	}
}

func TestAbortStates(t *testing.T) {
	// ABORT (§3.10.5): RST from synchronized states, nothing from
	// SYN-SENT or TIME-WAIT; both end CLOSED with ErrAborted.
	h := newHarness(t).synSent()
	h.c.Abort(h.now)
	h.expectNothing()
	h.state(StateClosed)
	h = newHarness(t).synReceived()
	h.c.Abort(h.now)
	h.expect(S{F: FlagRST, Seq: h.loc})
	h = newHarness(t).timeWait()
	h.c.Abort(h.now)
	h.expectNothing()
	h.state(StateClosed)
	if h.c.Err() != ErrAborted {
		t.Fatal(h.c.Err())
	}
}

func TestTimeWaitExpiry(t *testing.T) {
	h := newHarness(t).timeWait()
	h.advance(59 * time.Second)
	h.state(StateTimeWait)
	h.advance(time.Second)
	h.state(StateClosed)
	h.events(EventClosed)
	if _, ok := h.c.TimeWaitReuse(); ok {
		t.Fatal("expiry is not reuse")
	}
}

func TestTimeWaitReuse(t *testing.T) {
	// RFC 1122 §4.2.2.13: a SYN above the old sequence space reopens the
	// pair; the owner hands it to Accept with an ISN above the old one.
	h := newHarness(t).timeWait()
	syn := S{F: FlagSYN, Seq: h.rem + 1000, Win: 1000}
	h.send(syn)
	h.state(StateClosed)
	minISS, ok := h.c.TimeWaitReuse()
	if !ok || !minISS.GreaterThan(h.loc) {
		t.Fatalf("TimeWaitReuse = %d, %v", minISS, ok)
	}
	c, err := Accept(&h.cfg, tTuple, h.segment(syn), minISS, h.now, h.emit)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.expect(S{F: FlagSYN | FlagACK, Seq: minISS, Ack: syn.Seq + 1})
}

func TestSYNRetransmissionAndGiveUp(t *testing.T) {
	h := newHarness(t).synSent()
	var waits []time.Duration
	for h.c.State() == StateSynSent {
		waits = append(waits, h.fire())
		if h.c.State() == StateSynSent {
			h.expect(S{F: FlagSYN, Seq: localISS})
		}
	}
	h.expectNothing() // no RST from SYN-SENT
	if h.c.Err() != ErrTimedOut {
		t.Fatal(h.c.Err())
	}
	// 1 s, doubling: 1 2 4 8 16 32 60 60 ...; R2Syn (3 min) counted from
	// the first retransmission.
	if waits[0] != time.Second || waits[1] != 2*time.Second || waits[5] != 32*time.Second || waits[6] != 60*time.Second {
		t.Fatalf("backoff %v", waits)
	}
	var total time.Duration
	for _, w := range waits[1:] {
		total += w
	}
	if total < 3*time.Minute || total > 3*time.Minute+60*time.Second {
		t.Fatalf("gave up after %v of retransmissions", total)
	}
}

func TestSYNACKRetransmission(t *testing.T) {
	h := newHarness(t).synReceived()
	h.fire()
	h.expect(S{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1})
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000})
	h.state(StateEstablished)
	if h.c.RTO() != 3*time.Second {
		// Karn: the retransmitted SYN-ACK gave no sample, and after a
		// SYN timeout the RTO starts at 3 s (RFC 6298 (5.7)).
		t.Fatalf("RTO %v", h.c.RTO())
	}
}

func TestConnectErrors(t *testing.T) {
	cfg := baseConfig()
	if _, err := Connect(&cfg, Tuple{}, 1, t0, nil); err != ErrInvalidTuple {
		t.Fatal(err)
	}
	mixed := Tuple{Local: tLocal, Remote: netipMust("[2001:db8::1]:80")}
	if _, err := Connect(&cfg, mixed, 1, t0, nil); err != ErrInvalidTuple {
		t.Fatal(err)
	}
	h := newHarness(t)
	if _, err := Accept(&cfg, tTuple, h.segment(S{F: FlagACK}), 1, t0, nil); err != ErrNotSYN {
		t.Fatal(err)
	}
}
