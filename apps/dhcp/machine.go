// Package dhcp is the stack's DHCPv4 client (RFC 2131): it obtains the
// IPv4 address, prefix, default router, DNS servers and lease time of an
// actnet stack, renews and rebinds the lease, declines an address that an
// ARP probe finds in use (RFC 5227) and releases the lease when the stack
// closes; with no server it falls back to a static address.
//
// Machine is the protocol as pure logic: messages, probe results and the
// time go in, actions (datagrams to send, an address to probe, an address
// to set or drop) come out, and Deadline says when it wants to run next.
// Client is the IO shell that runs a Machine on a UDP socket of the stack
// and an actors.Clock. Packet encoding is github.com/insomniacslk/dhcp's.
//
// The package does not import the root package (which runs a Client for
// Config.IPv4DHCP); the stack reaches it through the Host interface.
package dhcp

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// State is a state of RFC 2131 §4.4's client diagram, plus Probing (the
// ARP check of §4.4.1 between DHCPACK and BOUND) and Stopped.
type State uint8

// The client states.
const (
	Init State = iota
	Selecting
	Requesting
	Probing
	Bound
	Renewing
	Rebinding
	Stopped
)

var stateNames = [...]string{"INIT", "SELECTING", "REQUESTING", "PROBING", "BOUND", "RENEWING", "REBINDING", "STOPPED"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "?"
}

// Timing (RFC 2131).
const (
	// §4.1: the first retransmission after 4 s, doubling up to 64 s,
	// each randomised by ±1 s.
	firstRetransmit = 4 * time.Second
	maxRetransmit   = 64 * time.Second
	jitter          = time.Second
	// §4.4.1: a REQUEST unanswered after the retransmissions sends the
	// client back to INIT; four retransmissions wait about a minute.
	maxRequestRetransmits = 4
	// §3.1 step 5: after a DHCPDECLINE, at least 10 s before starting over.
	declineWait = 10 * time.Second
	// §4.4.5: in RENEWING and REBINDING, retransmit after half the time
	// left to T2 or to the lease's end, but not sooner than 60 s.
	minRenewRetransmit = 60 * time.Second
	// DefaultFallbackAfter is how long the client waits for a server
	// before it takes Config.Fallback.
	DefaultFallbackAfter = 10 * time.Second
)

// Ports of RFC 2131 §4.1.
const (
	ServerPort = 67
	ClientPort = 68
)

// Config configures a Machine.
type Config struct {
	// MAC is the client's hardware address (chaddr).
	MAC net.HardwareAddr
	// Hostname, when set, is sent in the host name option (RFC 2132 §3.14).
	Hostname string
	// Fallback is the address to take when no server has answered within
	// FallbackAfter (the zero Prefix: none). The client keeps looking for
	// a server meanwhile and gives the fallback up for a lease.
	Fallback      netip.Prefix
	FallbackAfter time.Duration // DefaultFallbackAfter when zero
	// Rand draws transaction IDs and retransmission jitter; a test seeds
	// it. A randomly seeded one when nil.
	Rand *rand.Rand
}

// Action is something the machine asks its shell to do: one of Send,
// Probe, Configure, Unconfigure, UseFallback.
type Action interface{ action() }

// Send asks for Msg to be sent to To (the limited broadcast or a server).
type Send struct {
	Msg *dhcpv4.DHCPv4
	To  netip.AddrPort
}

// Probe asks for an ARP probe of Addr; the answer goes to ProbeDone.
type Probe struct{ Addr netip.Addr }

// Configure asks for Lease's address, prefix and router to be set.
// Renewed is set when the lease was extended (the address may have stayed
// or changed).
type Configure struct {
	Lease   Lease
	Renewed bool
}

// Unconfigure asks for the leased address to be dropped, for Reason.
type Unconfigure struct{ Reason string }

// UseFallback asks for the fallback address to be set.
type UseFallback struct{ Addr netip.Prefix }

func (Send) action()        {}
func (Probe) action()       {}
func (Configure) action()   {}
func (Unconfigure) action() {}
func (UseFallback) action() {}

// Stats count what the machine sent, accepted and dropped.
type Stats struct {
	Discovers, Requests, Declines, Releases uint64 // messages sent
	Offers, Acks, Naks                      uint64 // replies accepted
	Renewals, Rebinds, Expiries, Fallbacks  uint64
	// Replies dropped: not for this client (transaction ID, hardware
	// address, not a reply), unexpected in the state or from another
	// server, or an ACK that makes no usable lease.
	NotOurs, Unexpected, BadLease uint64
}

