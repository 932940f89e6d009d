// Package happyeyeballs connects to a named host the Happy Eyeballs v2 way
// (RFC 8305): its one concern is choosing, among the host's IPv6 and IPv4
// addresses, the first that connects, without waiting long for a family
// that does not work. It asks for AAAA and A in parallel, waits a short
// Resolution Delay for AAAA when A comes first, interleaves the families
// starting with IPv6, starts each next attempt a Connection Attempt Delay
// after the last (or at once when one fails), keeps the first connection
// and cancels and closes the others. Its Dialer's DialContext can be an
// http.Transport's. Time comes from an actors.Clock, so tests run it on
// virtual time.
package happyeyeballs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/actnet/actnet/actors"
)

// Defaults and bounds from RFC 8305.
const (
	// DefaultResolutionDelay is how long an A answer waits for AAAA (§3).
	DefaultResolutionDelay = 50 * time.Millisecond
	// DefaultAttemptDelay is the Connection Attempt Delay (§5).
	DefaultAttemptDelay = 250 * time.Millisecond
	// MinAttemptDelay and MaxAttemptDelay bound it (§5: never below
	// 10 ms; at most 2 s).
	MinAttemptDelay = 10 * time.Millisecond
	MaxAttemptDelay = 2 * time.Second
)

// Resolver looks up one family's addresses: network "ip6" for AAAA, "ip4"
// for A. *dns.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer connects with Happy Eyeballs. Resolver and Dial are required.
type Dialer struct {
	Resolver Resolver
	// Dial opens one connection, to an address "IP:port" on network
	// "tcp"; an actnet Stack's DialContext.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Clock times the delays; the wall clock when nil.
	Clock actors.Clock
	// ResolutionDelay is how long to wait for AAAA once A has answered
	// (default 50 ms).
	ResolutionDelay time.Duration
	// AttemptDelay is the time between connection attempts (default
	// 250 ms), held to MinAttemptDelay..MaxAttemptDelay.
	AttemptDelay time.Duration
	// Report, when set, is called at the end of every dial with what
	// happened: resolution times, attempts, the winner.
	Report func(*Report)

	// step, for tests, is told each event the dial loop has handled.
	step func(string)
}

// Attempt is one connection attempt; times are since the dial began.
type Attempt struct {
	Addr       netip.AddrPort
	Start, End time.Duration
	// Err is nil for the winner, the dial's error for a failure, and
	// ErrCancelled for an attempt stopped because another won (or the
	// dial ended).
	Err error
}

// Report tells what one dial did.
type Report struct {
	Host string
	Port uint16
	// AAAA and A are the lookups (absent from a dial to an IP literal,
	// and for a family the network excludes).
	AAAA, A *Lookup
	// Attempts in the order they started. Those still running when
	// the dial ended are cancelled (Err is ErrCancelled, End zero).
	Attempts []Attempt
	// Winner is the connected address; invalid on failure.
	Winner  netip.AddrPort
	Elapsed time.Duration
}

// Lookup is one family's resolution.
type Lookup struct {
	Addrs []netip.Addr
	Err   error
	// At is when the answer came, since the dial began; -1 when it had
	// not come when the dial ended.
	At time.Duration
}

// ErrCancelled marks an attempt stopped because another connected first.
var ErrCancelled = errors.New("cancelled: another attempt connected first")

// ResolveError: no address could be found for the host.
type ResolveError struct {
	Host string
	// AAAA and A are each family's error (nil when not asked for, or
	// when it answered with no addresses).
	AAAA, A error
}

func (e *ResolveError) Error() string {
	var parts []string
	if e.AAAA != nil {
		parts = append(parts, "AAAA: "+e.AAAA.Error())
	}
	if e.A != nil {
		parts = append(parts, "A: "+e.A.Error())
	}
	if len(parts) == 0 {
		parts = append(parts, "no addresses")
	}
	return fmt.Sprintf("resolving %s failed: %s", e.Host, strings.Join(parts, "; "))
}

