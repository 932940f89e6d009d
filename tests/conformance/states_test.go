package conformance

import (
	"testing"
	"time"

	"github.com/actnet/actnet/layers/tcp"
)

// The states of RFC 9293 §3.3.2 reached from an established connection,
// with c's numbers kept as the peer sees them. Where the stack's FIN is
// out but not acknowledged, c.Rcv is the FIN's own sequence number.

// finWait1: the application closed; the stack's FIN is unacknowledged.
func finWait1(c *Conn) {
	c.B.T.Helper()
	c.Sock.Close(false)
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv), Ack: V(c.Nxt)})
}

// finWait2: the peer acknowledged the stack's FIN.
func finWait2(c *Conn) {
	c.B.T.Helper()
	finWait1(c)
	c.Rcv++
	c.Send(c.Seg(tcp.FlagACK, nil))
}

// closeWait: the peer closed first; the stack acknowledged its FIN.
func closeWait(c *Conn) {
	c.B.T.Helper()
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagFIN, nil))
	c.Nxt++
	c.ExpectACK()
}

// lastAck: from CLOSE-WAIT the application closed; the stack's FIN is
// unacknowledged.
func lastAck(c *Conn) {
	c.B.T.Helper()
	closeWait(c)
	c.Sock.Close(false)
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv), Ack: V(c.Nxt)})
}

// closing: both ends closed at once (RFC 9293 §3.6, figure 13): the
// peer's FIN crossed the stack's and did not acknowledge it.
func closing(c *Conn) {
	c.B.T.Helper()
	finWait1(c)
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagFIN, nil))
	c.Nxt++
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv + 1), Ack: V(c.Nxt)})
}

// gone is a probe for a connection that no longer exists: an ACK with an
// acknowledgment number no segment of the connection carried, which a
// closed port (or the listener) resets with <SEQ=SEG.ACK>, so the reset
// cannot be mistaken for one the connection sent on its own.
func gone(c *Conn) Probe {
	s := c.Seg(tcp.FlagACK, []byte{'g'})
	s.Ack = c.Rcv + 7777
	return Probe{Frame: c.B.TCP(s), Answer: TCPM{Flags: V(tcp.FlagRST), Seq: V(s.Ack), DstPort: V(c.PeerPort)}}
}

// rstAt sends an exact reset (SEQ = RCV.NXT).
func rstAt(c *Conn) { c.Send(c.Seg(tcp.FlagRST, nil)) }

// synIn sends an in-window SYN on the connection and expects the
// challenge ACK of RFC 5961 §4.2, then checks the connection is alive.
func synIn(t *testing.T, c *Conn, ackSeq tcp.Seq) {
	t.Helper()
	s := c.Seg(tcp.FlagSYN, nil)
	s.Seq = c.Nxt + 10
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(ackSeq), Ack: V(c.Nxt)})
	c.B.ExpectNone(c.Probe())
}

// --- Active open and SYN-SENT ---

// RFC 9293 §3.5 figure 8 (simultaneous open): the stack's SYN crosses
// the peer's; the stack answers the peer's SYN with a SYN-ACK from its
// own ISS, and the peer's SYN-ACK establishes the connection.
func TestSimultaneousOpen_RFC9293_3_5_Fig8(t *testing.T) {
	b := New(t)
	c, _ := b.Dial(5000, tcp.Config{})
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: PeerISS, Flags: tcp.FlagSYN, Win: 64240, Options: DefaultSYNOptions})
	c.Nxt = PeerISS + 1
	c.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Seq: V(c.ISS), Ack: V(c.Nxt)})
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: PeerISS, Ack: c.Rcv, Flags: tcp.FlagSYN | tcp.FlagACK, Win: 64240, Options: DefaultSYNOptions})
	select {
	case <-c.Sock.Established():
	case <-time.After(frameWait):
		t.Fatal("simultaneous open: the peer's SYN-ACK did not establish the connection")
	}
	c.Write("both")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Seq: V(c.Rcv), Ack: V(c.Nxt), Data: V("both")})
}

