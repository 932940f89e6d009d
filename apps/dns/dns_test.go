package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
)

var (
	ns1 = netip.MustParseAddrPort("10.0.0.53:53")
	ns2 = netip.MustParseAddrPort("[2001:db8::53]:53")
)

const tryTimeout = 2 * time.Second

func newTestResolver(t *testing.T, servers ...netip.AddrPort) (*Resolver, *fakeNet, *actors.VirtualClock) {
	t.Helper()
	f := newFakeNet(t)
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	r, err := New(Config{Servers: servers, Net: f, Clock: clock, Timeout: tryTimeout, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r, f, clock
}

// rr builders for replies.
func aRR(name string, ttl uint32, a string) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.AResource{A: netip.MustParseAddr(a).As4()},
	}
}

func aaaaRR(name string, ttl uint32, a string) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeAAAA, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr(a).As16()},
	}
}

func cnameRR(name string, ttl uint32, target string) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target)},
	}
}

func soaRR(zone string, ttl, minimum uint32) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(zone), Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET, TTL: ttl},
		Body: &dnsmessage.SOAResource{NS: dnsmessage.MustNewName("ns." + zone), MBox: dnsmessage.MustNewName("hostmaster." + zone),
			Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, MinTTL: minimum},
	}
}

// replyTo builds the reply to query q: same ID and question, the given
// code and records; edit may change anything before it is packed.
func replyTo(t *testing.T, q *sentQuery, rcode dnsmessage.RCode, answers, authorities []dnsmessage.Resource, edit func(*dnsmessage.Message)) []byte {
	t.Helper()
	qm := q.message(t)
	m := dnsmessage.Message{
		Header:      dnsmessage.Header{ID: qm.ID, Response: true, RecursionDesired: true, RecursionAvailable: true, RCode: rcode},
		Questions:   qm.Questions,
		Answers:     answers,
		Authorities: authorities,
	}
	if edit != nil {
		edit(&m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type result struct {
	addrs []netip.Addr
	err   error
}

func lookupAsync(r *Resolver, network, host string) chan result {
	ch := make(chan result, 1)
	go func() {
		addrs, err := r.LookupNetIP(context.Background(), network, host)
		ch <- result{addrs, err}
	}()
	return ch
}

// answeredFromCache runs a lookup that must not send a query: it fails
// the test if a query leaves before the result arrives.
func answeredFromCache(t *testing.T, r *Resolver, f *fakeNet, network, host string) result {
	t.Helper()
	ch := lookupAsync(r, network, host)
	select {
	case res := <-ch:
		return res
	case q := <-f.sent:
		t.Fatalf("lookup of %s sent a query (%x) instead of using the cache", host, q.msg)
	}
	panic("unreachable")
}

func addrs(list ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range list {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestQueryCarriesEDNSAndRandomPort(t *testing.T) {
	r, f, _ := newTestResolver(t, ns1)
	ch := lookupAsync(r, "ip4", "Svc.Test")
	q := f.next()
	m := q.message(t)
	if q.to != ns1 {
		t.Errorf("query went to %v, want %v", q.to, ns1)
	}
	if len(m.Questions) != 1 || m.Questions[0].Name.String() != "svc.test." || m.Questions[0].Type != dnsmessage.TypeA || !m.RecursionDesired {
		t.Errorf("question %+v, want one recursive A query for svc.test.", m.Questions)
	}
	var opt *dnsmessage.Resource
	for i := range m.Additionals {
		if m.Additionals[i].Header.Type == dnsmessage.TypeOPT {
			opt = &m.Additionals[i]
		}
	}
	if opt == nil || opt.Header.Class != ednsPayload {
		t.Errorf("no OPT record offering %d bytes in %+v", ednsPayload, m.Additionals)
	}
	if port := q.pc.local.Port(); port < 1024 {
		t.Errorf("source port %d, want a random one from 1024 up", port)
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("svc.test.", 60, "192.0.2.1")}, nil, nil))
	res := <-ch
	if res.err != nil || !reflect.DeepEqual(res.addrs, addrs("192.0.2.1")) {
		t.Fatalf("got %v, %v", res.addrs, res.err)
	}
}

func TestLookupHostAsksAAndAAAAInParallel(t *testing.T) {
	r, f, _ := newTestResolver(t, ns1)
	ch := make(chan []string, 1)
	go func() {
		hosts, err := r.LookupHost(context.Background(), "svc.test")
		if err != nil {
			t.Error(err)
		}
		ch <- hosts
	}()
	// Both queries are out before either is answered.
	q1, q2 := f.next(), f.next()
	types := map[dnsmessage.Type]*sentQuery{}
	for _, q := range []*sentQuery{q1, q2} {
		types[q.message(t).Questions[0].Type] = q
	}
	qa, qaaaa := types[dnsmessage.TypeA], types[dnsmessage.TypeAAAA]
	if qa == nil || qaaaa == nil {
		t.Fatalf("queries for %v, want A and AAAA", types)
	}
	qaaaa.reply(replyTo(t, qaaaa, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aaaaRR("svc.test.", 60, "2001:db8::1")}, nil, nil))
	qa.reply(replyTo(t, qa, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("svc.test.", 60, "192.0.2.1")}, nil, nil))
	if got, want := <-ch, []string{"192.0.2.1", "2001:db8::1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupHost = %v, want %v", got, want)
	}
}

