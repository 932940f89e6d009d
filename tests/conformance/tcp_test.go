package conformance

import (
	"io"
	"testing"
	"time"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/layers/tcp"
)

const port = 8080

func listening(t *testing.T) (*Bench, *actors.AcceptQueue) {
	b := New(t)
	return b, b.Listen(port, 0, tcp.Config{})
}

func established(t *testing.T) (*Bench, *Conn) {
	b, q := listening(t)
	return b, b.Handshake(port, q, DefaultSYNOptions)
}

// RFC 9293 §3.7.1, RFC 7323 §2.2/§3.2, RFC 2018 §2: a SYN offering every
// option is answered with MSS, window scale, SACK-permitted and timestamps
// echoing the peer's TSval.
func TestHandshakeOptionsAnswered_RFC9293_3_7_1(t *testing.T) {
	b, _ := listening(t)
	opts := tcp.Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 7, SACKPermitted: true,
		HasTimestamps: true, TSVal: 4242}
	b.Send(b.TCP(SYN(b.NextPort(), port, opts)))
	b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(PeerISS + 1), MSS: V(uint16(1460)), WS: V(uint8(3)),
		SACKOK: V(true), TS: V(true), TSEcr: V(uint32(4242))})
}

// RFC 7323 §2.2 and §3.2, RFC 2018 §2: options the SYN did not offer are
// not in the SYN-ACK.
func TestSYNACKOnlyAnswersOfferedOptions_RFC7323_2_2(t *testing.T) {
	b, _ := listening(t)
	b.Send(b.TCP(SYN(b.NextPort(), port, DefaultSYNOptions)))
	b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), MSS: V(uint16(1460)), NoWS: true, SACKOK: V(false), TS: V(false), Win: V(uint16(65535))})
}

// RFC 9293 §3.10.7.2: data on a SYN may be queued or not; it is not
// acknowledged by the SYN-ACK unless kept, and the handshake completes.
func TestSYNWithData_RFC9293_3_10_7_2(t *testing.T) {
	b, q := listening(t)
	p := b.NextPort()
	s := SYN(p, port, DefaultSYNOptions)
	s.Data = []byte("early")
	b.Send(b.TCP(s))
	f := b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(PeerISS + 1)})
	sa := SegmentOf(f)
	c := &Conn{B: b, Port: port, PeerPort: p, Nxt: PeerISS + 1, Rcv: sa.Seq() + 1, Win: 64240}
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.Sock = Accept(b, q)
	c.SendData("late")
	b.ExpectNone(c.Probe()) // the probe's ACK covers "late"
}

// RFC 9293 §3.10.7.2 (a SYN+FIN is no connection request Linux accepts):
// dropped silently, no half-open connection.
func TestSYNFINToListenerDropped_RFC9293_3_10_7_2(t *testing.T) {
	b, _ := listening(t)
	s := SYN(b.NextPort(), port, DefaultSYNOptions)
	s.Flags |= tcp.FlagFIN
	b.Send(b.TCP(s))
	b.ExpectNone(b.ClosedPortProbe())
}

// RFC 9293 §3.10.7.2, first check: an RST to a listener is ignored, even
// with SYN set.
func TestSYNRSTToListenerDropped_RFC9293_3_10_7_2(t *testing.T) {
	b, _ := listening(t)
	s := SYN(b.NextPort(), port, DefaultSYNOptions)
	s.Flags |= tcp.FlagRST
	b.Send(b.TCP(s))
	b.ExpectNone(b.ClosedPortProbe())
}

// RFC 9293 §3.10.7.2: a segment with neither SYN, ACK nor RST to a
// listener is dropped.
func TestNoFlagsToListenerDropped_RFC9293_3_10_7_2(t *testing.T) {
	b, _ := listening(t)
	b.Send(b.TCP(Seg{SrcPort: b.NextPort(), DstPort: port, Seq: 5, Data: []byte("x")}))
	b.ExpectNone(b.ClosedPortProbe())
}

