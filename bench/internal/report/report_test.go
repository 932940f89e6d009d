package report

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestPercentile(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	for _, c := range []struct{ p, want float64 }{{50, 50}, {99, 99}, {100, 100}, {0, 1}} {
		if got := Percentile(xs, c.p); got != c.want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestIPv6(t *testing.T) {
	for _, c := range []struct {
		load, base string
		v6         bool
	}{
		{BulkIn6, BulkIn, true}, {BulkOut6, BulkOut, true}, {RR6, RR, true},
		{BulkIn, BulkIn, false}, {CRR, CRR, false}, {Idle, Idle, false},
	} {
		if base, v6 := IPv6(c.load); base != c.base || v6 != c.v6 {
			t.Errorf("IPv6(%q) = %q, %v; want %q, %v", c.load, base, v6, c.base, c.v6)
		}
	}
}

func TestCPUPerGB(t *testing.T) {
	r := Result{Bytes: 2_000_000_000, ServerCPUSeconds: 3}
	if got := r.CPUPerGB(); got != 1.5 {
		t.Errorf("3 CPU s over 2 GB = %v, want 1.5", got)
	}
	for _, r := range []Result{{Bytes: 1e9}, {ServerCPUSeconds: 1}, {}} {
		if got := r.CPUPerGB(); !math.IsNaN(got) {
			t.Errorf("%+v: %v, want NaN (not measured)", r, got)
		}
	}
}