// Unwrap gives both families' errors to errors.Is and errors.As.
func (e *ResolveError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.AAAA, e.A} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ConnectError: every address was tried and none connected.
type ConnectError struct {
	Host     string
	Attempts []Attempt
}

func (e *ConnectError) Error() string {
	parts := make([]string, len(e.Attempts))
	for i, a := range e.Attempts {
		parts[i] = fmt.Sprintf("%s: %v", a.Addr, a.Err)
	}
	return fmt.Sprintf("connecting to %s failed (%d addresses): %s", e.Host, len(e.Attempts), strings.Join(parts, "; "))
}

// Unwrap gives each attempt's error to errors.Is (syscall.ECONNREFUSED,
// say) and errors.As.
func (e *ConnectError) Unwrap() []error {
	errs := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		errs[i] = a.Err
	}
	return errs
}

// DialContext connects to address ("host:port") on network "tcp" (both
// families), "tcp4" or "tcp6". It has the signature of
// net.Dialer.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, _, err := d.DialReport(ctx, network, address)
	return c, err
}

// DialReport is DialContext that also returns the Report.
func (d *Dialer) DialReport(ctx context.Context, network, address string) (net.Conn, *Report, error) {
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Err: err} }
	var want6, want4 bool
	switch network {
	case "tcp":
		want6, want4 = true, true
	case "tcp6":
		want6 = true
	case "tcp4":
		want4 = true
	default:
		return nil, nil, opErr(net.UnknownNetworkError(network))
	}
	if d.Resolver == nil || d.Dial == nil {
		return nil, nil, opErr(errors.New("happyeyeballs: Dialer needs a Resolver and a Dial"))
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, nil, opErr(err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		p, lerr := net.LookupPort("tcp", portText)
		if lerr != nil {
			return nil, nil, opErr(lerr)
		}
		port = uint64(p)
	}
	l := d.newLoop(ctx, host, uint16(port))
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.Is4() && !want4 || ip.Is6() && !want6 {
			return nil, l.report, opErr(&net.AddrError{Err: "address of the wrong family for " + network, Addr: host})
		}
		l.add(ip)
		l.resolved6, l.resolved4 = true, true
	} else {
		l.resolved6, l.resolved4 = !want6, !want4
		if want6 {
			l.report.AAAA = &Lookup{At: -1}
			go l.resolve("ip6", host)
		}
		if want4 {
			l.report.A = &Lookup{At: -1}
			go l.resolve("ip4", host)
		}
	}
	c, err := l.run()
	l.report.Elapsed = l.since()
	if d.Report != nil {
		d.Report(l.report)
	}
	if err != nil {
		return nil, l.report, opErr(err)
	}
	return c, l.report, nil
}

type eventKind int

const (
	evResolved eventKind = iota
	evResolutionDelay
	evAttemptDelay
	evAttemptDone
)

type event struct {
	kind    eventKind
	family6 bool // evResolved
	addrs   []netip.Addr
	err     error
	attempt int      // evAttemptDone
	conn    net.Conn // evAttemptDone
	gen     int      // evAttemptDelay: which timer
}

// loop is one dial's state, owned by the goroutine in run; lookups,
// attempts and timers talk to it through events.
type loop struct {
	d            *Dialer
	ctx          context.Context
	cancel       context.CancelFunc // ends every attempt
	clock        actors.Clock
	start        time.Time
	host         string
	port         uint16
	report       *Report
	events       chan event
	done         chan struct{} // closed when run returns
	resDelay     time.Duration
	attemptDelay time.Duration

	resolved6, resolved4 bool
	waitingForAAAA       bool // A answered, the resolution delay runs
	connecting           bool // attempts may start
	pending6, pending4   []netip.Addr
	seen                 map[netip.Addr]bool
	last6                bool // the family of the last attempt
	attempted            bool
	running              int  // attempts in flight
	timerArmed           bool // the attempt delay runs
	gen                  int
	stopTimer            actors.StopFunc
	stopResDelay         actors.StopFunc
	cancels              []context.CancelFunc
}

