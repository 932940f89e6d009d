package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps/dns"
)

// nameserverList collects repeated --nameserver IP or IP:PORT flags.
type nameserverList []netip.AddrPort

func (l *nameserverList) String() string {
	parts := make([]string, len(*l))
	for i, s := range *l {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

func (l *nameserverList) Set(v string) error {
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" && !a.IsUnspecified() {
		*l = append(*l, netip.AddrPortFrom(a.Unmap(), 53))
		return nil
	}
	ap, err := netip.ParseAddrPort(v)
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" || ap.Addr().IsUnspecified() {
		return fmt.Errorf("want a nameserver's IP address, or IP:PORT ([IPv6]:PORT), e.g. 10.0.0.1 or [2001:db8::1]:53")
	}
	*l = append(*l, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	return nil
}

// clientFlags are the flags resolve and get share: the stack flags, the
// nameservers and how long to wait for the stack's addresses.
type clientFlags struct {
	stack       *stackFlags
	nameservers nameserverList
	wait        *time.Duration
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{stack: addStackFlags(fs)}
	// A client's stack logs only what goes wrong, unless asked: its
	// standard error is for the command's own messages.
	c.stack.level.l = zerolog.WarnLevel
	fs.Lookup("log-level").DefValue = "warn"
	fs.Var(&c.nameservers, "nameserver", "recursive DNS server, IP or IP:PORT (port 53 by default); repeatable, tried in order")
	c.wait = fs.Duration("wait", 3*time.Second, "how long to wait at start for the stack's IPv6 addresses (duplicate address detection, router advertisements) before going on without them; with --ipv4 dhcp, the lease is awaited for up to 20 s or this, whichever is longer")
	return c
}

// check validates the client flags after parsing.
func (c *clientFlags) check(fs *flag.FlagSet) error {
	if err := c.stack.check(fs); err != nil {
		return err
	}
	if *c.wait < 0 {
		return fmt.Errorf("--wait %v is negative", *c.wait)
	}
	return nil
}

// dhcpWait bounds the wait for a DHCP lease at start: discovery, the
// offer, the request and the ARP probe of the offered address (RFC 5227
// §2.1.1: about 3 s) take a few seconds on a quiet link.
const dhcpWait = 20 * time.Second

// start opens the client's stack and waits until its addresses are
// usable: the DHCP lease with --ipv4 dhcp (at most dhcpWait, or --wait if
// longer), and a global IPv6 address when IPv6 runs (at most --wait).
func (c *clientFlags) start(log *zerolog.Logger) (*actnet.Stack, error) {
	stack, err := c.stack.open(c.stack.tcpConfig(), log)
	if err != nil {
		return nil, err
	}
	if c.stack.ipv4.dhcp {
		ctx, cancel := context.WithTimeout(context.Background(), max(dhcpWait, *c.wait))
		_, err := stack.WaitIPv4(ctx)
		cancel()
		if err != nil && c.stack.ipv6.mode == actnet.IPv6Off {
			stack.Close()
			return nil, fmt.Errorf("no IPv4 address from DHCP within %v, and IPv6 is off: %v", max(dhcpWait, *c.wait), err)
		}
		if err != nil {
			log.Warn().Err(err).Msg("no IPv4 address from DHCP: going on with IPv6 only")
		}
	}
	if c.stack.ipv6.mode != actnet.IPv6Off && *c.wait > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), *c.wait)
		defer cancel()
		if _, err := stack.WaitIPv6(ctx, true); err != nil {
			log.Warn().Err(err).Msgf("no global IPv6 address within --wait %v: going on without one", *c.wait)
		}
	}
	return stack, nil
}

// nameservers are the DNS servers a client command asks: those given with
// --nameserver, else those the stack learnt from DHCP and from router
// advertisements (RFC 8106, learnt is Stack.DNSServers), on port 53.
func nameservers(given []netip.AddrPort, learnt func() []netip.Addr) ([]netip.AddrPort, error) {
	if len(given) > 0 {
		return given, nil
	}
	var servers []netip.AddrPort
	for _, a := range learnt() {
		servers = append(servers, netip.AddrPortFrom(a, 53))
	}
	if len(servers) == 0 {
		return nil, errors.New("no DNS server: none learnt from DHCP or router advertisements; pass --nameserver IP")
	}
	return servers, nil
}

// newResolver is the client commands' resolver on stack.
func newResolver(stack *actnet.Stack, servers []netip.AddrPort) (*dns.Resolver, error) {
	return dns.New(dns.Config{Servers: servers, Net: stack})
}

// resolve prints the addresses of each name: `NAME: ADDR ADDR …`, the A
// then the AAAA records. Exit 0 when every name resolved, 1 when one did
// not (or the stack could not start), 2 for a bad command line.
func resolve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actnet resolve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs)
	verbose := fs.Bool("v", false, "print the resolver's counters (queries over UDP and TCP, truncated replies, rejected replies, timeouts) on standard error at the end")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: actnet resolve --tap NAME --ipv4 ADDR/PREFIX --nameserver IP [flags] NAME...")
		fmt.Fprintln(fs.Output(), "Prints NAME: ADDR ADDR ... (A and AAAA) for each name. Exit 0: all resolved; 1: one did not (or the stack failed); 2: bad command line.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cf.check(fs); err != nil {
		fmt.Fprintf(stderr, "actnet resolve: %v\n", err)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "actnet resolve: give at least one NAME to resolve")
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "actnet resolve: "+format+"\n", a...)
		return 1
	}
	log := cf.stack.logger(stderr)
	stack, err := cf.start(&log)
	if err != nil {
		return fail("%v", err)
	}
	defer stack.Close()
	servers, err := nameservers(cf.nameservers, stack.DNSServers)
	if err != nil {
		return fail("%v", err)
	}
	r, err := newResolver(stack, servers)
	if err != nil {
		return fail("%v", err)
	}
	code := 0
	for _, name := range fs.Args() {
		addrs, err := r.LookupNetIP(context.Background(), "ip", name)
		if err != nil {
			fmt.Fprintf(stderr, "actnet resolve: resolving %s failed: %v\n", name, err)
			code = 1
			continue
		}
		texts := make([]string, len(addrs))
		for i, a := range addrs {
			texts[i] = a.String()
		}
		fmt.Fprintf(stdout, "%s: %s\n", name, strings.Join(texts, " "))
	}
	if *verbose {
		st := r.Stats()
		fmt.Fprintf(stderr, "* %d UDP queries, %d truncated, %d TCP queries, %d timeouts, %d replies rejected (source %d, ID %d, question %d, malformed %d), %d SERVFAIL\n",
			st.UDPQueries, st.Truncated, st.TCPQueries, st.Timeouts,
			st.RejectedSource+st.RejectedID+st.RejectedQuestion+st.RejectedMalformed+st.RejectedNotReply,
			st.RejectedSource, st.RejectedID, st.RejectedQuestion, st.RejectedMalformed, st.ServerFailures)
	}
	return code
}
