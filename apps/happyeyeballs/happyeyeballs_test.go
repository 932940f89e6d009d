package happyeyeballs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actnet/actnet/actors"
)

var (
	v6a = netip.MustParseAddr("2001:db8::a")
	v6b = netip.MustParseAddr("2001:db8::b")
	v4a = netip.MustParseAddr("192.0.2.10")
	v4b = netip.MustParseAddr("192.0.2.11")
)

// An http.Transport can dial with it.
var _ = &http.Transport{DialContext: (&Dialer{}).DialContext}

type answer struct {
	addrs []netip.Addr
	err   error
}

// fakeResolver answers each family when the test says so.
type fakeResolver struct {
	aaaa, a chan answer
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	ch := r.a
	if network == "ip6" {
		ch = r.aaaa
	}
	select {
	case ans := <-ch:
		return ans.addrs, ans.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dialReq is one attempt, waiting for the test to connect or fail it.
type dialReq struct {
	addr  netip.AddrPort
	ctx   context.Context
	reply chan error
}

// fakeConn records its Close.
type fakeConn struct {
	net.Conn // nil: only Close is called
	closed   chan struct{}
}

func (c *fakeConn) Close() error { close(c.closed); return nil }

type harness struct {
	t     *testing.T
	d     *Dialer
	res   *fakeResolver
	clock *actors.VirtualClock
	dials chan *dialReq
	steps chan string
}

func newHarness(t *testing.T) *harness {
	h := &harness{
		t:     t,
		res:   &fakeResolver{aaaa: make(chan answer, 1), a: make(chan answer, 1)},
		clock: actors.NewVirtualClock(time.Unix(1_000_000, 0)),
		dials: make(chan *dialReq, 16),
		steps: make(chan string, 64),
	}
	h.d = &Dialer{
		Resolver: h.res,
		Clock:    h.clock,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			ap := netip.MustParseAddrPort(address)
			req := &dialReq{addr: ap, ctx: ctx, reply: make(chan error, 1)}
			h.dials <- req
			if err := <-req.reply; err != nil {
				return nil, err
			}
			c := &fakeConn{closed: make(chan struct{})}
			return c, nil
		},
		step: func(s string) { h.steps <- s },
	}
	return h
}

type dialResult struct {
	conn   net.Conn
	report *Report
	err    error
}

func (h *harness) dial(network, address string) chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		c, r, err := h.d.DialReport(context.Background(), network, address)
		ch <- dialResult{c, r, err}
	}()
	return ch
}

// waitStep waits until the dial loop has handled the named event.
func (h *harness) waitStep(name string) {
	h.t.Helper()
	if got := <-h.steps; got != name {
		h.t.Fatalf("dial loop handled %q, want %q", got, name)
	}
}

// noStep checks that the loop handled nothing (no timer fired).
func (h *harness) noStep(when string) {
	h.t.Helper()
	select {
	case s := <-h.steps:
		h.t.Fatalf("%s: the dial loop handled %q", when, s)
	default:
	}
}

func (h *harness) nextDial(want netip.Addr) *dialReq {
	h.t.Helper()
	req := <-h.dials
	if req.addr.Addr() != want {
		h.t.Fatalf("attempt to %v, want %v", req.addr, want)
	}
	return req
}

func (h *harness) noDial(when string) {
	h.t.Helper()
	select {
	case req := <-h.dials:
		h.t.Fatalf("%s: attempt to %v", when, req.addr)
	default:
	}
}

const ms = time.Millisecond

