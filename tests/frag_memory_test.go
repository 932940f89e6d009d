package tests

import (
	"testing"
	"time"

	"github.com/actnet/actnet/device"
)

// TestMemoryPingLarge sends echo requests that need fragmentation both ways
// (reassembly in, fragmentation out) up to the largest IPv4 allows.
func TestMemoryPingLarge(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	for _, size := range []int{1472, 1473, 3000, 6000, 8000, 30000, 65507} {
		if _, err := ping(a, b.Addr(), size, 3*time.Second); err != nil {
			t.Fatalf("ping -s %d: %v", size, err)
		}
	}
	if _, err := ping(a, b.Addr(), 65508, time.Second); err == nil {
		t.Fatal("ping -s 65508 was sent: larger than IPv4 allows")
	}
	sa, sb := a.Stats(), b.Stats()
	if got := sb.IPv4.Reassembled; got != 6 {
		t.Errorf("b reassembled %d datagrams, want 6", got)
	}
	if got := sa.IPv4.Reassembled; got != 6 {
		t.Errorf("a reassembled %d datagrams, want 6", got)
	}
	if got := sa.IPv4.Fragmented; got != 6 {
		t.Errorf("a fragmented %d datagrams, want 6", got)
	}
}

// TestMemoryPingLargeWithLoss loses fragments: every lost fragment costs its
// datagram, never a hang, and the incomplete datagrams are counted when
// they time out or are evicted.
func TestMemoryPingLargeWithLoss(t *testing.T) {
	faults := device.Faults{Seed: 3, DropPercent: 5, ReorderPercent: 10, DuplicatePercent: 3}
	a, b, _, _ := pair(t, device.MemoryConfig{FaultsAToB: faults})
	eventually(t, 10*time.Second, "a first answered ping", func() bool {
		_, err := ping(a, b.Addr(), 100, 1500*time.Millisecond)
		return err == nil
	})
	ok := 0
	const n = 40
	for range n {
		if _, err := ping(a, b.Addr(), 8000, 300*time.Millisecond); err == nil {
			ok++
		}
	}
	// 6 fragments at 5% loss: about 74% arrive whole.
	if ok == 0 || ok == n {
		t.Fatalf("%d of %d 8000-byte pings answered; want some but not all at 5%% loss", ok, n)
	}
	st := b.Stats().IPv4
	if st.FragmentsReceived == 0 || st.Reassembled < uint64(ok) {
		t.Errorf("counters: %+v", st)
	}
}