// RFC 9293 §3.10.7.2, second check: an ACK to a listener draws
// <SEQ=SEG.ACK><CTL=RST>.
func TestACKToListenerReset_RFC9293_3_10_7_2(t *testing.T) {
	b, _ := listening(t)
	p := b.NextPort()
	b.Send(b.TCP(Seg{SrcPort: p, DstPort: port, Seq: 5, Ack: 777, Flags: tcp.FlagACK}))
	b.Expect(TCPM{Flags: V(tcp.FlagRST), Seq: V(tcp.Seq(777)), DstPort: V(p)})
}

// RFC 9293 §3.10.7.4 (SYN-RECEIVED): the peer retransmits its SYN; the
// SYN-ACK is sent again with the same ISS.
func TestDuplicateSYNGetsSameSYNACK_RFC9293_3_10_7_4(t *testing.T) {
	b, _ := listening(t)
	s := SYN(b.NextPort(), port, DefaultSYNOptions)
	b.Send(b.TCP(s))
	first := SegmentOf(b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK)}))
	b.Send(b.TCP(s))
	b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Seq: V(first.Seq()), Ack: V(PeerISS + 1)})
}

// RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth check): an ACK that does not
// acknowledge our SYN draws <SEQ=SEG.ACK><CTL=RST>.
func TestBadACKInSynReceived_RFC9293_3_10_7_4(t *testing.T) {
	b, _ := listening(t)
	p := b.NextPort()
	b.Send(b.TCP(SYN(p, port, DefaultSYNOptions)))
	sa := SegmentOf(b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK)}))
	bad := sa.Seq() + 1000
	b.Send(b.TCP(Seg{SrcPort: p, DstPort: port, Seq: PeerISS + 1, Ack: bad, Flags: tcp.FlagACK, Win: 1000}))
	b.Expect(TCPM{Flags: V(tcp.FlagRST), Seq: V(bad), DstPort: V(p)})
}

// RFC 9293 §3.10.7.4 / RFC 5961 §3: an exact RST in SYN-RECEIVED removes
// the half-open connection; its final ACK then finds only the listener.
func TestRSTInSynReceived_RFC9293_3_10_7_4(t *testing.T) {
	b, _ := listening(t)
	p := b.NextPort()
	b.Send(b.TCP(SYN(p, port, DefaultSYNOptions)))
	sa := SegmentOf(b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK)}))
	b.Send(b.TCP(Seg{SrcPort: p, DstPort: port, Seq: PeerISS + 1, Flags: tcp.FlagRST}))
	ack := sa.Seq() + 1
	b.ExpectNone(Probe{Frame: b.TCP(Seg{SrcPort: p, DstPort: port, Seq: PeerISS + 1, Ack: ack, Flags: tcp.FlagACK}),
		Answer: TCPM{Flags: V(tcp.FlagRST), Seq: V(ack), DstPort: V(p)}})
}

// RFC 9293 §3.10.7.1: a SYN to a closed port draws
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
func TestSYNToClosedPort_RFC9293_3_10_7_1(t *testing.T) {
	b := New(t)
	p := b.NextPort()
	b.Send(b.TCP(SYN(p, 9999, DefaultSYNOptions)))
	b.Expect(TCPM{Flags: V(tcp.FlagRST | tcp.FlagACK), Seq: V(tcp.Seq(0)), Ack: V(PeerISS + 1), DstPort: V(p)})
}

// RFC 9293 §3.10.7.1: a RST to a closed port is not answered.
func TestRSTToClosedPortIgnored_RFC9293_3_10_7_1(t *testing.T) {
	b := New(t)
	b.Send(b.TCP(Seg{SrcPort: b.NextPort(), DstPort: 9999, Seq: 1, Flags: tcp.FlagRST}))
	b.ExpectNone(b.ClosedPortProbe())
}

