package icmpv6

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ipv6"
)

var (
	hostA = netip.MustParseAddr("2001:db8:9::1")
	hostB = netip.MustParseAddr("2001:db8:9::2")
)

func packet(t *testing.T, b []byte) (ipv6.Packet, ipv6.Chain) {
	t.Helper()
	p, err := ipv6.NewPacket(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ipv6.Walk(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func message(t *testing.T, b []byte) Message {
	t.Helper()
	p, c := packet(t, b)
	m, err := NewMessage(p[c.Offset:], p.Src(), p.Dst())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewMessage(t *testing.T) {
	m := message(t, echoRequest)
	if m.Type() != TypeEchoRequest || m.Code() != 0 || m.ID() != 0x4919 || m.Seq() != 1 || len(m.Body()) != 56 {
		t.Fatalf("%x", m[:8])
	}
	// The checksum covers the pseudo-header: another address fails.
	if _, err := NewMessage(echoRequest[40:], hostA, netip.MustParseAddr("2001:db8:9::3")); err != ErrChecksum {
		t.Fatal(err)
	}
	bad := bytes.Clone(echoRequest[40:])
	bad[20] ^= 1
	if _, err := NewMessage(bad, hostA, hostB); err != ErrChecksum {
		t.Fatal(err)
	}
	if _, err := NewMessage(echoRequest[40:47], hostA, hostB); err != ErrTruncated {
		t.Fatal(err)
	}
}

func TestEchoReplyMatchesLinux(t *testing.T) {
	req := message(t, echoRequest)
	b := make([]byte, len(req))
	if n := EmitEchoReply(b, req, hostB, hostA); n != len(req) {
		t.Fatal(n)
	}
	if !bytes.Equal(b, echoReply[40:]) {
		t.Fatalf("reply\n%x\nLinux\n%x", b, echoReply[40:])
	}
	// In place.
	in := bytes.Clone(req)
	if EmitEchoReply(in, Message(in), hostB, hostA) != len(in) || !bytes.Equal(in, b) {
		t.Fatal("in place")
	}
	if EmitEchoReply(b, Message(echoReply[40:]), hostB, hostA) != 0 || EmitEchoReply(b[:10], req, hostB, hostA) != 0 {
		t.Fatal("reply to a reply, or into a short buffer")
	}
	// EmitEcho builds the same request Linux sent.
	e := make([]byte, 64)
	if EmitEcho(e, TypeEchoRequest, req.ID(), req.Seq(), req.Body(), hostA, hostB) != 64 || !bytes.Equal(e, req) {
		t.Fatalf("echo\n%x\n%x", e, []byte(req))
	}
	if EmitEcho(e[:63], TypeEchoRequest, 1, 1, req.Body(), hostA, hostB) != 0 {
		t.Fatal("short buffer")
	}
}

func TestPortUnreachableMatchesLinux(t *testing.T) {
	b := make([]byte, 1500)
	n := EmitError(b, TypeDestUnreachable, CodePortUnreachable, 0, udpToClosedPort, hostB, hostA)
	if !bytes.Equal(b[:n], portUnreachable[40:]) {
		t.Fatalf("ours\n%x\nLinux\n%x", b[:n], portUnreachable[40:])
	}
	m := message(t, portUnreachable)
	iv, err := m.Invoking()
	if err != nil {
		t.Fatal(err)
	}
	if iv.Src() != hostA || iv.Dst() != hostB || iv.Proto != ipv6.ProtoUDP || len(iv.Upper) != 14 ||
		binary.BigEndian.Uint16(iv.Upper[2:4]) != 9999 {
		t.Fatalf("%+v", iv)
	}
}

func TestErrorQuoteCap(t *testing.T) {
	big := make([]byte, 3000)
	ipv6.Header{NextHeader: ipv6.ProtoUDP, HopLimit: 64, Src: hostA, Dst: hostB, PayloadLen: 3000 - 40}.Emit(big)
	b := make([]byte, 2000)
	n := EmitError(b, TypePacketTooBig, 0, 1280, big, hostB, hostA)
	if n != MaxErrorLen || ipv6.HeaderLen+n != ipv6.MinMTU {
		t.Fatalf("error of %d bytes", n)
	}
	m, err := NewMessage(b[:n], hostB, hostA)
	if err != nil || m.MTU() != 1280 || !bytes.Equal(m.Body(), big[:n-8]) {
		t.Fatalf("%v", err)
	}
	// A short buffer quotes less, but at least the fixed header.
	if n := EmitError(b[:60], TypeTimeExceeded, CodeReassemblyTimeExpired, 0, big, hostB, hostA); n != 60 {
		t.Fatal(n)
	}
	if n := EmitError(b[:47], TypeTimeExceeded, 0, 0, big, hostB, hostA); n != 0 {
		t.Fatal(n)
	}
	pp := EmitError(b, TypeParameterProblem, CodeErroneousHeader, 42, big[:100], hostB, hostA)
	if m, _ := NewMessage(b[:pp], hostB, hostA); m.Pointer() != 42 {
		t.Fatal("pointer")
	}
}

func TestErrorAllowed(t *testing.T) {
	mk := func(src, dst netip.Addr, proto uint8, payload []byte) ipv6.Packet {
		b := make([]byte, 40+len(payload))
		ipv6.Header{NextHeader: proto, HopLimit: 64, Src: src, Dst: dst, PayloadLen: len(payload)}.Emit(b)
		copy(b[40:], payload)
		return ipv6.Packet(b)
	}
	udp := make([]byte, 8)
	mcast := netip.MustParseAddr("ff02::1")
	for _, c := range []struct {
		name      string
		typ, code uint8
		p         ipv6.Packet
		linkMcast bool
		want      bool
	}{
		{"unicast udp", TypeDestUnreachable, CodePortUnreachable, mk(hostA, hostB, ipv6.ProtoUDP, udp), false, true},
		{"to multicast", TypeDestUnreachable, CodePortUnreachable, mk(hostA, mcast, ipv6.ProtoUDP, udp), false, false},
		{"link multicast", TypeDestUnreachable, CodePortUnreachable, mk(hostA, hostB, ipv6.ProtoUDP, udp), true, false},
		{"ptb to multicast", TypePacketTooBig, 0, mk(hostA, mcast, ipv6.ProtoUDP, udp), true, true},
		{"option code 2 to multicast", TypeParameterProblem, CodeUnrecognizedOption, mk(hostA, mcast, ipv6.ProtoUDP, udp), false, true},
		{"code 0 to multicast", TypeParameterProblem, CodeErroneousHeader, mk(hostA, mcast, ipv6.ProtoUDP, udp), false, false},
		{"unspecified source", TypeDestUnreachable, CodePortUnreachable, mk(netip.IPv6Unspecified(), hostB, ipv6.ProtoUDP, udp), false, false},
		{"multicast source", TypePacketTooBig, 0, mk(mcast, hostB, ipv6.ProtoUDP, udp), false, false},
		{"loopback source", TypeDestUnreachable, 0, mk(netip.IPv6Loopback(), hostB, ipv6.ProtoUDP, udp), false, false},
		{"about an error", TypeParameterProblem, 0, mk(hostA, hostB, ipv6.ProtoICMPv6, []byte{TypeDestUnreachable, 4, 0, 0, 0, 0, 0, 0}), false, false},
		{"about a redirect", TypeParameterProblem, 0, mk(hostA, hostB, ipv6.ProtoICMPv6, []byte{TypeRedirect, 0, 0, 0, 0, 0, 0, 0}), false, false},
		{"about an echo", TypeParameterProblem, 0, mk(hostA, hostB, ipv6.ProtoICMPv6, []byte{TypeEchoRequest, 0, 0, 0, 0, 0, 0, 0}), false, true},
		{"about an error behind options", TypeParameterProblem, 0, mk(hostA, hostB, ipv6.ProtoDestOpts, []byte{58, 0, 1, 4, 0, 0, 0, 0, 1, 0, 0, 0}), false, false},
		{"bad chain: unknown", TypeParameterProblem, 0, mk(hostA, hostB, ipv6.ProtoDestOpts, []byte{58, 9}), false, true},
	} {
		if got := ErrorAllowed(c.typ, c.code, c.p, c.linkMcast); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
	// Linux's captured error is an error: no error about it.
	p, _ := packet(t, portUnreachable)
	if ErrorAllowed(TypeParameterProblem, 0, p, false) {
		t.Error("error about an error")
	}
}

func TestInvokingErrors(t *testing.T) {
	b := make([]byte, 100)
	n := EmitEcho(b, TypeEchoRequest, 1, 1, nil, hostA, hostB)
	if _, err := Message(b[:n]).Invoking(); err != ErrNotError {
		t.Fatal(err)
	}
	n = EmitError(b, TypeDestUnreachable, 0, 0, make([]byte, 20), hostA, hostB)
	if _, err := Message(b[:n]).Invoking(); err != ErrInvokingTruncated {
		t.Fatal(err)
	}
	q := make([]byte, 48)
	q[0] = 0x45
	n = EmitError(b, TypeDestUnreachable, 0, 0, q, hostA, hostB)
	if _, err := Message(b[:n]).Invoking(); err != ErrInvokingHeader {
		t.Fatal(err)
	}
	// A quote cut inside its extension headers gives no upper layer.
	iv, err := message(t, portUnreachable).Invoking()
	if err != nil || iv.Upper == nil {
		t.Fatal(err)
	}
	frag := make([]byte, 60)
	ipv6.Header{NextHeader: ipv6.ProtoFragment, Src: hostA, Dst: hostB, PayloadLen: 20}.Emit(frag)
	ipv6.FragmentHeader{NextHeader: ipv6.ProtoUDP, Offset: 8}.Emit(frag[40:])
	n = EmitError(b, TypeTimeExceeded, 1, 0, frag, hostA, hostB)
	if iv, err := Message(b[:n]).Invoking(); err != nil || iv.Upper != nil || iv.Proto != ipv6.ProtoUDP {
		t.Fatalf("later fragment quote: %+v %v", iv, err)
	}
}

func TestMLDv2ReportMatchesLinux(t *testing.T) {
	for _, c := range []struct {
		pkt    []byte
		src    netip.Addr
		groups []string
	}{
		{mldReportUnspecified, netip.IPv6Unspecified(), []string{"ff02::1:ff00:a", "ff02::1:ff00:1"}},
		{mldReportLinkLocal, netip.MustParseAddr("fe80::ff:fe00:a"), []string{"ff02::1:ff00:a", "ff02::1:ff00:1"}},
	} {
		var recs []GroupRecord
		for _, g := range c.groups {
			recs = append(recs, Join(netip.MustParseAddr(g)))
		}
		b := make([]byte, MLDv2ReportPacketLen(recs))
		if n := EmitMLDv2ReportPacket(b, recs, c.src); n != len(c.pkt) || !bytes.Equal(b, c.pkt) {
			t.Fatalf("ours\n%x\nLinux\n%x", b, c.pkt)
		}
		p, ch := packet(t, c.pkt)
		if err := CheckMLD(p, ch, true); err != nil {
			t.Fatal(err)
		}
		m := message(t, c.pkt)
		got, err := ParseMLDv2Report(m)
		if err != nil || len(got) != 2 || got[0].Group != recs[0].Group || got[1].Type != RecordChangeToExclude {
			t.Fatalf("%+v %v", got, err)
		}
		if EmitMLDv2ReportPacket(b[:len(b)-1], recs, c.src) != 0 {
			t.Fatal("short buffer")
		}
	}
}

func TestMLDv2ReportSources(t *testing.T) {
	recs := []GroupRecord{
		{Type: RecordModeIsInclude, Group: netip.MustParseAddr("ff05::1:3"), Sources: []netip.Addr{hostA, hostB}},
		{Type: RecordModeIsExclude, Group: netip.MustParseAddr("ff02::1:ff00:2")},
	}
	b := make([]byte, MLDv2ReportLen(recs))
	src := netip.MustParseAddr("fe80::1")
	if n := EmitMLDv2Report(b, recs, src); n != 8+52+20 {
		t.Fatal(n)
	}
	m, err := NewMessage(b, src, ipv6.AllMLDv2Routers)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMLDv2Report(m)
	if err != nil || len(got) != 2 || len(got[0].Sources) != 2 || got[0].Sources[1] != hostB || got[1].Group != recs[1].Group {
		t.Fatalf("%+v %v", got, err)
	}
	// A record count the message cannot hold is refused up front.
	binary.BigEndian.PutUint16(b[6:8], 1000)
	if _, err := ParseMLDv2Report(Message(b)); err != ErrMLDTruncated {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(b[6:8], 2)
	binary.BigEndian.PutUint16(b[10:12], 3) // three sources, two present
	if _, err := ParseMLDv2Report(Message(b)); err != ErrMLDTruncated {
		t.Fatal(err)
	}
}

func TestCheckMLD(t *testing.T) {
	for _, c := range []struct {
		mutate func(b []byte)
		report bool
		err    error
	}{
		{func(b []byte) { b[7] = 255 }, true, ErrMLDHopLimit},
		{func(b []byte) { b[44] = 1 }, true, ErrMLDRouterAlert}, // router alert value 256
		{func(b []byte) {}, false, ErrMLDSource},                // :: is for reports only
	} {
		b := bytes.Clone(mldReportUnspecified)
		c.mutate(b)
		p, ch := packet(t, b)
		if err := CheckMLD(p, ch, c.report); err != c.err {
			t.Errorf("%v, want %v", err, c.err)
		}
	}
	p, ch := packet(t, echoRequest)
	if err := CheckMLD(p, ch, true); err != ErrMLDHopLimit {
		t.Error(err)
	}
}

func TestQuery(t *testing.T) {
	src := netip.MustParseAddr("fe80::1")
	mk := func(b []byte) Message {
		finish(b, src, ipv6.AllNodes)
		m, err := NewMessage(b, src, ipv6.AllNodes)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	v1 := make([]byte, 24)
	v1[0] = TypeMLDQuery
	binary.BigEndian.PutUint16(v1[4:6], 10000)
	q, err := NewQuery(mk(v1))
	if err != nil || q.V2() || q.MaxResponseDelay() != 10*time.Second || q.Group() != netip.IPv6Unspecified() || q.Sources() != 0 {
		t.Fatalf("v1 %v", err)
	}
	v2 := make([]byte, 28+16)
	v2[0] = TypeMLDQuery
	binary.BigEndian.PutUint16(v2[4:6], 0x8000|3<<12|0x123) // (0x1123) << 6 ms
	g := netip.MustParseAddr("ff02::1:ff00:2").As16()
	copy(v2[8:24], g[:])
	v2[24] = 0x08 | 2
	binary.BigEndian.PutUint16(v2[26:28], 1)
	copy(v2[28:44], hostA.AsSlice())
	q, err = NewQuery(mk(v2))
	if err != nil || !q.V2() || q.MaxResponseDelay() != time.Duration(0x1123<<6)*time.Millisecond ||
		!q.SuppressRouterProcessing() || q.Robustness() != 2 || q.Sources() != 1 || q.Source(0) != hostA {
		t.Fatalf("v2 %v %v", err, q.MaxResponseDelay())
	}
	if _, err := NewQuery(mk(v2[:26])); err != ErrMLDTruncated {
		t.Fatal(err)
	}
	if _, err := NewQuery(mk(v2[:40])); err != ErrMLDTruncated {
		t.Fatal(err)
	}
	if _, err := NewQuery(message(t, echoRequest)); err != ErrMLDType {
		t.Fatal(err)
	}
}
