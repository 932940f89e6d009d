package tests

import (
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

func TestMemoryPingBothWays(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	for i := 0; i < 50; i++ {
		if _, err := ping(a, b.Addr(), 56, 2*time.Second); err != nil {
			t.Fatalf("ping a→b #%d: %v", i, err)
		}
		if _, err := ping(b, a.Addr(), 1000, 2*time.Second); err != nil {
			t.Fatalf("ping b→a #%d: %v", i, err)
		}
	}
	// A stack counts a reply before it sends it: every reply that came
	// back is counted.
	sa, sb := a.Stats(), b.Stats()
	if got := sb.ICMPv4.EchoRepliesSent; got != 50 {
		t.Errorf("b sent %d echo replies, want 50", got)
	}
	if got := sa.ICMPv4.EchoRepliesSent; got != 50 {
		t.Errorf("a sent %d echo replies, want 50", got)
	}
	// One resolution each way is enough: later pings use the cache.
	if got := sa.ARP.RequestsSent; got != 1 {
		t.Errorf("a sent %d ARP requests, want 1", got)
	}
}

func TestMemoryPingWithLossAndReordering(t *testing.T) {
	faults := device.Faults{Seed: 7, DropPercent: 10, ReorderPercent: 20, DuplicatePercent: 5}
	faults2 := faults
	faults2.Seed = 8
	a, b, _, _ := pair(t, device.MemoryConfig{FaultsAToB: faults, FaultsBToA: faults2})
	// Resolution first: a lost ARP request is retried after a second.
	eventually(t, 10*time.Second, "a first answered ping", func() bool {
		_, err := ping(a, b.Addr(), 100, 1500*time.Millisecond)
		return err == nil
	})
	const n = 200
	ok := 0
	for i := 0; i < n; i++ {
		if _, err := ping(a, b.Addr(), 100, 200*time.Millisecond); err == nil {
			ok++
		}
	}
	// Each ping crosses the link twice at 10% loss: about 81% come back.
	if ok < n*65/100 || ok == n {
		t.Fatalf("%d of %d pings answered; want roughly 81%% with 10%% loss each way", ok, n)
	}
	if b.Stats().ICMPv4.EchoRepliesSent < uint64(ok) {
		t.Errorf("b replied less often than a received replies")
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	checkNoGoroutineLeak(t)
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	a, err := actnet.New(actnet.Config{Device: da, IPv4: addrA, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := actnet.New(actnet.Config{Device: db, IPv4: addrB, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ping(a, b.Addr(), 56, 2*time.Second); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("close a: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("close b: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
