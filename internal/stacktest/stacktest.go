// Package stacktest starts stacks on a memory link for the tests of the
// packages built on actnet (apps, examples): two stacks, each with an
// IPv4 and a static IPv6 address that duplicate address detection has
// cleared, closed when the test ends.
package stacktest

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// The addresses of Pair's stacks.
var (
	A4 = netip.MustParseAddr("10.0.0.1")
	B4 = netip.MustParseAddr("10.0.0.2")
	A6 = netip.MustParseAddr("2001:db8::1")
	B6 = netip.MustParseAddr("2001:db8::2")
)

// Pair starts two stacks on a memory link, a at A4 and A6, b at B4 and B6,
// and waits (up to 10 s) until both IPv6 addresses are usable.
func Pair(t testing.TB) (a, b *actnet.Stack) {
	t.Helper()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	quiet := actnet.DefaultLogger(io.Discard)
	mk := func(dev device.Device, v4, v6 netip.Addr) *actnet.Stack {
		s, err := actnet.New(actnet.Config{Device: dev, IPv4: netip.PrefixFrom(v4, 24), Logger: &quiet,
			IPv6: actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: netip.PrefixFrom(v6, 64)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b = mk(da, A4, A6), mk(db, B4, B6)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []*actnet.Stack{a, b} {
		if _, err := s.WaitIPv6(ctx, true); err != nil {
			t.Fatalf("IPv6 address: %v", err)
		}
	}
	return a, b
}

// PingedPair is Pair after a has pinged b once, so that both stacks'
// counters have something to show.
func PingedPair(t testing.TB) (a, b *actnet.Stack) {
	t.Helper()
	a, b = Pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, B4, 56); err != nil {
		t.Fatalf("ping %v: %v", B4, err)
	}
	return a, b
}
