package tcp

import (
	"testing"
	"time"
)

func TestRejectSegment(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		in   S
		ok   bool
		want Header
	}{
		{S{F: FlagSYN, Seq: 100}, true, Header{Seq: 0, Ack: 101, Flags: FlagRST | FlagACK}},
		{S{F: FlagSYN | FlagFIN, Seq: 100, Data: "abc"}, true, Header{Seq: 0, Ack: 105, Flags: FlagRST | FlagACK}},
		{S{F: FlagACK, Seq: 100, Ack: 555}, true, Header{Seq: 555, Flags: FlagRST}},
		{S{F: FlagACK | FlagFIN, Seq: 100, Ack: 555, Data: "x"}, true, Header{Seq: 555, Flags: FlagRST}},
		{S{F: FlagRST, Seq: 100}, false, Header{}},
		{S{F: FlagRST | FlagACK, Seq: 100, Ack: 3}, false, Header{}},
	}
	for _, c := range cases {
		rst, ok := RejectSegment(h.segment(c.in))
		if ok != c.ok {
			t.Fatalf("%v: ok=%v", c.in, ok)
		}
		if !ok {
			continue
		}
		c.want.SrcPort, c.want.DstPort = tLocal.Port(), tRemote.Port()
		if rst != c.want {
			t.Fatalf("%v: got %+v want %+v", c.in, rst, c.want)
		}
	}
}

func TestClassifyListen(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		f    Flags
		want ListenVerdict
	}{
		{FlagSYN, ListenAccept},
		{FlagSYN | FlagPSH, ListenAccept},
		{FlagSYN | FlagACK, ListenReset},
		{FlagACK, ListenReset},
		{FlagRST, ListenDrop},
		{FlagRST | FlagACK, ListenDrop},
		{FlagSYN | FlagRST, ListenDrop},
		{FlagSYN | FlagFIN, ListenDrop},
		{FlagFIN, ListenDrop},
		{0, ListenDrop},
	}
	for _, c := range cases {
		if got := ClassifyListen(h.segment(S{F: c.f})); got != c.want {
			t.Errorf("%v: %v, want %v", c.f, got, c.want)
		}
	}
}

func TestISN(t *testing.T) {
	key := [16]byte{1, 2, 3}
	a := ISN(key, tTuple, t0)
	if a != ISN(key, tTuple, t0) {
		t.Fatal("not deterministic")
	}
	// M advances by one every 4 µs (RFC 6528 §3).
	if b := ISN(key, tTuple, t0.Add(4*time.Millisecond)); b.Sub(a) != 1000 {
		t.Fatalf("clock part moved by %d", b.Sub(a))
	}
	// A different tuple or key gives an unrelated offset.
	other := Tuple{Local: tLocal, Remote: netipMust("198.51.100.7:49153")}
	if ISN(key, other, t0) == a || ISN([16]byte{9}, tTuple, t0) == a {
		t.Fatal("F does not depend on its inputs")
	}
	if n := testing.AllocsPerRun(10, func() { ISN(key, tTuple, t0) }); n != 0 {
		t.Fatalf("ISN allocates %v", n)
	}
}

func TestStateString(t *testing.T) {
	if StateTimeWait.String() != "TIME-WAIT" || State(99).String() != "UNKNOWN" {
		t.Fatal("State.String")
	}
	for s := StateClosed; s <= StateTimeWait; s++ {
		if s.String() == "UNKNOWN" {
			t.Fatal(s)
		}
	}
	var pe ParseError = 200
	if pe.Error() == "" || ErrBufferTooSmall.Error() == ErrOptionsTooLong.Error() {
		t.Fatal("error text")
	}
	if !ErrTimedOut.(interface{ Timeout() bool }).Timeout() || ErrReset.(interface{ Timeout() bool }).Timeout() {
		t.Fatal("Timeout()")
	}
}
