package actors

import (
	"container/heap"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// ScheduleTimer asks the timer actor to send Message to Target at At. A later
// ScheduleTimer with the same ID replaces the earlier one.
type ScheduleTimer struct {
	ID      TimerID
	Target  *actor.PID
	At      time.Time
	Message any
}

// CancelTimer asks the timer actor to forget a timer. Cancelling a timer that
// already fired or never existed is not an error.
type CancelTimer struct {
	ID TimerID
}

// TimerID names one timer. Owners take fresh IDs from NewTimerID.
type TimerID uint64

var lastTimerID atomic.Uint64

// NewTimerID returns an ID no other timer uses.
func NewTimerID() TimerID { return TimerID(lastTimerID.Add(1)) }

// timerDue is what the clock sends the timer actor when its earliest
// deadline may have come.
type timerDue struct{ generation uint64 }

// timerActor replaces μTCP's 100 ms tick daemon: it keeps every deadline in a
// heap and arms exactly one clock timer, for the earliest, so each deadline
// fires precisely and an idle stack wakes up never.
type timerActor struct {
	clock      Clock
	entries    timerHeap
	byID       map[TimerID]*timerEntry
	armedAt    time.Time
	stopArmed  StopFunc
	generation uint64
}

func newTimerActor(clock Clock) *timerActor {
	return &timerActor{clock: clock, byID: make(map[TimerID]*timerEntry)}
}

func (t *timerActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *ScheduleTimer:
		if e, ok := t.byID[m.ID]; ok {
			e.at, e.target, e.message = m.At, m.Target, m.Message
			heap.Fix(&t.entries, e.index)
		} else {
			e := &timerEntry{id: m.ID, at: m.At, target: m.Target, message: m.Message}
			t.byID[m.ID] = e
			heap.Push(&t.entries, e)
		}
		t.fireDue(ctx)
	case *CancelTimer:
		if e, ok := t.byID[m.ID]; ok {
			heap.Remove(&t.entries, e.index)
			delete(t.byID, m.ID)
		}
	case *timerDue:
		if m.generation == t.generation {
			t.armedAt = time.Time{}
			t.stopArmed = nil
		}
		t.fireDue(ctx)
	case *actor.Stopping:
		if t.stopArmed != nil {
			t.stopArmed()
		}
	}
}

// fireDue sends every message whose deadline has come and re-arms the clock
// for the next one.
func (t *timerActor) fireDue(ctx actor.Context) {
	now := t.clock.Now()
	for len(t.entries) > 0 && !t.entries[0].at.After(now) {
		e := heap.Pop(&t.entries).(*timerEntry)
		delete(t.byID, e.id)
		ctx.Send(e.target, e.message)
	}
	if len(t.entries) == 0 {
		return
	}
	next := t.entries[0].at
	if !t.armedAt.IsZero() && !t.armedAt.After(next) {
		return // the armed timer fires first; it will re-arm
	}
	if t.stopArmed != nil {
		t.stopArmed()
	}
	t.generation++
	gen, self, root := t.generation, ctx.Self(), ctx.ActorSystem().Root
	t.armedAt = next
	t.stopArmed = t.clock.At(next, func() {
		root.Send(self, &timerDue{generation: gen})
	})
}

type timerEntry struct {
	id      TimerID
	at      time.Time
	target  *actor.PID
	message any
	index   int
}

type timerHeap []*timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	e := x.(*timerEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
