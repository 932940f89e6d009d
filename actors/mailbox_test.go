package actors

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The queue keeps FIFO order through rewinds and compactions, and a steady
// flow that never drains does not grow it without bound.
func TestMessageQueueOrderAndBound(t *testing.T) {
	var q messageQueue
	next, want := 0, 0
	for round := 0; round < 50; round++ {
		for i := 0; i < 700; i++ {
			q.push(next)
			next++
		}
		// Leave a few behind each round, so the queue never drains.
		for i := 0; i < 690; i++ {
			m, ok := q.pop()
			if !ok || m.(int) != want {
				t.Fatalf("popped %v, %v; want %d", m, ok, want)
			}
			want++
		}
	}
	if c := cap(q.items); c > 4096 {
		t.Fatalf("queue holding %d messages grew to capacity %d", len(q.items)-q.head, c)
	}
	for {
		m, ok := q.pop()
		if !ok {
			break
		}
		if m.(int) != want {
			t.Fatalf("popped %v; want %d", m, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("drained %d of %d", want, next)
	}
	if q.head != 0 || len(q.items) != 0 {
		t.Fatalf("drained queue not rewound: head %d len %d", q.head, len(q.items))
	}
}

// releasable is a message that carries something to give back, like a
// batch of packets.
type releasable struct{ released chan struct{} }

func (r *releasable) Release() { close(r.released) }

// gate blocks the actor handling it until open is closed.
type gate struct{ entered, open chan struct{} }

// gatedActor blocks on a gate, panics on a string, and records anything
// else it handles.
type gatedActor struct{ handled chan any }

func (g *gatedActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *gate:
		close(m.entered)
		<-m.open
	case string:
		panic(m)
	case *releasable:
		g.handled <- m
	}
}

func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

func spawnGated(t *testing.T, system *actor.ActorSystem, d *workerDispatcher) (*actor.PID, *gatedActor) {
	t.Helper()
	a := &gatedActor{handled: make(chan any, 1)}
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a },
		actor.WithDispatcher(d), actor.WithMailbox(newActorMailbox)), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return pid, a
}

// waitReleased fails the test unless r is released, and never handled,
// once the actors of d are idle.
func waitReleased(t *testing.T, d *workerDispatcher, a *gatedActor, r *releasable) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := WaitIdle(ctx, &d.activity); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.released:
	default:
		t.Fatal("a message to a stopped actor was dropped without being released")
	}
	select {
	case m := <-a.handled:
		t.Fatalf("a stopped actor handled %v", m)
	default:
	}
}

// A message that reaches an actor's mailbox as the actor stops (queued
// behind the stop, sent before the actor left the registry) is never
// handled: protoactor drops it unread. The mailbox releases what it
// carries, so its packet buffers return to the pool.
func TestMailboxReleasesMessagesOfStoppedActor(t *testing.T) {
	system := quietSystem()
	d := newWorkerDispatcher(300)
	defer d.Close()
	pid, a := spawnGated(t, system, d)
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	system.Root.Send(pid, g)
	<-g.entered
	stopped := system.Root.StopFuture(pid)
	r := &releasable{released: make(chan struct{})}
	system.Root.Send(pid, r) // the actor is still registered: it goes to its mailbox
	close(g.open)
	if err := stopped.Wait(); err != nil {
		t.Fatal(err)
	}
	waitReleased(t, d, a, r)
}

// An actor that crashes has its mailbox suspended; when its supervisor
// then stops it, what waited in the suspended mailbox is released too.
func TestMailboxReleasesMessagesOfCrashedActor(t *testing.T) {
	system := quietSystem()
	d := newWorkerDispatcher(300)
	defer d.Close()
	stop := actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })
	var child *actor.PID
	var a *gatedActor
	spawned := make(chan struct{})
	parent, err := system.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			a = &gatedActor{handled: make(chan any, 1)}
			child = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return a },
				actor.WithDispatcher(d), actor.WithMailbox(newActorMailbox)))
			close(spawned)
		}
	}, actor.WithSupervisor(stop), actor.WithDispatcher(d), actor.WithMailbox(newActorMailbox)), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer system.Root.Stop(parent)
	<-spawned
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	system.Root.Send(child, g)
	<-g.entered
	system.Root.Send(child, "crash")
	r := &releasable{released: make(chan struct{})}
	system.Root.Send(child, r)
	close(g.open)
	waitReleased(t, d, a, r)
}
