package ipv6

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

var (
	hostA = netip.MustParseAddr("2001:db8:9::1")
	hostB = netip.MustParseAddr("2001:db8:9::2")
)

// ext is one extension header for build: its type and its bytes after the
// Next Header and length bytes (for Fragment, after Next Header).
type ext struct {
	typ  uint8
	body []byte
}

// build makes a packet from src to dst with the given extension headers
// and an upper-layer payload of protocol proto. Option and routing bodies
// must make the header a multiple of 8 bytes.
func build(src, dst netip.Addr, exts []ext, proto uint8, payload []byte) []byte {
	var chain []byte
	for i, e := range exts {
		next := proto
		if i+1 < len(exts) {
			next = exts[i+1].typ
		}
		if e.typ == ProtoFragment {
			chain = append(append(chain, next), e.body...)
			continue
		}
		n := 2 + len(e.body)
		if n%8 != 0 {
			panic("header length not a multiple of 8")
		}
		chain = append(append(chain, next, uint8(n/8-1)), e.body...)
	}
	first := proto
	if len(exts) > 0 {
		first = exts[0].typ
	}
	h := Header{NextHeader: first, HopLimit: 64, Src: src, Dst: dst, PayloadLen: len(chain) + len(payload)}
	b := make([]byte, h.TotalLen())
	h.Emit(b)
	copy(b[HeaderLen:], chain)
	copy(b[HeaderLen+len(chain):], payload)
	return b
}

func fragBody(off int, more bool, id uint32) []byte {
	b := make([]byte, 8)
	FragmentHeader{Offset: off, More: more, ID: id}.Emit(b)
	return b[1:]
}

