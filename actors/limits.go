package actors

import (
	"math"
	"runtime/debug"

	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ipfrag"
)

// Limits caps what a stack may hold, so no peer can make it grow without
// bound (DESIGN.md, principle 5). Zero fields take the defaults named
// here; each cap, when hit, is counted (README, "Resource limits").
// Per-connection buffers are tcp.Config's SendBufferSize and
// RecvBufferSize.
type Limits struct {
	// MaxConns caps the TCP connections (every state from SYN-SENT or
	// SYN-RECEIVED to CLOSING and LAST-ACK; TIME-WAIT entries have
	// their own cap, MaxTimeWait). A SYN beyond it is dropped, as Linux
	// drops it, and so is the ACK of a SYN cookie (cookies do not get
	// round the cap); Dial fails with ErrTooManyConns. Default: sized
	// from the memory budget (MaxConnsForMemory of GOMEMLIMIT when it is
	// set, else DefaultMaxConns).
	MaxConns int
	// MaxTimeWait caps the connections held in TIME-WAIT, each a
	// compact entry of about 200 bytes in the tcp actor (like Linux's
	// tcp_max_tw_buckets). A connection that enters TIME-WAIT with the
	// table full closes at once instead, as on Linux, and is counted.
	// Default DefaultMaxTimeWait.
	MaxTimeWait int
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

// ConnMemory is the memory budget of one connection when the cap is sized
// from memory: about three times what an idle established connection
// holds (5.3 KiB measured at 100,000: control block, actor, mailbox,
// route, socket), so that connections moving data (whose buffers grow on
// use) still fit.
const ConnMemory = 16 << 10

// MaxConnsForMemory is the connection cap for a memory budget of bytes:
// bytes / ConnMemory, so 4 GiB admits 262,144 connections. cmd/actnet
// passes the memory available on the host.
func MaxConnsForMemory(bytes int64) int {
	return int(max(bytes/ConnMemory, 1024))
}

// defaultMaxConns sizes the cap from GOMEMLIMIT when the process has one
// (half of it for connections), else takes DefaultMaxConns.
func defaultMaxConns() int {
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		return MaxConnsForMemory(limit / 2)
	}
	return DefaultMaxConns
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
	def(&l.MaxConns, defaultMaxConns())
	def(&l.MaxTimeWait, DefaultMaxTimeWait)
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
