package mailbox

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
)

// Counter is one monotonically increasing count, updated without locks on the
// hot path. Counters live in the per-layer structs below and are reached by
// field (c.TCP.ActiveOpens.Inc()), so a misspelt counter does not compile.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Load reads the count.
func (c *Counter) Load() uint64 { return c.v.Load() }

// Value is what a per-layer struct holds in each field: a live Counter in a
// running stack, or a uint64 in a snapshot. One generic definition per layer
// gives both, so a snapshot can never miss a counter the stack keeps, and a
// rename reaches the tests that read it.
type Value interface{ Counter | uint64 }

// Layers are the counters of every layer of one stack. Each field's
// `layer` tag names the layer in the generic views (Stat.Layer, the
// netstat-style print, Prometheus metric names).
type Layers[T Value] struct {
	Link     Link[T]     `layer:"link"`
	Ethernet Ethernet[T] `layer:"ethernet"`
	ARP      ARP[T]      `layer:"arp"`
	IPv4     IPv4[T]     `layer:"ipv4"`
	ICMPv4   ICMPv4[T]   `layer:"icmpv4"`
	IPv6     IPv6[T]     `layer:"ipv6"`
	ICMPv6   ICMPv6[T]   `layer:"icmpv6"`
	UDP      UDP[T]      `layer:"udp"`
	TCP      TCP[T]      `layer:"tcp"`
}

// Counters are a stack's live counters; Snapshot is what Counters.Snapshot
// reads out of them.
type (
	Counters = Layers[Counter]
	Snapshot = Layers[uint64]
)

// NewCounters returns a stack's counters, all zero.
func NewCounters() *Counters { return new(Counters) }

// Snapshot reads every counter. Each counter is read atomically, the set of
// them is not: a packet in flight may show in one layer and not yet in the
// next.
func (l *Layers[T]) Snapshot() Snapshot {
	var s Snapshot
	src, dst := reflect.ValueOf(l).Elem(), reflect.ValueOf(&s).Elem()
	for i := range src.NumField() {
		sl, dl := src.Field(i), dst.Field(i)
		for j := range sl.NumField() {
			dl.Field(j).SetUint(load(sl.Field(j)))
		}
	}
	return s
}

// Stat is one counter in the generic name->value view, for printing and
// for exporters that take names, not fields.
type Stat struct {
	Layer string // the layer's name: "tcp"
	Field string // the Go field: "ActiveOpens"
	Name  string // the netstat-style name: "active connection openings"
	Drop  bool   // it counts packets (frames, segments, ...) dropped
	Value uint64
}

// Values lists every counter, layer by layer in the order of Layers and
// field by field in declaration order, zeros included. The names are made
// here, never on the path that counts.
func (l *Layers[T]) Values() []Stat {
	ls := layouts()
	src := reflect.ValueOf(l).Elem()
	out := make([]Stat, 0, 128)
	for i, lay := range ls {
		sl := src.Field(i)
		for j, f := range lay.fields {
			out = append(out, Stat{Layer: lay.name, Field: f.field, Name: f.name, Drop: f.drop, Value: load(sl.Field(j))})
		}
	}
	return out
}

func load(v reflect.Value) uint64 {
	if v.Kind() == reflect.Uint64 {
		return v.Uint()
	}
	return v.Addr().Interface().(*Counter).Load()
}

type layout struct {
	name   string
	fields []fieldLayout
}

type fieldLayout struct {
	field, name string
	drop        bool
}

// layouts reads the layer and counter names out of the struct tags once.
// A counter without a name, or a name used twice in a layer, is a
// programming error caught by the first Stats call of any test.
var layouts = sync.OnceValue(func() []layout {
	t := reflect.TypeFor[Snapshot]()
	out := make([]layout, t.NumField())
	for i := range t.NumField() {
		lf := t.Field(i)
		lay := layout{name: lf.Tag.Get("layer")}
		if lay.name == "" {
			panic(fmt.Sprintf("mailbox: layer %s has no layer tag", lf.Name))
		}
		seen := make(map[string]bool)
		for j := range lf.Type.NumField() {
			f := lf.Type.Field(j)
			fl := fieldLayout{field: f.Name, name: f.Tag.Get("stat")}
			if d, ok := f.Tag.Lookup("drop"); ok {
				fl.name, fl.drop = d, true
			}
			if fl.name == "" || seen[fl.name] {
				panic(fmt.Sprintf("mailbox: counter %s.%s has no name or a duplicate one", lf.Name, f.Name))
			}
			seen[fl.name] = true
			lay.fields = append(lay.fields, fl)
		}
		out[i] = lay
	}
	return out
})
