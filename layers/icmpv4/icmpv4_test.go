package icmpv4

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/actnet/actnet/layers/checksum"
	"github.com/actnet/actnet/layers/ipv4"
)

// pingDatagram is an ICMP echo request from Linux ping (10.0.0.1 →
// 10.0.0.2, ID 0x1c2d, seq 1, 56 data bytes: a timeval then 0x10..0x37).
var pingDatagram = []byte{
	0x45, 0x00, 0x00, 0x54, 0x5c, 0x8a, 0x40, 0x00, 0x40, 0x01, 0xca, 0x1c, 0x0a, 0x00, 0x00, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x86, 0xc6, 0x1c, 0x2d, 0x00, 0x01, 0x00, 0xf1, 0x53, 0x65,
	0x00, 0x00, 0x00, 0x00, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13,
	0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
	0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
	0x34, 0x35, 0x36, 0x37,
}

var pingRequest = pingDatagram[20:]

// udpDatagram is a UDP datagram 10.0.0.2:5353 → 10.0.0.1:33434 (a
// traceroute-style probe) with 12 payload bytes.
var udpDatagram = func() []byte {
	h := ipv4.Header{ID: 0x1234, TTL: 64, Protocol: ipv4.ProtocolUDP,
		Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), PayloadLen: 20}
	b := make([]byte, h.TotalLen())
	h.Emit(b)
	u := b[20:]
	binary.BigEndian.PutUint16(u[0:2], 5353)
	binary.BigEndian.PutUint16(u[2:4], 33434)
	binary.BigEndian.PutUint16(u[4:6], 20)
	copy(u[8:], "hello, world")
	return b
}()

