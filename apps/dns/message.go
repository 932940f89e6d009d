package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// This file is the wire side of the resolver: building a query, checking a
// reply against it and reading what the reply says. No IO, no clock.

// ednsPayload is the UDP payload size the resolver advertises in its OPT
// record (RFC 6891 §6.2.5): 1232 bytes fits a 1280-byte IPv6 minimum MTU
// with headers, the size the DNS Flag Day 2020 settled on, so answers
// larger than that come truncated and go over TCP instead of as
// fragments.
const ednsPayload = 1232

// maxName is the longest name in presentation form without its final dot
// (RFC 1035 §2.3.4: 255 octets on the wire).
const maxName = 253

// question is one query: a fully qualified, lower-case name and a type.
type question struct {
	name  dnsmessage.Name
	qtype dnsmessage.Type
}

// canonicalName checks host as a domain name and returns it lower-case
// and fully qualified (a final dot). A stub resolver has no search list:
// every name is taken as absolute.
func canonicalName(host string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "" {
		return "", errors.New("empty name")
	}
	if len(name) > maxName {
		return "", fmt.Errorf("name longer than %d characters", maxName)
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return "", errors.New("empty label")
		case len(label) > 63: // RFC 1035 §2.3.4
			return "", fmt.Errorf("label %.20q… longer than 63 characters", label)
		}
	}
	return name + ".", nil
}

func newQuestion(name string, t dnsmessage.Type) (question, error) {
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return question{}, err
	}
	return question{name: n, qtype: t}, nil
}

// buildQuery packs a recursive query for q with the given ID and, when
// edns is set, an OPT record offering ednsPayload bytes (RFC 6891).
func buildQuery(id uint16, q question, edns bool) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 2, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: q.name, Type: q.qtype, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	if edns {
		if err := b.StartAdditionals(); err != nil {
			return nil, err
		}
		var h dnsmessage.ResourceHeader
		if err := h.SetEDNS0(ednsPayload, dnsmessage.RCodeSuccess, false); err != nil {
			return nil, err
		}
		if err := b.OPTResource(h, dnsmessage.OPTResource{}); err != nil {
			return nil, err
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, err
	}
	// The two bytes in front are room for TCP's length prefix (RFC 1035
	// §4.2.2); UDP sends msg[2:].
	return msg, nil
}

// rejectReason says why a reply was not taken as the answer to a query.
type rejectReason int

const (
	accepted        rejectReason = iota
	rejectSource                 // not from the server's address and port
	rejectMalformed              // does not parse
	rejectNotReply               // QR clear, or not a standard query
	rejectID                     // another ID
	rejectQuestion               // another question
)

var rejectNames = [...]string{
	accepted:        "accepted",
	rejectSource:    "from another source",
	rejectMalformed: "malformed",
	rejectNotReply:  "not a reply",
	rejectID:        "wrong ID",
	rejectQuestion:  "wrong question",
}

func (r rejectReason) String() string { return rejectNames[r] }

// checkReply parses b and checks that it answers the query with ID id for
// q (RFC 5452 §9.1: ID, question and source must all match; the source
// is checked by the caller, which knows it). A reply that fails is not an
// error of the exchange: the real answer may still come.
func checkReply(b []byte, id uint16, q question) (*dnsmessage.Message, rejectReason) {
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		return nil, rejectMalformed
	}
	switch {
	case !m.Response || m.OpCode != 0:
		return nil, rejectNotReply
	case m.ID != id:
		return nil, rejectID
	}
	// A truncated reply (TC) still carries the question; a reply with
	// another or no question is not ours (RFC 1035 §7.3).
	if len(m.Questions) != 1 {
		return nil, rejectQuestion
	}
	got := m.Questions[0]
	if got.Type != q.qtype || got.Class != dnsmessage.ClassINET || !sameName(got.Name, q.name) {
		return nil, rejectQuestion
	}
	return &m, accepted
}

// sameName compares names as DNS does, ignoring ASCII case (RFC 4343).
func sameName(a, b dnsmessage.Name) bool {
	return strings.EqualFold(a.String(), b.String())
}

func lowerName(n dnsmessage.Name) string { return strings.ToLower(n.String()) }

// cnameLink is one CNAME record of a chain.
type cnameLink struct {
	owner, target string
	ttl           uint32
}

// answer is what one reply says about its question.
type answer struct {
	rcode dnsmessage.RCode
	// chain holds the CNAME records followed from the question's name,
	// in order; final is where the chain ends (the question's name when
	// there is none).
	chain []cnameLink
	final string
	// addrs are the final name's records of the question's type, with
	// the smallest of their TTLs.
	addrs []netip.Addr
	ttl   uint32
	// negTTL is how long a negative answer may be cached: the smaller of
	// the SOA record's TTL and its MINIMUM field (RFC 2308 §5); hasSOA is
	// false when the authority section had none, and then the negative
	// answer is not cached.
	negTTL uint32
	hasSOA bool
	// loop is set when the chain came back to a name it had passed.
	loop bool
}

// interpret reads the answer to q out of m: it follows the CNAME chain
// from q's name through the answer section, at most maxChain links, and
// collects the addresses of the name it ends at (RFC 1034 §3.6.2, §5.3.3).
// Records for other names are ignored, as records a resolver did not ask
// for must not be trusted (RFC 2181 §5.4.1).
func interpret(m *dnsmessage.Message, q question, maxChain int) answer {
	a := answer{rcode: m.RCode, final: lowerName(q.name)}
	seen := map[string]bool{a.final: true}
	for changed := true; changed; {
		changed = false
		for _, rr := range m.Answers {
			if rr.Header.Class != dnsmessage.ClassINET || lowerName(rr.Header.Name) != a.final {
				continue
			}
			c, ok := rr.Body.(*dnsmessage.CNAMEResource)
			if !ok || q.qtype == dnsmessage.TypeCNAME {
				continue
			}
			target := lowerName(c.CNAME)
			a.chain = append(a.chain, cnameLink{owner: a.final, target: target, ttl: rr.Header.TTL})
			if seen[target] || len(a.chain) > maxChain {
				a.loop = true
				return a
			}
			seen[target] = true
			a.final = target
			changed = true
			break
		}
	}
	first := true
	for _, rr := range m.Answers {
		if rr.Header.Class != dnsmessage.ClassINET || rr.Header.Type != q.qtype || lowerName(rr.Header.Name) != a.final {
			continue
		}
		var addr netip.Addr
		switch body := rr.Body.(type) {
		case *dnsmessage.AResource:
			addr = netip.AddrFrom4(body.A)
		case *dnsmessage.AAAAResource:
			addr = netip.AddrFrom16(body.AAAA)
		default:
			continue
		}
		a.addrs = append(a.addrs, addr)
		if first || rr.Header.TTL < a.ttl {
			a.ttl = rr.Header.TTL
		}
		first = false
	}
	for _, rr := range m.Authorities {
		if soa, ok := rr.Body.(*dnsmessage.SOAResource); ok {
			a.hasSOA = true
			a.negTTL = min(rr.Header.TTL, soa.MinTTL)
			break
		}
	}
	return a
}
