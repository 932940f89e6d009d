package udp

import (
	"errors"
	"testing"
)

func TestPortsBind(t *testing.T) {
	p := NewPorts[string](0)
	if err := p.Bind(53, "dns"); err != nil {
		t.Fatal(err)
	}
	if err := p.Bind(53, "again"); !errors.Is(err, ErrPortInUse) {
		t.Fatalf("double bind: %v", err)
	}
	if v, ok := p.Lookup(53); !ok || v != "dns" {
		t.Fatalf("Lookup = %q, %v", v, ok)
	}
	p.Unbind(53)
	if _, ok := p.Lookup(53); ok || p.Len() != 0 {
		t.Fatal("Unbind kept the port")
	}
}

func TestPortsEphemeral(t *testing.T) {
	p := NewPorts[int](0)
	seen := map[uint16]bool{}
	for i := range 100 {
		port, err := p.BindEphemeral(i, uint32(i)*2654435761)
		if err != nil {
			t.Fatal(err)
		}
		if port < EphemeralFirst || seen[port] {
			t.Fatalf("port %d out of range or reused", port)
		}
		seen[port] = true
	}
	// The same random start skips to the next free port.
	q := NewPorts[int](0)
	a, _ := q.BindEphemeral(1, 7)
	b, _ := q.BindEphemeral(2, 7)
	if a != EphemeralFirst+7 || b != a+1 {
		t.Fatalf("ports %d, %d; want %d and the next", a, b, EphemeralFirst+7)
	}
	// Wrap around at the end of the range.
	c, _ := q.BindEphemeral(3, EphemeralLast-EphemeralFirst)
	d, _ := q.BindEphemeral(4, EphemeralLast-EphemeralFirst)
	if c != EphemeralLast || d != EphemeralFirst {
		t.Fatalf("wrap: %d, %d", c, d)
	}
}

func TestPortsExhaustionAndCap(t *testing.T) {
	p := NewPorts[int](EphemeralLast - EphemeralFirst + 10)
	for i := range EphemeralLast - EphemeralFirst + 1 {
		if _, err := p.BindEphemeral(i, uint32(i)); err != nil {
			t.Fatalf("bind %d: %v", i, err)
		}
	}
	if _, err := p.BindEphemeral(0, 12345); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("exhausted range: %v", err)
	}
	small := NewPorts[int](2)
	small.Bind(1, 1)
	small.Bind(2, 2)
	if err := small.Bind(3, 3); !errors.Is(err, ErrTableFull) {
		t.Fatalf("cap: %v", err)
	}
	if _, err := small.BindEphemeral(4, 0); !errors.Is(err, ErrTableFull) {
		t.Fatalf("cap, ephemeral: %v", err)
	}
}
