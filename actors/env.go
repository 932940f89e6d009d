// Package actors is the actor shell of actnet: one protoactor actor per
// protocol layer, the timer actor, the device reader, and the stack actor
// that spawns, wires and supervises them. Each actor owns one piece of pure
// protocol state from layers/ and turns messages into calls on it
// (DESIGN.md, principle 1).
//
// Inbound packets climb the layers as batched messages (reader → ethernet →
// arp / ipv4 → transports). Outbound packets take a call chain instead: the
// actor that builds a packet calls IPv4Output in its own goroutine, which
// fills in the IP and Ethernet headers from a published copy of the neighbour
// cache and writes the frame to the device. Only a neighbour-cache miss turns
// into a message (to the arp actor, which queues the packet until the
// address resolves). That keeps one mailbox hop per layer off the send path.
package actors

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/mailbox"
)

// Env is what every actor of one stack shares. Its fields are set before the
// first packet flows and read-only after, except where they are atomic.
type Env struct {
	Log      zerolog.Logger
	Clock    Clock
	Counters *mailbox.Counters
	Pool     *mailbox.Pool
	System   *actor.ActorSystem

	Device device.Device
	MAC    ethernet.Addr
	MTU    int

	// ipv4 is the stack's IPv4 address, prefix and gateway: run-time
	// state (SetIPv4), read through IPv4() once per packet or batch.
	ipv4        atomic.Pointer[IPv4Config]
	ipv4Mu      sync.Mutex // serialises SetIPv4
	ipv4Changed ipv4Changes

	// Limits are the stack's resource caps, defaults filled in.
	Limits Limits

	// Neighbors4 is the arp actor's latest published view of resolved
	// addresses. Senders read it without a message round trip.
	Neighbors4 atomic.Pointer[map[netip.Addr]ethernet.Addr]

	// Groups6 are the multicast MACs the ipv6 actor listens on (its
	// solicited-node groups), published for the Ethernet layer.
	Groups6 atomic.Pointer[map[ethernet.Addr]bool]

	PIDs PIDs

	// Out holds each running family's send path, for the transports
	// (the family seam: actors/netout.go).
	Out Outputs

	// TCPRoutes is the tcp actor's connection table, read by the ipv4
	// actor to hand segments straight to connection actors.
	TCPRoutes tcpRoutes
	// TCPHalfOpen is the number of half-open passive connections (every
	// listener's), kept by the tcp actor for Gauges.
	TCPHalfOpen atomic.Int64
	// TCPTimeWait is the number of compact TIME-WAIT entries, kept by
	// the tcp actor for Gauges.
	TCPTimeWait atomic.Int64

	// Dispatcher runs every actor of the stack on its worker goroutines.
	Dispatcher *workerDispatcher

	// Fatal reports a failure that ends the stack (Running.Failed).
	Fatal func(error)

	linkSent, linkErrors *mailbox.Counter
	ethernetSent         *mailbox.Counter
	pings                pingWaiters
	life                 lifecycle
}

// PIDs are the addresses of the stack's actors.
type PIDs struct {
	Stack *actor.PID
	Timer *actor.PID
	ARP   *actor.PID
	IPv4  *actor.PID
	IPv6  *actor.PID // nil when IPv6 is off
	TCP   *actor.PID // nil until the tcp actor runs
	UDP   *actor.PID // nil until the udp actor runs
}

// send delivers a message from outside any actor context.
func (e *Env) send(pid *actor.PID, msg any) {
	if pid != nil {
		e.System.Root.Send(pid, msg)
	}
}

// Schedule asks the timer actor to send msg to target at the deadline.
func (e *Env) Schedule(id TimerID, target *actor.PID, at time.Time, msg any) {
	e.send(e.PIDs.Timer, &ScheduleTimer{ID: id, Target: target, At: at, Message: msg})
}

// Cancel asks the timer actor to forget a timer.
func (e *Env) Cancel(id TimerID) {
	e.send(e.PIDs.Timer, &CancelTimer{ID: id})
}

// networkPIDs are the network actors that route segments to connection
// actors (one per running family): a finished connection's barrier passes
// through each (DESIGN.md, "What the code taught us" 7).
func (e *Env) networkPIDs() []*actor.PID {
	var pids []*actor.PID
	for _, p := range []*actor.PID{e.PIDs.IPv4, e.PIDs.IPv6} {
		if p != nil {
			pids = append(pids, p)
		}
	}
	return pids
}
