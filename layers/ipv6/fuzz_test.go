package ipv6

import (
	"encoding/binary"
	"testing"
	"time"
)

// checkChain checks what holds of every Chain Walk accepts.
func checkChain(t *testing.T, p Packet, c Chain) {
	t.Helper()
	if c.Offset < HeaderLen || c.Offset > len(p) {
		t.Fatalf("offset %d outside [40, %d]", c.Offset, len(p))
	}
	if c.NextHeaderField >= c.Offset || p[c.NextHeaderField] != c.Proto {
		t.Fatalf("next header field %d does not hold %d", c.NextHeaderField, c.Proto)
	}
	if c.Headers > MaxExtHeaders || c.Offset-HeaderLen > MaxExtLen+FragmentHeaderLen {
		t.Fatalf("bounds: %d headers, %d bytes", c.Headers, c.Offset-HeaderLen)
	}
	if isExtension(c.Proto) && !c.IsFragment() {
		t.Fatalf("walk stopped at extension header %d", c.Proto)
	}
	if c.IsFragment() && c.FragmentOffset != 0 && c.Offset != c.Fragment+FragmentHeaderLen {
		t.Fatalf("fragment data at %d, header at %d", c.Offset, c.Fragment)
	}
	proto, off, later, ok := UpperLayer(p)
	if !ok || later != (c.IsFragment() && c.FragmentOffset != 0) {
		t.Fatalf("UpperLayer disagrees: %d %d %v %v, walk %+v", proto, off, later, ok, c)
	}
	if !c.IsFragment() && (proto != c.Proto || off != c.Offset) {
		t.Fatalf("UpperLayer %d at %d, walk %d at %d", proto, off, c.Proto, c.Offset)
	}
}

// FuzzIPv6Packet feeds arbitrary bytes to NewPacket, Walk and UpperLayer.
func FuzzIPv6Packet(f *testing.F) {
	for _, b := range [][]byte{echoRequest, mldReportUnspecified, mldReportLinkLocal, echoFrag0, echoFrag1,
		echoFrag2, portUnreachable, udpToClosedPort, hbhPacket(40)} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := NewPacket(b)
		if err != nil {
			UpperLayer(b)
			return
		}
		c, err := Walk(p)
		if err != nil {
			if c.Problem.Send && int(c.Problem.Pointer) >= len(p) && c.Problem.Code != CodeIncompleteChain {
				t.Fatalf("%v: pointer %d past the packet (%d)", err, c.Problem.Pointer, len(p))
			}
			return
		}
		checkChain(t, p, c)
	})
}

// FuzzExtChain fuzzes the extension-header chain behind a valid fixed
// header: first is the fixed header's Next Header, multicast picks the
// destination, chain is everything after the fixed header.
func FuzzExtChain(f *testing.F) {
	f.Add(uint8(ProtoHopByHop), false, mldReportLinkLocal[40:])
	f.Add(uint8(ProtoFragment), false, echoFrag0[40:200])
	f.Add(uint8(ProtoDestOpts), true, []byte{ProtoUDP, 0, 0xde, 2, 0, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint8(ProtoRouting), false, []byte{ProtoUDP, 0, 0, 1, 0, 0, 0, 0})
	f.Add(uint8(ProtoFragment), false, []byte{ProtoDestOpts, 0, 0, 1, 0, 0, 0, 1, ProtoTCP, 0, 1, 4, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, first uint8, multicast bool, chain []byte) {
		if len(chain) > MaxPayloadLen {
			chain = chain[:MaxPayloadLen]
		}
		dst := hostB
		if multicast {
			dst = AllNodes
		}
		h := Header{NextHeader: first, HopLimit: 64, Src: hostA, Dst: dst, PayloadLen: len(chain)}
		b := make([]byte, h.TotalLen())
		h.Emit(b)
		copy(b[HeaderLen:], chain)
		p, err := NewPacket(b)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Walk(p)
		if err != nil {
			return
		}
		checkChain(t, p, c)
		if c.IsFragment() {
			NewReassembler(ipfragConfig).Insert(p, c, t0)
		}
	})
}

// FuzzReassemblyIPv6 cuts data into fragments of a packet described by
// the fuzzer (offsets, flags, headers), feeds them to a Reassembler and
// checks that whatever completes is a packet Walk accepts or rejects
// without panicking, and that the caps hold.
func FuzzReassemblyIPv6(f *testing.F) {
	f.Add([]byte{0, 1, 0, 8, 1, 0, 0, 16, 0}, []byte("0123456789abcdef0123456789abcdef"))
	f.Add([]byte{0, 16, 1, 0, 0, 0, 16, 1}, make([]byte, 64))
	f.Fuzz(func(t *testing.T, plan []byte, data []byte) {
		r := NewReassembler(ipfragConfig)
		now := t0
		for len(plan) >= 4 && len(data) > 0 {
			off := int(binary.BigEndian.Uint16(plan[0:2])) &^ 7
			n := min(int(plan[2])+1, len(data))
			more := plan[3]&1 != 0
			id := uint32(plan[3] >> 1 & 3)
			plan = plan[4:]
			var exts []ext
			if id&1 != 0 {
				exts = append(exts, ext{ProtoHopByHop, opt(OptRouterAlert, 2, 0, 0)})
			}
			exts = append(exts, ext{ProtoFragment, fragBody(off, more, id)})
			b := build(hostA, hostB, exts, ProtoUDP, data[:n])
			data = data[n:]
			p := mustPacket(t, b)
			c, err := Walk(p)
			if err != nil || !c.IsFragment() {
				continue
			}
			pkt, done, _, _ := r.Insert(p, c, now)
			if done {
				q, err := NewPacket(pkt)
				if err != nil || len(q) != len(pkt) {
					t.Fatalf("reassembled packet does not parse: %v", err)
				}
				Walk(q)
			}
			now = now.Add(time.Second)
			if s := r.Stats(); s.Bytes > r.Config().MaxBytes || s.Datagrams > r.Config().MaxDatagrams {
				t.Fatalf("caps: %+v", s)
			}
		}
		r.Expire(now.Add(time.Hour))
	})
}

// FuzzFragmenter checks that any packet fragmented for any MTU reassembles
// to itself and that no fragment exceeds the MTU.
func FuzzFragmenter(f *testing.F) {
	f.Add(uint16(5000), uint16(1280), uint32(1), true)
	f.Add(uint16(1232), uint16(1280), uint32(2), false)
	f.Add(uint16(65000), uint16(9000), uint32(3), true)
	f.Fuzz(func(t *testing.T, n, mtu uint16, id uint32, hbh bool) {
		if int(mtu) < MinMTU {
			return
		}
		var pkt []byte
		if hbh {
			if int(n) > MaxPayloadLen-8 {
				return
			}
			pkt = hbhPacket(int(n))
		} else {
			pkt = build(hostA, hostB, nil, ProtoUDP, make([]byte, n))
		}
		checkFragmentRoundTrip(t, pkt, int(mtu), id)
	})
}
