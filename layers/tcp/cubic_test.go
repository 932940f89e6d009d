package tcp

import (
	"math"
	"testing"
	"time"
)

// driveCubic acknowledges a window's worth of data, one segment per ACK,
// every rtt of virtual time for d, and returns cwnd (in segments) sampled
// once per round trip.
func driveCubic(c *Cubic, now *time.Time, rtt, d time.Duration) []float64 {
	var w []float64
	for end := now.Add(d); now.Before(end); {
		segs := c.Window() / c.mss
		for i := 0; i < segs; i++ {
			c.OnAck(*now, c.mss, c.Window(), rtt)
		}
		*now = now.Add(rtt)
		w = append(w, float64(c.Window())/float64(c.mss))
	}
	return w
}

func TestCubicGrowthConcaveThenConvex(t *testing.T) {
	const mss = 1000
	c := NewCubic(mss).(*Cubic)
	if c.Window() != 4*mss {
		t.Fatalf("IW %d", c.Window())
	}
	// Slow start up to 100 segments, then a loss with 100 in flight.
	now := t0
	c.cwnd = 100 * mss
	c.OnLoss(now, 100*mss)
	// β = 0.7 (RFC 9438 §4.6).
	if c.Window() != 70*mss || c.Threshold() != 70*mss {
		t.Fatalf("after loss cwnd %d ssthresh %d", c.Window(), c.Threshold())
	}
	// K = cbrt(W_max*(1-β)/C) = cbrt(30/0.4) = 4.217 s. With a 200 ms
	// RTT the curve, not the Reno-friendly estimate, is in charge (W_est
	// gains only 0.53 segments per 200 ms: it reaches 100 after 11 s).
	rtt := 200 * time.Millisecond
	w := driveCubic(c, &now, rtt, 9*time.Second)
	k := math.Cbrt(30 / cubicC)
	if math.Abs(c.k-k) > 1e-9 {
		t.Fatalf("K %v, want %v", c.k, k)
	}
	at := func(sec float64) float64 { return w[int(math.Round(sec/rtt.Seconds()))-1] }
	// Near W_max around K, and the curve flattens there (plateau).
	if v := at(k); math.Abs(v-100) > 2 {
		t.Fatalf("cwnd %.1f at K, want about 100", v)
	}
	// Concave before K: growth slows down.
	g1, g2 := at(1.5)-at(0.5), at(3.5)-at(2.5)
	// Convex after K: growth speeds up.
	g3, g4 := at(5.5)-at(4.5), at(8)-at(7)
	if !(g1 > g2 && g2 >= 0 && g3 < g4 && g4 > 0) {
		t.Fatalf("growth per second %.2f %.2f (concave) %.2f %.2f (convex): %v", g1, g2, g3, g4, w)
	}
	// It follows W_cubic(t) = C(t-K)^3 + W_max within a segment or two
	// (the window aims one RTT ahead).
	for _, sec := range []float64{1, 2, 3, 5, 6, 7} {
		want := cubicC*math.Pow(sec-k, 3) + 100
		if v := at(sec); math.Abs(v-want) > 3 {
			t.Fatalf("cwnd %.1f at %vs, W_cubic %.1f", v, sec, want)
		}
	}
}

func TestCubicFastConvergence(t *testing.T) {
	const mss = 1000
	c := NewCubic(mss).(*Cubic)
	c.cwnd = 100 * mss
	c.OnLoss(t0, 100*mss)
	if c.wMax != 100 {
		t.Fatalf("W_max %v", c.wMax)
	}
	// A second loss before W_max was regained: W_max = cwnd*(1+β)/2.
	c.OnLoss(t0, 70*mss)
	if want := 70 * (1 + cubicBeta) / 2; math.Abs(c.wMax-want) > 1e-9 || c.Window() != 49*mss {
		t.Fatalf("W_max %v (want %v), cwnd %d", c.wMax, want, c.Window())
	}
	// Without fast convergence W_max is the window at the loss.
	c2 := NewCubic(mss).(*Cubic)
	c2.FastConvergence = false
	c2.cwnd = 100 * mss
	c2.OnLoss(t0, 100*mss)
	c2.OnLoss(t0, 70*mss)
	if c2.wMax != 70 {
		t.Fatalf("W_max %v without fast convergence", c2.wMax)
	}
}

func TestCubicRenoFriendlyRegion(t *testing.T) {
	// Short RTT and a small window: the cubic curve grows too slowly and
	// W_est, which grows like Reno, takes over (RFC 9438 §4.3).
	const mss = 1000
	c := NewCubic(mss).(*Cubic)
	c.cwnd = 10 * mss
	c.OnLoss(t0, 10*mss)
	now := t0
	rtt := 5 * time.Millisecond
	w := driveCubic(c, &now, rtt, time.Second)
	cubicAt1s := c.wCubic(1)
	got := w[len(w)-1]
	if got <= cubicAt1s+10 {
		t.Fatalf("cwnd %.1f after 1 s, W_cubic %.1f: not Reno-friendly", got, cubicAt1s)
	}
	// Reno would add about α=0.53 a round trip until W_max, then 1:
	// 200 round trips bring it well past 100 segments; never more than
	// Reno's one segment per round trip.
	if got < 100 || got > 7+200 {
		t.Fatalf("cwnd %.1f after 200 round trips", got)
	}
}

func TestCubicTimeoutAndIdle(t *testing.T) {
	const mss = 1000
	c := NewCubic(mss).(*Cubic)
	c.cwnd = 50 * mss
	c.OnTimeout(t0, 40*mss)
	if c.Window() != mss || c.Threshold() != 28*mss {
		t.Fatalf("after timeout cwnd %d ssthresh %d", c.Window(), c.Threshold())
	}
	// Slow start back to ssthresh, then the first congestion avoidance
	// stage starts its curve at K = 0 from the window it has (§4.8).
	now := t0
	for c.Window() < c.Threshold() {
		c.OnAck(now, mss, c.Window(), 100*time.Millisecond)
	}
	c.OnAck(now, mss, c.Window(), 100*time.Millisecond)
	if c.k != 0 || math.Abs(c.wMax-float64(c.Threshold())/mss) > 1.5 {
		t.Fatalf("after timeout K %v W_max %v", c.k, c.wMax)
	}
	// Idle: back to the restart window.
	c.OnIdle(now)
	if c.Window() != 4*mss || !c.epochStart.IsZero() {
		t.Fatalf("after idle cwnd %d", c.Window())
	}
}

func TestCubicSelectableInConfig(t *testing.T) {
	h := newHarness(t)
	h.cfg.Congestion = NewCubic
	h.established()
	if _, ok := h.c.cc.(*Cubic); !ok {
		t.Fatalf("congestion control %T", h.c.cc)
	}
	h.cfg.Congestion = NewNewReno
	h.established()
	if _, ok := h.c.cc.(*NewReno); !ok {
		t.Fatalf("congestion control %T", h.c.cc)
	}
	// CUBIC is the default: it beat NewReno on every lossy-link cell
	// of TestLinkLossMatrix.
	h2 := newHarness(t).established()
	if _, ok := h2.c.cc.(*Cubic); !ok {
		t.Fatalf("default congestion control %T", h2.c.cc)
	}
}
