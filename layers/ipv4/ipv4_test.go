package ipv4

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/actnet/actnet/layers/checksum"
)

// pingRequest is an 84-byte ICMP echo request as Linux ping sends it
// (10.0.0.1 → 10.0.0.2, ID 0x5c8a, DF, TTL 64, 56 data bytes).
var pingRequest = []byte{
	0x45, 0x00, 0x00, 0x54, 0x5c, 0x8a, 0x40, 0x00, 0x40, 0x01, 0xca, 0x1c, 0x0a, 0x00, 0x00, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x86, 0xc6, 0x1c, 0x2d, 0x00, 0x01, 0x00, 0xf1, 0x53, 0x65,
	0x00, 0x00, 0x00, 0x00, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13,
	0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
	0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
	0x34, 0x35, 0x36, 0x37,
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// fixChecksum recomputes the header checksum of b in place.
func fixChecksum(b []byte) []byte {
	hlen := int(b[0]&0x0F) * 4
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:12], checksum.Checksum(b[:hlen]))
	return b
}

func TestPingFixture(t *testing.T) {
	p, err := NewPacket(pingRequest)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"HeaderLen", p.HeaderLen(), 20},
		{"TOS", p.TOS(), uint8(0)},
		{"TotalLen", p.TotalLen(), 84},
		{"ID", p.ID(), uint16(0x5c8a)},
		{"DontFragment", p.DontFragment(), true},
		{"MoreFragments", p.MoreFragments(), false},
		{"FragmentOffset", p.FragmentOffset(), 0},
		{"IsFragment", p.IsFragment(), false},
		{"ReservedFlag", p.ReservedFlag(), false},
		{"TTL", p.TTL(), uint8(64)},
		{"Protocol", p.Protocol(), uint8(ProtocolICMP)},
		{"Checksum", p.Checksum(), uint16(0xca1c)},
		{"Src", p.Src(), netip.MustParseAddr("10.0.0.1")},
		{"Dst", p.Dst(), netip.MustParseAddr("10.0.0.2")},
		{"Options", len(p.Options()), 0},
		{"Payload", len(p.Payload()), 64},
		{"PayloadType", p.Payload()[0], uint8(8)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Re-emitting the representation reproduces the header exactly.
	h := p.Header()
	out := make([]byte, h.Len())
	h.Emit(out)
	if !bytes.Equal(out, pingRequest[:20]) {
		t.Errorf("emitted %x\nwant    %x", out, pingRequest[:20])
	}
	// The payload is an ICMP message whose checksum verifies without a
	// pseudo-header.
	if checksum.Checksum(p.Payload()) != 0 {
		t.Error("ICMP payload checksum")
	}
}

func TestEthernetPaddingTrimmed(t *testing.T) {
	small := clone(pingRequest[:28])
	binary.BigEndian.PutUint16(small[2:4], 28)
	fixChecksum(small)
	padded := append(small, make([]byte, 18)...) // 46-byte minimum payload
	p, err := NewPacket(padded)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 28 || len(p.Payload()) != 8 {
		t.Fatalf("view %d bytes, payload %d", len(p), len(p.Payload()))
	}
}

