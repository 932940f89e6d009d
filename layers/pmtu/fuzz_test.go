package pmtu

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzTable drives a small table with arbitrary reports and checks its
// invariants: the size cap holds, an estimate never rises above what the
// sender used, never falls below the floor, and Locked means the floor.
func FuzzTable(f *testing.F) {
	f.Add([]byte{1, 0x05, 0x00, 2, 0x02, 0x00, 1, 0x00, 0x10})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tb := New(Config{MaxEntries: 4, Expiry: time.Minute})
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for len(ops) >= 3 {
			dst := netip.AddrFrom4([4]byte{10, 0, 0, ops[0] % 8})
			mtu := int(ops[1])<<8 | int(ops[2])
			ops = ops[3:]
			now = now.Add(time.Duration(mtu%97) * time.Second)
			before := 1500
			if e, ok := tb.Lookup(dst, now); ok {
				before = e.MTU
			}
			est, changed := tb.Lower(dst, mtu, 1500, 1500, now)
			if changed && est.MTU >= before && !est.Locked {
				t.Fatalf("report %d raised or kept %d → %+v", mtu, before, est)
			}
			if est.MTU < DefaultMinMTU4 || est.MTU > 1500 {
				t.Fatalf("estimate %+v out of range", est)
			}
			if est.Locked && est.MTU != DefaultMinMTU4 {
				t.Fatalf("locked estimate %+v not at the floor", est)
			}
			if tb.Len() > 4 {
				t.Fatalf("table holds %d entries, cap 4", tb.Len())
			}
		}
	})
}
