// Package dns is a DNS stub resolver (RFC 1034 §5.3.1, RFC 1035) that
// runs over any stack with UDP and TCP sockets, an actnet Stack in
// particular: its one concern is turning names into addresses by asking
// recursive nameservers. It sends A and AAAA queries in parallel over UDP
// with EDNS(0) (RFC 6891), retries over TCP when a reply is truncated
// (RFC 7766), follows CNAME chains, tries each nameserver in turn with a
// timeout per try, caches answers for their TTL and negative answers for
// the SOA minimum (RFC 2308), and accepts a reply only when its source,
// ID and question match the query (RFC 5452), with random IDs and source
// ports. Messages are encoded and parsed by golang.org/x/net/dns/dnsmessage.
package dns

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/actnet/actnet/actors"
)

// Network is what the resolver needs of a stack: UDP sockets it binds
// itself (so it picks their ports, and sees every reply's source) and TCP
// connections. *actnet.Stack has both.
type Network interface {
	ListenPacket(network, address string) (net.PacketConn, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config configures a Resolver. Zero fields take the defaults.
type Config struct {
	// Servers are the recursive nameservers, tried in order; a zero port
	// is 53.
	Servers []netip.AddrPort
	// Net opens the sockets. Required.
	Net Network
	// Clock times the tries and the cache; the wall clock when nil.
	Clock actors.Clock
	// Timeout bounds one try of one server (default 2 s).
	Timeout time.Duration
	// Attempts is how many rounds over all servers a query makes before
	// it fails (default 2).
	Attempts int
	// CacheSize caps the cached RRsets and negative answers (default
	// 1024); negative turns caching off.
	CacheSize int
	// MaxCNAME caps the CNAME links followed for one name (default 8).
	MaxCNAME int
	// MaxTTL caps how long anything stays cached (default 24 h), and
	// MaxNegativeTTL a negative answer (default 3 h, RFC 2308 §5).
	MaxTTL, MaxNegativeTTL time.Duration
	// TCP sends every query over TCP (RFC 7766), not only those whose
	// UDP reply was truncated.
	TCP bool
	// NoEDNS leaves the OPT record out of queries.
	NoEDNS bool
}

// Resolver is a stub resolver; its methods are safe for concurrent use.
type Resolver struct {
	cfg   Config
	clock actors.Clock
	cache *cache
	stats stats
}

// New checks cfg and returns a Resolver.
func New(cfg Config) (*Resolver, error) {
	if cfg.Net == nil {
		return nil, errors.New("dns: Config.Net is required")
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("dns: no nameservers")
	}
	servers := make([]netip.AddrPort, len(cfg.Servers))
	for i, s := range cfg.Servers {
		if !s.Addr().IsValid() || s.Addr().IsUnspecified() {
			return nil, fmt.Errorf("dns: nameserver %v is not an address", s)
		}
		if s.Port() == 0 {
			s = netip.AddrPortFrom(s.Addr(), 53)
		}
		servers[i] = netip.AddrPortFrom(s.Addr().Unmap(), s.Port())
	}
	cfg.Servers = servers
	if cfg.Clock == nil {
		cfg.Clock = actors.RealClock{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 2
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 1024
	}
	if cfg.MaxCNAME <= 0 {
		cfg.MaxCNAME = 8
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = 24 * time.Hour
	}
	if cfg.MaxNegativeTTL <= 0 {
		cfg.MaxNegativeTTL = 3 * time.Hour
	}
	return &Resolver{cfg: cfg, clock: cfg.Clock, cache: newCache(cfg.CacheSize)}, nil
}

// Errors the lookups wrap in a *net.DNSError (errors.Is finds them).
var (
	// ErrNotFound: the name does not exist (NXDOMAIN, RFC 1035 §4.1.1
	// RCODE 3). The DNSError's IsNotFound is set.
	ErrNotFound = errors.New("no such host")
	// ErrNoData: the name exists but has no address of the family asked
	// for (RFC 2308 §2.2). IsNotFound is set, as net does.
	ErrNoData = errors.New("no address of that family")
	// ErrServerFailure: every server answered SERVFAIL (RCODE 2), or
	// refused or could not parse the query. IsTemporary is set.
	ErrServerFailure = errors.New("server misbehaving")
	// ErrTimeout: no server answered within its tries. IsTimeout is set.
	ErrTimeout = errors.New("i/o timeout")
	// ErrCNAMELoop: the CNAME chain came back on itself or was longer
	// than Config.MaxCNAME.
	ErrCNAMELoop = errors.New("CNAME chain loops or is too long")
)

func dnsError(name, server string, err error) *net.DNSError {
	e := &net.DNSError{Err: err.Error(), Name: name, Server: server, UnwrapErr: err}
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoData):
		e.IsNotFound = true
	case errors.Is(err, ErrServerFailure):
		e.IsTemporary = true
	case errors.Is(err, ErrTimeout):
		e.IsTimeout = true
		e.IsTemporary = true
	}
	return e
}

// LookupHost returns the addresses of host, like net.Resolver.LookupHost:
// its IPv4 then its IPv6 addresses, as strings. An IP literal is returned
// as it is.
func (r *Resolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out, nil
}

// LookupNetIP returns the addresses of host for network "ip" (A and AAAA,
// queried in parallel), "ip4" (A) or "ip6" (AAAA), like
// net.Resolver.LookupNetIP. With "ip", one family failing is no failure
// when the other has addresses. An IP literal is returned as it is.
func (r *Resolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var types []dnsmessage.Type
	switch network {
	case "ip":
		types = []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}
	case "ip4":
		types = []dnsmessage.Type{dnsmessage.TypeA}
	case "ip6":
		types = []dnsmessage.Type{dnsmessage.TypeAAAA}
	default:
		return nil, &net.DNSError{Err: "unknown network " + network, Name: host}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if network == "ip4" && !a.Is4() || network == "ip6" && !a.Is6() {
			return nil, dnsError(host, "", ErrNoData)
		}
		return []netip.Addr{a}, nil
	}
	name, err := canonicalName(host)
	if err != nil {
		return nil, &net.DNSError{Err: "invalid name: " + err.Error(), Name: host}
	}
	results := make([][]netip.Addr, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, t := range types {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.lookup(ctx, host, name, t)
		}()
	}
	wg.Wait()
	var addrs []netip.Addr
	for _, rs := range results {
		addrs = append(addrs, rs...)
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	return nil, pickError(errs)
}

// pickError chooses the error that says most about a failed lookup of
// several types: a definite answer (the name does not exist) first, then
// a failure, and "no data" only when every type said so.
func pickError(errs []error) error {
	rank := func(err error) int {
		switch {
		case errors.Is(err, ErrNotFound):
			return 3
		case errors.Is(err, ErrNoData):
			return 1
		}
		return 2
	}
	best := errs[0]
	for _, err := range errs[1:] {
		if rank(err) > rank(best) {
			best = err
		}
	}
	return best
}

// lookup resolves one type for name, following CNAMEs through the cache
// and, when a server's reply stops partway along a chain, with further
// queries for its end.
func (r *Resolver) lookup(ctx context.Context, host, name string, t dnsmessage.Type) ([]netip.Addr, error) {
	seen := map[string]bool{name: true}
	links := 0
	follow := func(target string) error {
		links++
		if seen[target] || links > r.cfg.MaxCNAME {
			r.stats.cnameLoops.Add(1)
			return dnsError(host, "", fmt.Errorf("%w (at %s)", ErrCNAMELoop, target))
		}
		seen[target] = true
		return nil
	}
	for {
		if addrs, target, err, ok := r.fromCache(host, name, t); ok {
			if target == "" {
				return addrs, err
			}
			if err := follow(target); err != nil {
				return nil, err
			}
			name = target
			continue
		}
		r.stats.cacheMisses.Add(1)
		q, err := newQuestion(name, t)
		if err != nil {
			return nil, &net.DNSError{Err: "invalid name: " + err.Error(), Name: host}
		}
		a, server, err := r.query(ctx, q)
		if err != nil {
			if derr, ok := err.(*net.DNSError); ok {
				derr.Name = host
			}
			return nil, err
		}
		r.store(a, t)
		for _, l := range a.chain {
			if err := follow(l.target); err != nil {
				return nil, err
			}
		}
		if a.loop {
			r.stats.cnameLoops.Add(1)
			return nil, dnsError(host, server, fmt.Errorf("%w (at %s)", ErrCNAMELoop, a.final))
		}
		switch {
		case len(a.addrs) > 0:
			return a.addrs, nil
		case a.rcode == dnsmessage.RCodeNameError:
			return nil, dnsError(host, server, ErrNotFound)
		case a.final != name && !a.hasSOA:
			// The server gave the chain but not its end's records: ask
			// for the end (RFC 1034 §5.3.3, step 4).
			name = a.final
			continue
		}
		return nil, dnsError(host, server, ErrNoData)
	}
}

// fromCache answers name/t from the cache: addresses, a CNAME target to
// follow, or a negative answer as err. ok is false on a miss.
func (r *Resolver) fromCache(host, name string, t dnsmessage.Type) (addrs []netip.Addr, target string, err error, ok bool) {
	now := r.clock.Now()
	if e, hit := r.cache.get(cacheKey{name, t}, now); hit {
		r.stats.cacheHits.Add(1)
		if len(e.addrs) == 0 {
			return nil, "", dnsError(host, "", ErrNoData), true
		}
		return append([]netip.Addr(nil), e.addrs...), "", nil, true
	}
	if e, hit := r.cache.get(cacheKey{name, dnsmessage.TypeCNAME}, now); hit {
		r.stats.cacheHits.Add(1)
		return nil, e.cname, nil, true
	}
	if _, hit := r.cache.get(cacheKey{name, typeAny}, now); hit {
		r.stats.cacheHits.Add(1)
		return nil, "", dnsError(host, "", ErrNotFound), true
	}
	return nil, "", nil, false
}

// store caches what a reply says: each CNAME link for its TTL, the
// addresses for the smallest of their TTLs, and a negative answer for the
// SOA's negative TTL (RFC 2308 §5); without a SOA, a negative answer is
// not cached.
func (r *Resolver) store(a answer, t dnsmessage.Type) {
	now := r.clock.Now()
	ttl := func(s uint32, limit time.Duration) time.Duration {
		return min(time.Duration(s)*time.Second, limit)
	}
	for _, l := range a.chain {
		r.cache.put(cacheEntry{key: cacheKey{l.owner, dnsmessage.TypeCNAME}, cname: l.target}, ttl(l.ttl, r.cfg.MaxTTL), now)
	}
	switch {
	case a.loop:
	case len(a.addrs) > 0:
		r.cache.put(cacheEntry{key: cacheKey{a.final, t}, addrs: a.addrs}, ttl(a.ttl, r.cfg.MaxTTL), now)
	case !a.hasSOA:
	case a.rcode == dnsmessage.RCodeNameError:
		r.cache.put(cacheEntry{key: cacheKey{a.final, typeAny}}, ttl(a.negTTL, r.cfg.MaxNegativeTTL), now)
	case a.rcode == dnsmessage.RCodeSuccess:
		r.cache.put(cacheEntry{key: cacheKey{a.final, t}}, ttl(a.negTTL, r.cfg.MaxNegativeTTL), now)
	}
}

// query asks the servers in turn, Attempts rounds, until one gives an
// answer (NOERROR or NXDOMAIN). A timeout, a network error, SERVFAIL,
// REFUSED or another error code moves on to the next server.
func (r *Resolver) query(ctx context.Context, q question) (answer, string, error) {
	var last error
	lastServer := ""
	for range r.cfg.Attempts {
		for _, srv := range r.cfg.Servers {
			m, err := r.exchange(ctx, srv, q)
			if ctx.Err() != nil {
				return answer{}, srv.String(), &net.DNSError{Err: ctx.Err().Error(), Server: srv.String(), IsTimeout: errors.Is(ctx.Err(), context.DeadlineExceeded), UnwrapErr: ctx.Err()}
			}
			lastServer = srv.String()
			if err != nil {
				last = err
				continue
			}
			switch m.RCode {
			case dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError:
				return interpret(m, q, r.cfg.MaxCNAME), srv.String(), nil
			case dnsmessage.RCodeServerFailure:
				r.stats.serverFailures.Add(1)
				last = ErrServerFailure
			default:
				r.stats.otherRCodes.Add(1)
				last = fmt.Errorf("%w: %v", ErrServerFailure, m.RCode)
			}
		}
	}
	return answer{}, lastServer, dnsError("", lastServer, last)
}

// errTry ends one try when its timeout passes.
var errTry = errors.New("try timed out")

// exchange makes one try of srv: over UDP, and over TCP when the UDP
// reply is truncated (RFC 7766 §5) or Config.TCP asks; each over its own
// timeout.
func (r *Resolver) exchange(ctx context.Context, srv netip.AddrPort, q question) (*dnsmessage.Message, error) {
	if !r.cfg.TCP {
		m, err := r.try(ctx, srv, q, r.exchangeUDP)
		if err != nil || !m.Truncated {
			return m, err
		}
		r.stats.truncated.Add(1)
	}
	return r.try(ctx, srv, q, r.exchangeTCP)
}

func (r *Resolver) try(ctx context.Context, srv netip.AddrPort, q question,
	x func(context.Context, netip.AddrPort, question) (*dnsmessage.Message, error)) (*dnsmessage.Message, error) {
	tctx, cancel := context.WithCancelCause(ctx)
	stop := r.clock.AfterFunc(r.cfg.Timeout, func() { cancel(errTry) })
	defer func() { stop(); cancel(nil) }()
	m, err := x(tctx, srv, q)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(tctx), errTry) {
		r.stats.timeouts.Add(1)
		return nil, fmt.Errorf("%w (%s)", ErrTimeout, srv)
	}
	return m, err
}