func TestRejections(t *testing.T) {
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"empty", func(b []byte) []byte { return nil }, ErrTruncated},
		{"19 bytes", func(b []byte) []byte { return b[:19] }, ErrTruncated},
		{"version 6", func(b []byte) []byte { b[0] = 0x65; return fixChecksum(b) }, ErrVersion},
		{"version 0", func(b []byte) []byte { b[0] = 0x05; return b }, ErrVersion},
		{"IHL 4", func(b []byte) []byte { b[0] = 0x44; return b }, ErrHeaderLength},
		{"IHL 0", func(b []byte) []byte { b[0] = 0x40; return b }, ErrHeaderLength},
		{"IHL beyond buffer", func(b []byte) []byte { b[0] = 0x4f; return b[:40] }, ErrTruncated},
		{"total < header", func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], 19); return fixChecksum(b) }, ErrTotalLength},
		{"total < options", func(b []byte) []byte {
			b[0] = 0x46
			binary.BigEndian.PutUint16(b[2:4], 22)
			return fixChecksum(b)
		}, ErrTotalLength},
		{"total > buffer", func(b []byte) []byte { return b[:83] }, ErrTruncated},
		{"checksum", func(b []byte) []byte { b[11] ^= 1; return b }, ErrChecksum},
		{"TTL changed", func(b []byte) []byte { b[8]--; return b }, ErrChecksum},
	}
	for _, c := range cases {
		b := c.mutate(clone(pingRequest))
		if _, err := NewPacket(b); err != c.want {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if _, err := Parse(b); err != c.want {
			t.Errorf("%s: Parse err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestOptionsSkipped(t *testing.T) {
	// Header with a 4-byte option: Router Alert (RFC 2113), as IGMP uses.
	b := []byte{
		0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0, 0,
		192, 168, 1, 5, 224, 0, 0, 22,
		0x94, 0x04, 0x00, 0x00,
		0x22, 0x00, 0xfa, 0x02, 0x00, 0x00, 0x00, 0x01, // IGMPv3 report header
	}
	fixChecksum(b)
	p, err := NewPacket(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.HeaderLen() != 24 || !bytes.Equal(p.Options(), []byte{0x94, 4, 0, 0}) {
		t.Fatalf("header len %d options %x", p.HeaderLen(), p.Options())
	}
	if len(p.HeaderBytes()) != 24 || len(p.Payload()) != 8 || p.Payload()[0] != 0x22 {
		t.Fatalf("payload %x", p.Payload())
	}
	if p.TOS() != 0xc0 || p.Protocol() != 2 {
		t.Fatalf("TOS %#x protocol %d", p.TOS(), p.Protocol())
	}
}

func TestFragmentFields(t *testing.T) {
	h := Header{ID: 7, MoreFragments: true, FragmentOffset: 1480, TTL: 64, Protocol: ProtocolUDP,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), PayloadLen: 8}
	b := make([]byte, h.TotalLen())
	h.Emit(b)
	p, err := NewPacket(b)
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsFragment() || !p.MoreFragments() || p.DontFragment() || p.FragmentOffset() != 1480 {
		t.Fatalf("fragment fields: MF %v DF %v off %d", p.MoreFragments(), p.DontFragment(), p.FragmentOffset())
	}
	if binary.BigEndian.Uint16(b[6:8]) != 0x2000|185 {
		t.Fatalf("flags word %#04x", binary.BigEndian.Uint16(b[6:8]))
	}
	if !h.IsFragment() {
		t.Fatal("Header.IsFragment")
	}
	// The last fragment has MF clear and a non-zero offset.
	h.MoreFragments = false
	h.Emit(b)
	if p, _ := NewPacket(b); !p.IsFragment() {
		t.Fatal("last fragment not recognised")
	}
}

func TestRoundTrip(t *testing.T) {
	headers := []Header{
		{TTL: 64, Protocol: ProtocolTCP, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.7"), PayloadLen: 1480, DontFragment: true, ID: 0xbeef, TOS: 0x10},
		{TTL: 1, Protocol: ProtocolUDP, Src: netip.IPv4Unspecified(), Dst: netip.MustParseAddr("255.255.255.255"), PayloadLen: 0},
		{TTL: 255, Protocol: 253, Src: netip.MustParseAddr("10.1.2.3"), Dst: netip.MustParseAddr("10.3.2.1"), PayloadLen: 65515, FragmentOffset: 65528, MoreFragments: true},
	}
	for _, h := range headers {
		b := make([]byte, h.TotalLen())
		h.Emit(b)
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		if got != h {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, h)
		}
		if p, _ := NewPacket(b); p.PseudoHeaderSum() != h.PseudoHeaderSum() {
			t.Fatal("pseudo-header sums differ")
		}
	}
}

func TestEmitNonIPv4AddressesDoesNotPanic(t *testing.T) {
	h := Header{Src: netip.MustParseAddr("::1"), Dst: netip.AddrFrom16(netip.MustParseAddr("10.0.0.9").As16()), PayloadLen: -5}
	var b [HeaderLen]byte
	h.Emit(b[:])
	if !bytes.Equal(b[12:16], []byte{0, 0, 0, 0}) || !bytes.Equal(b[16:20], []byte{10, 0, 0, 9}) {
		t.Fatalf("addresses %x", b[12:20])
	}
}

func TestZeroAllocs(t *testing.T) {
	var out [HeaderLen]byte
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		p, err := NewPacket(pingRequest)
		if err != nil {
			t.Fatal(err)
		}
		sink += p.HeaderLen() + int(p.TOS()) + p.TotalLen() + int(p.ID()) + p.FragmentOffset() +
			int(p.TTL()) + int(p.Protocol()) + len(p.Options()) + len(p.Payload())
		if p.DontFragment() && !p.MoreFragments() && !p.IsFragment() && p.Src() != p.Dst() {
			sink++
		}
		h := p.Header()
		h.Emit(out[:])
		sink += int(p.PseudoHeaderSum() & 1)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
	_ = sink
}

func BenchmarkNewPacket(b *testing.B) {
	b.SetBytes(int64(len(pingRequest)))
	for b.Loop() {
		p, err := NewPacket(pingRequest)
		if err != nil || p.Protocol() != ProtocolICMP {
			b.Fatal(err)
		}
	}
}

func FuzzIPv4(f *testing.F) {
	f.Add(pingRequest)
	f.Add(pingRequest[:20])
	f.Add(append(clone(pingRequest), 0, 0, 0, 0))
	f.Add([]byte{0x46, 0, 0, 24, 0, 0, 0, 0, 64, 6, 0x7a, 0xd5, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 0})
	f.Add([]byte{0x4f})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkPacket(t, b)
		// Random headers almost never carry a valid checksum; also try the
		// same bytes with the checksum fixed, to reach the later checks.
		if len(b) >= HeaderLen && int(b[0]&0x0F)*4 >= HeaderLen && int(b[0]&0x0F)*4 <= len(b) {
			checkPacket(t, fixChecksum(clone(b)))
		}
	})
}

func checkPacket(t *testing.T, b []byte) {
	p, err := NewPacket(b)
	if err != nil {
		if p != nil {
			t.Fatal("non-nil view with error")
		}
		return
	}
	if p.HeaderLen() < HeaderLen || p.HeaderLen() > MaxHeaderLen || p.HeaderLen() > len(p) {
		t.Fatalf("header length %d of %d", p.HeaderLen(), len(p))
	}
	if p.TotalLen() != len(p) || len(p) > len(b) {
		t.Fatalf("view %d bytes, total length %d", len(p), p.TotalLen())
	}
	if len(p.HeaderBytes())+len(p.Payload()) != len(p) || len(p.Options()) != p.HeaderLen()-HeaderLen {
		t.Fatal("header/options/payload do not partition the view")
	}
	if !p.Src().Is4() || !p.Dst().Is4() {
		t.Fatal("addresses not IPv4")
	}
	// The representation round-trips through Emit (options dropped,
	// reserved flag cleared) and keeps every field.
	h := p.Header()
	out := make([]byte, h.TotalLen())
	h.Emit(out)
	copy(out[HeaderLen:], p.Payload())
	q, err := NewPacket(out)
	if err != nil {
		t.Fatalf("re-emitted header rejected: %v", err)
	}
	if q.Header() != h {
		t.Fatalf("round trip\n got %+v\nwant %+v", q.Header(), h)
	}
	if p.HeaderLen() == HeaderLen && !p.ReservedFlag() && !bytes.Equal(out, p) {
		t.Fatalf("option-less datagram not reproduced\n got %x\nwant %x", out, []byte(p))
	}
}

// FuzzIPv4Emit builds headers from arbitrary field values and checks that
// what Emit writes always parses back to the same values.
func FuzzIPv4Emit(f *testing.F) {
	f.Add(uint8(0), uint16(1), true, false, uint16(0), uint8(64), uint8(6), uint32(0x0a000001), uint32(0x0a000002), uint16(40))
	f.Add(uint8(0xff), uint16(0xffff), false, true, uint16(8191), uint8(0), uint8(255), uint32(0), uint32(0xffffffff), uint16(0))
	f.Fuzz(func(t *testing.T, tos uint8, id uint16, df, mf bool, off uint16, ttl, proto uint8, src, dst uint32, payloadLen uint16) {
		var s, d [4]byte
		binary.BigEndian.PutUint32(s[:], src)
		binary.BigEndian.PutUint32(d[:], dst)
		h := Header{TOS: tos, ID: id, DontFragment: df, MoreFragments: mf, FragmentOffset: int(off&0x1fff) * 8,
			TTL: ttl, Protocol: proto, Src: netip.AddrFrom4(s), Dst: netip.AddrFrom4(d), PayloadLen: int(payloadLen % (65536 - HeaderLen))}
		b := make([]byte, h.TotalLen())
		h.Emit(b)
		got, err := Parse(b)
		if err != nil || got != h {
			t.Fatalf("got %+v, %v\nwant %+v", got, err, h)
		}
	})
}

func TestBroadcastAddr(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   string
	}{
		{"10.0.0.0/24", "10.0.0.255"},
		{"10.0.0.77/24", "10.0.0.255"},
		{"192.168.0.0/16", "192.168.255.255"},
		{"0.0.0.0/0", "255.255.255.255"},
		{"10.0.0.0/30", "10.0.0.3"},
		{"10.0.0.0/31", ""},
		{"10.0.0.1/32", ""},
		{"fe80::/64", ""},
	} {
		got, ok := BroadcastAddr(netip.MustParsePrefix(tc.prefix))
		if (tc.want == "") == ok || (ok && got != netip.MustParseAddr(tc.want)) {
			t.Errorf("%s: %v %v", tc.prefix, got, ok)
		}
	}
	if _, ok := BroadcastAddr(netip.Prefix{}); ok {
		t.Error("zero prefix")
	}
}