// RFC 9293 §3.5 figure 8, the other ending: after crossing SYNs, a bare
// ACK of the stack's SYN establishes the connection too, and data flows
// both ways.
func TestSimultaneousOpenByACK_RFC9293_3_5_Fig8(t *testing.T) {
	b := New(t)
	c, _ := b.Dial(5001, tcp.Config{})
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: PeerISS, Flags: tcp.FlagSYN, Win: 64240, Options: DefaultSYNOptions})
	c.Nxt = PeerISS + 1
	c.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Seq: V(c.ISS), Ack: V(c.Nxt)})
	c.SendData("hi")
	c.ExpectACK()
	<-c.Sock.Established()
	buf := make([]byte, 8)
	if n, err := c.Sock.Read(buf, nil); err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
}

// RFC 9293 §3.10.7.3 and RFC 5961 §3.2: in SYN-SENT a RST without ACK is
// not acceptable and is dropped; the handshake goes on.
func TestRSTWithoutACKInSynSentIgnored_RFC9293_3_10_7_3(t *testing.T) {
	b := New(t)
	c, _ := b.Dial(5002, tcp.Config{})
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: PeerISS, Flags: tcp.FlagRST})
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: PeerISS, Ack: c.Rcv, Flags: tcp.FlagSYN | tcp.FlagACK, Win: 64240, Options: DefaultSYNOptions})
	c.Nxt = PeerISS + 1
	c.ExpectACK()
	<-c.Sock.Established()
}

// RFC 9293 §3.10.7.3: in SYN-SENT a SYN-ACK acknowledging something
// other than our SYN draws <SEQ=SEG.ACK><CTL=RST> and is otherwise
// dropped; the right SYN-ACK still establishes.
func TestBadACKInSynSentReset_RFC9293_3_10_7_3(t *testing.T) {
	b := New(t)
	c, _ := b.Dial(5003, tcp.Config{})
	bad := c.Rcv + 5000
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: PeerISS, Ack: bad, Flags: tcp.FlagSYN | tcp.FlagACK, Win: 64240})
	c.Expect(TCPM{Flags: V(tcp.FlagRST), Seq: V(bad)})
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: PeerISS, Ack: c.Rcv, Flags: tcp.FlagSYN | tcp.FlagACK, Win: 64240})
	c.Nxt = PeerISS + 1
	c.ExpectACK()
	<-c.Sock.Established()
}

// RFC 9293 §3.10.7.3: a RST+ACK acknowledging our SYN refuses the
// connection ("connection reset"); nothing is sent in answer.
func TestRSTACKInSynSentRefuses_RFC9293_3_10_7_3(t *testing.T) {
	b := New(t)
	c, _ := b.Dial(5004, tcp.Config{})
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: 0, Ack: c.Rcv, Flags: tcp.FlagRST | tcp.FlagACK})
	<-c.Sock.Done()
	if c.Sock.Err() == nil {
		t.Fatal("refused connection reports no error")
	}
	c.Nxt = PeerISS + 1
	b.ExpectNone(b.ClosedPortProbe())
}

// --- SYN-RECEIVED ---

// synReceived sends a SYN to the listener and returns the half-open
// connection as the peer sees it (the final ACK not sent).
func synReceived(b *Bench) *Conn {
	b.T.Helper()
	p := b.NextPort()
	b.Send(b.TCP(SYN(p, port, DefaultSYNOptions)))
	sa := SegmentOf(b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), DstPort: V(p)}))
	return &Conn{B: b, Port: port, PeerPort: p, Nxt: PeerISS + 1, ISS: sa.Seq(), Rcv: sa.Seq() + 1, Win: 64240}
}

// RFC 5961 §3.2 (all states but SYN-SENT): a RST in the window of a
// SYN-RECEIVED connection but not at RCV.NXT draws a challenge ACK; the
// handshake still completes.
func TestInWindowRSTInSynReceivedChallenged_RFC5961_3_2(t *testing.T) {
	b, q := listening(t)
	c := synReceived(b)
	s := c.Seg(tcp.FlagRST, nil)
	s.Seq = c.Nxt + 100
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.Sock = Accept(b, q)
}

