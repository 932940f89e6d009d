package mailbox

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Counter is one monotonically increasing count, updated without locks on the
// hot path. Layers look their counters up once, at set-up, and keep the
// pointer.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Load reads the count.
func (c *Counter) Load() uint64 { return c.v.Load() }

// LayerCounters are the counters of one layer: what it received and sent,
// what it dropped by reason, and any other events it counts.
type LayerCounters struct {
	Received Counter
	Sent     Counter

	mu      sync.Mutex
	dropped map[string]*Counter
	events  map[string]*Counter
}

// Drop returns the counter of packets dropped for reason, creating it.
func (l *LayerCounters) Drop(reason string) *Counter { return l.get(&l.dropped, reason) }

// Event returns the counter of another event, creating it.
func (l *LayerCounters) Event(name string) *Counter { return l.get(&l.events, name) }

func (l *LayerCounters) get(m *map[string]*Counter, name string) *Counter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *m == nil {
		*m = make(map[string]*Counter)
	}
	c, ok := (*m)[name]
	if !ok {
		c = new(Counter)
		(*m)[name] = c
	}
	return c
}

// LayerStats is a snapshot of one layer's counters.
type LayerStats struct {
	Received uint64
	Sent     uint64
	Dropped  map[string]uint64
	Events   map[string]uint64
}

// TotalDropped sums the drops of every reason.
func (s LayerStats) TotalDropped() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

func (l *LayerCounters) snapshot() LayerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := LayerStats{
		Received: l.Received.Load(),
		Sent:     l.Sent.Load(),
		Dropped:  make(map[string]uint64, len(l.dropped)),
		Events:   make(map[string]uint64, len(l.events)),
	}
	for k, c := range l.dropped {
		s.Dropped[k] = c.Load()
	}
	for k, c := range l.events {
		s.Events[k] = c.Load()
	}
	return s
}

// Counters holds the counters of every layer of one stack.
type Counters struct {
	mu     sync.Mutex
	layers map[string]*LayerCounters
}

// NewCounters returns an empty set of counters.
func NewCounters() *Counters {
	return &Counters{layers: make(map[string]*LayerCounters)}
}

// Layer returns the counters of the named layer, creating them.
func (c *Counters) Layer(name string) *LayerCounters {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.layers[name]
	if !ok {
		l = new(LayerCounters)
		c.layers[name] = l
	}
	return l
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() map[string]LayerStats {
	c.mu.Lock()
	names := make([]string, 0, len(c.layers))
	for name := range c.layers {
		names = append(names, name)
	}
	c.mu.Unlock()
	sort.Strings(names)
	out := make(map[string]LayerStats, len(names))
	for _, name := range names {
		out[name] = c.Layer(name).snapshot()
	}
	return out
}