func mustPacket(t *testing.T, b []byte) Packet {
	t.Helper()
	p, err := NewPacket(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPacket(t *testing.T) {
	p := mustPacket(t, append(bytes.Clone(echoRequest), 0, 0, 0, 0)) // link padding
	if len(p) != len(echoRequest) {
		t.Fatalf("not cut to Payload Length: %d", len(p))
	}
	if p.Src() != hostA || p.Dst() != hostB || p.NextHeader() != ProtoICMPv6 || p.HopLimit() != 64 ||
		p.PayloadLen() != 64 || p.FlowLabel() != 0x62f71 || p.TrafficClass() != 0 {
		t.Fatalf("fields: %+v", p.Header())
	}
	b := make([]byte, HeaderLen)
	p.Header().Emit(b)
	if !bytes.Equal(b, echoRequest[:HeaderLen]) {
		t.Fatalf("emit of parsed header:\n%x\n%x", b, echoRequest[:HeaderLen])
	}
	h := Header{TrafficClass: 0xb8, FlowLabel: 0xfffff, NextHeader: 17, HopLimit: 1, Src: hostA, Dst: hostB, PayloadLen: 0}
	h.Emit(b)
	if got, err := Parse(b); err != nil || got != h {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for _, c := range []struct {
		b   []byte
		err error
	}{
		{echoRequest[:39], ErrTruncated},
		{echoRequest[:len(echoRequest)-1], ErrTruncated},
		{append([]byte{0x45}, echoRequest[1:]...), ErrVersion},
	} {
		if _, err := NewPacket(c.b); err != c.err {
			t.Errorf("got %v, want %v", err, c.err)
		}
	}
}

func TestChecksumsOfCapture(t *testing.T) {
	for _, b := range [][]byte{echoRequest, portUnreachable, mldReportUnspecified, mldReportLinkLocal} {
		p := mustPacket(t, b)
		c, err := Walk(p)
		if err != nil || c.Proto != ProtoICMPv6 {
			t.Fatalf("walk %v %+v", err, c)
		}
		if s := UpperChecksum(p.Src(), p.Dst(), c.Proto, p[c.Offset:]); s != 0 {
			t.Errorf("checksum of %x does not verify: %#x", b[:8], s)
		}
	}
}

func TestWalkMLDReport(t *testing.T) {
	p := mustPacket(t, mldReportLinkLocal)
	c, err := Walk(p)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HopByHop || !c.RouterAlert || c.RouterAlertValue != RouterAlertMLD || c.Headers != 1 ||
		c.Proto != ProtoICMPv6 || c.Offset != 48 || c.NextHeaderField != 40 || c.IsFragment() {
		t.Fatalf("%+v", c)
	}
}

func TestWalkCapturedFragments(t *testing.T) {
	for i, c := range []struct {
		b    []byte
		off  int
		more bool
	}{{echoFrag0, 0, true}, {echoFrag1, 1448, true}, {echoFrag2, 2896, false}} {
		p := mustPacket(t, c.b)
		ch, err := Walk(p)
		if err != nil {
			t.Fatal(i, err)
		}
		if !ch.IsFragment() || ch.Fragment != 40 || ch.FragmentOffset != c.off || ch.More != c.more ||
			ch.ID != 0x7f9341b5 || ch.Proto != ProtoICMPv6 || ch.Offset != 48 {
			t.Fatalf("%d: %+v", i, ch)
		}
	}
}

func TestWalkUpperLayer(t *testing.T) {
	b := build(hostA, hostB, nil, ProtoUDP, make([]byte, 8))
	c, err := Walk(mustPacket(t, b))
	if err != nil || c.Proto != ProtoUDP || c.Offset != 40 || c.NextHeaderField != 6 || c.Headers != 0 {
		t.Fatalf("%+v %v", c, err)
	}
	// Unknown upper layers and No Next Header end the chain; the caller
	// decides (Parameter Problem code 1 at NextHeaderField).
	b = build(hostA, hostB, []ext{{ProtoDestOpts, make([]byte, 6)}}, 253, nil)
	c, err = Walk(mustPacket(t, b))
	if err != nil || c.Proto != 253 || c.Offset != 48 || c.NextHeaderField != 40 {
		t.Fatalf("%+v %v", c, err)
	}
}

// opt returns a destination or hop-by-hop body holding the option bytes o,
// padded with PadN (or Pad1) to a multiple of 8.
func opt(o ...byte) []byte {
	b := append([]byte(nil), o...)
	switch pad := (8 - (2+len(b))%8) % 8; pad {
	case 0:
	case 1:
		b = append(b, OptPad1)
	default:
		b = append(b, OptPadN, byte(pad-2))
		b = append(b, make([]byte, pad-2)...)
	}
	return b
}

func TestOptions(t *testing.T) {
	multicast := netip.MustParseAddr("ff02::1")
	for _, c := range []struct {
		name  string
		hbh   bool
		dst   netip.Addr
		body  []byte
		err   error
		send  bool
		code  uint8
		point uint32
	}{
		{"pad only", false, hostB, []byte{1, 4, 0, 0, 0, 0}, nil, false, 0, 0},
		{"pad1s", false, hostB, []byte{0, 0, 0, 0, 0, 0}, nil, false, 0, 0},
		{"skip unknown 00", false, hostB, opt(0x1e, 2, 9, 9), nil, false, 0, 0},
		{"discard 01", false, hostB, opt(0x5e, 2, 9, 9), ErrUnknownOption, false, 2, 42},
		{"icmp 10", false, hostB, opt(0x9e, 2, 9, 9), ErrUnknownOption, true, 2, 42},
		{"icmp 10 multicast", false, multicast, opt(0x9e, 2, 9, 9), ErrUnknownOption, true, 2, 42},
		{"icmp 11", false, hostB, opt(0xde, 2, 9, 9), ErrUnknownOption, true, 2, 42},
		{"icmp 11 multicast", false, multicast, opt(0xde, 2, 9, 9), ErrUnknownOption, false, 2, 42},
		{"jumbo unsupported", true, hostB, opt(0xc2, 4, 0, 1, 0, 0), ErrUnknownOption, true, 2, 42},
		{"second unknown", false, hostB, opt(0x1e, 0, 0xde, 0), ErrUnknownOption, true, 2, 44},
		{"router alert", true, hostB, opt(5, 2, 0, 0), nil, false, 0, 0},
		{"router alert in destopts skipped", false, hostB, opt(5, 3, 0, 0, 0), nil, false, 0, 0},
		{"router alert length", true, hostB, opt(5, 3, 0, 0, 0), ErrRouterAlertLength, true, 0, 43},
		{"padding 8", false, hostB, []byte{0, 1, 5, 0, 0, 0, 0, 0, 0x1e, 0, 1, 2, 0, 0}, ErrPadding, false, 0, 43},
		{"padn not zero", false, hostB, []byte{1, 4, 0, 0, 1, 0}, ErrPadding, false, 0, 42},
		{"option overruns", false, hostB, []byte{0x1e, 5, 0, 0, 0, 0}, ErrOptionLength, false, 0, 43},
		{"option type at end", false, hostB, []byte{1, 3, 0, 0, 0, 0x1e}, ErrOptionLength, false, 0, 47},
		{"too many options", false, hostB, opt(0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0), ErrTooManyOptions, true, CodeTooManyOptions, 58},
	} {
		typ := uint8(ProtoDestOpts)
		if c.hbh {
			typ = ProtoHopByHop
		}
		b := build(hostA, c.dst, []ext{{typ, c.body}}, ProtoUDP, make([]byte, 8))
		ch, err := Walk(mustPacket(t, b))
		if err != c.err {
			t.Errorf("%s: err %v, want %v", c.name, err, c.err)
			continue
		}
		if err == nil {
			if ch.Proto != ProtoUDP || ch.Offset != 40+2+len(c.body) {
				t.Errorf("%s: %+v", c.name, ch)
			}
			continue
		}
		if ch.Problem != (Problem{c.send, c.code, c.point}) {
			t.Errorf("%s: problem %+v, want %+v", c.name, ch.Problem, Problem{c.send, c.code, c.point})
		}
	}
}

func TestRoutingHeader(t *testing.T) {
	rh := func(typ, segLeft uint8) ext {
		return ext{ProtoRouting, append([]byte{typ, segLeft}, make([]byte, 20)...)}
	}
	for _, c := range []struct {
		name string
		h    ext
		err  error
	}{
		{"type 0 done", rh(0, 0), nil},
		{"type 4 done", rh(4, 0), nil},
		{"type 0 segments left", rh(0, 1), ErrRoutingType0},
		{"type 2 segments left", rh(2, 1), ErrRoutingHeader},
		{"unknown type segments left", rh(200, 3), ErrRoutingHeader},
	} {
		b := build(hostA, hostB, []ext{c.h}, ProtoUDP, make([]byte, 8))
		ch, err := Walk(mustPacket(t, b))
		if err != c.err {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
			continue
		}
		if err == nil && (ch.Routing != 40 || ch.Proto != ProtoUDP || ch.Offset != 64) {
			t.Errorf("%s: %+v", c.name, ch)
		}
		if err != nil && ch.Problem != (Problem{true, CodeErroneousHeader, 42}) {
			t.Errorf("%s: %+v", c.name, ch.Problem)
		}
	}
}

func TestChainRules(t *testing.T) {
	pad := []byte{1, 4, 0, 0, 0, 0}
	// Hop-by-hop after another header: code 1 at the field naming it.
	b := build(hostA, hostB, []ext{{ProtoDestOpts, pad}, {ProtoHopByHop, pad}}, ProtoUDP, make([]byte, 8))
	ch, err := Walk(mustPacket(t, b))
	if err != ErrHopByHopNotFirst || ch.Problem != (Problem{true, CodeUnrecognizedNextHeader, 40}) {
		t.Fatalf("hop-by-hop not first: %v %+v", err, ch.Problem)
	}
	// MaxExtHeaders destination options pass; one more does not.
	var exts []ext
	for range MaxExtHeaders {
		exts = append(exts, ext{ProtoDestOpts, pad})
	}
	if _, err := Walk(mustPacket(t, build(hostA, hostB, exts, ProtoUDP, make([]byte, 8)))); err != nil {
		t.Fatalf("%d headers: %v", MaxExtHeaders, err)
	}
	exts = append(exts, ext{ProtoDestOpts, pad})
	ch, err = Walk(mustPacket(t, build(hostA, hostB, exts, ProtoUDP, make([]byte, 8))))
	if err != ErrTooManyHeaders || ch.Problem != (Problem{true, CodeTooManyExtHeaders, uint32(40 + 8*(MaxExtHeaders-1))}) {
		t.Fatalf("too many: %v %+v", err, ch.Problem)
	}
	// A destination options header of 1032 bytes is refused for its
	// length before its options are read.
	big := make([]byte, MaxExtLen+6)
	ch, err = Walk(mustPacket(t, build(hostA, hostB, []ext{{ProtoDestOpts, big}}, ProtoUDP, make([]byte, 8))))
	if err != ErrChainTooLong || ch.Problem != (Problem{true, CodeChainTooLong, 40}) {
		t.Fatalf("too long: %v %+v", err, ch.Problem)
	}
	// Truncated headers.
	b = build(hostA, hostB, []ext{{ProtoDestOpts, pad}}, ProtoUDP, nil)
	for _, n := range []int{41, 47} {
		c := bytes.Clone(b[:n])
		binary.BigEndian.PutUint16(c[4:6], uint16(n-HeaderLen))
		if _, err := Walk(mustPacket(t, c)); err != ErrExtTruncated {
			t.Errorf("cut at %d: %v", n, err)
		}
	}
	// Two Fragment headers.
	b = build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, false, 1)}, {ProtoFragment, fragBody(0, true, 2)}}, ProtoUDP, make([]byte, 8))
	if _, err := Walk(mustPacket(t, b)); err != ErrNestedFragment {
		t.Errorf("nested: %v", err)
	}
}