// Machine is the DHCPv4 client's state machine. It is not safe for
// concurrent use: one shell drives it.
type Machine struct {
	cfg   Config
	rng   *rand.Rand
	state State
	xid   dhcpv4.TransactionID

	next     time.Time // retransmission, restart, T1, T2 or expiry
	attempt  int       // retransmissions of the current message
	sentAt   time.Time // when the current REQUEST first left
	started  time.Time // when this configuration attempt began (secs field)
	offer    *dhcpv4.DHCPv4
	server   netip.Addr
	lease    Lease
	bound    bool // the stack holds lease.Addr
	pending  Lease
	fallback bool      // the fallback address is in use
	fbAt     time.Time // when to take the fallback; zero when not armed
	stats    Stats
}

// New returns a machine in INIT; Start begins.
func New(cfg Config) *Machine {
	if cfg.FallbackAfter <= 0 {
		cfg.FallbackAfter = DefaultFallbackAfter
	}
	rng := cfg.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Machine{cfg: cfg, rng: rng}
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// Lease is the lease held, and whether there is one.
func (m *Machine) Lease() (Lease, bool) { return m.lease, m.bound }

// Stats are the machine's counters.
func (m *Machine) Stats() Stats { return m.stats }

// Deadline is when Tick has work next; the zero Time when nothing is due
// (an infinite lease, or stopped).
func (m *Machine) Deadline() time.Time {
	d := m.next
	if !m.fbAt.IsZero() && (d.IsZero() || m.fbAt.Before(d)) {
		d = m.fbAt
	}
	return d
}

// Start begins configuration: DHCPDISCOVER (RFC 2131 §4.4.1).
func (m *Machine) Start(now time.Time) []Action {
	if m.cfg.Fallback.IsValid() && !m.fallback && m.fbAt.IsZero() {
		m.fbAt = now.Add(m.cfg.FallbackAfter)
	}
	m.state = Selecting
	m.xid = m.newXID()
	m.started = now
	m.offer = nil
	m.attempt = 0
	m.next = now.Add(m.backoff(0))
	return []Action{m.discover(now)}
}

// Tick runs what is due at now: retransmissions, the fallback, T1, T2,
// the lease's end, a restart after a decline.
func (m *Machine) Tick(now time.Time) []Action {
	var out []Action
	if !m.fbAt.IsZero() && !now.Before(m.fbAt) {
		m.fbAt = time.Time{}
		if !m.bound && m.state != Stopped {
			m.fallback = true
			m.stats.Fallbacks++
			out = append(out, UseFallback{Addr: m.cfg.Fallback})
		}
	}
	if m.next.IsZero() || now.Before(m.next) {
		return out
	}
	switch m.state {
	case Init:
		out = append(out, m.Start(now)...)
	case Selecting:
		m.attempt++
		m.next = now.Add(m.backoff(m.attempt))
		out = append(out, m.discover(now))
	case Requesting:
		if m.attempt >= maxRequestRetransmits {
			// §4.4.1: no answer to the REQUEST: back to INIT.
			out = append(out, m.Start(now)...)
			break
		}
		m.attempt++
		m.next = now.Add(m.backoff(m.attempt))
		out = append(out, m.request(now, false))
	case Bound:
		// T1: renew with the server that granted the lease (§4.4.5).
		m.state = Renewing
		m.xid = m.newXID()
		m.started = now
		m.sentAt = now
		m.next = m.renewRetransmit(now, m.t2())
		out = append(out, m.request(now, false))
	case Renewing:
		if !now.Before(m.t2()) {
			// T2: ask any server (§4.4.5).
			m.state = Rebinding
			m.sentAt = now
			m.next = m.renewRetransmit(now, m.lease.Expiry())
			out = append(out, m.request(now, true))
			break
		}
		m.next = m.renewRetransmit(now, m.t2())
		out = append(out, m.request(now, false))
	case Rebinding:
		if exp := m.lease.Expiry(); !exp.IsZero() && !now.Before(exp) {
			// The lease ended: drop the address, start over (§4.4.5).
			m.stats.Expiries++
			m.bound = false
			out = append(out, Unconfigure{Reason: "lease expired"})
			out = append(out, m.Start(now)...)
			break
		}
		m.next = m.renewRetransmit(now, m.lease.Expiry())
		out = append(out, m.request(now, true))
	default:
		m.next = time.Time{}
	}
	return out
}

// Receive handles one message that arrived on the client port.
func (m *Machine) Receive(now time.Time, msg *dhcpv4.DHCPv4) []Action {
	if msg.OpCode != dhcpv4.OpcodeBootReply || msg.TransactionID != m.xid ||
		len(msg.ClientHWAddr) < 6 || string(msg.ClientHWAddr[:6]) != string(m.cfg.MAC[:6]) {
		m.stats.NotOurs++
		return nil
	}
	typ := msg.MessageType()
	switch {
	case m.state == Selecting && typ == dhcpv4.MessageTypeOffer:
		return m.handleOffer(now, msg)
	case (m.state == Requesting || m.state == Renewing || m.state == Rebinding) && typ == dhcpv4.MessageTypeAck:
		return m.handleAck(now, msg)
	case (m.state == Requesting || m.state == Renewing || m.state == Rebinding) && typ == dhcpv4.MessageTypeNak:
		return m.handleNak(now, msg)
	}
	m.stats.Unexpected++
	return nil
}

func (m *Machine) handleOffer(now time.Time, msg *dhcpv4.DHCPv4) []Action {
	yi, ok := ipv4Of(msg.YourIPAddr)
	server, hasID := ipv4Of(msg.ServerIdentifier())
	if !ok || yi.IsUnspecified() || !hasID {
		// §4.3.1: an offer carries the address and the server
		// identifier the REQUEST must name.
		m.stats.BadLease++
		return nil
	}
	// The first acceptable offer wins (§4.4.1 lets the client choose).
	m.stats.Offers++
	m.offer, m.server = msg, server
	m.state = Requesting
	m.attempt = 0
	m.sentAt = now
	m.next = now.Add(m.backoff(0))
	return []Action{m.request(now, true)}
}

// fromServer reports whether a reply in REQUESTING or RENEWING comes from
// the server asked; in REBINDING any server may answer.
func (m *Machine) fromServer(msg *dhcpv4.DHCPv4) bool {
	if m.state == Rebinding {
		return true
	}
	id, ok := ipv4Of(msg.ServerIdentifier())
	return !ok || id == m.server
}

func (m *Machine) handleAck(now time.Time, msg *dhcpv4.DHCPv4) []Action {
	if !m.fromServer(msg) {
		m.stats.Unexpected++
		return nil
	}
	l, err := leaseFrom(msg, m.server, m.sentAt)
	if err != nil {
		m.stats.BadLease++
		return nil
	}
	m.stats.Acks++
	if m.state == Requesting {
		// §4.4.1: check with ARP that nobody holds the address yet.
		m.state = Probing
		m.pending = l
		m.next = time.Time{}
		return []Action{Probe{Addr: l.Addr.Addr()}}
	}
	// An extension in RENEWING or REBINDING.
	if m.state == Renewing {
		m.stats.Renewals++
	} else {
		m.stats.Rebinds++
	}
	return m.bind(l, true)
}

func (m *Machine) handleNak(now time.Time, msg *dhcpv4.DHCPv4) []Action {
	if !m.fromServer(msg) {
		m.stats.Unexpected++
		return nil
	}
	// §4.4.1, §4.4.5: a NAK sends the client back to INIT.
	m.stats.Naks++
	var out []Action
	if m.bound {
		m.bound = false
		out = append(out, Unconfigure{Reason: "server refused the lease (DHCPNAK)"})
	}
	return append(out, m.Start(now)...)
}

// ProbeDone takes the answer to a Probe: a free address is bound, one in
// use is declined (RFC 2131 §4.4.1, RFC 5227 §2.1.1).
func (m *Machine) ProbeDone(now time.Time, addr netip.Addr, inUse bool) []Action {
	if m.state != Probing || addr != m.pending.Addr.Addr() {
		return nil
	}
	if !inUse {
		return m.bind(m.pending, false)
	}
	m.stats.Declines++
	decline := m.message(dhcpv4.MessageTypeDecline,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(addr.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(m.server.AsSlice())))
	m.state = Init
	m.offer = nil
	m.next = now.Add(declineWait)
	return []Action{Send{Msg: decline, To: netip.AddrPortFrom(broadcastAddr, ServerPort)}}
}

// bind enters BOUND with l and arms T1.
func (m *Machine) bind(l Lease, renewed bool) []Action {
	m.state = Bound
	m.lease, m.bound = l, true
	m.server = l.Server // renewals go to the server that granted it
	m.fallback, m.fbAt = false, time.Time{}
	m.offer = nil
	m.next = time.Time{}
	if l.Duration != Infinite {
		m.next = l.Start.Add(l.T1)
	}
	return []Action{Configure{Lease: l, Renewed: renewed}}
}

// Release gives the lease back (DHCPRELEASE, §4.4.6) and stops.
func (m *Machine) Release(now time.Time) []Action {
	var out []Action
	if m.bound {
		m.stats.Releases++
		rel := m.message(dhcpv4.MessageTypeRelease,
			dhcpv4.WithClientIP(m.lease.Addr.Addr().AsSlice()),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(m.lease.Server.AsSlice())))
		m.bound = false
		out = append(out, Send{Msg: rel, To: netip.AddrPortFrom(m.lease.Server, ServerPort)},
			Unconfigure{Reason: "lease released"})
	}
	m.state = Stopped
	m.next, m.fbAt = time.Time{}, time.Time{}
	return out
}