// RFC 9293 §3.10.7.4 (first check): a RST outside the window of a
// SYN-RECEIVED connection is dropped; the final ACK then establishes it.
func TestOutOfWindowRSTInSynReceivedIgnored_RFC9293_3_10_7_4(t *testing.T) {
	b, q := listening(t)
	c := synReceived(b)
	s := c.Seg(tcp.FlagRST, nil)
	s.Seq = c.Nxt + 1<<20
	c.Send(s)
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.Sock = Accept(b, q)
	c.B.ExpectNone(c.Probe())
}

// RFC 9293 §3.10.7.4 (fifth check, "if the ACK bit is off, drop the
// segment"): a FIN without ACK in SYN-RECEIVED is not processed; the
// handshake completes and the connection is open both ways.
func TestFINWithoutACKInSynReceivedDropped_RFC9293_3_10_7_4(t *testing.T) {
	b, q := listening(t)
	c := synReceived(b)
	c.Send(Seg{SrcPort: c.PeerPort, DstPort: port, Seq: c.Nxt, Flags: tcp.FlagFIN, Win: 64240})
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.Sock = Accept(b, q)
	c.B.ExpectNone(c.Probe()) // the probe's ACK is at c.Nxt: the FIN was not taken
}

// RFC 9293 §3.10.7.4: an ACK+FIN completing the handshake establishes
// the connection and then closes the peer's side: the FIN is
// acknowledged (CLOSE-WAIT) and the application reads end of stream.
func TestFINCompletingHandshake_RFC9293_3_10_7_4(t *testing.T) {
	b, q := listening(t)
	c := synReceived(b)
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagFIN, nil))
	c.Nxt++
	c.ExpectACK()
	c.Sock = Accept(b, q)
	if n, err := c.Sock.Read(make([]byte, 4), nil); n != 0 || err == nil {
		t.Fatalf("read after FIN: %d, %v", n, err)
	}
	c.Write("reply")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Data: V("reply")})
}

// --- FIN-WAIT-1 ---

// RFC 9293 §3.10.7.4 (second check, FIN-WAIT-1): an exact RST closes the
// connection.
func TestRSTInFinWait1_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	finWait1(c)
	rstAt(c)
	c.B.ExpectNone(gone(c))
}

// RFC 5961 §4.2 (FIN-WAIT-1): a SYN draws a challenge ACK, nothing else.
func TestSYNInFinWait1Challenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	finWait1(c)
	synIn(t, c, c.Rcv+1)
}

// RFC 9293 §3.6 figure 13 (simultaneous close): a FIN that does not
// acknowledge ours moves FIN-WAIT-1 to CLOSING; the ACK of our FIN then
// moves it to TIME-WAIT, which keeps answering.
func TestSimultaneousClose_RFC9293_3_6_Fig13(t *testing.T) {
	_, c := established(t)
	closing(c)
	c.Rcv++
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.B.ExpectNone(c.Probe()) // TIME-WAIT answers old data with an ACK
	c.B.AdvanceSettled(61 * time.Second)
	c.B.ExpectNone(gone(c))
}

// --- FIN-WAIT-2 ---

// RFC 9293 §3.10.7.4 (second check, FIN-WAIT-2): an exact RST closes the
// connection.
func TestRSTInFinWait2_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	finWait2(c)
	rstAt(c)
	c.B.ExpectNone(gone(c))
}

// RFC 5961 §4.2 (FIN-WAIT-2): a SYN draws a challenge ACK.
func TestSYNInFinWait2Challenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	finWait2(c)
	synIn(t, c, c.Rcv)
}

// RFC 9293 §3.10.7.4 (eighth check, FIN-WAIT-2): the peer's FIN is
// acknowledged and the connection enters TIME-WAIT, which lasts 2 MSL.
func TestFINInFinWait2EntersTimeWait_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	finWait2(c)
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagFIN, nil))
	c.Nxt++
	c.ExpectACK()
	c.B.AdvanceSettled(59 * time.Second)
	c.B.ExpectNone(c.Probe()) // still in TIME-WAIT
	c.B.AdvanceSettled(2 * time.Second)
	c.B.ExpectNone(gone(c))
}

