package icmpv6

import "time"

// RateLimiter is a token bucket for the ICMPv6 errors a node originates
// (RFC 4443 §2.4 (f), which suggests a token bucket): Burst errors may go
// at once, then Rate per second. It is icmpv4's limiter, kept separate so each family has its
// own budget. It keeps an error storm, or an attacker soliciting
// errors, from turning the stack into an amplifier. Time is passed in; the
// zero value allows nothing, so use NewRateLimiter.
type RateLimiter struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a full bucket of burst tokens refilled at rate
// per second.
func NewRateLimiter(rate float64, burst int) *RateLimiter {
	return &RateLimiter{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// Allow takes a token if one is available at now and reports whether it
// did. A clock that steps back refills nothing.
func (l *RateLimiter) Allow(now time.Time) bool {
	if !l.last.IsZero() {
		if d := now.Sub(l.last); d > 0 {
			l.tokens = min(l.burst, l.tokens+d.Seconds()*l.rate)
		}
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