func TestEchoRequestFixture(t *testing.T) {
	m, err := NewMessage(pingRequest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != TypeEchoRequest || m.Code() != 0 || m.ID() != 0x1c2d || m.Seq() != 1 || m.Checksum() != 0x86c6 {
		t.Fatalf("type %d code %d id %#x seq %d csum %#x", m.Type(), m.Code(), m.ID(), m.Seq(), m.Checksum())
	}
	if len(m.Body()) != 56 || m.Body()[16] != 0x10 {
		t.Fatalf("body %x", m.Body())
	}
	if IsError(m.Type()) {
		t.Fatal("echo request classified as error")
	}
	if _, err := m.Invoking(); err != ErrNotError {
		t.Fatalf("Invoking on echo: %v", err)
	}
}

func TestNewMessageRejections(t *testing.T) {
	for n := 0; n < HeaderLen; n++ {
		if _, err := NewMessage(pingRequest[:n]); err != ErrTruncated {
			t.Errorf("len %d: %v", n, err)
		}
	}
	bad := append([]byte(nil), pingRequest...)
	bad[len(bad)-1] ^= 0x40
	if _, err := NewMessage(bad); err != ErrChecksum {
		t.Errorf("corrupt data: %v", err)
	}
	if _, err := NewMessage(pingRequest[:len(pingRequest)-1]); err != ErrChecksum {
		t.Errorf("short data: %v", err)
	}
}

func TestEchoReply(t *testing.T) {
	req, _ := NewMessage(pingRequest)
	dst := make([]byte, 100)
	n := EmitEchoReply(dst, req)
	if n != len(pingRequest) {
		t.Fatalf("n = %d", n)
	}
	rep, err := NewMessage(dst[:n])
	if err != nil {
		t.Fatal(err)
	}
	if rep.Type() != TypeEchoReply || rep.Code() != 0 || rep.ID() != req.ID() || rep.Seq() != req.Seq() ||
		!bytes.Equal(rep.Body(), req.Body()) || rep.Checksum() != 0x8ec6 {
		t.Fatalf("reply %x", dst[:n])
	}
	// In place.
	inPlace := append([]byte(nil), pingRequest...)
	m, _ := NewMessage(inPlace)
	if EmitEchoReply(inPlace, m) != n || !bytes.Equal(inPlace, dst[:n]) {
		t.Fatal("in-place reply differs")
	}
	// Refusals.
	if EmitEchoReply(dst[:n-1], req) != 0 {
		t.Fatal("short dst accepted")
	}
	if EmitEchoReply(dst, rep) != 0 {
		t.Fatal("reply to a reply")
	}
	if EmitEchoReply(dst, nil) != 0 {
		t.Fatal("nil request")
	}
}

func TestEmitEcho(t *testing.T) {
	dst := make([]byte, 64)
	n := EmitEcho(dst, TypeEchoRequest, 0x1c2d, 1, pingRequest[8:])
	if n != len(pingRequest) || !bytes.Equal(dst[:n], pingRequest) {
		t.Fatalf("got %x", dst[:n])
	}
	if EmitEcho(dst[:10], TypeEchoRequest, 1, 1, make([]byte, 3)) != 0 {
		t.Fatal("short dst accepted")
	}
}

func TestPortUnreachableRoundTrip(t *testing.T) {
	dst := make([]byte, 1500)
	n := EmitError(dst, TypeDestUnreachable, CodePortUnreachable, 0, udpDatagram)
	if n != HeaderLen+len(udpDatagram) {
		t.Fatalf("n = %d", n)
	}
	m, err := NewMessage(dst[:n])
	if err != nil {
		t.Fatal(err)
	}
	if !IsError(m.Type()) || m.Code() != CodePortUnreachable || m.RestOfHeader() != 0 {
		t.Fatalf("message %x", dst[:n])
	}
	iv, err := m.Invoking()
	if err != nil {
		t.Fatal(err)
	}
	if iv.Protocol() != ipv4.ProtocolUDP || iv.Src() != netip.MustParseAddr("10.0.0.2") ||
		iv.Dst() != netip.MustParseAddr("10.0.0.1") || iv.ID() != 0x1234 {
		t.Fatalf("invoking %+v", iv)
	}
	if len(iv.Header) != 20 || !bytes.Equal(iv.Payload, udpDatagram[20:]) {
		t.Fatalf("invoking payload %x", iv.Payload)
	}
	if binary.BigEndian.Uint16(iv.Payload[2:4]) != 33434 {
		t.Fatal("destination port")
	}
}

func TestFragmentationNeededCarriesMTU(t *testing.T) {
	dst := make([]byte, 100)
	n := EmitError(dst, TypeDestUnreachable, CodeFragmentationNeeded, 1400, udpDatagram)
	m, err := NewMessage(dst[:n])
	if err != nil || m.NextHopMTU() != 1400 {
		t.Fatalf("mtu %d err %v", m.NextHopMTU(), err)
	}
	n = EmitError(dst, TypeParameterProblem, CodePointerIndicatesError, 9<<24, udpDatagram)
	m, _ = NewMessage(dst[:n])
	if m.Pointer() != 9 {
		t.Fatalf("pointer %d", m.Pointer())
	}
	n = EmitError(dst, TypeRedirect, 1, 0x0a0000fe, udpDatagram)
	m, _ = NewMessage(dst[:n])
	if m.Gateway() != netip.MustParseAddr("10.0.0.254") {
		t.Fatalf("gateway %v", m.Gateway())
	}
}

func TestErrorQuoteSizing(t *testing.T) {
	big := ipv4.Header{TTL: 64, Protocol: ipv4.ProtocolTCP, Src: netip.MustParseAddr("10.0.0.2"),
		Dst: netip.MustParseAddr("10.0.0.1"), PayloadLen: 1480}
	dgram := make([]byte, big.TotalLen())
	big.Emit(dgram)

	// A large buffer: quote capped so the IP datagram is at most 576 bytes.
	dst := make([]byte, 2000)
	n := EmitError(dst, TypeTimeExceeded, CodeReassemblyExceeded, 0, dgram)
	if n != MaxErrorLen || ipv4.HeaderLen+n != 576 {
		t.Fatalf("n = %d", n)
	}
	m, err := NewMessage(dst[:n])
	if err != nil {
		t.Fatal(err)
	}
	iv, err := m.Invoking()
	if err != nil || len(iv.Payload) != n-HeaderLen-20 {
		t.Fatalf("payload %d err %v", len(iv.Payload), err)
	}

	// A buffer that fits exactly header + 8: allowed (RFC 792 minimum).
	n = EmitError(dst[:HeaderLen+28], TypeTimeExceeded, CodeTTLExceeded, 0, dgram)
	if n != HeaderLen+28 {
		t.Fatalf("minimum quote: n = %d", n)
	}
	// One byte less: refused.
	if EmitError(dst[:HeaderLen+27], TypeTimeExceeded, CodeTTLExceeded, 0, dgram) != 0 {
		t.Fatal("too-small buffer accepted")
	}
	// Degenerate inputs never panic.
	if EmitError(dst[:3], TypeTimeExceeded, 0, 0, nil) != 0 {
		t.Fatal("3-byte buffer accepted")
	}
	if n := EmitError(dst, TypeTimeExceeded, 0, 0, nil); n != HeaderLen {
		t.Fatalf("empty quote: n = %d", n)
	}
}

func TestInvokingRejections(t *testing.T) {
	build := func(quote []byte) Message {
		b := make([]byte, HeaderLen+len(quote))
		b[0] = TypeDestUnreachable
		copy(b[HeaderLen:], quote)
		binary.BigEndian.PutUint16(b[2:4], checksum.Checksum(b))
		m, err := NewMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if _, err := build(udpDatagram[:27]).Invoking(); err != ErrInvokingTruncated {
		t.Errorf("27-byte quote: %v", err)
	}
	if _, err := build(udpDatagram[:10]).Invoking(); err != ErrInvokingTruncated {
		t.Errorf("10-byte quote: %v", err)
	}
	v6 := append([]byte(nil), udpDatagram...)
	v6[0] = 0x65
	if _, err := build(v6).Invoking(); err != ErrInvokingHeader {
		t.Errorf("version 6: %v", err)
	}
	short := append([]byte(nil), udpDatagram...)
	short[0] = 0x43
	if _, err := build(short).Invoking(); err != ErrInvokingHeader {
		t.Errorf("IHL 3: %v", err)
	}
	// Padding past the original Total Length (RFC 4884) is cut off.
	padded := append(append([]byte(nil), udpDatagram...), make([]byte, 60)...)
	iv, err := build(padded).Invoking()
	if err != nil || len(iv.Payload) != len(udpDatagram)-20 {
		t.Errorf("padded quote: %d bytes, %v", len(iv.Payload), err)
	}
}

func TestErrorAllowed(t *testing.T) {
	mk := func(edit func(h *ipv4.Header), payload []byte) ipv4.Packet {
		h := ipv4.Header{TTL: 64, Protocol: ipv4.ProtocolUDP, Src: netip.MustParseAddr("10.0.0.2"),
			Dst: netip.MustParseAddr("10.0.0.1"), PayloadLen: len(payload)}
		edit(&h)
		b := make([]byte, h.TotalLen())
		h.Emit(b)
		copy(b[20:], payload)
		p, err := ipv4.NewPacket(b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	udp := make([]byte, 8)
	none := func(*ipv4.Header) {}
	icmpErr := []byte{TypeDestUnreachable, 3, 0, 0, 0, 0, 0, 0}
	icmpEcho := []byte{TypeEchoRequest, 0, 0, 0, 0, 0, 0, 0}
	cases := []struct {
		name   string
		p      ipv4.Packet
		linkMC bool
		want   bool
	}{
		{"plain unicast UDP", mk(none, udp), false, true},
		{"link broadcast", mk(none, udp), true, false},
		{"limited broadcast", mk(func(h *ipv4.Header) { h.Dst = netip.MustParseAddr("255.255.255.255") }, udp), false, false},
		{"multicast dst", mk(func(h *ipv4.Header) { h.Dst = netip.MustParseAddr("224.0.0.251") }, udp), false, false},
		{"non-first fragment", mk(func(h *ipv4.Header) { h.FragmentOffset = 1480 }, udp), false, false},
		{"first fragment", mk(func(h *ipv4.Header) { h.MoreFragments = true }, udp), false, true},
		{"src unspecified", mk(func(h *ipv4.Header) { h.Src = netip.IPv4Unspecified() }, udp), false, false},
		{"src loopback", mk(func(h *ipv4.Header) { h.Src = netip.MustParseAddr("127.0.0.1") }, udp), false, false},
		{"src multicast", mk(func(h *ipv4.Header) { h.Src = netip.MustParseAddr("239.1.1.1") }, udp), false, false},
		{"src class E", mk(func(h *ipv4.Header) { h.Src = netip.MustParseAddr("240.0.0.1") }, udp), false, false},
		{"src broadcast", mk(func(h *ipv4.Header) { h.Src = netip.MustParseAddr("255.255.255.255") }, udp), false, false},
		{"ICMP error", mk(func(h *ipv4.Header) { h.Protocol = ipv4.ProtocolICMP }, icmpErr), false, false},
		{"ICMP echo", mk(func(h *ipv4.Header) { h.Protocol = ipv4.ProtocolICMP }, icmpEcho), false, true},
		{"empty ICMP", mk(func(h *ipv4.Header) { h.Protocol = ipv4.ProtocolICMP }, nil), false, false},
	}
	for _, c := range cases {
		if got := ErrorAllowed(c.p, c.linkMC); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	dst := make([]byte, 600)
	allocs := testing.AllocsPerRun(100, func() {
		m, err := NewMessage(pingRequest)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, _ = m.Type(), m.Code(), m.ID(), m.Seq()
		EmitEchoReply(dst, m)
		n := EmitError(dst, TypeDestUnreachable, CodePortUnreachable, 0, udpDatagram)
		e, _ := NewMessage(dst[:n])
		if _, err := e.Invoking(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func FuzzICMPv4(f *testing.F) {
	f.Add(pingRequest)
	dst := make([]byte, 600)
	n := EmitError(dst, TypeDestUnreachable, CodePortUnreachable, 0, udpDatagram)
	f.Add(append([]byte(nil), dst[:n]...))
	n = EmitError(dst, TypeTimeExceeded, 0, 0, pingDatagram)
	f.Add(append([]byte(nil), dst[:n]...))
	f.Add([]byte{0, 0, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkMessage(t, b)
		// Random bytes almost never carry a valid checksum; also try the
		// same bytes with the checksum fixed, to reach the accessors.
		if len(b) >= HeaderLen {
			fixed := append([]byte(nil), b...)
			fixed[2], fixed[3] = 0, 0
			binary.BigEndian.PutUint16(fixed[2:4], checksum.Checksum(fixed))
			if _, err := NewMessage(fixed); err != nil {
				t.Fatalf("fixed checksum rejected: %v", err)
			}
			checkMessage(t, fixed)
		}
	})
}

func checkMessage(t *testing.T, b []byte) {
	m, err := NewMessage(b)
	if err != nil {
		return
	}
	if len(m) != len(b) || len(m.Body()) != len(b)-HeaderLen {
		t.Fatal("view length")
	}
	_, _, _, _, _, _ = m.Type(), m.Code(), m.ID(), m.Seq(), m.NextHopMTU(), m.Gateway()
	out := make([]byte, len(b)+MaxErrorLen)
	if m.Type() == TypeEchoRequest {
		n := EmitEchoReply(out, m)
		r, err := NewMessage(out[:n])
		if err != nil || r.Type() != TypeEchoReply || r.ID() != m.ID() || r.Seq() != m.Seq() || !bytes.Equal(r.Body(), m.Body()) {
			t.Fatalf("echo reply: %v", err)
		}
	}
	iv, err := m.Invoking()
	if err != nil {
		if IsError(m.Type()) == (err == ErrNotError) {
			t.Fatalf("Invoking error %v for type %d", err, m.Type())
		}
		return
	}
	if len(iv.Header) < ipv4.HeaderLen || len(iv.Payload) < 8 {
		t.Fatalf("quote header %d payload %d", len(iv.Header), len(iv.Payload))
	}
	_, _, _, _ = iv.Src(), iv.Dst(), iv.Protocol(), iv.ID()
	// Quoting the quote again yields a message whose quote starts the
	// same way.
	quote := m.Body()[:len(iv.Header)+len(iv.Payload)]
	n := EmitError(out, m.Type(), m.Code(), m.RestOfHeader(), quote)
	again, err := NewMessage(out[:n])
	if err != nil {
		t.Fatal(err)
	}
	iv2, err := again.Invoking()
	if err != nil || !bytes.Equal(iv2.Header, iv.Header) || !bytes.HasPrefix(iv.Payload, iv2.Payload) {
		t.Fatalf("re-quote: %v", err)
	}
}
