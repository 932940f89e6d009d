package pmtu

import (
	"net/netip"
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dst = netip.MustParseAddr("192.0.2.7")
)

func TestLowerAndLookup(t *testing.T) {
	tb := New(Config{})
	if _, ok := tb.Lookup(dst, t0); ok {
		t.Fatal("empty table has an estimate")
	}
	est, changed := tb.Lower(dst, 1280, 1500, 1500, t0)
	if !changed || est.MTU != 1280 || est.Locked {
		t.Fatalf("Lower(1280) = %+v, %v", est, changed)
	}
	if got, ok := tb.Lookup(dst, t0.Add(time.Minute)); !ok || got.MTU != 1280 {
		t.Fatalf("Lookup = %+v, %v", got, ok)
	}
	// Never raised by a report.
	if est, changed := tb.Lower(dst, 1400, 1280, 1500, t0); changed || est.MTU != 1280 {
		t.Fatalf("raising report: %+v, %v", est, changed)
	}
	// Lowered further.
	if est, changed := tb.Lower(dst, 1006, 1280, 1500, t0); !changed || est.MTU != 1006 {
		t.Fatalf("lowering report: %+v, %v", est, changed)
	}
}

func TestReportNotBelowCurrentIgnored(t *testing.T) {
	tb := New(Config{})
	if _, changed := tb.Lower(dst, 1500, 1500, 1500, t0); changed {
		t.Fatal("a report equal to the link MTU made an entry")
	}
	if _, changed := tb.Lower(dst, 9000, 1500, 1500, t0); changed {
		t.Fatal("a report above the link MTU made an entry")
	}
	if tb.Len() != 0 {
		t.Fatalf("Len = %d", tb.Len())
	}
}

func TestFloorLocks(t *testing.T) {
	tb := New(Config{})
	est, changed := tb.Lower(dst, 100, 1500, 1500, t0)
	if !changed || est.MTU != DefaultMinMTU4 || !est.Locked {
		t.Fatalf("Lower(100) = %+v, %v; want the floor, locked", est, changed)
	}
	// A report of exactly the floor after a lock changes nothing.
	if _, changed := tb.Lower(dst, DefaultMinMTU4, 552, 1500, t0); changed {
		t.Fatal("re-lowering to the floor changed the entry")
	}
}

func TestPlateauForZeroReport(t *testing.T) {
	tb := New(Config{})
	est, changed := tb.Lower(dst, 0, 1500, 1500, t0)
	if !changed || est.MTU != 1492 {
		t.Fatalf("zero report for 1500: %+v, %v; want 1492", est, changed)
	}
	for _, c := range []struct{ sent, want int }{{65535, 32000}, {1500, 1492}, {1492, 1006}, {576, 508}, {68, 68}, {0, 68}} {
		if got := Plateau(c.sent); got != c.want {
			t.Errorf("Plateau(%d) = %d, want %d", c.sent, got, c.want)
		}
	}
}

func TestExpiry(t *testing.T) {
	tb := New(Config{Expiry: time.Minute})
	tb.Lower(dst, 1280, 1500, 1500, t0)
	if _, ok := tb.Lookup(dst, t0.Add(59*time.Second)); !ok {
		t.Fatal("expired early")
	}
	if _, ok := tb.Lookup(dst, t0.Add(time.Minute)); ok {
		t.Fatal("not expired after the expiry")
	}
	if tb.Len() != 0 {
		t.Fatal("expired entry kept")
	}
	// An expired entry does not block a new, larger-than-it report.
	tb.Lower(dst, 1000, 1500, 1500, t0)
	if est, changed := tb.Lower(dst, 1400, 1500, 1500, t0.Add(2*time.Minute)); !changed || est.MTU != 1400 {
		t.Fatalf("after expiry: %+v, %v", est, changed)
	}
}

func TestCapEvictsOldest(t *testing.T) {
	tb := New(Config{MaxEntries: 4})
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	for i := range 100 {
		tb.Lower(addr(i), 1200, 1500, 1500, t0.Add(time.Duration(i)*time.Second))
		if tb.Len() > 4 {
			t.Fatalf("Len = %d after %d inserts", tb.Len(), i+1)
		}
	}
	for i := 96; i < 100; i++ {
		if _, ok := tb.Lookup(addr(i), t0.Add(100*time.Second)); !ok {
			t.Errorf("newest entry %d evicted", i)
		}
	}
	if _, ok := tb.Lookup(addr(0), t0.Add(100*time.Second)); ok {
		t.Error("oldest entry kept")
	}
}