// RFC 9293 §3.1: a segment with a bad checksum is dropped, even a SYN.
func TestBadChecksumDropped_RFC9293_3_1(t *testing.T) {
	b, _ := listening(t)
	s := SYN(b.NextPort(), port, DefaultSYNOptions)
	s.BadChecksum = true
	b.Send(b.TCP(s))
	b.ExpectNone(b.ClosedPortProbe())
}

// RFC 9293 §3.7.1 and Linux's tcp_min_snd_mss: an MSS of 0 or 1 neither
// kills the handshake nor makes the stack send byte-sized segments.
func TestTinyMSS_RFC9293_3_7_1(t *testing.T) {
	for _, mss := range []uint16{0, 1} {
		b, q := listening(t)
		c := b.Handshake(port, q, tcp.Options{HasMSS: true, MSS: mss})
		go c.Sock.Write(make([]byte, 200), nil)
		s := c.Expect(TCPM{Flags: V(tcp.FlagACK)})
		if n := len(s.Payload()); n != 48 {
			t.Fatalf("MSS %d: first segment carries %d bytes, want 48 (the floor)", mss, n)
		}
	}
}

// RFC 7323 §2.3: a window scale above 14 is used as 14, not refused.
func TestWindowScaleOver14Accepted_RFC7323_2_3(t *testing.T) {
	b, q := listening(t)
	c := b.Handshake(port, q, tcp.Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 15})
	if c.SynAck.Options.WindowScale != 3 || !c.SynAck.Options.HasWindowScale {
		t.Fatalf("SYN-ACK window scale %+v", c.SynAck.Options)
	}
	c.Win = 1 // 16384 bytes with the clamped shift
	c.Write("hello")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Data: V("hello")})
}

// Malformed options in a SYN (issue 9): parsing stops at the bad option
// and the SYN is answered, as Linux's tcp_parse_options does; options
// before the bad one are honoured (RFC 9293 §3.1, "must be prepared to
// handle an illegal option length").
func TestMalformedSYNOptionsAnswered_RFC9293_3_1(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		mss  uint16
	}{
		{"length zero", []byte{2, 4, 0x02, 0x18, 99, 0, 0, 0}, 536},
		{"length one", []byte{2, 4, 0x02, 0x18, 99, 1, 0, 0}, 536},
		{"overflowing", []byte{2, 4, 0x02, 0x18, 99, 12, 0, 0}, 536},
		{"kind without length", []byte{2, 4, 0x02, 0x18, 1, 1, 1, 8}, 536},
		{"MSS of length 3", []byte{2, 3, 0, 1, 1, 1, 1, 1}, 0},
		{"window scale of length 4", []byte{3, 4, 9, 9, 2, 4, 0x02, 0x18}, 536},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, q := listening(t)
			p := b.NextPort()
			s := SYN(p, port, tcp.Options{})
			s.RawOptions = tc.raw
			b.Send(b.TCP(s))
			f := b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(PeerISS + 1), DstPort: V(p)})
			c := &Conn{B: b, Port: port, PeerPort: p, Nxt: PeerISS + 1, Rcv: SegmentOf(f).Seq() + 1, Win: 64240}
			c.Send(c.Seg(tcp.FlagACK, nil))
			c.Sock = Accept(b, q)
			if tc.mss != 0 {
				// The MSS before the bad option was kept: 536-byte segments.
				go c.Sock.Write(make([]byte, 1000), nil)
				s := c.Expect(TCPM{Flags: V(tcp.FlagACK)})
				if len(s.Payload()) != int(tc.mss) {
					t.Fatalf("segment of %d bytes, want %d", len(s.Payload()), tc.mss)
				}
			}
		})
	}
}

// RFC 5961 §3.2: an RST whose sequence number is exactly RCV.NXT resets
// the connection.
func TestExactRSTResets_RFC5961_3_2(t *testing.T) {
	_, c := established(t)
	c.Send(c.Seg(tcp.FlagRST, nil))
	c.B.WaitDone(c.Sock)
	c.B.ExpectNone(c.GoneProbe())
}

