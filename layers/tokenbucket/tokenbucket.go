// Package tokenbucket is a token bucket on a clock passed in: the rate
// limit of the ICMP errors each family originates (RFC 1812 §4.3.2.8, RFC
// 4443 §2.4 (f)), and of anything else that must not run faster than a
// rate with a burst.
package tokenbucket

import "time"

// Bucket lets Burst events through at once, then Rate per second. For ICMP
// errors it keeps an error storm, or an attacker soliciting errors, from
// turning the stack into an amplifier. Time is passed in; the zero value
// allows nothing, so use New.
type Bucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// New returns a full bucket of burst tokens refilled at rate per second.
func New(rate float64, burst int) *Bucket {
	return &Bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// Allow takes a token if one is available at now and reports whether it
// did. A clock that steps back refills nothing.
func (l *Bucket) Allow(now time.Time) bool {
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
