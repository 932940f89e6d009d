package ipv6

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ipfrag"
)

var (
	t0           = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ipfragConfig = ipfrag.Config{}
)

func walkOK(t *testing.T, b []byte) (Packet, Chain) {
	t.Helper()
	p := mustPacket(t, b)
	c, err := Walk(p)
	if err != nil {
		t.Fatalf("walk: %v (%+v)", err, c.Problem)
	}
	return p, c
}

func TestReassembleCapture(t *testing.T) {
	frags := [][]byte{echoFrag0, echoFrag1, echoFrag2}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {0, 0, 2, 1}} {
		r := NewReassembler(ipfragConfig)
		var out []byte
		for n, i := range order {
			p, c := walkOK(t, frags[i])
			pkt, done, _, err := r.Insert(p, c, t0)
			if err != nil {
				t.Fatal(order, err)
			}
			if done != (n == len(order)-1) {
				t.Fatalf("%v: done %v after %d", order, done, n)
			}
			out = pkt
		}
		p, c := walkOK(t, out)
		if c.Proto != ProtoICMPv6 || c.Offset != 40 || c.Fragment != 0 || p.PayloadLen() != 3008 || p.Src() != hostA {
			t.Fatalf("reassembled %+v len %d", c, p.PayloadLen())
		}
		if s := UpperChecksum(p.Src(), p.Dst(), c.Proto, p[c.Offset:]); s != 0 {
			t.Fatalf("reassembled echo request's checksum: %#x", s)
		}
		if p[c.Offset] != 128 || !bytes.Equal(p[len(p)-8:], bytes.Repeat([]byte{0x5a}, 8)) {
			t.Fatalf("reassembled contents %x...%x", p[40:48], p[len(p)-8:])
		}
		if s := r.Stats(); s.Datagrams != 0 || s.Reassembled != 1 {
			t.Fatalf("%+v", s)
		}
	}
	// And the reply, the other way.
	r := NewReassembler(ipfragConfig)
	var out []byte
	for _, b := range [][]byte{replyFrag2, replyFrag0, replyFrag1} {
		p, c := walkOK(t, b)
		out, _, _, _ = r.Insert(p, c, t0)
	}
	p, c := walkOK(t, out)
	if p[c.Offset] != 129 || UpperChecksum(p.Src(), p.Dst(), c.Proto, p[c.Offset:]) != 0 {
		t.Fatal("reassembled reply")
	}
}

func TestReassemblyOverlapDiscards(t *testing.T) {
	// RFC 5722: any overlap drops the whole packet, and the fragments
	// that follow start afresh (and never complete).
	r := NewReassembler(ipfragConfig)
	p0, c0 := walkOK(t, echoFrag0)
	r.Insert(p0, c0, t0)
	over := bytes.Clone(echoFrag1)
	binary.BigEndian.PutUint16(over[42:44], uint16(1440)|1) // 8 bytes into fragment zero
	p, c := walkOK(t, over)
	if _, _, _, err := r.Insert(p, c, t0); err != ipfrag.ErrOverlap {
		t.Fatalf("overlap: %v", err)
	}
	if s := r.Stats(); s.Datagrams != 0 || s.Discarded != 1 {
		t.Fatalf("%+v", s)
	}
	for _, b := range [][]byte{echoFrag1, echoFrag2} {
		p, c := walkOK(t, b)
		if _, done, _, err := r.Insert(p, c, t0); done || err != nil {
			t.Fatal(done, err)
		}
	}
}

func TestReassemblyProblems(t *testing.T) {
	r := NewReassembler(ipfragConfig)
	// A non-final fragment whose length is not a multiple of 8: code 0 at
	// Payload Length (RFC 8200 §4.5).
	b := build(hostA, hostB, []ext{{ProtoFragment, fragBody(8, true, 9)}}, ProtoUDP, make([]byte, 12))
	p, c := walkOK(t, b)
	if _, _, prob, err := r.Insert(p, c, t0); err != ipfrag.ErrUnalignedLength || prob != (Problem{true, 0, 4}) {
		t.Fatalf("unaligned: %v %+v", err, prob)
	}
	// Reaching past 65,535 bytes of payload: code 0 at Fragment Offset.
	b = build(hostA, hostB, []ext{{ProtoFragment, fragBody(65528, false, 9)}}, ProtoUDP, make([]byte, 16))
	p, c = walkOK(t, b)
	if _, _, prob, err := r.Insert(p, c, t0); err != ErrFragmentTooLong || prob != (Problem{true, 0, 42}) {
		t.Fatalf("too long: %v %+v", err, prob)
	}
	// Not a fragment.
	p, c = walkOK(t, echoRequest)
	if _, _, _, err := r.Insert(p, c, t0); err != ErrNotFragment {
		t.Fatal(err)
	}
}

func TestReassemblyTimeout(t *testing.T) {
	r := NewReassembler(ipfragConfig)
	if r.Config().Timeout != 60*time.Second || r.Config().MaxPayload != ipfrag.MaxPayloadIPv6 {
		t.Fatalf("%+v", r.Config())
	}
	p, c := walkOK(t, echoFrag0)
	r.Insert(p, c, t0)
	p, c = walkOK(t, replyFrag1) // another packet, without its fragment zero
	r.Insert(p, c, t0.Add(time.Second))
	if dl, ok := r.NextDeadline(); !ok || !dl.Equal(t0.Add(60*time.Second)) {
		t.Fatalf("deadline %v", dl)
	}
	if e := r.Expire(t0.Add(59 * time.Second)); e != nil {
		t.Fatalf("early %+v", e)
	}
	e := r.Expire(t0.Add(61 * time.Second))
	if len(e) != 2 || !e[0].First || !bytes.Equal(e[0].Quote, echoFrag0) || e[1].First || e[1].Quote != nil {
		t.Fatalf("expired %+v", e)
	}
	if e[0].Key != (ipfrag.Key{Src: hostA, Dst: hostB, ID: 0x7f9341b5}) {
		t.Fatalf("key %+v", e[0].Key)
	}
}