// RFC 5961 §3.2: an RST in the window but not at RCV.NXT draws a
// challenge ACK and leaves the connection alone.
func TestInWindowRSTChallenged_RFC5961_3_2(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagRST, nil)
	s.Seq = c.Nxt + 100
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv), Ack: V(c.Nxt)})
	c.B.ExpectNone(c.Probe())
}

// RFC 5961 §3.2: an RST outside the window is dropped silently.
func TestOutOfWindowRSTIgnored_RFC5961_3_2(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagRST, nil)
	s.Seq = c.Nxt + 1<<20
	c.Send(s)
	c.B.ExpectNone(c.Probe())
}

// RFC 5961 §3.2: RST+ACK in window but not exact is challenged too.
func TestInWindowRSTACKChallenged_RFC5961_3_2(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagRST|tcp.FlagACK, nil)
	s.Seq = c.Nxt + 1
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
}

// RFC 5961 §4.2: a SYN in a synchronized state, in window, draws a
// challenge ACK and does not reset the connection.
func TestSYNInEstablishedChallenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagSYN, nil)
	s.Seq = c.Nxt + 10
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv), Ack: V(c.Nxt)})
	c.B.ExpectNone(c.Probe())
}

// RFC 5961 §4.2: whatever its sequence number, even outside the window.
func TestOutOfWindowSYNChallenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagSYN, nil)
	s.Seq = c.Nxt - 1<<20
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
}

// RFC 5961 §4.2: the retransmitted original SYN in ESTABLISHED is also
// challenged (it does not restart the connection).
func TestOriginalSYNInEstablishedChallenged_RFC5961_4_2(t *testing.T) {
	_, c := established(t)
	c.Send(SYN(c.PeerPort, port, DefaultSYNOptions))
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
	c.B.ExpectNone(c.Probe())
}

// RFC 5961 §7: challenge ACKs are limited (10 per second per connection
// here), so a flood of in-window RSTs cannot make the stack amplify.
func TestChallengeACKRateLimit_RFC5961_7(t *testing.T) {
	_, c := established(t)
	for i := 0; i < 15; i++ {
		s := c.Seg(tcp.FlagRST, nil)
		s.Seq = c.Nxt + tcp.Seq(10+i)
		c.Send(s)
	}
	for i := 0; i < 10; i++ {
		c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
	}
	c.B.ExpectNone(c.Probe())
}

// RFC 9293 §3.10.7.4 (fifth check): an ACK for data not yet sent
// (SEG.ACK > SND.NXT) draws an ACK and is dropped.
func TestACKOfUnsentData_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagACK, []byte("zz"))
	s.Ack = c.Rcv + 5000
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
}

// RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is dropped with
// an ACK; the data it carries is not taken.
func TestTooOldACK_RFC5961_5_2(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagACK, []byte("zz"))
	s.Ack = c.Rcv - 1<<24
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
}

// RFC 9293 §3.10.7.4: data beyond the window is not accepted; an ACK
// with the unchanged RCV.NXT is sent.
func TestDataBeyondWindow_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagACK, []byte("far"))
	s.Seq = c.Nxt + 1<<20
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
}