func TestIPLiteralsResolveToThemselves(t *testing.T) {
	r, _, _ := newTestResolver(t, ns1)
	for _, lit := range []string{"192.0.2.7", "2001:db8::7"} {
		got, err := r.LookupHost(context.Background(), lit)
		if err != nil || len(got) != 1 || got[0] != lit {
			t.Errorf("LookupHost(%s) = %v, %v", lit, got, err)
		}
	}
	if _, err := r.LookupNetIP(context.Background(), "ip6", "192.0.2.7"); err == nil {
		t.Error("an IPv4 literal resolved for ip6")
	}
}

func TestTruncatedReplyFallsBackToTCP(t *testing.T) {
	r, f, _ := newTestResolver(t, ns1)
	ch := lookupAsync(r, "ip4", "big.test")
	q := f.next()
	if q.tcp != nil {
		t.Fatal("first query went over TCP")
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, nil, nil, func(m *dnsmessage.Message) { m.Truncated = true }))
	q = f.next()
	if q.tcp == nil || q.to != ns1 {
		t.Fatalf("after a truncated reply, the query went to %v over UDP, want TCP to %v", q.to, ns1)
	}
	var answers []dnsmessage.Resource
	var want []netip.Addr
	for i := range 100 {
		a := fmt.Sprintf("198.51.100.%d", i+1)
		answers = append(answers, aRR("big.test.", 60, a))
		want = append(want, netip.MustParseAddr(a))
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, answers, nil, nil))
	res := <-ch
	if res.err != nil || !reflect.DeepEqual(res.addrs, want) {
		t.Fatalf("got %d addresses, %v; want the 100", len(res.addrs), res.err)
	}
	if st := r.Stats(); st.Truncated != 1 || st.TCPQueries != 1 || st.UDPQueries != 1 {
		t.Errorf("stats %+v, want one truncated UDP reply and one TCP query", st)
	}
}

func TestTCPOnDemand(t *testing.T) {
	f := newFakeNet(t)
	r, err := New(Config{Servers: []netip.AddrPort{ns1}, Net: f, Clock: actors.NewVirtualClock(time.Unix(0, 0)), TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	ch := lookupAsync(r, "ip4", "svc.test")
	q := f.next()
	if q.tcp == nil {
		t.Fatal("Config.TCP set, but the query went over UDP")
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("svc.test.", 60, "192.0.2.1")}, nil, nil))
	if res := <-ch; res.err != nil || len(res.addrs) != 1 {
		t.Fatalf("got %v, %v", res.addrs, res.err)
	}
}

