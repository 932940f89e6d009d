package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/layers/tcp"
)

// compactTimeWait waits for c's connection actor to end as it enters
// TIME-WAIT, and checks that only the tcp actor's compact entry is left:
// no route (no connection actor), one TIME-WAIT entry.
func compactTimeWait(t *testing.T, c *Conn) {
	t.Helper()
	c.B.WaitDone(c.Sock)
	c.B.Settle()
	env := c.B.Stack.Env
	if n := env.TCPRoutes.Len(); n != 0 {
		t.Fatalf("%d connection routes left in TIME-WAIT, want 0 (the actor released)", n)
	}
	if n := env.TCPTimeWait.Load(); n < 1 {
		t.Fatalf("%d TIME-WAIT entries, want at least 1", n)
	}
}

// Issue 14 (compact TIME-WAIT), RFC 9293 §3.10.7.4 and §3.10.8: the
// connection's actor ends as it enters TIME-WAIT; the tcp actor's entry
// ignores a reset (RFC 1337), acknowledges a retransmitted FIN with the
// old numbers and restarts 2 MSL, and expires on the virtual clock, after
// which the tuple is a closed port's.
func TestTimeWaitEntryAnswersFINAndExpires_RFC9293_3_10_7_4(t *testing.T) {
	b, c := established(t)
	timeWait(t, c)
	compactTimeWait(t, c)
	if got := b.Stats().TCP.TimeWaitEntered; got != 1 {
		t.Fatalf("TIME-WAIT entered %d times, want 1", got)
	}
	rstAt(c)
	b.AdvanceSettled(30 * time.Second)
	fin := c.Seg(tcp.FlagACK|tcp.FlagFIN, nil)
	fin.Seq = c.Nxt - 1
	c.Send(fin)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv), Ack: V(c.Nxt), Data: V("")})
	// 2 MSL (60 s) restarted at the FIN: 89 s after TIME-WAIT began the
	// entry still answers, as TIME-WAIT does (old data is ACKed).
	b.AdvanceSettled(59 * time.Second)
	b.ExpectNone(c.Probe())
	b.AdvanceSettled(2 * time.Second)
	b.ExpectNone(gone(c))
	st := b.Stats().TCP
	if st.TimeWaitRSTIgnored != 1 || st.TimeWaitFINAcked != 1 || st.TimeWaitExpired != 1 {
		t.Fatalf("RSTs ignored %d, FINs acked %d, expired %d; want 1 each",
			st.TimeWaitRSTIgnored, st.TimeWaitFINAcked, st.TimeWaitExpired)
	}
	if n := b.Stack.Env.TCPTimeWait.Load(); n != 0 {
		t.Fatalf("%d TIME-WAIT entries after expiry, want 0", n)
	}
}

// tsTimeWait drives a connection with timestamps into TIME-WAIT; the
// peer's last TSval is tsval.
func tsTimeWait(c *Conn, tsval uint32) {
	c.Sock.Close(false)
	fin := SegmentOf(c.B.Expect(TCPM{Flags: V(tcp.FlagACK | tcp.FlagFIN), Seq: V(c.Rcv), DstPort: V(c.PeerPort)}))
	c.Rcv++
	s := c.Seg(tcp.FlagACK|tcp.FlagFIN, nil)
	s.Options = tcp.Options{HasTimestamps: true, TSVal: tsval, TSEcr: fin.Options().TSVal}
	c.Send(s)
	c.Nxt++
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt), TS: V(true)})
}

// RFC 6191 §2: with timestamps, a SYN for a tuple in TIME-WAIT opens a
// new connection when its TSval is newer than the old connection's last,
// even with a sequence number below RCV.NXT (the new ISN is random); one
// with an older TSval is refused, even above RCV.NXT, and answered with
// an ACK of the old numbers (RFC 9293 §3.10.7.4, RFC 5961 §4.2). The new
// connection's ISN lies beyond the old one's sequence space.
func TestTimeWaitSYNByTimestamp_RFC6191(t *testing.T) {
	b, q := listening(t)
	c := b.Handshake(port, q, tcp.Options{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 100})
	tsTimeWait(c, 200)
	compactTimeWait(t, c)

	old := SYN(c.PeerPort, port, tcp.Options{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 150})
	old.Seq = c.Nxt + 100000
	c.Send(old)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv), Ack: V(c.Nxt), TS: V(true)})

	newer := SYN(c.PeerPort, port, tcp.Options{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 300})
	newer.Seq = c.Nxt - 100000
	c.Send(newer)
	sa := c.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(newer.Seq + 1), TS: V(true)})
	if min := c.Rcv.Add(1 << 16); sa.Seq().LessThan(min) {
		t.Fatalf("new ISN %d below the old connection's %d + 2^16", sa.Seq(), c.Rcv)
	}
	st := b.Stats().TCP
	if st.TimeWaitSYNRefused != 1 || st.TimeWaitReopened != 1 {
		t.Fatalf("SYNs refused %d, reopened %d; want 1 each", st.TimeWaitSYNRefused, st.TimeWaitReopened)
	}
	// The new connection completes.
	ack := Seg{SrcPort: c.PeerPort, DstPort: port, Seq: newer.Seq + 1, Ack: sa.Seq() + 1, Flags: tcp.FlagACK, Win: 64240,
		Options: tcp.Options{HasTimestamps: true, TSVal: 301, TSEcr: sa.Options().TSVal}}
	c.Send(ack)
	Accept(b, q)
}