// RFC 9293 §3.10.7.4 and RFC 2883: a wholly duplicate segment is ACKed at
// once (with a D-SACK when SACK is on), the data is not delivered twice.
func TestDuplicateDataACKed_RFC9293_3_10_7_4(t *testing.T) {
	b, q := listening(t)
	c := b.Handshake(port, q, tcp.Options{HasMSS: true, MSS: 1460, SACKPermitted: true})
	c.SendData("abcd")
	s := c.Seg(tcp.FlagACK, []byte("abcd"))
	s.Seq = c.Nxt - 4
	c.Send(s)
	// The first copy may draw an ACK of its own before the duplicate is
	// handled (the window update when the socket takes the data: the
	// two segments may reach the connection actor in one batch or two);
	// the duplicate's ACK must carry the D-SACK block (RFC 2883 §4).
	want := TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt), SACK: []tcp.SACKBlock{{Left: c.Nxt - 4, Right: c.Nxt}}}
	want.DstPort, want.SrcPort = V(c.PeerPort), V(c.Port)
	f := c.B.Next()
	if seg := SegmentOf(f); seg != nil && seg.Flags() == tcp.FlagACK && seg.Ack() == c.Nxt && len(seg.Options().SACKBlocks()) == 0 {
		f = c.B.Next()
	}
	if err := want.match(c.B, f); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _ := c.Sock.Read(buf, c.B.Within())
	if string(buf[:n]) != "abcd" {
		t.Fatalf("read %q", buf[:n])
	}
}

// RFC 9293 §3.10.7.4 / RFC 2018 §4: out-of-order data is held and
// reported with a SACK block; filling the hole acknowledges both.
func TestOutOfOrderDataSACKed_RFC2018_4(t *testing.T) {
	b, q := listening(t)
	c := b.Handshake(port, q, tcp.Options{HasMSS: true, MSS: 1460, SACKPermitted: true})
	s := c.Seg(tcp.FlagACK, []byte("world"))
	s.Seq = c.Nxt + 5
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt), SACK: []tcp.SACKBlock{{Left: c.Nxt + 5, Right: c.Nxt + 10}}})
	c.SendData("hello")
	c.Nxt += 5
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
}

// RFC 2018 §3 / RFC 6675: SACK blocks naming data never sent are ignored;
// the connection goes on.
func TestBogusSACKBlocksIgnored_RFC2018_3(t *testing.T) {
	b, q := listening(t)
	c := b.Handshake(port, q, tcp.Options{HasMSS: true, MSS: 1460, SACKPermitted: true})
	c.Write("data")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Data: V("data")})
	s := c.Seg(tcp.FlagACK, nil)
	s.Options = tcp.Options{NumSACK: 2, SACK: [4]tcp.SACKBlock{{Left: c.Rcv + 100000, Right: c.Rcv + 200000}, {Left: c.Rcv - 5000, Right: c.Rcv - 4000}}}
	c.Send(s)
	c.B.ExpectNone(c.Probe())
	c.Rcv += 4
	s = c.Seg(tcp.FlagACK, nil)
	c.Send(s)
	c.Write("more")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Seq: V(c.Rcv), Data: V("more")})
}

// RFC 7323 §5.3 (PAWS, R1): a segment with a timestamp older than
// TS.Recent is dropped and answered with an ACK; its data is not taken.
func TestPAWSDropsOldTimestamp_RFC7323_5_3(t *testing.T) {
	b, q := listening(t)
	opts := tcp.Options{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 1000}
	c := b.Handshake(port, q, opts)
	s := c.Seg(tcp.FlagACK|tcp.FlagPSH, []byte("new"))
	s.Options = tcp.Options{HasTimestamps: true, TSVal: 2000, TSEcr: c.SynAck.Options.TSVal}
	c.Send(s)
	c.Nxt += 3
	old := c.Seg(tcp.FlagACK|tcp.FlagPSH, []byte("old"))
	old.Options = tcp.Options{HasTimestamps: true, TSVal: 1500, TSEcr: c.SynAck.Options.TSVal}
	c.Send(old)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt), TSEcr: V(uint32(2000))})
}

// RFC 6093 §6 / RFC 9293 §3.8.5: urgent data is delivered inline as
// ordinary data.
func TestUrgentDataInline_RFC6093_6(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagACK|tcp.FlagPSH|tcp.FlagURG, []byte("urgent!"))
	s.Urgent = 7
	c.Send(s)
	c.Nxt += 7
	buf := make([]byte, 16)
	n, err := c.Sock.Read(buf, c.B.Within())
	if err != nil || string(buf[:n]) != "urgent!" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
}