// RFC 9293 §3.10.7.4 (FIN-WAIT-2) with Linux's tcp_fin_timeout (issue 9,
// finding 3): a connection the application fully closed does not wait
// for the peer's FIN forever; after FinWait2Timeout it is gone, silently.
func TestFinWait2Timeout_RFC9293_3_10_7_4(t *testing.T) {
	b := New(t)
	q := b.Listen(port, 0, tcp.Config{FinWait2Timeout: 10 * time.Second})
	c := b.Handshake(port, q, DefaultSYNOptions)
	finWait2(c)
	b.AdvanceSettled(9 * time.Second)
	b.ExpectNone(c.Probe())
	b.AdvanceSettled(2 * time.Second)
	b.ExpectNone(gone(c))
}

// RFC 9293 §3.10.7.4 / RFC 1122 §4.2.2.13 (half-close): after CloseWrite
// the application still reads, so FIN-WAIT-2 has no timeout.
func TestHalfClosedFinWait2HasNoTimeout_RFC1122_4_2_2_13(t *testing.T) {
	b := New(t)
	q := b.Listen(port, 0, tcp.Config{FinWait2Timeout: 10 * time.Second})
	c := b.Handshake(port, q, DefaultSYNOptions)
	c.Sock.CloseWrite()
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv)})
	c.Rcv++
	c.Send(c.Seg(tcp.FlagACK, nil))
	b.AdvanceSettled(5 * time.Minute)
	c.SendData("late")
	b.ExpectNone(c.Probe())
	buf := make([]byte, 8)
	if n, err := c.Sock.Read(buf, nil); err != nil || string(buf[:n]) != "late" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
}

// --- CLOSE-WAIT ---

// RFC 5961 §4.2 (CLOSE-WAIT): a SYN draws a challenge ACK.
func TestSYNInCloseWaitChallenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	closeWait(c)
	synIn(t, c, c.Rcv)
}

// RFC 9293 §3.10.7.4 (eighth check, CLOSE-WAIT: "remain in the
// CLOSE-WAIT state"): a retransmitted FIN is acknowledged again.
func TestFINRetransmitInCloseWait_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	closeWait(c)
	s := c.Seg(tcp.FlagACK|tcp.FlagFIN, nil)
	s.Seq = c.Nxt - 1
	c.Send(s)
	c.ExpectACK()
	c.Write("still writing")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Data: V("still writing")})
}

// RFC 9293 §3.10.7.4 (seventh check, CLOSE-WAIT: "ignore the segment
// text"): data after the peer's FIN is not delivered nor acknowledged.
func TestDataAfterFINIgnored_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	closeWait(c)
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagPSH, []byte("after fin")))
	c.B.ExpectNone(c.Probe())
	if n, err := c.Sock.Read(make([]byte, 16), nil); n != 0 || err == nil {
		t.Fatalf("read after FIN: %d, %v", n, err)
	}
}

// --- CLOSING ---

// RFC 9293 §3.10.7.4 (second check, CLOSING: "enter the CLOSED state"):
// an exact RST ends the connection.
func TestRSTInClosing_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	closing(c)
	rstAt(c)
	c.B.ExpectNone(gone(c))
}

// RFC 5961 §4.2 (CLOSING): a SYN draws a challenge ACK.
func TestSYNInClosingChallenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	closing(c)
	synIn(t, c, c.Rcv+1)
}

// --- LAST-ACK ---

// RFC 9293 §3.10.7.4 (second check, LAST-ACK): an exact RST ends the
// connection.
func TestRSTInLastAck_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	lastAck(c)
	rstAt(c)
	c.B.ExpectNone(gone(c))
}

// RFC 5961 §4.2 (LAST-ACK): a SYN draws a challenge ACK.
func TestSYNInLastAckChallenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	lastAck(c)
	synIn(t, c, c.Rcv+1)
}

