package actors

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// collector records the messages it receives, in order.
type collector struct{ got chan any }

func (c *collector) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case string, int:
		c.got <- m
	}
}

func TestTimerActorFiresInDeadlineOrderOnVirtualTime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := NewVirtualClock(start)
	system := actor.NewActorSystem()
	// On a stack's dispatcher and mailbox, so that idle() can tell when
	// both actors have handled everything.
	d := newWorkerDispatcher(300)
	defer d.Close()
	spawn := func(a actor.Actor) *actor.PID {
		return system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a },
			actor.WithDispatcher(d), actor.WithMailbox(newActorMailbox)))
	}
	idle := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := WaitIdle(ctx, &d.activity, clock); err != nil {
			t.Fatalf("the actors never went idle: %v", err)
		}
	}
	timer := spawn(newTimerActor(clock))
	c := &collector{got: make(chan any, 10)}
	target := spawn(c)
	defer func() {
		system.Root.StopFuture(timer).Wait()
		system.Root.StopFuture(target).Wait()
	}()

	ids := []TimerID{NewTimerID(), NewTimerID(), NewTimerID(), NewTimerID()}
	system.Root.Send(timer, &ScheduleTimer{ID: ids[0], Target: target, At: start.Add(300 * time.Millisecond), Message: "third"})
	system.Root.Send(timer, &ScheduleTimer{ID: ids[1], Target: target, At: start.Add(100 * time.Millisecond), Message: "first"})
	system.Root.Send(timer, &ScheduleTimer{ID: ids[2], Target: target, At: start.Add(200 * time.Millisecond), Message: "cancelled"})
	system.Root.Send(timer, &CancelTimer{ID: ids[2]})
	system.Root.Send(timer, &ScheduleTimer{ID: ids[3], Target: target, At: start.Add(time.Hour), Message: "moved"})
	// Re-scheduling an ID replaces its deadline and message.
	system.Root.Send(timer, &ScheduleTimer{ID: ids[3], Target: target, At: start.Add(200 * time.Millisecond), Message: "second"})

	// Nothing is due until the clock moves: once the timer actor has
	// handled every request, nothing has fired.
	idle()
	if clock.Pending() == 0 {
		t.Fatal("the timer actor never armed the clock")
	}
	select {
	case m := <-c.got:
		t.Fatalf("%v fired before its time", m)
	default:
	}
	for _, want := range []string{"first", "second", "third"} {
		clock.Advance(100 * time.Millisecond)
		select {
		case m := <-c.got:
			if m != want {
				t.Fatalf("got %v, want %v", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s never fired", want)
		}
	}
	clock.Advance(2 * time.Hour)
	idle()
	select {
	case m := <-c.got:
		t.Fatalf("unexpected %v after the last timer", m)
	default:
	}
}

func TestVirtualClockOrderAndStop(t *testing.T) {
	clock := NewVirtualClock(time.Unix(0, 0))
	var fired []int
	clock.AfterFunc(2*time.Second, func() { fired = append(fired, 2) })
	stop := clock.AfterFunc(time.Second, func() { fired = append(fired, 99) })
	clock.AfterFunc(time.Second, func() { fired = append(fired, 1) })
	if !stop() {
		t.Fatal("stop of a pending timer reported false")
	}
	clock.Advance(1500 * time.Millisecond)
	if len(fired) != 1 || fired[0] != 1 {
		t.Fatalf("after 1.5s fired %v, want [1]", fired)
	}
	if got := clock.Now(); !got.Equal(time.Unix(1, 5e8)) {
		t.Fatalf("clock reads %v", got)
	}
	clock.Advance(time.Second)
	if len(fired) != 2 || fired[1] != 2 {
		t.Fatalf("fired %v, want [1 2]", fired)
	}
	if stop() {
		t.Fatal("stop of a removed timer reported true")
	}
}