// RFC 9293 §3.8.6.1: with the peer's window closed, the stack probes it
// with one byte when the persist timer fires.
func TestZeroWindowProbe_RFC9293_3_8_6_1(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagACK, nil)
	s.Win = 0
	c.Send(s)
	c.B.ExpectNone(c.Probe())
	c.Write("blocked")
	c.B.ExpectNone(c.Probe())
	c.B.Advance(time.Second)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv), Data: V("b")})
}

// RFC 9293 §3.10.7.4 (eighth check): a FIN is acknowledged and the
// application reads end of stream; its close sends our FIN (LAST-ACK)
// and the final ACK ends the connection.
func TestPassiveClose_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagFIN, nil))
	c.Nxt++
	c.ExpectACK()
	if _, err := c.Sock.Read(make([]byte, 4), c.B.Within()); err != io.EOF {
		t.Fatalf("read after FIN: %v", err)
	}
	c.Sock.Close(false)
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv), Ack: V(c.Nxt)})
	c.Rcv++
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.B.WaitDone(c.Sock)
	c.B.ExpectNone(c.GoneProbe())
}

// RFC 9293 §3.10.7.4: a FIN beyond the window is not processed; the
// connection stays open.
func TestOutOfWindowFINIgnored_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	s := c.Seg(tcp.FlagACK|tcp.FlagFIN, nil)
	s.Seq = c.Nxt + 1<<20
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
	c.Write("still open")
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagPSH), Data: V("still open")})
}

// timeWait drives c into TIME-WAIT on the stack's side: the stack closes
// first, the peer ACKs and sends its FIN, the stack ACKs it.
func timeWait(t *testing.T, c *Conn) {
	c.Sock.Close(false)
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv)})
	c.Rcv++
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagFIN, nil))
	c.Nxt++
	c.ExpectACK()
}

// RFC 1337 (TIME-WAIT assassination, hazard H1): a RST in TIME-WAIT does
// not end it; the connection still answers as TIME-WAIT.
func TestRSTInTimeWaitIgnored_RFC1337(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	c.Send(c.Seg(tcp.FlagRST, nil))
	c.B.ExpectNone(c.Probe())
}

// RFC 9293 §3.10.7.4 (TIME-WAIT): a retransmitted FIN is acknowledged
// again and restarts the 2 MSL timeout.
func TestFINRetransmitInTimeWait_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	s := c.Seg(tcp.FlagACK|tcp.FlagFIN, nil)
	s.Seq = c.Nxt - 1
	c.Send(s)
	c.ExpectACK()
}

// RFC 1122 §4.2.2.13 / RFC 6191: a new SYN with a higher sequence number
// reopens a connection in TIME-WAIT.
func TestSYNReopensTimeWait_RFC1122_4_2_2_13(t *testing.T) {
	_, c := established(t)
	timeWait(t, c)
	s := SYN(c.PeerPort, port, DefaultSYNOptions)
	s.Seq = c.Nxt + 100000
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(s.Seq + 1)})
}

// RFC 9293 §3.10.7.4 (CLOSE-WAIT): an exact RST ends the connection.
func TestRSTInCloseWait_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagFIN, nil))
	c.Nxt++
	c.ExpectACK()
	c.Send(c.Seg(tcp.FlagRST, nil))
	c.B.WaitDone(c.Sock)
	c.B.ExpectNone(c.GoneProbe())
}

// RFC 9293 §3.10.7.4 (FIN-WAIT-2): data keeps arriving after our FIN was
// acknowledged, and is acknowledged.
func TestDataInFinWait2_RFC9293_3_10_7_4(t *testing.T) {
	_, c := established(t)
	c.Sock.CloseWrite()
	c.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv)})
	c.Rcv++
	c.Send(c.Seg(tcp.FlagACK, nil))
	c.SendData("after")
	c.B.ExpectNone(c.Probe()) // the probe's ACK covers "after"
}