// t2 is the rebinding time of the lease held.
func (m *Machine) t2() time.Time { return m.lease.Start.Add(m.lease.T2) }

// renewRetransmit is §4.4.5's next retransmission in RENEWING or
// REBINDING: half the time left until end, at least 60 s, never past end.
func (m *Machine) renewRetransmit(now, end time.Time) time.Time {
	next := now.Add(max(end.Sub(now)/2, minRenewRetransmit))
	if !end.IsZero() && next.After(end) {
		next = end
	}
	return next
}

// backoff is §4.1's delay before retransmission n+1: 4 s doubled n
// times, at most 64 s, plus a uniform jitter in [-1 s, +1 s].
func (m *Machine) backoff(n int) time.Duration {
	d := maxRetransmit
	if n < 5 {
		d = firstRetransmit << n
	}
	return d - jitter + time.Duration(m.rng.Int64N(int64(2*jitter)+1))
}

func (m *Machine) newXID() dhcpv4.TransactionID {
	var x dhcpv4.TransactionID
	v := m.rng.Uint32()
	x[0], x[1], x[2], x[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return x
}

// params are the options the client asks for (RFC 2132 §9.8).
var params = dhcpv4.WithRequestedOptions(
	dhcpv4.OptionSubnetMask,
	dhcpv4.OptionRouter,
	dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionDomainName,
	dhcpv4.OptionIPAddressLeaseTime,
	dhcpv4.OptionRenewTimeValue,
	dhcpv4.OptionRebindingTimeValue,
)

// message builds a client message of type t with the current xid.
func (m *Machine) message(t dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	base := []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(m.xid),
		dhcpv4.WithHwAddr(m.cfg.MAC),
		dhcpv4.WithMessageType(t),
	}
	if m.cfg.Hostname != "" && t != dhcpv4.MessageTypeRelease && t != dhcpv4.MessageTypeDecline {
		base = append(base, dhcpv4.WithOption(dhcpv4.OptHostName(m.cfg.Hostname)))
	}
	msg, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		// New fails only when the system's random source does: the
		// xid it draws is overwritten anyway.
		panic("dhcp: building a message: " + err.Error())
	}
	return msg
}

