package tokenbucket

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(10, 3)
	for i := range 3 {
		if !l.Allow(t0) {
			t.Fatalf("burst token %d refused", i)
		}
	}
	if l.Allow(t0) {
		t.Fatal("allowed beyond the burst")
	}
	if l.Allow(t0.Add(50 * time.Millisecond)) {
		t.Fatal("half a token allowed")
	}
	if !l.Allow(t0.Add(100 * time.Millisecond)) {
		t.Fatal("refilled token refused")
	}
	// A long idle time refills only up to the burst.
	n := 0
	for l.Allow(t0.Add(time.Hour)) {
		n++
	}
	if n != 3 {
		t.Fatalf("after an hour %d tokens, want the burst of 3", n)
	}
	// A clock stepping back does not refill.
	if l.Allow(t0) {
		t.Fatal("clock stepping back refilled the bucket")
	}
}
