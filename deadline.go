package actnet

import (
	"sync"
	"time"
)

// deadline is one direction's deadline of a connection: a channel that is
// closed when the deadline passes, replaced whenever the deadline is set,
// so that a blocked call wakes up when its deadline moves into the past.
// It lives inside its Conn, and its channel is made only when a call
// first waits or a deadline is set: an idle connection that never writes
// holds no write-deadline channel (issue 14, memory per idle connection).
// The zero value is no deadline.
type deadline struct {
	mu         sync.Mutex
	timer      *time.Timer
	ch         chan struct{}
	generation uint64
}

// set moves the deadline; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.generation++ // a timer of an earlier setting that still fires does nothing
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.ch != nil {
		select {
		case <-d.ch:
			d.ch = nil // it had passed: start afresh
		default:
		}
	}
	if t.IsZero() {
		return
	}
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.ch)
		return
	}
	gen := d.generation
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.generation == gen {
			close(d.ch)
		}
	})
}

// wait returns the channel closed when the current deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	return d.ch
}

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.generation++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