// secs is the seconds field: time since this attempt began (§4.1 lets a
// relay or server prefer clients that waited long).
func (m *Machine) secs(now time.Time) dhcpv4.Modifier {
	s := now.Sub(m.started) / time.Second
	return func(d *dhcpv4.DHCPv4) { d.NumSeconds = uint16(min(s, 0xffff)) }
}

// broadcastFlag asks servers to broadcast their replies while the stack
// holds a fallback address: it would drop a unicast to the offered
// address, which is not its own (§4.1 lets a client set the flag). With
// no address at all the stack takes such unicasts, so the flag stays off.
func (m *Machine) broadcastFlag() dhcpv4.Modifier { return dhcpv4.WithBroadcast(m.fallback) }

func (m *Machine) discover(now time.Time) Send {
	m.stats.Discovers++
	msg := m.message(dhcpv4.MessageTypeDiscover, params, m.secs(now), m.broadcastFlag())
	return Send{Msg: msg, To: netip.AddrPortFrom(broadcastAddr, ServerPort)}
}

// request builds the DHCPREQUEST of the state (§4.3.2): in REQUESTING it
// names the offered address and the chosen server and is broadcast; in
// RENEWING it carries ciaddr and goes to the server; in REBINDING it
// carries ciaddr and is broadcast.
func (m *Machine) request(now time.Time, broadcast bool) Send {
	m.stats.Requests++
	to := netip.AddrPortFrom(broadcastAddr, ServerPort)
	var msg *dhcpv4.DHCPv4
	if m.state == Requesting {
		msg = m.message(dhcpv4.MessageTypeRequest, params, m.secs(now), m.broadcastFlag(),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(m.offer.YourIPAddr)),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(m.server.AsSlice())))
	} else {
		msg = m.message(dhcpv4.MessageTypeRequest, params, m.secs(now),
			dhcpv4.WithClientIP(m.lease.Addr.Addr().AsSlice()))
		if !broadcast {
			to = netip.AddrPortFrom(m.lease.Server, ServerPort)
		}
	}
	return Send{Msg: msg, To: to}
}