func TestAtomicFragment(t *testing.T) {
	// RFC 6946: processed whole, past the Fragment header, even with
	// destination options after it.
	b := build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, false, 7)}, {ProtoDestOpts, opt(0x1e, 0)}}, ProtoUDP, make([]byte, 8))
	c, err := Walk(mustPacket(t, b))
	if err != nil || c.IsFragment() || !c.IsAtomicFragment() || c.Proto != ProtoUDP || c.Offset != 56 || c.Fragment != 40 {
		t.Fatalf("%+v %v", c, err)
	}
	// Its options are processed: an unknown one with action 10 counts.
	b = build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, false, 7)}, {ProtoDestOpts, opt(0x9e, 0)}}, ProtoUDP, make([]byte, 8))
	if _, err := Walk(mustPacket(t, b)); err != ErrUnknownOption {
		t.Fatalf("options of an atomic fragment: %v", err)
	}
	r := NewReassembler(ipfragConfig)
	if _, _, _, err := r.Insert(mustPacket(t, b), c, t0); err != ErrNotFragment {
		t.Fatalf("atomic fragment given to the reassembler: %v", err)
	}
}

func TestIncompleteChain(t *testing.T) {
	// RFC 7112: the first fragment must hold the chain through the
	// upper-layer header.
	do := opt(0x1e, 0)
	for _, c := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"complete", build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, true, 1)}, {ProtoDestOpts, do}}, ProtoTCP, make([]byte, 24)), nil},
		{"tcp header cut", build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, true, 1)}, {ProtoDestOpts, do}}, ProtoTCP, make([]byte, 16)), ErrIncompleteChain},
		{"udp header cut", build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, true, 1)}}, ProtoUDP, make([]byte, 7)), ErrIncompleteChain},
		{"destopts cut", build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, true, 1)}, {ProtoDestOpts, make([]byte, 30)}}, ProtoTCP, nil)[:70], ErrIncompleteChain},
		{"no next header", build(hostA, hostB, []ext{{ProtoFragment, fragBody(0, true, 1)}}, ProtoNoNext, nil), nil},
		// A later fragment's data need not start with a header.
		{"later fragment", build(hostA, hostB, []ext{{ProtoFragment, fragBody(8, true, 1)}}, ProtoTCP, make([]byte, 8)), nil},
	} {
		b := c.b
		binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-HeaderLen))
		ch, err := Walk(mustPacket(t, b))
		if err != c.err {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
			continue
		}
		if err != nil && ch.Problem != (Problem{true, CodeIncompleteChain, 0}) {
			t.Errorf("%s: %+v", c.name, ch.Problem)
		}
	}
}

