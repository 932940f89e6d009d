package udp

import "errors"

// Ephemeral port range: IANA's dynamic ports (RFC 6335 §6), which RFC 6056
// §3.2 accepts as the range to randomise within.
const (
	EphemeralFirst = 49152
	EphemeralLast  = 65535
)

// DefaultMaxPorts caps the bound ports of one table, so that sockets
// cannot grow the stack's memory without bound (DESIGN.md principle 5).
const DefaultMaxPorts = 16384

// Port table errors, distinct so the socket layer can map each to the
// errno a user expects.
var (
	ErrPortInUse = errors.New("udp: port already bound")
	ErrNoPorts   = errors.New("udp: no ephemeral port free")
	ErrTableFull = errors.New("udp: too many bound ports")
)

// Ports is a table of bound ports, each holding the owner's value (a
// socket). It allocates ephemeral ports by RFC 6056 §3.3.1's Algorithm 1,
// "simple port randomization": a random starting point, then the next free
// port. Randomness is passed in, so the table stays deterministic under
// test. It is not safe for concurrent use; one actor owns it.
type Ports[V any] struct {
	m   map[uint16]V
	max int
}

// NewPorts returns an empty table holding at most max ports (0 means
// DefaultMaxPorts).
func NewPorts[V any](max int) *Ports[V] {
	if max <= 0 {
		max = DefaultMaxPorts
	}
	return &Ports[V]{m: make(map[uint16]V), max: max}
}

// Len is the number of bound ports.
func (p *Ports[V]) Len() int { return len(p.m) }

// Lookup returns the value bound to port.
func (p *Ports[V]) Lookup(port uint16) (V, bool) {
	v, ok := p.m[port]
	return v, ok
}

// Bind binds a given, non-zero port to v.
func (p *Ports[V]) Bind(port uint16, v V) error {
	if _, busy := p.m[port]; busy {
		return ErrPortInUse
	}
	if len(p.m) >= p.max {
		return ErrTableFull
	}
	p.m[port] = v
	return nil
}

// BindEphemeral binds a free port of the ephemeral range to v and returns
// it. random is any uniformly distributed number (RFC 6056 wants it
// unpredictable to off-path attackers).
func (p *Ports[V]) BindEphemeral(v V, random uint32) (uint16, error) {
	if len(p.m) >= p.max {
		return 0, ErrTableFull
	}
	const n = EphemeralLast - EphemeralFirst + 1
	next := random % n
	for range n {
		port := uint16(EphemeralFirst + next)
		if _, busy := p.m[port]; !busy {
			p.m[port] = v
			return port, nil
		}
		next = (next + 1) % n
	}
	return 0, ErrNoPorts
}

// Unbind frees port.
func (p *Ports[V]) Unbind(port uint16) { delete(p.m, port) }

// All calls f for every bound port, in no particular order.
func (p *Ports[V]) All(f func(port uint16, v V)) {
	for port, v := range p.m {
		f(port, v)
	}
}
