package supervisor

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

func TestBudgetSlidingWindow(t *testing.T) {
	b := &Budget{Max: 2, Window: time.Second}
	t0 := time.Unix(100, 0)
	if b.Spend(t0) || b.Spend(t0.Add(100*time.Millisecond)) {
		t.Fatal("two crashes exhausted a budget of two")
	}
	if !b.Spend(t0.Add(200 * time.Millisecond)) {
		t.Fatal("a third crash within the window did not exhaust the budget")
	}
	// Once the old crashes leave the window the budget recovers.
	if b.Spend(t0.Add(3 * time.Second)) {
		t.Fatal("a crash long after the others exhausted the budget")
	}
}

func TestPacketGuardContainsCountsAndEscalates(t *testing.T) {
	var logged bytes.Buffer
	var crashes atomic.Int64
	g := PacketGuard{
		Layer:   "ipv4",
		Log:     zerolog.New(&logged),
		Budget:  &Budget{Max: 1, Window: time.Minute},
		OnCrash: func() { crashes.Add(1) },
	}
	ran := false
	g.Handle([]byte{0xde, 0xad}, func() { ran = true })
	if !ran || crashes.Load() != 0 {
		t.Fatal("a handler that does not panic must run and count nothing")
	}
	g.Handle([]byte{0xbe, 0xef}, func() { panic("bad packet") })
	if crashes.Load() != 1 {
		t.Fatalf("crashes = %d, want 1", crashes.Load())
	}
	if !strings.Contains(logged.String(), "beef") || !strings.Contains(logged.String(), "bad packet") {
		t.Fatalf("the crash log lacks the hex dump or the reason: %s", logged.String())
	}
	defer func() {
		r := recover()
		if _, ok := r.(*Escalation); !ok {
			t.Fatalf("exhausting the budget raised %v, want an *Escalation", r)
		}
	}()
	g.Handle(nil, func() { panic("again") })
	t.Fatal("the second crash within the budget's window did not escalate")
}

// flaky panics on "boom" and reports everything else.
type flaky struct{ seen chan string }

func (f *flaky) Receive(ctx actor.Context) {
	if s, ok := ctx.Message().(string); ok {
		if s == "boom" {
			panic("boom")
		}
		f.seen <- s
	}
}

// parent spawns one flaky child and forwards strings to it.
type parent struct {
	child *actor.PID
	seen  chan string
}

func (p *parent) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.child = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return &flaky{seen: p.seen} }))
	case string:
		ctx.Send(p.child, m)
	}
}

func TestLayerStrategyResumesThenGivesUp(t *testing.T) {
	system := actor.NewActorSystem()
	seen := make(chan string, 10)
	fatal := make(chan any, 1)
	strategy := LayerStrategy(zerolog.Nop(), &Budget{Max: 1, Window: time.Minute}, func(_ *actor.PID, reason any) { fatal <- reason })
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &parent{seen: seen} }, actor.WithSupervisor(strategy)))
	defer func() { system.Root.StopFuture(pid).Wait() }()

	system.Root.Send(pid, "boom")
	system.Root.Send(pid, "after first crash")
	select {
	case s := <-seen:
		if s != "after first crash" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the layer was not resumed after one crash")
	}
	system.Root.Send(pid, "boom")
	select {
	case <-fatal:
	case <-time.After(5 * time.Second):
		t.Fatal("a second crash within the budget was not fatal")
	}
}

func TestOneShotStrategyStopsAndReports(t *testing.T) {
	system := actor.NewActorSystem()
	seen := make(chan string, 10)
	crashed := make(chan any, 1)
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &parent{seen: seen} },
		actor.WithSupervisor(OneShotStrategy(func(_ actor.Supervisor, _ *actor.PID, reason any) { crashed <- reason }))))
	defer func() { system.Root.StopFuture(pid).Wait() }()
	system.Root.Send(pid, "boom")
	select {
	case r := <-crashed:
		if r != "boom" {
			t.Fatalf("reason %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the crash was not reported")
	}
	system.Root.Send(pid, "to a stopped child")
	select {
	case s := <-seen:
		t.Fatalf("a stopped child still received %q: it was restarted or resumed", s)
	case <-time.After(200 * time.Millisecond):
	}
}