func TestSpoofedRepliesAreIgnored(t *testing.T) {
	r, f, _ := newTestResolver(t, ns1)
	ch := lookupAsync(r, "ip4", "svc.test")
	q := f.next()
	spoof := []dnsmessage.Resource{aRR("svc.test.", 60, "203.0.113.66")}
	real := []dnsmessage.Resource{aRR("svc.test.", 60, "192.0.2.1")}
	// Wrong ID, from the right source.
	q.pc.deliver(ns1, replyTo(t, q, dnsmessage.RCodeSuccess, spoof, nil, func(m *dnsmessage.Message) { m.ID++ }))
	// Right ID, from another address, and from another port.
	q.pc.deliver(netip.MustParseAddrPort("10.0.0.66:53"), replyTo(t, q, dnsmessage.RCodeSuccess, spoof, nil, nil))
	q.pc.deliver(netip.AddrPortFrom(ns1.Addr(), 5353), replyTo(t, q, dnsmessage.RCodeSuccess, spoof, nil, nil))
	// Right ID and source, another question.
	q.pc.deliver(ns1, replyTo(t, q, dnsmessage.RCodeSuccess, spoof, nil, func(m *dnsmessage.Message) {
		m.Questions[0].Name = dnsmessage.MustNewName("evil.test.")
	}))
	// Not a reply at all, and garbage.
	q.pc.deliver(ns1, replyTo(t, q, dnsmessage.RCodeSuccess, spoof, nil, func(m *dnsmessage.Message) { m.Response = false }))
	q.pc.deliver(ns1, []byte{0xde, 0xad})
	// The six were read and rejected: the reader is waiting again.
	q.pc.waitReads(7)
	select {
	case res := <-ch:
		t.Fatalf("lookup ended on a spoofed reply: %v, %v", res.addrs, res.err)
	default:
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, real, nil, nil))
	res := <-ch
	if res.err != nil || !reflect.DeepEqual(res.addrs, addrs("192.0.2.1")) {
		t.Fatalf("got %v, %v; want the real answer 192.0.2.1", res.addrs, res.err)
	}
	st := r.Stats()
	if st.RejectedID != 1 || st.RejectedSource != 2 || st.RejectedQuestion != 1 || st.RejectedNotReply != 1 || st.RejectedMalformed != 1 {
		t.Errorf("reject counters %+v, want ID 1, source 2, question 1, not-reply 1, malformed 1", st)
	}
}

func TestSpoofedRepliesOnlyEndInTimeout(t *testing.T) {
	r, f, clock := newTestResolver(t, ns1)
	ch := lookupAsync(r, "ip4", "svc.test")
	q := f.next()
	q.pc.deliver(netip.MustParseAddrPort("10.0.0.66:53"), replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("svc.test.", 60, "203.0.113.66")}, nil, nil))
	q.pc.waitReads(2)
	clock.Advance(tryTimeout)
	res := <-ch
	var derr *net.DNSError
	if !errors.As(res.err, &derr) || !derr.IsTimeout || !errors.Is(res.err, ErrTimeout) {
		t.Fatalf("got %v, %v; want a timeout", res.addrs, res.err)
	}
}

func TestRetryOnNextServerAfterTimeout(t *testing.T) {
	r, f, clock := newTestResolver(t, ns1, ns2)
	ch := lookupAsync(r, "ip4", "svc.test")
	q := f.next()
	if q.to != ns1 {
		t.Fatalf("first try went to %v, want %v", q.to, ns1)
	}
	clock.Advance(tryTimeout - time.Millisecond)
	select {
	case q := <-f.sent:
		t.Fatalf("query to %v before the try's timeout", q.to)
	default:
	}
	clock.Advance(time.Millisecond)
	q = f.next()
	if q.to != ns2 {
		t.Fatalf("second try went to %v, want %v", q.to, ns2)
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("svc.test.", 60, "192.0.2.1")}, nil, nil))
	if res := <-ch; res.err != nil || !reflect.DeepEqual(res.addrs, addrs("192.0.2.1")) {
		t.Fatalf("got %v, %v", res.addrs, res.err)
	}
	if st := r.Stats(); st.Timeouts != 1 {
		t.Errorf("Timeouts = %d, want 1", st.Timeouts)
	}
}

