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
	c.wait = fs.Duration("wait", 3*time.Second, "how long to wait at start for the stack's IPv6 addresses (duplicate address detection, router advertisements) before going on without them")
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

// start opens the client's stack and waits, at most --wait, until its
// addresses are usable: a global IPv6 address when IPv6 runs (the IPv4
// address is static, usable at once).
func (c *clientFlags) start(log *zerolog.Logger) (*actnet.Stack, error) {
	stack, err := c.stack.open(c.stack.tcpConfig(), log)
	if err != nil {
		return nil, err
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
// --nameserver.
func nameservers(given []netip.AddrPort, stack *actnet.Stack) ([]netip.AddrPort, error) {
	_ = stack // where servers learnt by DHCP and router advertisements will come from
	if len(given) > 0 {
		return given, nil
	}
	return nil, errors.New("no DNS server: pass --nameserver IP (servers learnt from DHCP or router advertisements are not used yet)")
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
	servers, err := nameservers(cf.nameservers, stack)
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
