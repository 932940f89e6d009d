package icmpv6

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/actnet/actnet/layers/ipv6"
)

// FuzzICMPv6 feeds an arbitrary IPv6 packet through the receive path of an
// ICMPv6 message: the fixed header and the chain, the checked view, every
// accessor of its type, the quoted packet of an error, the MLD parsers and
// the rules for answering with an error. Nothing may panic; what is built
// in answer must verify.
func FuzzICMPv6(f *testing.F) {
	for _, b := range [][]byte{echoRequest, echoReply, portUnreachable, mldReportUnspecified, mldReportLinkLocal, echoFrag0} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ipv6.NewPacket(bytes.Clone(b)) // the checksum may be rewritten below
		if err != nil {
			return
		}
		c, err := ipv6.Walk(p)
		if err != nil || c.IsFragment() || c.Proto != ipv6.ProtoICMPv6 {
			return
		}
		src, dst := p.Src(), p.Dst()
		m, err := NewMessage(p[c.Offset:], src, dst)
		if err != nil {
			// Try again as if the checksum were right, to reach the
			// parsers behind it.
			if len(p)-c.Offset < HeaderLen {
				return
			}
			finish(p[c.Offset:], src, dst)
			if m, err = NewMessage(p[c.Offset:], src, dst); err != nil {
				t.Fatalf("checksum written does not verify: %v", err)
			}
		}
		_, _, _, _, _ = m.Type(), m.Code(), m.RestOfHeader(), m.Pointer(), m.Body()
		if iv, err := m.Invoking(); err == nil {
			_, _ = iv.Src(), iv.Dst()
			if len(iv.Packet) < ipv6.HeaderLen {
				t.Fatal("quote shorter than a fixed header")
			}
		}
		switch m.Type() {
		case TypeMLDv2Report:
			ParseMLDv2Report(m)
			CheckMLD(p, c, true)
		case TypeMLDQuery:
			if q, err := NewQuery(m); err == nil {
				_, _, _, _ = q.Group(), q.MaxResponseDelay(), q.SuppressRouterProcessing(), q.Robustness()
				for i := range q.Sources() {
					q.Source(i)
				}
			}
		case TypeEchoRequest:
			out := make([]byte, len(m))
			if n := EmitEchoReply(out, m, dst, src); n != len(m) {
				t.Fatalf("reply of %d bytes to %d", n, len(m))
			}
			if _, err := NewMessage(out, dst, src); err != nil {
				t.Fatal(err)
			}
		}
		ErrorAllowed(TypeParameterProblem, 0, p, false)
		out := make([]byte, MaxErrorLen)
		n := EmitError(out, TypeParameterProblem, 0, 0, p, netip.MustParseAddr("2001:db8::9"), src)
		if n < HeaderLen+ipv6.HeaderLen || n > MaxErrorLen {
			t.Fatalf("error of %d bytes", n)
		}
		if e, err := NewMessage(out[:n], netip.MustParseAddr("2001:db8::9"), src); err != nil {
			t.Fatal(err)
		} else if _, err := e.Invoking(); err != nil {
			t.Fatalf("our own quote does not parse: %v", err)
		}
	})
}

// FuzzMLD parses arbitrary bytes as MLDv2 reports and queries (the
// checksum is not checked here, so the fuzzer reaches the records).
func FuzzMLD(f *testing.F) {
	f.Add(mldReportLinkLocal[48:])
	f.Add([]byte{TypeMLDv2Report, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Add([]byte{TypeMLDQuery, 0, 0, 0, 0x80, 0, 0, 0, 0xff, 2, 14: 0, 23: 1, 24: 0x0a, 25: 125, 26: 0, 27: 1, 43: 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderLen {
			return
		}
		m := Message(b)
		if recs, err := ParseMLDv2Report(m); err == nil {
			// What parsed re-emits to the same length, less aux data.
			if n := MLDv2ReportLen(recs); n > len(b) {
				t.Fatalf("records take %d bytes of %d", n, len(b))
			}
		}
		if q, err := NewQuery(m); err == nil {
			q.MaxResponseDelay()
			for i := range q.Sources() {
				q.Source(i)
			}
		}
	})
}