func TestCNAMEChainIsFollowed(t *testing.T) {
	r, f, _ := newTestResolver(t, ns1)
	ch := lookupAsync(r, "ip4", "www.test")
	q := f.next()
	// The server gives the chain's first link only: the resolver asks for
	// its end.
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{cnameRR("www.test.", 60, "web.test.")}, nil, nil))
	q = f.next()
	if got := q.message(t).Questions[0].Name.String(); got != "web.test." {
		t.Fatalf("second query asks for %s, want web.test.", got)
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{
		cnameRR("web.test.", 60, "host.test."), aRR("host.test.", 60, "192.0.2.9"),
		aRR("other.test.", 60, "203.0.113.66"), // not on the chain: ignored
	}, nil, nil))
	if res := <-ch; res.err != nil || !reflect.DeepEqual(res.addrs, addrs("192.0.2.9")) {
		t.Fatalf("got %v, %v", res.addrs, res.err)
	}
	// The chain and its end are cached.
	if res := answeredFromCache(t, r, f, "ip4", "www.test"); res.err != nil || !reflect.DeepEqual(res.addrs, addrs("192.0.2.9")) {
		t.Fatalf("from the cache: %v, %v", res.addrs, res.err)
	}
}

func TestCNAMELoopStops(t *testing.T) {
	r, f, _ := newTestResolver(t, ns1)
	ch := lookupAsync(r, "ip4", "a.test")
	q := f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{
		cnameRR("a.test.", 60, "b.test."), cnameRR("b.test.", 60, "a.test."),
	}, nil, nil))
	res := <-ch
	if !errors.Is(res.err, ErrCNAMELoop) || !strings.Contains(res.err.Error(), "CNAME") || !strings.Contains(res.err.Error(), "a.test") {
		t.Fatalf("got %v, %v; want a CNAME loop error naming a.test", res.addrs, res.err)
	}

	// A loop across queries: c → d in one reply, d → c in the next.
	ch = lookupAsync(r, "ip4", "c.test")
	q = f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{cnameRR("c.test.", 60, "d.test.")}, nil, nil))
	q = f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{cnameRR("d.test.", 60, "c.test.")}, nil, nil))
	if res := <-ch; !errors.Is(res.err, ErrCNAMELoop) {
		t.Fatalf("loop across queries: got %v, %v", res.addrs, res.err)
	}
	if st := r.Stats(); st.CNAMELoops != 2 {
		t.Errorf("CNAMELoops = %d, want 2", st.CNAMELoops)
	}
}

func TestTTLExpiryQueriesAgain(t *testing.T) {
	r, f, clock := newTestResolver(t, ns1)
	ch := lookupAsync(r, "ip4", "svc.test")
	q := f.next()
	// The set's TTL is its smallest record's: 30 s.
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("svc.test.", 300, "192.0.2.1"), aRR("svc.test.", 30, "192.0.2.2")}, nil, nil))
	if res := <-ch; res.err != nil || len(res.addrs) != 2 {
		t.Fatalf("got %v, %v", res.addrs, res.err)
	}
	clock.Advance(29 * time.Second)
	if res := answeredFromCache(t, r, f, "ip4", "SVC.test."); res.err != nil || len(res.addrs) != 2 {
		t.Fatalf("from the cache: %v, %v", res.addrs, res.err)
	}
	clock.Advance(time.Second)
	ch = lookupAsync(r, "ip4", "svc.test")
	q = f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("svc.test.", 300, "192.0.2.3")}, nil, nil))
	if res := <-ch; res.err != nil || !reflect.DeepEqual(res.addrs, addrs("192.0.2.3")) {
		t.Fatalf("after the TTL: %v, %v", res.addrs, res.err)
	}
}