// randomID draws a query ID from crypto/rand (RFC 5452 §9.2).
func randomID() uint16 {
	var b [2]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

// listenUDP binds a socket to a random port from 1024 to 65535, drawn
// from crypto/rand (RFC 5452 §9.2, RFC 6056 §3.2); after a few ports in
// use it lets the stack pick one.
func (r *Resolver) listenUDP() (net.PacketConn, error) {
	for range 8 {
		var b [2]byte
		rand.Read(b[:])
		port := 1024 + int(binary.BigEndian.Uint16(b[:]))%(65536-1024)
		pc, err := r.cfg.Net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		if err == nil {
			return pc, nil
		}
	}
	return r.cfg.Net.ListenPacket("udp", ":0")
}

// exchangeUDP sends the query from a fresh socket and waits for a reply
// that passes checkReply from srv's address and port. Anything else is
// counted and ignored: a spoofed reply must not end the wait, or an
// attacker's guess would keep the real answer out.
func (r *Resolver) exchangeUDP(ctx context.Context, srv netip.AddrPort, q question) (*dnsmessage.Message, error) {
	pc, err := r.listenUDP()
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	unwatch := context.AfterFunc(ctx, func() { pc.Close() })
	defer unwatch()
	id := randomID()
	msg, err := buildQuery(id, q, !r.cfg.NoEDNS)
	if err != nil {
		return nil, err
	}
	r.stats.udpQueries.Add(1)
	if _, err := pc.WriteTo(msg[2:], net.UDPAddrFromAddrPort(srv)); err != nil {
		return nil, err
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if !sameSource(from, srv) {
			r.stats.reject(rejectSource)
			continue
		}
		m, why := checkReply(buf[:n], id, q)
		if why != accepted {
			r.stats.reject(why)
			continue
		}
		return m, nil
	}
}

func sameSource(from net.Addr, srv netip.AddrPort) bool {
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := ua.AddrPort()
	return ap.Addr().Unmap().WithZone("") == srv.Addr().WithZone("") && ap.Port() == srv.Port()
}

// exchangeTCP sends the query over a new TCP connection, each message
// behind its two-byte length (RFC 1035 §4.2.2). A reply that does not
// match is an error here: nobody off the path can inject into the stream.
func (r *Resolver) exchangeTCP(ctx context.Context, srv netip.AddrPort, q question) (*dnsmessage.Message, error) {
	r.stats.tcpQueries.Add(1)
	c, err := r.cfg.Net.DialContext(ctx, "tcp", srv.String())
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	defer c.Close()
	unwatch := context.AfterFunc(ctx, func() { c.Close() })
	defer unwatch()
	id := randomID()
	msg, err := buildQuery(id, q, !r.cfg.NoEDNS)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	fail := func(err error) (*dnsmessage.Message, error) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("TCP to %s: %w", srv, err)
	}
	if _, err := c.Write(msg); err != nil {
		return fail(err)
	}
	var lenBuf [2]byte
	if _, err := readFull(c, lenBuf[:]); err != nil {
		return fail(err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
	if _, err := readFull(c, buf); err != nil {
		return fail(err)
	}
	m, why := checkReply(buf, id, q)
	if why != accepted {
		r.stats.reject(why)
		return fail(fmt.Errorf("reply %v", why))
	}
	return m, nil
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Stats are the resolver's counters.
type Stats struct {
	UDPQueries, TCPQueries uint64
	// Truncated counts UDP replies with TC set, each retried over TCP.
	Truncated uint64
	// Timeouts counts tries that got no acceptable reply in time.
	Timeouts uint64
	// Rejected counts replies ignored, by reason: from another source,
	// malformed, not a reply, wrong ID, wrong question.
	RejectedSource, RejectedMalformed, RejectedNotReply, RejectedID, RejectedQuestion uint64
	// ServerFailures counts SERVFAIL replies, OtherRCodes REFUSED,
	// FORMERR, NOTIMP and the like.
	ServerFailures, OtherRCodes uint64
	CacheHits, CacheMisses      uint64
	CacheEntries                int
	CacheEvicted                uint64
	CNAMELoops                  uint64
}

type stats struct {
	udpQueries, tcpQueries, truncated, timeouts atomic.Uint64
	rejected                                    [len(rejectNames)]atomic.Uint64
	serverFailures, otherRCodes                 atomic.Uint64
	cacheHits, cacheMisses, cnameLoops          atomic.Uint64
}

func (s *stats) reject(why rejectReason) { s.rejected[why].Add(1) }

// Stats returns a snapshot of the counters.
func (r *Resolver) Stats() Stats {
	s := &r.stats
	r.cache.mu.Lock()
	evicted := r.cache.evicted
	r.cache.mu.Unlock()
	return Stats{
		UDPQueries:        s.udpQueries.Load(),
		TCPQueries:        s.tcpQueries.Load(),
		Truncated:         s.truncated.Load(),
		Timeouts:          s.timeouts.Load(),
		RejectedSource:    s.rejected[rejectSource].Load(),
		RejectedMalformed: s.rejected[rejectMalformed].Load(),
		RejectedNotReply:  s.rejected[rejectNotReply].Load(),
		RejectedID:        s.rejected[rejectID].Load(),
		RejectedQuestion:  s.rejected[rejectQuestion].Load(),
		ServerFailures:    s.serverFailures.Load(),
		OtherRCodes:       s.otherRCodes.Load(),
		CacheHits:         s.cacheHits.Load(),
		CacheMisses:       s.cacheMisses.Load(),
		CacheEntries:      r.cache.len(),
		CacheEvicted:      evicted,
		CNAMELoops:        s.cnameLoops.Load(),
	}
}
