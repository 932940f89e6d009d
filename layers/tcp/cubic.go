package tcp

import (
	"math"
	"time"
)

// CUBIC congestion control (RFC 9438). Loss detection and recovery stay in
// the sender (NewReno or SACK-based); CUBIC only decides how far cwnd
// falls on a congestion event and how it grows back: along a cubic curve
// of the time since the last reduction, concave up to the window where
// the loss happened (W_max) and convex beyond it, never slower than Reno
// would grow (the Reno-friendly region).

// The constants of RFC 9438 §5.1 and §4.6.
const (
	cubicC    = 0.4 // aggressiveness, in segments per second cubed
	cubicBeta = 0.7 // multiplicative decrease
	// cubicAlpha is α_cubic of §4.3: the additive increase that makes
	// the Reno-friendly estimate match Reno's average rate with β = 0.7.
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

// Cubic is the CUBIC congestion control of RFC 9438, with the
// Reno-friendly region (§4.3) and fast convergence (§4.7). Windows are
// kept in segments as floating point inside, in bytes outside.
type Cubic struct {
	mss      int
	cwnd     float64 // bytes
	ssthresh int

	wMax       float64   // W_max, segments: the window before the last reduction
	cwndPrior  float64   // cwnd_prior, segments (where α_cubic becomes 1)
	k          float64   // K, seconds
	wEst       float64   // W_est, segments (§4.3)
	epochStart time.Time // t = 0 of the current congestion avoidance stage
	afterRTO   bool      // the next stage follows a timeout (§4.8)

	// FastConvergence (RFC 9438 §4.7) releases bandwidth to new flows
	// faster; NewCubic turns it on.
	FastConvergence bool
}

// NewCubic returns CUBIC for a sender whose SMSS is mss, with the initial
// window of RFC 5681 §3.1 and fast convergence on. It fits Config.Congestion.
func NewCubic(mss int) CongestionControl {
	c := &Cubic{ssthresh: 1 << 30, FastConvergence: true}
	c.SetMSS(mss)
	c.cwnd = float64(initialWindow(c.mss))
	return c
}

// initialWindow is IW of RFC 5681 §3.1.
func initialWindow(mss int) int {
	switch {
	case mss > 2190:
		return 2 * mss
	case mss > 1095:
		return 3 * mss
	}
	return 4 * mss
}

// Window implements CongestionControl.
func (c *Cubic) Window() int { return int(c.cwnd) }

// Threshold implements CongestionControl.
func (c *Cubic) Threshold() int { return c.ssthresh }

// SetMSS implements CongestionControl.
func (c *Cubic) SetMSS(mss int) {
	if mss < 1 {
		mss = 1
	}
	c.mss = mss
	if c.cwnd != 0 && c.cwnd < float64(mss) {
		c.cwnd = float64(mss)
	}
}

// segs converts bytes to segments.
func (c *Cubic) segs(b float64) float64 { return b / float64(c.mss) }

// wCubic is W_cubic(t) of §4.2, in segments, t in seconds.
func (c *Cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*d*d*d + c.wMax
}

// OnAck implements CongestionControl: slow start below ssthresh as in RFC
// 5681 (at most one SMSS per ACK); above it, the window follows W_cubic
// one RTT ahead, or W_est when that is larger (§4.2-§4.5).
func (c *Cubic) OnAck(now time.Time, acked, _ int, rtt time.Duration) {
	if acked <= 0 {
		return
	}
	if int(c.cwnd) < c.ssthresh {
		c.cwnd += float64(min(acked, c.mss))
		return
	}
	cwnd := c.segs(c.cwnd)
	if c.epochStart.IsZero() {
		c.startEpoch(now, cwnd)
	}
	t := now.Sub(c.epochStart).Seconds()
	// Reno-friendly estimate (§4.3): α_cubic per RTT's worth of ACKs,
	// and Reno's own 1 once W_est has passed the window before the loss.
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * c.segs(float64(acked)) / cwnd
	if c.wCubic(t) < c.wEst {
		// Reno-friendly region (§4.3): grow as Reno would.
		c.cwnd = max(c.cwnd, c.wEst*float64(c.mss))
		return
	}
	// Concave (§4.4) or convex (§4.5) region: move towards the window
	// the curve reaches one RTT from now, by (target - cwnd)/cwnd per
	// acknowledged segment, the target clamped to [cwnd, 1.5*cwnd].
	target := min(max(c.wCubic(t+rtt.Seconds()), cwnd), 1.5*cwnd)
	c.cwnd += (target - cwnd) / cwnd * float64(acked)
}

// startEpoch begins a congestion avoidance stage with cwnd segments.
func (c *Cubic) startEpoch(now time.Time, cwnd float64) {
	c.epochStart = now
	c.wEst = cwnd
	if c.afterRTO || c.wMax <= cwnd {
		// §4.8: after a timeout the curve starts at once (K = 0) from
		// the current window; likewise when cwnd is already above
		// W_max (slow start overshot it), growth is convex from here.
		c.afterRTO = false
		c.wMax = cwnd
		c.k = 0
		return
	}
	c.k = math.Cbrt((c.wMax - cwnd) / cubicC) // §4.2 eq. 2
}

// reduce is the multiplicative decrease of §4.6 with fast convergence
// (§4.7). ssthresh is β times the flight size, as RFC 9438 asks of a
// sender whose window grows whether or not the application fills it.
func (c *Cubic) reduce(flight int) {
	cwnd := c.segs(c.cwnd)
	if c.FastConvergence && cwnd < c.wMax {
		// A loss before regaining the previous W_max: another flow is
		// probably taking its share, so release more.
		c.wMax = cwnd * (1 + cubicBeta) / 2
	} else {
		c.wMax = cwnd
	}
	c.cwndPrior = cwnd
	c.ssthresh = max(int(float64(flight)*cubicBeta), 2*c.mss)
	c.epochStart = time.Time{}
}

// OnLoss implements CongestionControl: cwnd = ssthresh = β·FlightSize.
func (c *Cubic) OnLoss(_ time.Time, flight int) {
	c.reduce(flight)
	c.cwnd = float64(c.ssthresh)
}

// OnRecoveryEnd implements CongestionControl as NewReno does (RFC 6582
// §3.2 step 3, first option): no burst when little is outstanding.
func (c *Cubic) OnRecoveryEnd(_ time.Time, flight int) {
	c.cwnd = float64(min(c.ssthresh, max(flight, c.mss)+c.mss))
}

// OnTimeout implements CongestionControl (§4.8): ssthresh as for a loss,
// cwnd to the loss window of one segment, and the next congestion
// avoidance stage starts its curve at K = 0.
func (c *Cubic) OnTimeout(_ time.Time, flight int) {
	c.reduce(flight)
	c.cwnd = float64(c.mss)
	c.afterRTO = true
}

// OnIdle implements CongestionControl: the restart window of RFC 5681
// §4.1, and a new epoch, so that the idle time does not count as time
// spent growing along the curve (RFC 9438 §5.8).
func (c *Cubic) OnIdle(time.Time) {
	c.cwnd = min(c.cwnd, float64(initialWindow(c.mss)))
	c.epochStart = time.Time{}
}
