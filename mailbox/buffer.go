// Package mailbox holds what crosses actor boundaries in actnet: the packet
// buffers and their pools, the batches that carry them between layers, and
// the counters that account for every packet a layer drops.
//
// Ownership of a Buffer moves with the message that carries it (DESIGN.md,
// principle 3): exactly one actor holds it at a time, and whoever holds it
// last calls Release. Data handed to applications is copied out first.
//
// # Counters
//
// Every layer counts what it receives, sends and drops (DESIGN.md,
// principle 9) in a struct of its own (Link, Ethernet, ARP, IPv4, ICMPv4,
// UDP, TCP), gathered in Layers. Each struct is generic over its field
// type: Layers[Counter] (alias Counters) holds a stack's live counters,
// Layers[uint64] (alias Snapshot) what Snapshot read out of them. Layers
// take a pointer to their struct at set-up and count by field
// (c.TCP.ActiveOpens.Inc(): one atomic add, no lookup, no string), and
// tests read snapshot fields (st.TCP.ActiveOpens), so a renamed or missing
// counter is a compile error rather than a silent zero.
//
// The names exist only in struct tags: `stat:"active connection openings"`
// for an event, `drop:"bad segments received: bad checksum"` for a counter
// of dropped packets (each drop reason has its own). They follow Linux's
// `netstat -s` wording where Linux has the same counter. Values turns any
// Layers into the generic name->value view (layer, field, name, drop,
// value) that printing and the Prometheus exporter use; names are made
// only then, never while counting.
package mailbox

import (
	"sync"
	"sync/atomic"
)

// Headroom is the space reserved in front of an outbound packet for the
// headers of the layers below the one writing it: Ethernet (14), an IPv6
// header (40) and room for IPv4 options (40 more than IPv4's 20 would need).
const Headroom = 14 + 60

// Buffer is one pooled packet buffer. B is its whole storage; layers keep
// sub-slices of it while they own the buffer.
type Buffer struct {
	B    []byte
	pool *Pool
	// Tx asks the link to finish the packet the buffer holds (checksum
	// and segmentation offload); zero when nothing is asked. It goes
	// back to zero when the buffer returns to its pool.
	Tx TxOffload
}

// TxOffload is what a transport asks the link to finish for an outgoing
// TCP segment, on a device with offloads: PartialCsum, its checksum (the
// field holds the pseudo-header sum), and GSOSize, when positive, cutting
// its payload into segments of that size (TSO).
type TxOffload struct {
	PartialCsum bool
	GSOSize     uint16
}

// Release returns the buffer to the pool it came from. The caller must not
// touch b or any slice of b.B afterwards.
func (b *Buffer) Release() {
	if b == nil || b.pool == nil {
		return
	}
	b.pool.outstanding.Add(-1)
	b.Tx = TxOffload{}
	b.pool.p.Put(b)
}

// Pool hands out Buffers of one size. It is safe for concurrent use.
type Pool struct {
	size        int
	p           sync.Pool
	outstanding atomic.Int64
}

// NewPool returns a pool of buffers of size bytes each.
func NewPool(size int) *Pool {
	pool := &Pool{size: size}
	pool.p.New = func() any { return &Buffer{B: make([]byte, size), pool: pool} }
	return pool
}

// Get returns a buffer of the pool's size. Its contents are undefined.
func (p *Pool) Get() *Buffer {
	p.outstanding.Add(1)
	b := p.p.Get().(*Buffer)
	b.B = b.B[:cap(b.B)]
	return b
}

// Size is the length of every buffer of the pool.
func (p *Pool) Size() int { return p.size }

// Outstanding is the number of buffers handed out and not yet released; a
// test that ends with a non-zero count has leaked buffers.
func (p *Pool) Outstanding() int64 { return p.outstanding.Load() }

// LargeSize is the size of a buffer that holds any IP datagram with its
// headroom: the 16-bit Total Length of IPv4 (and Payload Length of IPv6,
// plus its 40-byte header) bounds a datagram to 65,535 bytes.
const LargeSize = Headroom + 0xffff + 40

// Wrap makes a Buffer of b that belongs to no pool. It is for packets that
// do not fit a pool buffer (a reassembled datagram, a 64 KiB UDP payload):
// ownership moves with it like any Buffer, and its Release only forgets it,
// leaving the memory to the garbage collector.
func Wrap(b []byte) *Buffer { return &Buffer{B: b} }