func TestNegativeCaching(t *testing.T) {
	r, f, clock := newTestResolver(t, ns1)
	// NXDOMAIN: cached for min(SOA TTL, SOA MINIMUM) = 60 s (RFC 2308 §5).
	ch := lookupAsync(r, "ip4", "missing.test")
	q := f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeNameError, nil, []dnsmessage.Resource{soaRR("test.", 3600, 60)}, nil))
	res := <-ch
	var derr *net.DNSError
	if !errors.As(res.err, &derr) || !derr.IsNotFound || !errors.Is(res.err, ErrNotFound) {
		t.Fatalf("got %v; want a not-found DNSError", res.err)
	}
	// The name does not exist for any type: AAAA is answered from the cache.
	if res := answeredFromCache(t, r, f, "ip6", "missing.test"); !errors.Is(res.err, ErrNotFound) {
		t.Fatalf("cached NXDOMAIN for AAAA: %v", res.err)
	}
	clock.Advance(60 * time.Second)
	ch = lookupAsync(r, "ip4", "missing.test")
	q = f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{aRR("missing.test.", 60, "192.0.2.4")}, nil, nil))
	if res := <-ch; res.err != nil {
		t.Fatalf("after the negative TTL: %v", res.err)
	}

	// NODATA: the name has an A record but no AAAA.
	ch = lookupAsync(r, "ip6", "v4only.test")
	q = f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeSuccess, nil, []dnsmessage.Resource{soaRR("test.", 30, 600)}, nil))
	if res := <-ch; !errors.Is(res.err, ErrNoData) || errors.Is(res.err, ErrNotFound) {
		t.Fatalf("NODATA: %v", res.err)
	}
	if res := answeredFromCache(t, r, f, "ip6", "v4only.test"); !errors.Is(res.err, ErrNoData) {
		t.Fatalf("cached NODATA: %v", res.err)
	}

	// Without a SOA, a negative answer is not cached.
	ch = lookupAsync(r, "ip4", "nosoa.test")
	q = f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeNameError, nil, nil, nil))
	<-ch
	ch = lookupAsync(r, "ip4", "nosoa.test")
	q = f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeNameError, nil, nil, nil))
	if res := <-ch; !errors.Is(res.err, ErrNotFound) {
		t.Fatalf("second NXDOMAIN: %v", res.err)
	}
}

func TestNXDOMAINAndSERVFAILAreDistinct(t *testing.T) {
	r, f, _ := newTestResolver(t, ns1, ns2)
	ch := lookupAsync(r, "ip4", "missing.test")
	q := f.next()
	q.reply(replyTo(t, q, dnsmessage.RCodeNameError, nil, nil, nil))
	res := <-ch
	var derr *net.DNSError
	if !errors.As(res.err, &derr) || !derr.IsNotFound || derr.IsTemporary || derr.Name != "missing.test" || !errors.Is(res.err, ErrNotFound) {
		t.Fatalf("NXDOMAIN gave %#v", res.err)
	}

	// SERVFAIL from the first server moves on to the second; from both,
	// the lookup fails with a temporary error that is not "not found".
	ch = lookupAsync(r, "ip4", "broken.test")
	q = f.next()
	if q.to != ns1 {
		t.Fatalf("first try to %v", q.to)
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeServerFailure, nil, nil, nil))
	q = f.next()
	if q.to != ns2 {
		t.Fatalf("after SERVFAIL, the query went to %v, want %v", q.to, ns2)
	}
	q.reply(replyTo(t, q, dnsmessage.RCodeServerFailure, nil, nil, nil))
	res = <-ch
	if !errors.As(res.err, &derr) || derr.IsNotFound || !derr.IsTemporary || !errors.Is(res.err, ErrServerFailure) || errors.Is(res.err, ErrNotFound) {
		t.Fatalf("SERVFAIL gave %#v", res.err)
	}
	if st := r.Stats(); st.ServerFailures != 2 {
		t.Errorf("ServerFailures = %d, want 2", st.ServerFailures)
	}
}

func TestCacheIsBounded(t *testing.T) {
	c := newCache(2)
	now := time.Unix(0, 0)
	for i := range 3 {
		c.put(cacheEntry{key: cacheKey{fmt.Sprintf("n%d.", i), dnsmessage.TypeA}, addrs: addrs("192.0.2.1")}, time.Minute, now)
	}
	if c.len() != 2 || c.evicted != 1 {
		t.Fatalf("len %d, evicted %d; want 2 and 1", c.len(), c.evicted)
	}
	if _, ok := c.get(cacheKey{"n0.", dnsmessage.TypeA}, now); ok {
		t.Error("the least recently used entry survived")
	}
}

func TestBadNamesAreRefused(t *testing.T) {
	r, _, _ := newTestResolver(t, ns1)
	for _, name := range []string{"", "a..b", strings.Repeat("x", 64) + ".test", strings.Repeat("abcdefg.", 40)} {
		if _, err := r.LookupHost(context.Background(), name); err == nil || !strings.Contains(err.Error(), "invalid name") {
			t.Errorf("LookupHost(%q) = %v, want an invalid-name error", name, err)
		}
	}
}

// An actnet Stack is a Network.
var _ Network = (*actnet.Stack)(nil)