func TestAttemptsInterleaveAndFollowTheAttemptDelay(t *testing.T) {
	h := newHarness(t)
	ch := h.dial("tcp", "svc.test:80")
	h.res.aaaa <- answer{addrs: []netip.Addr{v6a, v6b}}
	h.waitStep("AAAA")
	first := h.nextDial(v6a) // AAAA first: at once, no resolution delay
	h.res.a <- answer{addrs: []netip.Addr{v4a, v4b}}
	h.waitStep("A")
	h.noDial("A answered during the attempt delay")

	h.clock.Advance(249 * ms)
	h.noStep("249 ms after the first attempt")
	h.noDial("249 ms after the first attempt")
	h.clock.Advance(1 * ms)
	h.waitStep("attempt delay")
	second := h.nextDial(v4a) // interleaved: IPv4 next

	// A failure starts the next attempt at once, and restarts the delay.
	h.clock.Advance(100 * ms)
	second.reply <- syscall.ECONNREFUSED
	h.waitStep("attempt done")
	third := h.nextDial(v6b)
	h.clock.Advance(249 * ms)
	h.noStep("249 ms after the third attempt")
	h.clock.Advance(1 * ms)
	h.waitStep("attempt delay")
	fourth := h.nextDial(v4b)

	// The third connects: it wins, the others are cancelled, and a loser
	// that connects anyway is closed.
	third.reply <- nil
	h.waitStep("attempt done")
	res := <-ch
	if res.err != nil || res.conn == nil {
		t.Fatalf("dial failed: %v", res.err)
	}
	for _, loser := range []*dialReq{first, fourth} {
		<-loser.ctx.Done()
	}
	first.reply <- context.Canceled
	fourth.reply <- context.Canceled

	r := res.report
	want := []struct {
		addr       netip.Addr
		start, end time.Duration
		err        error
	}{
		{v6a, 0, 0, ErrCancelled},
		{v4a, 250 * ms, 350 * ms, syscall.ECONNREFUSED},
		{v6b, 350 * ms, 600 * ms, nil},
		{v4b, 600 * ms, 0, ErrCancelled},
	}
	if len(r.Attempts) != len(want) {
		t.Fatalf("attempts %+v", r.Attempts)
	}
	for i, w := range want {
		a := r.Attempts[i]
		if a.Addr != netip.AddrPortFrom(w.addr, 80) || a.Start != w.start || a.End != w.end || !errors.Is(a.Err, w.err) || (w.err == nil) != (a.Err == nil) {
			t.Errorf("attempt %d = %+v, want %v from %v to %v, error %v", i, a, w.addr, w.start, w.end, w.err)
		}
	}
	if r.Winner != netip.AddrPortFrom(v6b, 80) || r.Elapsed != 600*ms || r.AAAA.At != 0 || r.A.At != 0 {
		t.Errorf("report %+v", r)
	}
}

func TestResolutionDelayWaitsForAAAA(t *testing.T) {
	t.Run("AAAA within the delay", func(t *testing.T) {
		h := newHarness(t)
		ch := h.dial("tcp", "svc.test:443")
		h.res.a <- answer{addrs: []netip.Addr{v4a}}
		h.waitStep("A")
		h.clock.Advance(49 * ms)
		h.noStep("49 ms after A")
		h.noDial("49 ms after A")
		h.res.aaaa <- answer{addrs: []netip.Addr{v6a}}
		h.waitStep("AAAA")
		h.nextDial(v6a).reply <- nil
		h.waitStep("attempt done")
		res := <-ch
		if res.err != nil || res.report.Winner.Addr() != v6a || res.report.AAAA.At != 49*ms {
			t.Fatalf("got %v, %+v", res.err, res.report)
		}
	})
	t.Run("AAAA after the delay", func(t *testing.T) {
		h := newHarness(t)
		ch := h.dial("tcp", "svc.test:443")
		h.res.a <- answer{addrs: []netip.Addr{v4a}}
		h.waitStep("A")
		h.clock.Advance(50 * ms)
		h.waitStep("resolution delay")
		v4 := h.nextDial(v4a)
		// AAAA comes 10 ms into the attempt: its address waits for the
		// attempt delay.
		h.clock.Advance(10 * ms)
		h.res.aaaa <- answer{addrs: []netip.Addr{v6a}}
		h.waitStep("AAAA")
		h.noDial("AAAA during the attempt delay")
		h.clock.Advance(240 * ms)
		h.waitStep("attempt delay")
		v6 := h.nextDial(v6a)
		if v6.ctx.Err() != nil {
			t.Fatal("attempt cancelled early")
		}
		v4.reply <- nil
		h.waitStep("attempt done")
		res := <-ch
		if res.err != nil || res.report.Winner.Addr() != v4a {
			t.Fatalf("got %v, %+v", res.err, res.report)
		}
		<-v6.ctx.Done()
		v6.reply <- context.Canceled
	})
	t.Run("AAAA fails", func(t *testing.T) {
		h := newHarness(t)
		ch := h.dial("tcp", "svc.test:443")
		h.res.a <- answer{addrs: []netip.Addr{v4a}}
		h.waitStep("A")
		h.res.aaaa <- answer{err: errors.New("no such host")}
		h.waitStep("AAAA")
		h.nextDial(v4a).reply <- nil // at once, not after the delay
		h.waitStep("attempt done")
		if res := <-ch; res.err != nil || res.report.Elapsed != 0 {
			t.Fatalf("got %v, %+v", res.err, res.report)
		}
	})
}

