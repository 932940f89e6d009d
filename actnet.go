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
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/mailbox"
)

// Config describes one stack.
type Config struct {
	// Device is the link the stack sends and receives Ethernet frames on.
	// The stack owns it from New on and closes it in Close.
	Device device.Device
	// IPv4 is the stack's address with the prefix length of its link,
	// e.g. 10.0.0.2/24.
	IPv4 netip.Prefix
	// IPv4Gateway is the default router for off-link destinations; leave
	// it zero for a stack that only talks on its own link.
	IPv4Gateway netip.Addr
	// Logger receives every log line of the stack, protoactor's included.
	// When nil the stack logs warnings and errors to standard error.
	Logger *zerolog.Logger
	// Clock drives every timer of the stack; the wall clock when nil. Tests
	// pass an *actors.VirtualClock.
	Clock actors.Clock
	// TCP tunes every TCP connection of the stack (buffer sizes, delayed
	// ACK, keep-alive, timeouts); the zero value has sensible defaults.
	TCP TCPConfig
}

// Stack is a running actnet stack.
type Stack struct {
	run       *actors.Running
	tcpConfig TCPConfig
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
	run, err := actors.Start(actors.Options{
		Device:   cfg.Device,
		IPv4:     cfg.IPv4,
		Gateway4: cfg.IPv4Gateway,
		Log:      log,
		Clock:    cfg.Clock,
	})
	if err != nil {
		cfg.Device.Close()
		return nil, err
	}
	return &Stack{run: run, tcpConfig: cfg.TCP}, nil
}

// DefaultLogger is the logger a stack uses when Config.Logger is nil:
// warnings and errors only, as text lines on w.
func DefaultLogger(w io.Writer) zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: w, NoColor: true}).
		Level(zerolog.WarnLevel).With().Timestamp().Logger()
}

// Close stops every actor of the stack and closes its device. It returns
// once all of the stack's goroutines have ended. Calls blocked on the
// stack (Accept, Read, Dial, ...) return, and later ones fail at once,
// with an error that errors.Is net.ErrClosed. Calling it again is a no-op.
func (s *Stack) Close() error { return s.run.Close() }

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

// Addr is the stack's IPv4 address.
func (s *Stack) Addr() netip.Addr { return s.run.Env.IPv4.Addr() }

// HardwareAddr is the stack's MAC address.
func (s *Stack) HardwareAddr() string { return s.run.Env.MAC.String() }

// LayerStats are the counters of one layer.
type LayerStats = mailbox.LayerStats

// Stats are the stack's counters per layer, like `netstat -s`.
type Stats struct {
	Layers map[string]LayerStats
	// Device holds the device's own counters when the device keeps any.
	Device *device.Stats
}

// Stats reads every counter of the stack.
func (s *Stack) Stats() Stats {
	st := Stats{Layers: s.run.Env.Counters.Snapshot()}
	if r, ok := s.run.Env.Device.(device.StatsReporter); ok {
		ds := r.Stats()
		st.Device = &ds
	}
	return st
}

// Dropped sums the drops of one layer for one reason; it is 0 when either
// is unknown.
func (st Stats) Dropped(layer, reason string) uint64 {
	return st.Layers[layer].Dropped[reason]
}

// String formats the counters one per line, layers and reasons sorted;
// events and drops that never happened are left out.
func (st Stats) String() string {
	var b strings.Builder
	names := make([]string, 0, len(st.Layers))
	for n := range st.Layers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := st.Layers[n]
		fmt.Fprintf(&b, "%s:\n    %d received\n    %d sent\n", n, l.Received, l.Sent)
		writeSorted(&b, l.Events, "")
		writeSorted(&b, l.Dropped, "dropped: ")
	}
	return b.String()
}

func writeSorted(b *strings.Builder, m map[string]uint64, prefix string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m[k] != 0 {
			fmt.Fprintf(b, "    %d %s%s\n", m[k], prefix, k)
		}
	}
}

// Ping sends one ICMP echo request carrying size bytes of data to dst and
// waits for the reply or for ctx to end. It returns the round-trip time.
func (s *Stack) Ping(ctx context.Context, dst netip.Addr, size int) (time.Duration, error) {
	return s.run.Ping(ctx, dst, size)
}