func TestFragmentHeaderEmit(t *testing.T) {
	b := make([]byte, 8)
	FragmentHeader{NextHeader: 58, Offset: 1448, More: true, ID: 0x7f9341b5}.Emit(b)
	if !bytes.Equal(b, echoFrag1[40:48]) {
		t.Fatalf("%x, want %x", b, echoFrag1[40:48])
	}
}

// hbhPacket is a packet with a hop-by-hop header (Router Alert) and n
// bytes of ICMPv6-looking payload.
func hbhPacket(n int) []byte {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return build(hostA, hostB, []ext{{ProtoHopByHop, opt(OptRouterAlert, 2, 0, 0)}}, ProtoICMPv6, payload)
}

func TestFragmenter(t *testing.T) {
	for _, c := range []struct {
		pkt   []byte
		mtu   int
		count int
	}{
		{hbhPacket(5000), 1280, 5},
		{hbhPacket(5000), 1500, 4},
		{build(hostA, hostB, nil, ProtoUDP, make([]byte, 3008)), 1500, 3},
		{hbhPacket(1232), 1280, 1}, // exactly fits
		{hbhPacket(1233), 1280, 2},
	} {
		f, err := NewFragmenter(c.pkt, c.mtu, 0xabcd)
		if err != nil {
			t.Fatal(err)
		}
		if f.Count() != c.count {
			t.Fatalf("%d bytes at %d: %d fragments, want %d", len(c.pkt), c.mtu, f.Count(), c.count)
		}
		r := NewReassembler(ipfragConfig)
		var out []byte
		for i := range f.Count() {
			b := make([]byte, f.Len(i))
			if n := f.Emit(i, b); n != len(b) || n > c.mtu {
				t.Fatalf("fragment %d: %d bytes of %d, mtu %d", i, n, len(b), c.mtu)
			}
			if f.Count() == 1 {
				out = b
				break
			}
			p, ch := walkOK(t, b)
			if !ch.IsFragment() || ch.ID != 0xabcd {
				t.Fatalf("fragment %d: %+v", i, ch)
			}
			if ch.More && (len(p)-ch.Offset)%8 != 0 {
				t.Fatalf("fragment %d carries %d bytes", i, len(p)-ch.Offset)
			}
			// The hop-by-hop header is repeated in every fragment.
			if c.pkt[6] == ProtoHopByHop && (!ch.HopByHop || ch.Fragment != 48) {
				t.Fatalf("fragment %d: unfragmentable part %+v", i, ch)
			}
			pkt, done, _, err := r.Insert(p, ch, t0)
			if err != nil || done != (i == f.Count()-1) {
				t.Fatal(i, done, err)
			}
			out = pkt
		}
		if !bytes.Equal(out, c.pkt) {
			t.Fatalf("%d bytes at %d: reassembled packet differs", len(c.pkt), c.mtu)
		}
	}
	if _, err := NewFragmenter(hbhPacket(100), 1279, 1); err != ErrMTUBelowMinimum {
		t.Fatal(err)
	}
	if _, err := NewFragmenter([]byte{0x60}, 1280, 1); err != ErrNotPacket {
		t.Fatal(err)
	}
	f, _ := NewFragmenter(hbhPacket(3000), 1280, 1)
	if f.Emit(3, make([]byte, 2000)) != 0 || f.Emit(0, make([]byte, 10)) != 0 || f.Len(-1) != 0 {
		t.Fatal("out of range")
	}
}

func TestUnfragmentable(t *testing.T) {
	pad := opt(0x1e, 0)
	rh := append([]byte{0, 0}, make([]byte, 20)...)
	for _, c := range []struct {
		exts     []ext
		n, field int
	}{
		{nil, 40, 6},
		{[]ext{{ProtoHopByHop, pad}}, 48, 40},
		{[]ext{{ProtoDestOpts, pad}}, 40, 6},
		{[]ext{{ProtoHopByHop, pad}, {ProtoDestOpts, pad}, {ProtoRouting, rh}, {ProtoDestOpts, pad}}, 80, 56},
	} {
		b := build(hostA, hostB, c.exts, ProtoUDP, make([]byte, 8))
		if n, field := Unfragmentable(b); n != c.n || field != c.field {
			t.Errorf("%v: %d %d, want %d %d", c.exts, n, field, c.n, c.field)
		}
	}
}

func TestFragmenterRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := rng.IntN(20000)
		mtu := 1280 + rng.IntN(8000)
		checkFragmentRoundTrip(t, hbhPacket(n), mtu, rng.Uint32())
	}
}

func checkFragmentRoundTrip(t *testing.T, pkt []byte, mtu int, id uint32) {
	t.Helper()
	f, err := NewFragmenter(pkt, mtu, id)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReassembler(ipfragConfig)
	var out []byte
	for i := f.Count() - 1; i >= 0; i-- { // last first
		b := make([]byte, f.Len(i))
		if f.Emit(i, b) != len(b) || len(b) > mtu {
			t.Fatalf("%d bytes at mtu %d: fragment %d is %d bytes", len(pkt), mtu, i, len(b))
		}
		if f.Count() == 1 {
			out = b
			break
		}
		p, c := walkOK(t, b)
		got, done, _, err := r.Insert(p, c, t0)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			out = got
		}
	}
	if !bytes.Equal(out, pkt) {
		t.Fatalf("%d bytes at mtu %d: round trip differs", len(pkt), mtu)
	}
}