func (d *Dialer) newLoop(ctx context.Context, host string, port uint16) *loop {
	clock := d.Clock
	if clock == nil {
		clock = actors.RealClock{}
	}
	resDelay := d.ResolutionDelay
	if resDelay <= 0 {
		resDelay = DefaultResolutionDelay
	}
	attemptDelay := d.AttemptDelay
	if attemptDelay <= 0 {
		attemptDelay = DefaultAttemptDelay
	}
	attemptDelay = min(max(attemptDelay, MinAttemptDelay), MaxAttemptDelay)
	ctx, cancel := context.WithCancel(ctx)
	return &loop{
		d: d, ctx: ctx, cancel: cancel, clock: clock, start: clock.Now(),
		host: host, port: port, report: &Report{Host: host, Port: port},
		events: make(chan event), done: make(chan struct{}),
		resDelay: resDelay, attemptDelay: attemptDelay,
		seen: map[netip.Addr]bool{},
	}
}

func (l *loop) since() time.Duration { return l.clock.Now().Sub(l.start) }

// send hands e to the loop; once the loop has ended, it drops e, closing
// a connection that came too late (RFC 8305 §6: the losers are closed).
func (l *loop) send(e event) {
	select {
	case l.events <- e:
	case <-l.done:
		if e.conn != nil {
			e.conn.Close()
		}
	}
}

func (l *loop) resolve(network, host string) {
	addrs, err := l.d.Resolver.LookupNetIP(l.ctx, network, host)
	l.send(event{kind: evResolved, family6: network == "ip6", addrs: addrs, err: err})
}

// add queues an address for an attempt, once.
func (l *loop) add(a netip.Addr) {
	a = a.Unmap()
	if !a.IsValid() || l.seen[a] {
		return
	}
	l.seen[a] = true
	if a.Is6() {
		l.pending6 = append(l.pending6, a)
	} else {
		l.pending4 = append(l.pending4, a)
	}
}

// next takes the address of the next attempt: the other family than the
// last attempt's when it has one, IPv6 first (RFC 8305 §4, with a First
// Address Family Count of 1).
func (l *loop) next() (netip.Addr, bool) {
	take6 := len(l.pending6) > 0 && (!l.attempted || !l.last6 || len(l.pending4) == 0)
	if !take6 && len(l.pending4) == 0 {
		return netip.Addr{}, false
	}
	var a netip.Addr
	if take6 {
		a, l.pending6 = l.pending6[0], l.pending6[1:]
	} else {
		a, l.pending4 = l.pending4[0], l.pending4[1:]
	}
	l.attempted, l.last6 = true, take6
	return a, true
}

// startNext starts an attempt on the next address, if any, and arms the
// attempt delay for the one after it.
func (l *loop) startNext() {
	a, ok := l.next()
	if !ok {
		return
	}
	i := len(l.report.Attempts)
	ap := netip.AddrPortFrom(a, l.port)
	l.report.Attempts = append(l.report.Attempts, Attempt{Addr: ap, Start: l.since()})
	actx, cancel := context.WithCancel(l.ctx)
	l.cancels = append(l.cancels, cancel)
	l.running++
	// The delay is armed before the attempt starts, so that whoever sees
	// the attempt (a test on virtual time) finds the delay running.
	if l.stopTimer != nil {
		l.stopTimer()
	}
	l.gen++
	gen := l.gen
	l.timerArmed = true
	l.stopTimer = l.clock.AfterFunc(l.attemptDelay, func() { l.send(event{kind: evAttemptDelay, gen: gen}) })
	go func() {
		c, err := l.d.Dial(actx, "tcp", ap.String())
		if err != nil {
			c = nil // a failed dial's conn may be a typed nil: never touch it
		}
		l.send(event{kind: evAttemptDone, attempt: i, conn: c, err: err})
	}()
}