func TestLosersAreClosed(t *testing.T) {
	h := newHarness(t)
	closed := make(chan netip.AddrPort, 4)
	h.d.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		ap := netip.MustParseAddrPort(address)
		req := &dialReq{addr: ap, ctx: ctx, reply: make(chan error, 1)}
		h.dials <- req
		if err := <-req.reply; err != nil {
			return nil, err
		}
		c := &fakeConn{closed: make(chan struct{})}
		go func() { <-c.closed; closed <- ap }()
		return c, nil
	}
	ch := h.dial("tcp", "svc.test:80")
	h.res.aaaa <- answer{addrs: []netip.Addr{v6a}}
	h.res.a <- answer{addrs: []netip.Addr{v4a}}
	first := <-h.dials
	h.clock.Advance(250 * ms)
	second := <-h.dials
	if first.addr.Addr() != v6a || second.addr.Addr() != v4a {
		t.Fatalf("attempts to %v then %v", first.addr, second.addr)
	}
	second.reply <- nil
	res := <-ch
	if res.err != nil || res.report.Winner.Addr() != v4a {
		t.Fatalf("got %v", res.err)
	}
	<-first.ctx.Done()
	// The loser connects all the same: its connection is closed, the
	// winner's is not.
	first.reply <- nil
	if got := <-closed; got.Addr() != v6a {
		t.Fatalf("closed %v, want the loser %v", got, v6a)
	}
	res.conn.Close()
	if got := <-closed; got.Addr() != v4a {
		t.Fatalf("closed %v", got)
	}
}

func TestAllAttemptsFail(t *testing.T) {
	h := newHarness(t)
	ch := h.dial("tcp", "svc.test:80")
	h.res.aaaa <- answer{addrs: []netip.Addr{v6a}}
	h.waitStep("AAAA")
	h.res.a <- answer{addrs: []netip.Addr{v4a}}
	h.waitStep("A")
	h.nextDial(v6a).reply <- syscall.EHOSTUNREACH
	h.waitStep("attempt done")
	h.nextDial(v4a).reply <- syscall.ECONNREFUSED
	h.waitStep("attempt done")
	res := <-ch
	var ce *ConnectError
	if !errors.As(res.err, &ce) || len(ce.Attempts) != 2 {
		t.Fatalf("got %v, want a ConnectError with both attempts", res.err)
	}
	msg := res.err.Error()
	for _, want := range []string{"svc.test:80", "[2001:db8::a]:80", "192.0.2.10:80", syscall.ECONNREFUSED.Error(), syscall.EHOSTUNREACH.Error()} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if !errors.Is(res.err, syscall.ECONNREFUSED) {
		t.Error("errors.Is(err, ECONNREFUSED) is false")
	}
}

