// Package actnet is a userspace TCP/IP stack in which every protocol layer
// and every TCP connection is a supervised actor.
//
// A Stack runs on a device (a Linux tap, an in-memory link, a pcap-recording
// wrapper of either) with an IPv4 address of its own, answers ARP and ping,
// and offers the socket-like API of the layers above as they land. See the
// README for the architecture and DESIGN.md for its principles.
package actnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ndp"
	"github.com/actnet/actnet/mailbox"
)

// Config describes one stack.
type Config struct {
	// Device is the link the stack sends and receives Ethernet frames on.
	// The stack owns it from New on and closes it in Close.
	Device device.Device
	// IPv4 is the stack's address with the prefix length of its link,
	// e.g. 10.0.0.2/24. Leave it zero with IPv4DHCP.
	IPv4 netip.Prefix
	// IPv4Gateway is the default router for off-link destinations; leave
	// it zero for a stack that only talks on its own link.
	IPv4Gateway netip.Addr
	// IPv4DHCP asks a DHCP server for the address, prefix, gateway and
	// DNS servers (RFC 2131) instead of IPv4 and IPv4Gateway, which must
	// be zero. The stack starts without an IPv4 address (WaitIPv4 waits
	// for one), renews the lease while it runs, and releases it in Close.
	IPv4DHCP bool
	// IPv4Fallback, with IPv4DHCP, is the address (with its prefix
	// length) taken when no DHCP server has answered within 10 seconds;
	// the client keeps asking, and a lease replaces it.
	IPv4Fallback netip.Prefix
	// Logger receives every log line of the stack, protoactor's included.
	// When nil the stack logs warnings and errors to standard error.
	Logger *zerolog.Logger
	// Clock drives every timer of the stack; the wall clock when nil. Tests
	// pass an *actors.VirtualClock.
	Clock actors.Clock
	// TCP tunes every TCP connection of the stack (buffer sizes, delayed
	// ACK, keep-alive, timeouts); the zero value has sensible defaults.
	TCP TCPConfig
	// Limits caps the resources the stack may hold (connections,
	// half-open connections, buffer memory, reassembly, ARP entries, UDP
	// queues, connection actors spawned per second); zero fields take
	// safe defaults (README, "Resource limits").
	Limits Limits
	// IPv6 configures IPv6; the zero value forms a link-local address
	// and autoconfigures from router advertisements (IPv6Auto).
	IPv6 IPv6Config
}

// Limits are a stack's resource caps; see actors.Limits for each field.
type Limits = actors.Limits

// Stack is a running actnet stack.
type Stack struct {
	run       *actors.Running
	tcpConfig TCPConfig
	dhcp      dhcpClient // nil without Config.IPv4DHCP
}

// New starts a stack on cfg.Device. On error the device is closed.
func New(cfg Config) (*Stack, error) {
	if cfg.Device == nil {
		return nil, errors.New("actnet: Config.Device is required")
	}
	log := DefaultLogger(os.Stderr)
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	if err := checkIPv4Config(cfg); err != nil {
		cfg.Device.Close()
		return nil, err
	}
	run, err := actors.Start(actors.Options{
		Device:   cfg.Device,
		IPv4:     cfg.IPv4,
		Gateway4: cfg.IPv4Gateway,
		Log:      log,
		Clock:    cfg.Clock,
		Limits:   cfg.Limits,
		IPv6: actors.IPv6Options{
			Mode:         actors.IPv6Mode(cfg.IPv6.Mode),
			Addr:         cfg.IPv6.Addr,
			Gateway:      cfg.IPv6.Gateway,
			IID:          ndp.IIDKind(cfg.IPv6.IID),
			StableSecret: cfg.IPv6.StableSecret,
		},
	})
	if err != nil {
		cfg.Device.Close()
		return nil, err
	}
	s := &Stack{run: run, tcpConfig: cfg.TCP}
	if cfg.IPv4DHCP {
		if err := s.startDHCP(cfg, log); err != nil {
			run.Close()
			return nil, err
		}
	}
	return s, nil
}

// DefaultLogger is the logger a stack uses when Config.Logger is nil:
// warnings and errors only, as text lines on w, each stamped to the
// millisecond (LogTimeFormat).
func DefaultLogger(w io.Writer) zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: LogTimeFormat}).
		Level(zerolog.WarnLevel).Hook(TimestampHook{})
}

// LogTimeFormat is the time format of actnet's log lines: RFC 3339 to the
// millisecond, because a stack does a lot within one second.
const LogTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// TimestampHook stamps each zerolog event with the time in LogTimeFormat;
// use it for a JSON logger too: zerolog.New(w).Hook(actnet.TimestampHook{}).
// zerolog's own Timestamp() formats with its package-global
// TimeFieldFormat (whole seconds by default), which a library should not
// change under the program that uses it; the console writer parses the
// stamp back, fraction included, and prints it in LogTimeFormat.
type TimestampHook struct{}

