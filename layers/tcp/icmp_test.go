package tcp

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func icmpTuple() Tuple {
	return Tuple{Local: netip.MustParseAddrPort("10.0.0.1:40000"), Remote: netip.MustParseAddrPort("10.0.0.2:80")}
}

func TestControlErrorPortUnreachableFailsTheHandshake(t *testing.T) {
	now := time.Unix(1000, 0)
	var sent []Header
	c, err := Connect(&Config{}, icmpTuple(), 1000, now, func(o *Outgoing) { sent = append(sent, o.Header) })
	if err != nil {
		t.Fatal(err)
	}
	// A forged error quoting a sequence number we never sent is ignored.
	if c.HandleControlError(now, ControlError{Seq: 5000, Hard: ErrRefused}) {
		t.Fatal("believed an error quoting a sequence number not in flight")
	}
	if c.State() != StateSynSent {
		t.Fatalf("state %v after a forged error", c.State())
	}
	if !c.HandleControlError(now, ControlError{Seq: 1000, Hard: ErrRefused}) {
		t.Fatal("ignored a port unreachable quoting our SYN")
	}
	if c.State() != StateClosed || !errors.Is(c.Err(), ErrRefused) {
		t.Fatalf("state %v err %v, want CLOSED with refused", c.State(), c.Err())
	}
	if c.Stats().DroppedControlErrors != 1 {
		t.Fatalf("forged error not counted: %+v", c.Stats())
	}
}

func TestControlErrorSoftIsReportedWhenTheHandshakeTimesOut(t *testing.T) {
	now := time.Unix(1000, 0)
	c, err := Connect(&Config{R2Syn: 5 * time.Second}, icmpTuple(), 1000, now, func(*Outgoing) {})
	if err != nil {
		t.Fatal(err)
	}
	c.HandleControlError(now, ControlError{Seq: 1000, Soft: ErrHostUnreachable})
	if c.State() != StateSynSent {
		t.Fatal("a soft error ended the handshake")
	}
	for i := 0; i < 100 && c.State() != StateClosed; i++ {
		now = c.NextDeadline()
		c.HandleTimer(now)
	}
	if !errors.Is(c.Err(), ErrHostUnreachable) {
		t.Fatalf("handshake gave up with %v, want host unreachable", c.Err())
	}
}

func TestControlErrorPacketTooBigResegments(t *testing.T) {
	now := time.Unix(1000, 0)
	var segs []int
	a, err := Connect(&Config{}, icmpTuple(), 1000, now, func(o *Outgoing) { segs = append(segs, o.PayloadLen()) })
	if err != nil {
		t.Fatal(err)
	}
	// Complete the handshake by hand: SYN-ACK from the peer, MSS 1460.
	synack := Header{SrcPort: 80, DstPort: 40000, Seq: 5000, Ack: 1001, Flags: FlagSYN | FlagACK, Window: 65535,
		Options: Options{HasMSS: true, MSS: 1460}}
	seg := emitted(t, &synack, nil)
	a.HandleSegment(now, icmpTuple(), &seg)
	if a.State() != StateEstablished {
		t.Fatalf("state %v", a.State())
	}
	a.SetNoDelay(true)
	segs = nil
	if n, err := a.Write(now, make([]byte, 4000)); err != nil || n != 4000 {
		t.Fatalf("write %d %v", n, err)
	}
	if len(segs) == 0 || segs[0] != 1460 {
		t.Fatalf("first segments %v, want 1460 bytes", segs)
	}
	segs = nil
	if !a.HandleControlError(now, ControlError{Seq: 1001, MTU: 1280}) {
		t.Fatal("packet too big quoting our data was ignored")
	}
	if a.MSS() != 1240 {
		t.Fatalf("MSS %d after PMTU 1280, want 1240", a.MSS())
	}
	if len(segs) == 0 {
		t.Fatal("nothing resent after packet too big")
	}
	for _, n := range segs {
		if n > 1240 {
			t.Fatalf("resent a %d-byte segment over a 1280 path", n)
		}
	}
}

// emitted serializes h and parses it back as a received segment.
func emitted(t *testing.T, h *Header, payload []byte) Segment {
	t.Helper()
	b := make([]byte, h.Len()+len(payload))
	tu := icmpTuple()
	if _, err := h.Emit(b, payload, tu.Remote.Addr(), tu.Local.Addr()); err != nil {
		t.Fatal(err)
	}
	seg, err := NewSegment(b)
	if err != nil {
		t.Fatal(err)
	}
	return seg
}
