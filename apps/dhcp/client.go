package dhcp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet/actors"
)

// Host is what the client needs of the stack it configures.
type Host interface {
	// SetIPv4 sets the stack's address and default router; the zero
	// Prefix removes the address.
	SetIPv4(addr netip.Prefix, gateway netip.Addr) error
	// ProbeIPv4 probes addr with ARP (RFC 5227) and reports whether
	// another host uses it.
	ProbeIPv4(ctx context.Context, addr netip.Addr) (inUse bool, err error)
}

// Client runs a Machine: it reads replies from conn (a UDP socket of the
// stack bound to 0.0.0.0:68, broadcast allowed), sends what the machine
// asks, arms its deadline on the clock, probes and sets addresses through
// host, and logs each lease.
type Client struct {
	m     *Machine
	host  Host
	conn  net.PacketConn
	clock actors.Clock
	log   zerolog.Logger

	events chan func(now time.Time) []Action
	stop   chan chan struct{}
	done   chan struct{}
	cancel context.CancelFunc
	ctx    context.Context

	// posted and handled count the events (timer firings, probe
	// answers, replies) given to the run loop and those it finished, so
	// that a test can wait until the client is idle (actors.Active).
	posted, handled atomic.Uint64

	mu        sync.Mutex
	lease     Lease
	bound     bool
	stats     Stats
	malformed uint64
	sendErrs  uint64
	changed   chan struct{}
}

// Start runs a client: it sends its first DHCPDISCOVER at once.
func Start(cfg Config, host Host, conn net.PacketConn, clock actors.Clock, log zerolog.Logger) *Client {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		m: New(cfg), host: host, conn: conn, clock: clock, log: log,
		events: make(chan func(time.Time) []Action, 16),
		stop:   make(chan chan struct{}),
		done:   make(chan struct{}),
		ctx:    ctx, cancel: cancel,
		changed: make(chan struct{}),
	}
	go c.read()
	go c.run()
	return c
}

// post hands the run loop an event; it drops it when the client stopped.
func (c *Client) post(ev func(time.Time) []Action) {
	c.posted.Add(1)
	select {
	case c.events <- ev:
	case <-c.done:
		c.handled.Add(1)
	}
}

// Activity reports the events posted to the client and those handled; it
// makes the client an actors.Active for tests that wait until all is idle.
func (c *Client) Activity() (posted, handled uint64) {
	h := c.handled.Load()
	return c.posted.Load(), h
}

// read turns datagrams into events until the socket closes.
func (c *Client) read() {
	buf := make([]byte, 1500)
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || c.ctx.Err() != nil {
				return
			}
			continue // a read error on an open socket (an ICMP error): go on
		}
		msg, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			c.mu.Lock()
			c.malformed++
			c.mu.Unlock()
			continue
		}
		c.post(func(now time.Time) []Action { return c.m.Receive(now, msg) })
	}
}

func (c *Client) run() {
	defer close(c.done)
	var stopTimer actors.StopFunc
	var armed time.Time
	rearm := func() {
		d := c.m.Deadline()
		if d.Equal(armed) {
			return
		}
		if stopTimer != nil {
			stopTimer()
			stopTimer = nil
		}
		armed = d
		if !d.IsZero() {
			stopTimer = c.clock.At(d, func() { c.post(func(now time.Time) []Action { return c.m.Tick(now) }) })
		}
	}
	c.apply(c.m.Start(c.clock.Now()))
	rearm()
	for {
		select {
		case ev := <-c.events:
			c.apply(ev(c.clock.Now()))
			rearm()
			c.handled.Add(1)
		case reply := <-c.stop:
			if stopTimer != nil {
				stopTimer()
			}
			c.apply(c.m.Release(c.clock.Now()))
			close(reply)
			return
		}
	}
}

// apply carries out the machine's actions.
func (c *Client) apply(actions []Action) {
	// The counters first: whoever sees an action's effect sees it counted.
	c.mu.Lock()
	c.stats = c.m.Stats()
	c.mu.Unlock()
	for _, a := range actions {
		switch a := a.(type) {
		case Send:
			if _, err := c.conn.WriteTo(a.Msg.ToBytes(), net.UDPAddrFromAddrPort(a.To)); err != nil {
				c.mu.Lock()
				c.sendErrs++
				c.mu.Unlock()
				c.log.Debug().Err(err).Str("to", a.To.String()).Msg("dhcp: send failed")
			}
		case Probe:
			// The probe waits on the stack's timers, not on the client:
			// only its answer counts as the client's activity.
			go func() {
				inUse, err := c.host.ProbeIPv4(c.ctx, a.Addr)
				if err != nil {
					return // the client or the stack is closing
				}
				c.post(func(now time.Time) []Action { return c.m.ProbeDone(now, a.Addr, inUse) })
			}()
		case Configure:
			l := a.Lease
			if err := c.host.SetIPv4(l.Addr, l.Router); err != nil {
				c.log.Error().Err(err).Str("addr", l.Addr.String()).Msg("dhcp: cannot set the leased address")
			}
			ev := c.log.Info()
			msg := "dhcp: lease bound"
			if a.Renewed {
				msg = "dhcp: lease renewed"
			}
			ev.Str("addr", l.Addr.String()).Str("gateway", addrString(l.Router)).Str("dns", addrsString(l.DNS)).
				Str("server", l.Server.String()).Stringer("lease", l.Duration).Stringer("t1", l.T1).Stringer("t2", l.T2).Msg(msg)
			c.setLease(l, true)
		case Unconfigure:
			if err := c.host.SetIPv4(netip.Prefix{}, netip.Addr{}); err != nil {
				c.log.Error().Err(err).Msg("dhcp: cannot drop the address")
			}
			c.log.Warn().Str("reason", a.Reason).Msg("dhcp: address dropped")
			c.setLease(Lease{}, false)
		case UseFallback:
			if err := c.host.SetIPv4(a.Addr, netip.Addr{}); err != nil {
				c.log.Error().Err(err).Str("addr", a.Addr.String()).Msg("dhcp: cannot set the fallback address")
			}
			c.log.Warn().Str("addr", a.Addr.String()).Msg("dhcp: no server answered; using the fallback address")
		}
	}
}

func (c *Client) setLease(l Lease, bound bool) {
	c.mu.Lock()
	c.lease, c.bound = l, bound
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Lease returns the lease held, and whether there is one.
func (c *Client) Lease() (Lease, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lease, c.bound
}

// Changes returns a channel closed at the next change of the lease (bound,
// renewed, dropped).
func (c *Client) Changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// ClientStats are the machine's counters and the shell's own.
type ClientStats struct {
	Stats
	// Malformed counts datagrams on port 68 that are no DHCP message;
	// SendErrors the messages the socket failed to send.
	Malformed, SendErrors uint64
}

// Stats reads the client's counters.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ClientStats{Stats: c.stats, Malformed: c.malformed, SendErrors: c.sendErrs}
}

// Close releases the lease (DHCPRELEASE, RFC 2131 §4.4.6) and drops the
// address, stops the client and closes its socket. The stack must still
// run for the release to leave.
func (c *Client) Close() error {
	reply := make(chan struct{})
	select {
	case c.stop <- reply:
		<-reply
	case <-c.done:
	}
	c.cancel()
	return c.conn.Close()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

func addrsString(as []netip.Addr) string {
	if len(as) == 0 {
		return "none"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
