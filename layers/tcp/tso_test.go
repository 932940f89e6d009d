package tcp

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/checksum"
)

// tsoHarness is an established connection (peer MSS 1400, window 30000,
// SACK) on a link with TSO.
func tsoHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.cfg.GSOMax = 60000
	h.cfg.SendBufferSize = 200000
	return h.establishedSACK()
}

// TestTSOSendsSuperSegments: new data leaves in one super-segment as large
// as the congestion window allows, marked with the MSS to cut it at; every
// piece the link cuts is a full MSS but the last.
func TestTSOSendsSuperSegments(t *testing.T) {
	h := tsoHarness(t)
	mss := h.c.MSS()
	cwnd := h.c.CongestionWindow()
	h.write(strings.Repeat("x", 20000))
	out := h.take()
	if len(out) != 1 {
		t.Fatalf("sent %d segments %v, want one super-segment", len(out), out)
	}
	if want := min(20000, cwnd); len(out[0].data) != want || out[0].gso != mss {
		t.Fatalf("super-segment of %d bytes cut at %d; want %d bytes (the initial window) cut at the MSS %d",
			len(out[0].data), out[0].gso, want, mss)
	}
}

// TestTSORetransmitsInMSS: a retransmission timeout and SACK recovery
// resend at most one MSS per segment, never a super-segment, and resend
// exactly what they resend without TSO, leaving the same congestion window.
func TestTSORetransmitsInMSS(t *testing.T) {
	type result struct {
		resent []string
		cwnd   int
	}
	run := func(gso int) result {
		h := newHarness(t)
		h.cfg.GSOMax = gso
		h.cfg.SendBufferSize = 200000
		h.establishedSACK()
		mss := h.c.MSS()
		// Open the window to 8 MSS with a few acknowledged rounds.
		for h.c.CongestionWindow() < 8*mss {
			n := h.c.CongestionWindow()
			h.write(strings.Repeat("w", n))
			h.take()
			h.loc = h.loc.Add(n)
			h.now = h.now.Add(time.Millisecond)
			h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
			h.take()
		}
		h.write(strings.Repeat("y", 8*mss))
		sent := 0
		for _, s := range h.take() {
			sent += len(s.data)
		}
		if sent != 8*mss {
			t.Fatalf("GSOMax %d: sent %d bytes, want 8 MSS", gso, sent)
		}
		var r result
		collect := func(what string) {
			for _, s := range h.take() {
				if len(s.data) > mss || s.gso != 0 {
					t.Fatalf("GSOMax %d: %s sent %d bytes (GSO %d), more than the MSS %d", gso, what, len(s.data), s.gso, mss)
				}
				r.resent = append(r.resent, fmt.Sprintf("%s %d+%d", what, s.h.Seq.Sub(h.loc), len(s.data)))
			}
		}
		// The peer got pieces 2..8 but not the first: SACKs.
		una := h.loc
		for i := 2; i <= 5; i++ {
			h.send(S{F: FlagACK, Seq: h.rem, Ack: una, Win: 30000,
				SACK: []SACKBlock{{Left: una.Add(mss), Right: una.Add(i * mss)}}})
		}
		collect("recovery")
		h.fireRTO()
		collect("timeout")
		r.cwnd = h.c.CongestionWindow()
		return r
	}
	with, without := run(60000), run(0)
	if len(with.resent) == 0 {
		t.Fatal("nothing was resent")
	}
	if fmt.Sprint(with) != fmt.Sprint(without) {
		t.Errorf("with TSO: %v\nwithout:  %v", with, without)
	}
}

// TestTSOAutosize: on a long path a super-segment carries about a
// millisecond of data at the connection's rate, at least two MSS
// (Linux's tcp_tso_autosize), not the whole window.
func TestTSOAutosize(t *testing.T) {
	h := tsoHarness(t)
	mss := h.c.MSS()
	h.c.srtt = 50 * time.Millisecond
	if got := h.c.tsoSize(mss); got != 2*mss {
		t.Errorf("tsoSize at 50 ms SRTT = %d, want 2 MSS (%d)", got, 2*mss)
	}
	h.c.srtt = 10 * time.Microsecond
	if got := h.c.tsoSize(mss); got != (60000/mss)*mss {
		t.Errorf("tsoSize at 10 µs SRTT = %d, want GSOMax in whole MSS (%d)", got, (60000/mss)*mss)
	}
}

// TestEmitPartial: the checksum field of a partial segment holds the
// pseudo-header sum; summing the segment into it, as the link does, gives
// the checksum Emit computes.
func TestEmitPartial(t *testing.T) {
	h := tsoHarness(t)
	var got *Outgoing
	h.c.emit = func(o *Outgoing) { cp := *o; got = &cp }
	h.write("hello, partial checksum")
	if got == nil {
		t.Fatal("nothing emitted")
	}
	full := make([]byte, got.Len())
	part := make([]byte, got.Len())
	if _, err := got.Emit(full); err != nil {
		t.Fatal(err)
	}
	if _, err := got.EmitPartial(part); err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(part[16:], checksum.Fold(checksum.Sum(part, 0)))
	if string(part) != string(full) {
		t.Fatalf("completed partial checksum %#x, want %#x", part[16:18], full[16:18])
	}
}
