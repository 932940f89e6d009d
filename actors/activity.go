package actors

import (
	"context"
	"sync/atomic"
	"time"
)

// Activity counts work handed to a part of the system (a message posted to
// a mailbox, a frame written to a link, a timer callback started) and work
// that part has finished with. Both counts only grow; the difference is the
// work in flight. Every hand-off counts the new work as posted before the
// old as handled (a handler's messages are posted before its own message
// counts as handled), so work moving from part to part never shows as
// none. That makes "nothing in flight anywhere" a barrier a test can wait
// for (WaitIdle) instead of sleeping and hoping.
//
// The counts cost one atomic add per message posted and one per message
// handled; they sit on separate cache lines, as posters and handlers are
// usually different goroutines.
type Activity struct {
	post atomic.Uint64
	_    [56]byte
	done atomic.Uint64
	_    [56]byte
}

func (a *Activity) posted() {
	if a != nil {
		a.post.Add(1)
	}
}

func (a *Activity) handled() {
	if a != nil {
		a.done.Add(1)
	}
}

// Activity reports the counts: work posted so far, and work handled.
func (a *Activity) Activity() (posted, handled uint64) {
	return a.post.Load(), a.done.Load()
}

// Active is anything that reports its work as an Activity does: a running
// stack, a memory link end (device.Memory), a virtual clock.
type Active interface {
	Activity() (posted, handled uint64)
}

// WaitIdle returns once nothing is in flight in any of parts at one
// instant, or with ctx's error. It reads every part's handled count before
// any posted count; if each part then shows as much handled as posted, all
// of them were idle at the instant between the two reads (both counts only
// grow, and handled never passes posted). Work that needs no part to start
// it (a real-time timer, another goroutine of the test) is beyond it; with
// a VirtualClock, an idle stack stays idle until the test acts.
func WaitIdle(ctx context.Context, parts ...Active) error {
	handled := make([]uint64, len(parts))
	wait := time.Microsecond
	for {
		for i, p := range parts {
			_, handled[i] = p.Activity()
		}
		idle := true
		for i, p := range parts {
			if posted, _ := p.Activity(); posted != handled[i] {
				idle = false
				break
			}
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Millisecond)
	}
}

// Activity reports the messages posted to and handled by the stack's
// actors.
func (r *Running) Activity() (posted, handled uint64) {
	return r.Env.Dispatcher.activity.Activity()
}

// WaitIdle returns once every actor of the stack has handled every message
// posted to it, or with ctx's error. Frames on their way to the stack and
// timers of a virtual clock are not the stack's: pass its device and clock
// to the function WaitIdle as well to wait for those.
func (r *Running) WaitIdle(ctx context.Context) error {
	return WaitIdle(ctx, r)
}