func TestResolutionFailureNamesTheHost(t *testing.T) {
	h := newHarness(t)
	ch := h.dial("tcp", "missing.test:80")
	notFound := &net.DNSError{Err: "no such host", Name: "missing.test", IsNotFound: true}
	h.res.aaaa <- answer{err: notFound}
	h.res.a <- answer{err: notFound}
	res := <-ch
	var re *ResolveError
	if !errors.As(res.err, &re) || re.Host != "missing.test" || !strings.Contains(res.err.Error(), "resolving missing.test") {
		t.Fatalf("got %v, want a ResolveError for missing.test", res.err)
	}
	var de *net.DNSError
	if !errors.As(res.err, &de) || !de.IsNotFound {
		t.Errorf("the DNS error is not reachable: %v", res.err)
	}
	if len(res.report.Attempts) != 0 {
		t.Errorf("attempts %+v without addresses", res.report.Attempts)
	}
}

func TestAttemptDelayIsBounded(t *testing.T) {
	for _, c := range []struct{ set, want time.Duration }{{time.Millisecond, MinAttemptDelay}, {time.Minute, MaxAttemptDelay}, {100 * ms, 100 * ms}} {
		t.Run(fmt.Sprint(c.set), func(t *testing.T) {
			h := newHarness(t)
			h.d.AttemptDelay = c.set
			ch := h.dial("tcp6", "svc.test:80")
			h.res.aaaa <- answer{addrs: []netip.Addr{v6a, v6b}}
			h.waitStep("AAAA")
			first := h.nextDial(v6a)
			h.clock.Advance(c.want - 1)
			h.noStep("just before the attempt delay")
			h.clock.Advance(1)
			h.waitStep("attempt delay")
			h.nextDial(v6b).reply <- nil
			h.waitStep("attempt done")
			if res := <-ch; res.err != nil {
				t.Fatal(res.err)
			}
			<-first.ctx.Done()
			first.reply <- context.Canceled
		})
	}
}

func TestIPLiteralAndFamilies(t *testing.T) {
	h := newHarness(t)
	ch := h.dial("tcp", "[2001:db8::a]:8080")
	h.nextDial(v6a).reply <- nil
	h.waitStep("attempt done")
	if res := <-ch; res.err != nil || res.report.AAAA != nil || res.report.A != nil {
		t.Fatalf("literal: %v, %+v", res.err, res.report)
	}
	if _, err := h.d.DialContext(context.Background(), "tcp4", "[2001:db8::a]:80"); err == nil {
		t.Error("tcp4 dialed an IPv6 literal")
	}
	if _, err := h.d.DialContext(context.Background(), "udp", "svc.test:80"); err == nil {
		t.Error("udp accepted")
	}
	// tcp4 asks only for A.
	ch = h.dial("tcp4", "svc.test:80")
	h.res.a <- answer{addrs: []netip.Addr{v4a}}
	h.waitStep("A")
	h.nextDial(v4a).reply <- nil
	h.waitStep("attempt done")
	if res := <-ch; res.err != nil || res.report.AAAA != nil {
		t.Fatalf("tcp4: %v, %+v", res.err, res.report)
	}
}

// A failed attempt's conn is never used, even when a dial function returns
// a typed nil in a non-nil interface with its error (as a loser does when
// it is cancelled after the dial is over).
func TestFailedDialsConnIsIgnored(t *testing.T) {
	h := newHarness(t)
	loserDone := make(chan struct{})
	h.d.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		if netip.MustParseAddrPort(address).Addr() == v6a {
			<-ctx.Done()
			defer close(loserDone)
			var c *fakeConn // Close on it would panic
			return c, ctx.Err()
		}
		return &fakeConn{closed: make(chan struct{})}, nil
	}
	ch := h.dial("tcp", "svc.test:80")
	h.res.aaaa <- answer{addrs: []netip.Addr{v6a}}
	h.waitStep("AAAA")
	h.res.a <- answer{addrs: []netip.Addr{v4a}}
	h.waitStep("A")
	h.clock.Advance(250 * ms)
	if res := <-ch; res.err != nil || res.report.Winner.Addr() != v4a {
		t.Fatalf("got %v", res.err)
	}
	<-loserDone
}