// RFC 9293 §3.10.7.4 (eighth check, LAST-ACK: "remain in the LAST-ACK
// state"): a retransmitted FIN is acknowledged; the ACK of our FIN then
// ends the connection.
func TestFINRetransmitInLastAck_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	lastAck(c)
	s := c.Seg(tcp.FlagACK|tcp.FlagFIN, nil)
	s.Seq = c.Nxt - 1
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
	c.Rcv++
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.B.ExpectNone(gone(c))
}

// RFC 9293 §3.10.7.4 / §3.8.1: in LAST-ACK an unacknowledged FIN is
// retransmitted when the retransmission timer fires.
func TestFINRetransmittedInLastAck_RFC9293_3_8_1(t *testing.T) {
	_, c := established(t)
	lastAck(c)
	c.B.AdvanceSettled(3 * time.Second)
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv), Ack: V(c.Nxt)})
}

// --- TIME-WAIT ---

// RFC 9293 §3.10.7.4 / RFC 9293 §3.10.8 (timeout): TIME-WAIT ends after
// 2 MSL; a segment then finds no connection and is reset.
func TestTimeWaitExpires_RFC9293_3_10_8(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	c.B.AdvanceSettled(59 * time.Second)
	c.B.ExpectNone(c.Probe())
	c.B.AdvanceSettled(2 * time.Second)
	c.B.ExpectNone(gone(c))
}

// RFC 9293 §3.10.8 and RFC 1122 §4.2.2.13: once TIME-WAIT is over, a new
// SYN for the same 4-tuple opens a new connection (here the SYN reuses
// the old ISN, which TIME-WAIT alone would not accept).
func TestSYNAfterTimeWaitOpensAnew_RFC9293_3_10_8(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	c.B.AdvanceSettled(61 * time.Second)
	c.Send(SYN(c.PeerPort, port, DefaultSYNOptions))
	c.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(PeerISS + 1)})
}

// RFC 5961 §4.2 / RFC 6191: in TIME-WAIT a SYN whose sequence number is
// not above the old connection's does not reopen it; it is challenged.
func TestOldSYNInTimeWaitChallenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	s := SYN(c.PeerPort, port, DefaultSYNOptions)
	s.Seq = c.Nxt - 100
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
	c.B.ExpectNone(c.Probe())
}

// RFC 1337 (hazard H1), RST+ACK variant: an exact RST+ACK does not end
// TIME-WAIT either.
func TestRSTACKInTimeWaitIgnored_RFC1337(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	c.Send(c.Seg(tcp.FlagRST|tcp.FlagACK, nil))
	c.B.ExpectNone(c.Probe())
}

// RFC 1337 (hazard H1) with RFC 5961 §3.2: an in-window RST that is not
// exact does not end TIME-WAIT; it draws a challenge ACK with the
// TIME-WAIT numbers.
func TestInWindowRSTInTimeWaitIgnored_RFC1337(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	s := c.Seg(tcp.FlagRST, nil)
	s.Seq = c.Nxt + 50
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv), Ack: V(c.Nxt), Data: V("")})
	c.B.ExpectNone(c.Probe())
}

// RFC 1337 (hazard H1): the RST does not shorten TIME-WAIT's 2 MSL
// either: just before 2 MSL after it was entered the connection still
// answers as TIME-WAIT, and just after it is gone.
func TestRSTDoesNotShortenTimeWait_RFC1337(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	c.B.AdvanceSettled(30 * time.Second)
	rstAt(c)
	c.B.AdvanceSettled(29 * time.Second)
	c.B.ExpectNone(c.Probe())
	c.B.AdvanceSettled(2 * time.Second)
	c.B.ExpectNone(gone(c))
}

// RFC 1337 (hazards H2/H3): old data arriving in TIME-WAIT is not
// taken; it is answered with an ACK of the old connection's numbers.
func TestOldDataInTimeWaitACKed_RFC1337(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	s := c.Seg(tcp.FlagACK|tcp.FlagPSH, []byte("old duplicate"))
	s.Seq = c.Nxt - 20
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt), Seq: V(c.Rcv)})
}
