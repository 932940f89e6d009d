// Package report holds what the load generator measures, in the JSON form
// it prints and the runner reads, and the statistics the runner reports.
package report

import (
	"math"
	"sort"
)

// Loads, in the order the runner runs and reports them.
const (
	BulkIn  = "bulk-in"  // client → discard
	BulkOut = "bulk-out" // source → client
	RR      = "rr"       // 1-byte request/response on one connection
	CRR     = "crr"      // connect, 1-byte request/response, close
	Idle    = "idle"     // many concurrent idle connections
)

// The same loads over IPv6: the runner gives the load generator the
// stack's IPv6 address instead of its IPv4 one.
const (
	BulkIn6  = BulkIn + v6Suffix
	BulkOut6 = BulkOut + v6Suffix
	RR6      = RR + v6Suffix
)

const v6Suffix = "6"

// Loads lists every tap load. Each IPv6 load follows its IPv4 twin, so
// that the two families alternate within every round.
var Loads = []string{BulkIn, BulkIn6, BulkOut, BulkOut6, RR, RR6, CRR, Idle}

// IPv6 splits an IPv6 load's name into its IPv4 twin's and true; other
// loads come back unchanged with false.
func IPv6(load string) (base string, v6 bool) {
	switch load {
	case BulkIn6, BulkOut6, RR6:
		return load[:len(load)-len(v6Suffix)], true
	}
	return load, false
}

// Result is one run of one load against one server, printed by loadgen as
// a single JSON object. Only the fields of the load that ran are set.
type Result struct {
	Load string `json:"load"`
	// Error is set when the load failed; the numbers are then partial.
	Error string `json:"error,omitempty"`

	Bytes   int64   `json:"bytes,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Gbps    float64 `json:"gbps,omitempty"`
	// ServerCPUSeconds is the user and system CPU time the server process
	// (all its threads) took over the same interval as Seconds, for the
	// bulk loads; see CPUPerGB.
	ServerCPUSeconds float64 `json:"server_cpu_s,omitempty"`

	Transactions int64   `json:"transactions,omitempty"`
	PerSecond    float64 `json:"per_second,omitempty"` // transactions or connections per second
	P50Micros    float64 `json:"p50_us,omitempty"`
	P99Micros    float64 `json:"p99_us,omitempty"`

	Conns         int     `json:"conns,omitempty"`
	RSSBeforeKiB  int64   `json:"rss_before_kib,omitempty"`
	RSSAfterKiB   int64   `json:"rss_after_kib,omitempty"`
	SlabDeltaKiB  int64   `json:"slab_delta_kib,omitempty"`
	KiBPerConn    float64 `json:"kib_per_conn,omitempty"`
	KernelPerConn float64 `json:"kernel_kib_per_conn,omitempty"`
}

// CPUPerGB is the server's CPU seconds per gigabyte (10^9 bytes) moved
// in a bulk load, or NaN when the load did not measure it or moved
// nothing.
func (r Result) CPUPerGB() float64 {
	if r.Bytes <= 0 || r.ServerCPUSeconds <= 0 {
		return math.NaN()
	}
	return r.ServerCPUSeconds / (float64(r.Bytes) / 1e9)
}

// Median returns the median of xs, or NaN if there are none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Percentile returns the p-th percentile (0..100) of sorted xs by the
// nearest-rank method, or NaN if there are none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}
