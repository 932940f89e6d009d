package tcp

// Seq is a TCP sequence number. Sequence space is a ring of 2^32 values
// (RFC 9293 §3.4), so comparisons are done on the signed 32-bit distance
// between two numbers in the manner of RFC 1982 serial number arithmetic:
// a is before b when b-a, taken modulo 2^32, lies in (0, 2^31). The result
// for two numbers exactly 2^31 apart is unspecified by RFC 1982; here it is
// deterministic (LessThan reports true for a and a+2^31) and never matters
// because windows are bounded by 2^30 (RFC 7323 §2.3).
type Seq uint32

// Add returns s advanced by n (n may be negative), wrapping around 2^32.
func (s Seq) Add(n int) Seq { return s + Seq(uint32(n)) }

// Sub returns the signed distance s - o. It is exact when the two numbers
// are less than 2^31 apart.
func (s Seq) Sub(o Seq) int { return int(int32(s - o)) }

// LessThan reports whether s comes before o in sequence space.
func (s Seq) LessThan(o Seq) bool { return int32(s-o) < 0 }

// LessEq reports whether s comes before o or equals it.
func (s Seq) LessEq(o Seq) bool { return int32(s-o) <= 0 }

// GreaterThan reports whether s comes after o.
func (s Seq) GreaterThan(o Seq) bool { return int32(s-o) > 0 }

// GreaterEq reports whether s comes after o or equals it.
func (s Seq) GreaterEq(o Seq) bool { return int32(s-o) >= 0 }

// InWindow reports whether start <= s < start+size, wrap-safe. An empty
// window contains nothing. size must be in [0, 2^32).
func (s Seq) InWindow(start Seq, size int) bool {
	if size <= 0 {
		return false
	}
	return uint64(uint32(s-start)) < uint64(size)
}

// InRange reports whether lo <= s <= hi, wrap-safe, assuming hi is not
// before lo.
func (s Seq) InRange(lo, hi Seq) bool { return uint32(s-lo) <= uint32(hi-lo) }

// MaxSeq returns whichever of a and b comes later in sequence space.
func MaxSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return b
	}
	return a
}

// MinSeq returns whichever of a and b comes earlier in sequence space.
func MinSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return a
	}
	return b
}