// Run adds the timestamp field.
func (TimestampHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, time.Now().Format(LogTimeFormat))
}

// Close stops every actor of the stack and closes its device. First it
// resets every open TCP connection, of both families, while the device
// still works (RFC 9293 §3.10.4, ABORT), so that peers learn at once that
// their connections are gone: each peer gets a RST, each app actor Closed
// with ClosedAborted, and each Conn's user an error that errors.Is both
// net.ErrClosed and syscall.ECONNABORTED; Close waits up to a second for
// those connections to end. Then it releases a DHCP lease. It returns
// once all of the stack's goroutines have ended. Calls blocked on the
// stack (Accept, Read, Dial, ...) return, and later ones fail at once,
// with an error that errors.Is net.ErrClosed. Calling it again is a no-op.
func (s *Stack) Close() error {
	s.run.ResetConns()
	s.releaseDHCP()
	return s.run.Close()
}

// ErrStackFailed is what calls on a failed stack report (Failed): every
// request to it, and every call blocked on it, returns an error that
// errors.Is ErrStackFailed, with the layer's failure in its text. Calls on
// a closed stack report net.ErrClosed instead, as net's do after Close.
var ErrStackFailed = actors.ErrStackFailed

// Failed is closed if a layer of the stack fails beyond its crash budget;
// Err then says why. A failed stack should be closed.
func (s *Stack) Failed() <-chan struct{} { return s.run.Failed() }

// Err reports why the stack failed (an error that errors.Is
// ErrStackFailed), or nil.
func (s *Stack) Err() error { return s.run.Err() }

// Addr is the stack's IPv4 address now: invalid while it has none (a
// DHCP stack before its lease, or after it ended).
func (s *Stack) Addr() netip.Addr { return s.run.Env.IPv4().Addr.Addr() }

// HardwareAddr is the stack's MAC address.
func (s *Stack) HardwareAddr() string { return s.run.Env.MAC.String() }

// Stats are a snapshot of the stack's counters, one struct per layer
// (st.TCP.ActiveOpens, st.IPv4.BadChecksum, st.Link.RingFull), like
// `netstat -s`. The field tags in package mailbox give each counter its
// netstat-style name; Values and String use them.
type Stats struct {
	mailbox.Snapshot
	// Device holds the device's own counters when the device keeps any.
	Device *device.Stats
}

// Stat is one counter in the generic view of Stats.Values.
type Stat = mailbox.Stat

// Stats reads every counter of the stack.
func (s *Stack) Stats() Stats {
	st := Stats{Snapshot: s.run.Env.Counters.Snapshot()}
	if r, ok := s.run.Env.Device.(device.StatsReporter); ok {
		ds := r.Stats()
		st.Device = &ds
	}
	return st
}

// Gauges are a stack's current resource use, where Stats are counters that
// only grow. A soak or an exporter reads them to see that nothing leaks.
type Gauges struct {
	// TCPConns is the number of TCP connections the stack holds, in any
	// state from SYN-RECEIVED to LAST-ACK (each is one connection actor).
	TCPConns int
	// TCPTimeWait is the number of connections in TIME-WAIT, each a
	// compact entry in the tcp actor (Limits.MaxTimeWait), not counted
	// in TCPConns.
	TCPTimeWait int
	// TCPHalfOpen is how many of TCPConns are passive opens still in the
	// handshake (SYN-RECEIVED), bounded by the listeners' backlogs.
	TCPHalfOpen int
	// PoolBuffers is the number of packet buffers taken from the stack's
	// pool and not yet returned.
	PoolBuffers int64
}

// Gauges reads the stack's current resource use.
func (s *Stack) Gauges() Gauges {
	env := s.run.Env
	return Gauges{TCPConns: env.TCPRoutes.Len(), TCPHalfOpen: int(env.TCPHalfOpen.Load()),
		TCPTimeWait: int(env.TCPTimeWait.Load()), PoolBuffers: env.Pool.Outstanding()}
}

// Values lists every layer counter, zeros included, with its layer and
// netstat-style name: the name->value view for printing and exporters.
func (st Stats) Values() []Stat { return st.Snapshot.Values() }

// String formats the counters the way `netstat -s` does: a line per layer,
// then one indented line per counter, "<value> <name>", in the order the
// layer declares them. Counters that are zero are left out.
func (st Stats) String() string {
	var b strings.Builder
	layer := ""
	for _, v := range st.Values() {
		if v.Layer != layer {
			layer = v.Layer
			fmt.Fprintf(&b, "%s:\n", layer)
		}
		if v.Value != 0 {
			fmt.Fprintf(&b, "    %d %s\n", v.Value, v.Name)
		}
	}
	return b.String()
}

// Ping sends one ICMP echo request carrying size bytes of data to dst and
// waits for the reply or for ctx to end. It returns the round-trip time.
func (s *Stack) Ping(ctx context.Context, dst netip.Addr, size int) (time.Duration, error) {
	return s.run.Ping(ctx, dst, size)
}