// RFC 6191 §2 without timestamps (RFC 1122 §4.2.2.13): a SYN above
// RCV.NXT opens a new connection, one at or below it is refused.
func TestTimeWaitSYNBySequence_RFC6191(t *testing.T) {
	b, c := established(t)
	timeWait(t, c)
	compactTimeWait(t, c)
	s := SYN(c.PeerPort, port, DefaultSYNOptions)
	s.Seq = c.Nxt
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagACK), Seq: V(c.Rcv), Ack: V(c.Nxt)})
	s.Seq = c.Nxt + 1
	c.Send(s)
	c.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(s.Seq + 1)})
	if st := b.Stats().TCP; st.TimeWaitSYNRefused != 1 || st.TimeWaitReopened != 1 {
		t.Fatalf("SYNs refused %d, reopened %d; want 1 each", st.TimeWaitSYNRefused, st.TimeWaitReopened)
	}
}

// Issue 14: TIME-WAIT entries do not count against the connection cap.
// With room for one connection, a connection in TIME-WAIT leaves room
// for the next.
func TestTimeWaitOutsideConnectionCap(t *testing.T) {
	b := NewLimited(t, actors.Limits{MaxConns: 1})
	q := b.Listen(port, 0, tcp.Config{})
	c := b.Handshake(port, q, DefaultSYNOptions)
	timeWait(t, c)
	compactTimeWait(t, c)
	b.Handshake(port, q, DefaultSYNOptions)
	if got := b.Stats().TCP.TableFull; got != 0 {
		t.Fatalf("%d connections refused by the cap", got)
	}
	b.ExpectNone(c.Probe()) // the first is still in TIME-WAIT
}

// Issue 14: TIME-WAIT entries have their own cap (Limits.MaxTimeWait,
// like Linux's tcp_max_tw_buckets). A connection entering TIME-WAIT with
// the table full closes at once, and is counted; the entries held go on.
func TestTimeWaitCap(t *testing.T) {
	b := NewLimited(t, actors.Limits{MaxTimeWait: 1})
	q := b.Listen(port, 0, tcp.Config{})
	c1 := b.Handshake(port, q, DefaultSYNOptions)
	c2 := b.Handshake(port, q, DefaultSYNOptions)
	timeWait(t, c1)
	b.WaitDone(c1.Sock)
	b.Settle()
	timeWait(t, c2)
	compactTimeWait(t, c2)
	if got := b.Stats().TCP.TimeWaitOverflow; got != 1 {
		t.Fatalf("TIME-WAIT overflow %d, want 1", got)
	}
	if n := b.Stack.Env.TCPTimeWait.Load(); n != 1 {
		t.Fatalf("%d TIME-WAIT entries, want 1", n)
	}
	b.ExpectNone(c1.Probe())
	b.ExpectNone(gone(c2))
}

// Compact TIME-WAIT over IPv6: the same entry answers a retransmitted
// FIN with the old numbers, and after 2 MSL on the virtual clock the
// tuple is a closed port's.
func TestTimeWaitEntryIPv6_RFC9293_3_10_7_4(t *testing.T) {
	b := New6(t)
	q := b.Listen(port, 0, tcp.Config{})
	pp := b.NextPort()
	send := func(s Seg) {
		s.SrcPort, s.DstPort, s.Win = pp, port, 64240
		b.Send(b.Frame6(IP6{Next: ipv6.ProtoTCP}, TCPBytes(s, PeerIP6, StackPrefix6.Addr())))
	}
	expect := func(flags tcp.Flags) *tcp.Segment {
		t.Helper()
		var seg tcp.Segment
		b.Expect(FrameM(func(_ *Bench, f ethernet.Frame) error {
			_, up, err := ip6Of(f, ipv6.ProtoTCP)
			if err != nil {
				return err
			}
			s, err := tcp.NewSegment(append([]byte(nil), up...))
			if err != nil {
				return err
			}
			if s.Flags() != flags || s.DstPort() != pp {
				return fmt.Errorf("flags %v to port %d, want %v to %d", s.Flags(), s.DstPort(), flags, pp)
			}
			seg = s
			return nil
		}))
		return &seg
	}
	send(SYN(pp, port, tcp.Options{HasMSS: true, MSS: 1440}))
	rcv := expect(tcp.FlagSYN|tcp.FlagACK).Seq() + 1
	nxt := PeerISS + 1
	send(Seg{Seq: nxt, Ack: rcv, Flags: tcp.FlagACK})
	sock := Accept(b, q)
	sock.Close(false)
	expect(tcp.FlagFIN | tcp.FlagACK)
	rcv++
	send(Seg{Seq: nxt, Ack: rcv, Flags: tcp.FlagFIN | tcp.FlagACK})
	nxt++
	if a := expect(tcp.FlagACK); a.Ack() != nxt {
		t.Fatalf("FIN acknowledged up to %d, want %d", a.Ack(), nxt)
	}
	b.WaitDone(sock)
	b.Settle()
	if n := b.Stack.Env.TCPTimeWait.Load(); n != 1 {
		t.Fatalf("%d TIME-WAIT entries, want 1", n)
	}
	send(Seg{Seq: nxt - 1, Ack: rcv, Flags: tcp.FlagFIN | tcp.FlagACK})
	if a := expect(tcp.FlagACK); a.Ack() != nxt || a.Seq() != rcv {
		t.Fatalf("retransmitted FIN answered with seq %d ack %d, want %d %d", a.Seq(), a.Ack(), rcv, nxt)
	}
	b.AdvanceSettled(61 * time.Second)
	send(Seg{Seq: nxt - 1, Ack: rcv, Flags: tcp.FlagFIN | tcp.FlagACK})
	expect(tcp.FlagRST)
	if got := b.Stats().TCP.TimeWaitExpired; got != 1 {
		t.Fatalf("TIME-WAIT entries expired %d, want 1", got)
	}
}
