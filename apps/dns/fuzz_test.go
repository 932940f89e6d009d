package dns

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzReply feeds arbitrary bytes to the reply checks and the reading of
// an answer: neither may panic or hang, and what they accept must be
// consistent with the query.
func FuzzReply(f *testing.F) {
	q, err := newQuestion("svc.test.", dnsmessage.TypeA)
	if err != nil {
		f.Fatal(err)
	}
	seed := func(m dnsmessage.Message) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	question := []dnsmessage.Question{{Name: q.name, Type: q.qtype, Class: dnsmessage.ClassINET}}
	seed(dnsmessage.Message{Header: dnsmessage.Header{ID: 7, Response: true}, Questions: question,
		Answers: []dnsmessage.Resource{cnameRR("svc.test.", 5, "a.test."), cnameRR("a.test.", 5, "svc.test."), aRR("a.test.", 9, "192.0.2.1")}})
	seed(dnsmessage.Message{Header: dnsmessage.Header{ID: 7, Response: true, RCode: dnsmessage.RCodeNameError}, Questions: question,
		Authorities: []dnsmessage.Resource{soaRR("test.", 60, 30)}})
	seed(dnsmessage.Message{Header: dnsmessage.Header{ID: 7, Response: true, Truncated: true}, Questions: question})
	if query, err := buildQuery(7, q, true); err == nil {
		f.Add(query[2:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		id := binary.BigEndian.Uint16(b)
		m, why := checkReply(b, id, q)
		if why != accepted {
			if m != nil {
				t.Fatalf("rejected (%v) but returned a message", why)
			}
			return
		}
		if !m.Response || m.ID != id || !sameName(m.Questions[0].Name, q.name) {
			t.Fatalf("accepted a reply that does not match: %+v", m.Header)
		}
		a := interpret(m, q, 8)
		if len(a.chain) > 9 {
			t.Fatalf("followed %d CNAME links, limit 8", len(a.chain))
		}
		for _, addr := range a.addrs {
			if !addr.Is4() {
				t.Fatalf("A answer gave %v", addr)
			}
		}
	})
}
