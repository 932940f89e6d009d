package tcp

import "time"

// CongestionControl is the window-growth half of congestion control: it owns
// cwnd and ssthresh and reacts to acknowledgments, loss and timeouts. Loss
// detection and recovery stay in the sender: SACK-based recovery (RFC
// 6675) when the peer agreed to SACK, which holds cwnd and counts pipe,
// else NewReno fast retransmit and fast recovery (RFC 6582), which
// inflates the window itself while it recovers. NewReno (RFC 5681) and
// CUBIC (RFC 9438, NewCubic) implement it.
//
// All sizes are in bytes. flight is the amount of data outstanding (sent and
// not yet acknowledged) when the event happened, the FlightSize of RFC 5681.
type CongestionControl interface {
	// Window returns cwnd.
	Window() int
	// Threshold returns ssthresh.
	Threshold() int
	// SetMSS tells the algorithm the sender's maximum segment size (SMSS).
	SetMSS(mss int)
	// OnAck is called for each ACK that acknowledges acked new bytes while
	// not in loss recovery; rtt is the latest smoothed round-trip time
	// (zero before the first sample).
	OnAck(now time.Time, acked, flight int, rtt time.Duration)
	// OnLoss is called when loss is detected without a timeout (three
	// duplicate ACKs) and the sender enters fast recovery.
	OnLoss(now time.Time, flight int)
	// OnRecoveryEnd is called when an ACK covers everything that was
	// outstanding when recovery began.
	OnRecoveryEnd(now time.Time, flight int)
	// OnTimeout is called when the retransmission timer expires.
	OnTimeout(now time.Time, flight int)
	// OnIdle is called when the sender restarts after being idle for more
	// than an RTO (RFC 5681 §4.1).
	OnIdle(now time.Time)
}

// NewReno is the standard congestion control of RFC 5681 (slow start and
// congestion avoidance) with the window reduction of RFC 6582.
type NewReno struct {
	mss      int
	cwnd     int
	ssthresh int
	acc      int // bytes acked in congestion avoidance since cwnd last grew
}

// NewNewReno returns NewReno for a sender whose SMSS is mss.
func NewNewReno(mss int) CongestionControl {
	r := &NewReno{ssthresh: 1 << 30}
	r.SetMSS(mss)
	r.cwnd = initialWindow(r.mss)
	return r
}

// Window implements CongestionControl.
func (r *NewReno) Window() int { return r.cwnd }

// Threshold implements CongestionControl.
func (r *NewReno) Threshold() int { return r.ssthresh }

// SetMSS implements CongestionControl.
func (r *NewReno) SetMSS(mss int) {
	if mss < 1 {
		mss = 1
	}
	r.mss = mss
	if r.cwnd != 0 && r.cwnd < mss {
		r.cwnd = mss
	}
}

// OnAck implements CongestionControl: slow start grows cwnd by at most one
// SMSS per ACK (RFC 5681 eq. 2, the L=1 limit of RFC 3465); congestion
// avoidance adds one SMSS per window's worth of acknowledged bytes, the
// byte-counting form RFC 5681 §3.1 recommends over eq. 3.
func (r *NewReno) OnAck(_ time.Time, acked, _ int, _ time.Duration) {
	if acked <= 0 {
		return
	}
	if r.cwnd < r.ssthresh {
		r.cwnd += min(acked, r.mss)
		return
	}
	r.acc += acked
	if r.acc >= r.cwnd {
		r.acc -= r.cwnd
		r.cwnd += r.mss
	}
}

// halve is RFC 5681 eq. 4: ssthresh = max(FlightSize/2, 2*SMSS).
func (r *NewReno) halve(flight int) {
	r.ssthresh = max(flight/2, 2*r.mss)
	r.acc = 0
}

// OnLoss implements CongestionControl (RFC 5681 §3.2 step 2; the sender
// adds the three segments that left the network).
func (r *NewReno) OnLoss(_ time.Time, flight int) {
	r.halve(flight)
	r.cwnd = r.ssthresh
}

// OnRecoveryEnd implements CongestionControl with the first option of RFC
// 6582 §3.2 step 3, which avoids a burst when little is outstanding.
func (r *NewReno) OnRecoveryEnd(_ time.Time, flight int) {
	r.cwnd = min(r.ssthresh, max(flight, r.mss)+r.mss)
}

// OnTimeout implements CongestionControl: one segment, the loss window of
// RFC 5681 §3.1.
func (r *NewReno) OnTimeout(_ time.Time, flight int) {
	r.halve(flight)
	r.cwnd = r.mss
}

// OnIdle implements CongestionControl: restart window RFC 5681 §4.1.
func (r *NewReno) OnIdle(time.Time) {
	r.cwnd = min(r.cwnd, initialWindow(r.mss))
}