func TestUpperLayer(t *testing.T) {
	for _, c := range []struct {
		b     []byte
		proto uint8
		off   int
		later bool
		ok    bool
	}{
		{echoRequest, ProtoICMPv6, 40, false, true},
		{mldReportLinkLocal, ProtoICMPv6, 48, false, true},
		{echoFrag0, ProtoICMPv6, 48, false, true},
		{echoFrag1, ProtoICMPv6, 48, true, true},
		{mldReportLinkLocal[:45], ProtoHopByHop, 40, false, false},
		{echoRequest[:20], 0, 0, false, false},
	} {
		proto, off, later, ok := UpperLayer(c.b)
		if proto != c.proto || off != c.off || later != c.later || ok != c.ok {
			t.Errorf("%x: %d %d %v %v", c.b[:8], proto, off, later, ok)
		}
	}
}

func TestSolicitedNode(t *testing.T) {
	for in, want := range map[string]string{
		"fe80::ff:fe00:a":       "ff02::1:ff00:a",
		"2001:db8:1::ff:fe00:2": "ff02::1:ff00:2",
		"2001:db8::1234:5678":   "ff02::1:ff34:5678",
	} {
		if got := SolicitedNode(netip.MustParseAddr(in)); got != netip.MustParseAddr(want) {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	// The groups Linux reported in the capture.
	if g := netip.AddrFrom16([16]byte(mldReportLinkLocal[60:76])); g != SolicitedNode(netip.MustParseAddr("fe80::ff:fe00:a")) {
		t.Errorf("captured group %s", g)
	}
}

func TestErrorsDistinct(t *testing.T) {
	all := []error{ErrTruncated, ErrVersion, ErrExtTruncated, ErrHopByHopNotFirst, ErrTooManyHeaders,
		ErrChainTooLong, ErrOptionLength, ErrPadding, ErrTooManyOptions, ErrUnknownOption,
		ErrRouterAlertLength, ErrRoutingType0, ErrRoutingHeader, ErrNestedFragment, ErrIncompleteChain,
		ErrNotPacket, ErrMTUBelowMinimum, ErrNotFragment, ErrFragmentTooLong, ErrFirstHeaderLost}
	for i, a := range all {
		for _, b := range all[i+1:] {
			if errors.Is(a, b) {
				t.Errorf("%v is %v", a, b)
			}
		}
	}
}
