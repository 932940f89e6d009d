package actors

import (
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ipfrag"
)

// Limits caps what a stack may hold, so no peer can make it grow without
// bound (DESIGN.md, principle 5). Zero fields take the defaults named
// here; each cap, when hit, is counted (README, "Resource limits").
// Per-connection buffers are tcp.Config's SendBufferSize and
// RecvBufferSize.
type Limits struct {
	// MaxConns caps the TCP connections (every state from SYN-RECEIVED
	// to TIME-WAIT). Default DefaultMaxConns.
	MaxConns int
	// Backlog caps the half-open connections of each listener; SYNs
	// beyond it are answered with SYN cookies. Default DefaultBacklog.
	Backlog int
	// ConnSpawnRate caps the connection actors a listener path spawns per
	// second (a token bucket holding a tenth of a second's worth, at
	// least one); a SYN beyond it is answered with a SYN cookie instead,
	// and the ACK of a cookie beyond it is dropped. Default
	// DefaultConnSpawnRate.
	ConnSpawnRate int
	// BufferMemory caps the bytes of link-sized packet buffers handed out
	// at once; beyond it the device reader drops incoming frames. Default
	// DefaultBufferMemory.
	BufferMemory int64
	// ReassemblyBytes caps the bytes held by IPv4 datagrams being
	// reassembled. Default ipfrag.DefaultMaxBytes.
	ReassemblyBytes int
	// ARPEntries caps the neighbour cache. Default arp.DefaultMaxEntries.
	ARPEntries int
	// UDPReceiveQueue caps the bytes queued unread on each UDP socket.
	// Default DefaultUDPReadBuffer.
	UDPReceiveQueue int
}

// Defaults of Limits.
const (
	DefaultConnSpawnRate = 20000
	DefaultBufferMemory  = 64 << 20
)

// withDefaults fills in the zero fields.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxConns, DefaultMaxConns)
	def(&l.Backlog, DefaultBacklog)
	def(&l.ConnSpawnRate, DefaultConnSpawnRate)
	def(&l.ReassemblyBytes, ipfrag.DefaultMaxBytes)
	def(&l.ARPEntries, arp.DefaultMaxEntries)
	def(&l.UDPReceiveQueue, DefaultUDPReadBuffer)
	if l.BufferMemory <= 0 {
		l.BufferMemory = DefaultBufferMemory
	}
	return l
}