// run is the dial loop.
func (l *loop) run() (net.Conn, error) {
	defer func() {
		close(l.done)
		l.cancel()
		if l.stopTimer != nil {
			l.stopTimer()
		}
		if l.stopResDelay != nil {
			l.stopResDelay()
		}
		for i := range l.report.Attempts {
			if a := &l.report.Attempts[i]; a.Err == nil && a.Addr != l.report.Winner {
				a.Err = ErrCancelled
			}
		}
	}()
	if l.resolved6 && l.resolved4 { // an IP literal
		l.connecting = true
		l.startNext()
	}
	for {
		var e event
		select {
		case e = <-l.events:
		case <-l.ctx.Done():
			return nil, l.ctx.Err()
		}
		name := ""
		switch e.kind {
		case evResolved:
			name = l.resolved(e)
		case evResolutionDelay:
			name = "resolution delay"
			if l.waitingForAAAA {
				l.waitingForAAAA = false
				l.connecting = true
				if !l.timerArmed {
					l.startNext()
				}
			}
		case evAttemptDelay:
			name = "attempt delay"
			if e.gen == l.gen {
				l.timerArmed = false
				l.startNext()
			}
		case evAttemptDone:
			name = "attempt done"
			l.running--
			a := &l.report.Attempts[e.attempt]
			a.End = l.since()
			if e.err == nil {
				l.report.Winner = a.Addr
				l.step(name)
				return e.conn, nil
			}
			a.Err = e.err
			// A failure starts the next attempt at once (RFC 8305 §5).
			l.startNext()
		}
		l.step(name)
		if l.running == 0 && len(l.pending6)+len(l.pending4) == 0 && l.resolved6 && l.resolved4 {
			return nil, l.failure()
		}
	}
}

func (l *loop) step(name string) {
	if l.d.step != nil {
		l.d.step(name)
	}
}

// resolved takes one family's answer (RFC 8305 §3): AAAA starts the
// attempts at once; A first waits the resolution delay for AAAA; an
// answer that comes while attempts run joins the list.
func (l *loop) resolved(e event) string {
	lookup, name := l.report.A, "A"
	if e.family6 {
		lookup, name = l.report.AAAA, "AAAA"
		l.resolved6 = true
	} else {
		l.resolved4 = true
	}
	lookup.Addrs, lookup.Err, lookup.At = e.addrs, e.err, l.since()
	for _, a := range e.addrs {
		if a.Unmap().Is6() == e.family6 { // a resolver's stray family is ignored
			l.add(a)
		}
	}
	switch {
	case l.connecting:
	case e.family6 || l.resolved6:
		// AAAA is in (with or without addresses): no reason to wait.
		l.waitingForAAAA = false
		if l.stopResDelay != nil {
			l.stopResDelay()
		}
		l.connecting = true
	case len(e.addrs) > 0:
		l.waitingForAAAA = true
		l.stopResDelay = l.clock.AfterFunc(l.resDelay, func() { l.send(event{kind: evResolutionDelay}) })
	}
	if l.connecting && !l.timerArmed {
		// No attempt yet, or the attempt delay since the last one has
		// passed: the new addresses need not wait.
		l.startNext()
	}
	return name
}

// failure is the error once nothing is left to try.
func (l *loop) failure() error {
	if len(l.report.Attempts) == 0 {
		e := &ResolveError{Host: l.host}
		if l.report.AAAA != nil {
			e.AAAA = l.report.AAAA.Err
		}
		if l.report.A != nil {
			e.A = l.report.A.Err
		}
		return e
	}
	return &ConnectError{Host: net.JoinHostPort(l.host, strconv.Itoa(int(l.port))), Attempts: append([]Attempt(nil), l.report.Attempts...)}
}
