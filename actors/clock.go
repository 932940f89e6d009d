package actors

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is where actors read the time and arm timers. The real clock is the
// wall clock; the virtual clock moves only when a test advances it, which
// makes every deadline in the stack deterministic (DESIGN.md, principle 7).
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) StopFunc
	// At calls f once the clock reads at or later. It takes an absolute
	// time so that a deadline computed from an earlier reading cannot
	// drift: with a virtual clock, the test may move time between the
	// reading and the arming.
	At(at time.Time, f func()) StopFunc
}

// StopFunc cancels a timer armed by AfterFunc. It reports whether the call
// stopped the timer before it fired.
type StopFunc func() bool

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc arms a runtime timer.
func (RealClock) AfterFunc(d time.Duration, f func()) StopFunc {
	return time.AfterFunc(d, f).Stop
}

// At arms a runtime timer for the wall-clock time at.
func (c RealClock) At(at time.Time, f func()) StopFunc {
	return time.AfterFunc(time.Until(at), f).Stop
}

// VirtualClock is a clock that only moves when Advance is called. Timers due
// at or before the new time fire in deadline order, synchronously, inside
// Advance.
type VirtualClock struct {
	mu      sync.Mutex
	now     time.Time
	pending virtualTimers
	seq     uint64
	// late counts the callbacks of timers armed for a time already
	// reached, which run in goroutines of their own.
	late Activity
}

// NewVirtualClock returns a virtual clock reading start.
func NewVirtualClock(start time.Time) *VirtualClock {
	return &VirtualClock{now: start}
}

// Now reads the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a virtual timer d after the current virtual time.
func (c *VirtualClock) AfterFunc(d time.Duration, f func()) StopFunc {
	return c.At(c.Now().Add(d), f)
}

// At arms a virtual timer for the virtual time at. A time already reached
// fires at once, in a goroutine of its own, as a runtime timer would.
func (c *VirtualClock) At(at time.Time, f func()) StopFunc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !at.After(c.now) {
		c.late.posted()
		go func() {
			defer c.late.handled()
			f()
		}()
		return func() bool { return false }
	}
	c.seq++
	t := &virtualTimer{at: at, seq: c.seq, f: f, index: -1}
	heap.Push(&c.pending, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.index < 0 {
			return false
		}
		heap.Remove(&c.pending, t.index)
		return true
	}
}

// Advance moves the clock forward by d, firing every timer that falls due.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for len(c.pending) > 0 && !c.pending[0].at.After(target) {
		t := heap.Pop(&c.pending).(*virtualTimer)
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// Activity counts the callbacks the clock runs in goroutines of their own
// (those of timers armed for a time already reached), so that WaitIdle
// waits for them too. Callbacks that Advance runs are done when it returns.
func (c *VirtualClock) Activity() (posted, handled uint64) { return c.late.Activity() }

// Pending reports how many timers are armed.
func (c *VirtualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

type virtualTimer struct {
	at    time.Time
	seq   uint64
	f     func()
	index int
}

type virtualTimers []*virtualTimer

func (h virtualTimers) Len() int { return len(h) }
func (h virtualTimers) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h virtualTimers) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *virtualTimers) Push(x any) {
	t := x.(*virtualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *virtualTimers) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
