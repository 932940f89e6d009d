package arp

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/actnet/actnet/layers/ethernet"
)

// linuxRequest is the ARP payload of a Linux request "who has 10.0.0.2?
// tell 10.0.0.1", followed by the 18 bytes of Ethernet padding it arrives
// with.
var linuxRequest = []byte{
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x42, 0xac, 0x11, 0x00, 0x01, 10, 0, 0, 1,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 2,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
}

// linuxReply is the reply to linuxRequest from 02:42:ac:11:00:02.
var linuxReply = []byte{
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
	0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 10, 0, 0, 2,
	0x02, 0x42, 0xac, 0x11, 0x00, 0x01, 10, 0, 0, 1,
}

var (
	hw1 = ethernet.Addr{0x02, 0x42, 0xac, 0x11, 0x00, 0x01}
	hw2 = ethernet.Addr{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	ip1 = netip.MustParseAddr("10.0.0.1")
	ip2 = netip.MustParseAddr("10.0.0.2")
)

func TestRequestFixture(t *testing.T) {
	p, err := NewPacket(linuxRequest)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != Len {
		t.Fatalf("view not trimmed: %d", len(p))
	}
	want := Repr{Op: Request, SenderHW: hw1, SenderIP: ip1, TargetIP: ip2}
	if got := p.Repr(); got != want {
		t.Fatalf("got %+v", got)
	}
	if p.Op().String() != "request" || p.TargetHW() != (ethernet.Addr{}) {
		t.Fatal("op or target hw")
	}
	if want != NewRequest(hw1, ip1, ip2) {
		t.Fatal("NewRequest differs from the Linux request")
	}
	// Answering it reproduces the Linux reply byte for byte.
	reply := ReplyTo(p.Repr(), hw2)
	out := make([]byte, reply.Len())
	reply.Emit(out)
	if !bytes.Equal(out, linuxReply) {
		t.Fatalf("reply %x\nwant  %x", out, linuxReply)
	}
	r, err := Parse(linuxReply)
	if err != nil || r != reply {
		t.Fatalf("parsed reply %+v, %v", r, err)
	}
}

func TestRejections(t *testing.T) {
	edit := func(i int, v byte) []byte {
		b := append([]byte(nil), linuxReply...)
		b[i] = v
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"27 bytes", linuxReply[:27], ErrTruncated},
		{"hardware type 6 (IEEE 802)", edit(1, 6), ErrUnsupported},
		{"protocol 0x8600", edit(2, 0x86), ErrUnsupported},
		{"hlen 8", edit(4, 8), ErrUnsupported},
		{"plen 16", edit(5, 16), ErrUnsupported},
		{"op 0", edit(7, 0), ErrOp},
		{"op 3 (RARP request)", edit(7, 3), ErrOp},
		{"op 8 (InARP)", edit(7, 8), ErrOp},
		{"op 0x0102", edit(6, 1), ErrOp},
	}
	for _, c := range cases {
		if _, err := NewPacket(c.b); err != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if _, err := Parse(c.b); err != c.want {
			t.Errorf("%s: Parse %v, want %v", c.name, err, c.want)
		}
	}
	if Op(3).String() != "op(3)" || Op(0).String() != "op(0)" || Reply.String() != "reply" {
		t.Error("Op strings")
	}
}

func TestRFC5227Forms(t *testing.T) {
	probe := NewProbe(hw1, ip2)
	if !probe.IsProbe() || probe.IsGratuitous() || probe.Op != Request || !probe.TargetHW.IsZero() || probe.TargetIP != ip2 {
		t.Fatalf("probe %+v", probe)
	}
	ann := NewAnnouncement(hw1, ip1)
	if ann.IsProbe() || !ann.IsGratuitous() || ann.Op != Request || ann.SenderIP != ip1 || ann.TargetIP != ip1 || !ann.TargetHW.IsZero() {
		t.Fatalf("announcement %+v", ann)
	}
	g := NewGratuitousReply(hw1, ip1)
	if !g.IsGratuitous() || g.Op != Reply || g.TargetHW != ethernet.Broadcast {
		t.Fatalf("gratuitous reply %+v", g)
	}
	if NewRequest(hw1, ip1, ip2).IsProbe() || NewRequest(hw1, ip1, ip2).IsGratuitous() {
		t.Fatal("ordinary request misclassified")
	}
	for _, r := range []Repr{probe, ann, g} {
		b := make([]byte, Len)
		r.Emit(b)
		got, err := Parse(b)
		if err != nil || got != r {
			t.Fatalf("round trip of %+v: %+v, %v", r, got, err)
		}
	}
	// The probe's sender address is zero on the wire.
	b := make([]byte, Len)
	probe.Emit(b)
	if !bytes.Equal(b[14:18], []byte{0, 0, 0, 0}) {
		t.Fatalf("probe sender IP %x", b[14:18])
	}
}

func TestEmitOddAddressesDoesNotPanic(t *testing.T) {
	r := Repr{Op: Request, SenderIP: netip.MustParseAddr("fe80::1"), TargetIP: netip.AddrFrom16(ip2.As16())}
	b := make([]byte, Len)
	r.Emit(b)
	got, err := Parse(b)
	if err != nil || got.SenderIP != netip.IPv4Unspecified() || got.TargetIP != ip2 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestZeroAllocs(t *testing.T) {
	out := make([]byte, Len)
	allocs := testing.AllocsPerRun(100, func() {
		p, err := NewPacket(linuxRequest)
		if err != nil {
			t.Fatal(err)
		}
		ReplyTo(p.Repr(), hw2).Emit(out)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func FuzzARP(f *testing.F) {
	f.Add(linuxRequest)
	f.Add(linuxReply)
	f.Add(linuxReply[:20])
	b := make([]byte, Len)
	NewProbe(hw1, ip2).Emit(b)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := NewPacket(b)
		if err != nil {
			return
		}
		if len(p) != Len {
			t.Fatalf("view %d bytes", len(p))
		}
		r := p.Repr()
		if r.Op != Request && r.Op != Reply {
			t.Fatalf("op %d accepted", r.Op)
		}
		out := make([]byte, r.Len())
		r.Emit(out)
		if !bytes.Equal(out, p) {
			t.Fatalf("round trip\n got %x\nwant %x", out, []byte(p))
		}
		_, _ = r.IsProbe(), r.IsGratuitous()
		_ = ReplyTo(r, hw2)
	})
}
